import { join } from 'node:path';
import { Keyring } from '../../local/credentials';
import { startLocalMns } from '../../local/mns';
import { startLocalTablestore } from '../../local/tablestore';
import { deployResources } from '../../scripts/deploy-resources';

const sYamlPath = join(__dirname, '../../s.yaml');

describe('Deploy: the queues and ledger tables fc3 does not create', () => {
  it('creates every declared queue and table through the real SDKs, and a second run changes nothing', async () => {
    // Prepare: an empty MNS and an empty Tablestore instance.
    const { keyring, root } = Keyring.generate();
    const mns = await startLocalMns({ keyring, accountId: '1000000000000001', regionId: 'cn-hangzhou' });
    const ots = await startLocalTablestore({ keyring, instanceName: 'eni-failover' });
    try {
      const options = { sYamlPath, regionId: 'cn-hangzhou', accountId: '1000000000000001', credentials: root, mnsEndpoint: mns.endpoint, otsEndpoint: ots.endpoint };
      // Act
      const first = await deployResources(options);
      const second = await deployResources(options);
      // Assess
      expect(first).toEqual(expect.arrayContaining(['queue eni-failover-validate: ensured', 'queue eni-failover-requests: ensured', 'table eni-failover/eni_failover_operations: created', 'table eni-failover/eni_failover_leases: created']));
      expect(second).toEqual(expect.arrayContaining(['table eni-failover/eni_failover_operations: exists', 'table eni-failover/eni_failover_leases: exists']));
      expect([...ots.control.tables()].sort()).toEqual(['eni_failover_leases', 'eni_failover_operations']);
      expect(mns.queues.counts('eni-failover-dead-letter')).toBeDefined();
    } finally {
      await ots.close();
      await mns.close();
    }
  });
});

describe('Deploy: the dry run (npm run deploy:plan) and placeholders', () => {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const script = join(__dirname, '../../scripts/deploy-resources.ts');
  const tsx = join(__dirname, '../../node_modules/.bin/tsx');
  const real = {
    ENI_FAILOVER_ACCOUNT_ID: '1234567890123456',
    ENI_FAILOVER_ROLE_PREFIX: 'acs:ram::1234567890123456:role/eni-failover-',
    ENI_FAILOVER_ALARM_TOKEN: 'k'.repeat(40),
    ENI_FAILOVER_GROUPS: '{"version":1,"groups":[]}',
  };
  const run = (env: Record<string, string>) => spawnSync(tsx, [script, '--dry-run'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, timeout: 60_000 });

  it('s.yaml rendered with its defaults is refused, naming every variable to set', () => {
    const { placeholderProblems } = require('../../scripts/deploy-resources') as typeof import('../../scripts/deploy-resources');
    const problems = placeholderProblems({});
    expect(problems.map((p) => p.split(' ')[0])).toEqual(['ENI_FAILOVER_ACCOUNT_ID', 'ENI_FAILOVER_ROLE_PREFIX', 'ENI_FAILOVER_ALARM_TOKEN', 'ENI_FAILOVER_GROUPS']);
    expect(placeholderProblems({ ...real, ENI_FAILOVER_ACCOUNT_ID: '000000000000' })).toEqual([expect.stringMatching(/^ENI_FAILOVER_ACCOUNT_ID is "000000000000"/)]);
    expect(placeholderProblems({ ...real, ENI_FAILOVER_ALARM_TOKEN: 'short' })).toEqual([expect.stringMatching(/ALARM_TOKEN is 5 characters: set a random secret of at least 32/)]);
    expect(placeholderProblems(real)).toEqual([]);
  });

  it('--dry-run lists every queue and table it would create and calls nothing; with placeholders it exits 2', () => {
    const ok = run(real);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/dry run\): queue eni-failover-validate \(MNS 1234567890123456\.mns\.cn-hangzhou\): create if missing/);
    expect(ok.stdout).toMatch(/dry run\): table eni-failover\/eni_failover_operations \(Tablestore, key operation_id, TTL 2592000 s\)/);
    const refused = run({});
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/refused: ENI_FAILOVER_ACCOUNT_ID is not set/);
    expect(refused.stderr).toMatch(/refused: ENI_FAILOVER_ALARM_TOKEN is empty/);
  }, 90_000);
});
