// `status` for a group with prepare: true shows each member's hot-plug hook as the prepare job recorded it
// in the ledger (Tablestore of the local cloud, through the real SDK).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliIo } from '../../cli/app';
import { TablestoreLedger } from '../../cloud/ledger';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { preparedId, type PreparedState } from '../../workflow/ledger';
import { hookVersion } from '../../workflow/prepare';

const repo = join(__dirname, '../..');
const guestScript = readFileSync(join(repo, 'guest/configure-eni.sh'), 'utf8');
const groupsYaml = 'groups: [{name: web, enis: [eni-service], members: [i-primary, i-standby], prepare: true}]';
const ENIS = '00:16:3e:12:34:56/10.0.1.5,10.0.1.6';

describe('CLI: status of a prepared group', () => {
  let cloud: LocalCloud;
  let dir: string;
  let ledger: TablestoreLedger;
  beforeAll(async () => {
    cloud = await startLocalCloud({ timeScale: 0.01, functions: false });
    dir = mkdtempSync(join(tmpdir(), 'cli-prepared-'));
    writeFileSync(join(dir, 'cloud.json'), JSON.stringify(cloud.info));
    ledger = new TablestoreLedger({ endpoint: cloud.info.tablestoreEndpoint, instanceName: cloud.info.tablestoreInstance, credentials: { accessKeyId: cloud.info.accessKeyId, accessKeySecret: cloud.info.accessKeySecret } });
  });
  afterAll(async () => {
    await cloud.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function status() {
    let stdout = '';
    const io: CliIo = { stdout: { write: (t: string) => (stdout += t), isTTY: false }, stderr: { write: () => undefined }, env: {}, cwd: dir };
    await runCli(['status', '--json', '--local-file', join(dir, 'cloud.json')], io, { groupsYaml, guestScript });
    const members = (JSON.parse(stdout) as { groups: Array<{ members: Array<{ instanceId: string; prepared?: string }> }> }).groups[0]!.members;
    return Object.fromEntries(members.map((m) => [m.instanceId, m.prepared]));
  }

  async function record(prepared: Omit<PreparedState, 'group' | 'persist' | 'at' | 'detail'>) {
    const row = await ledger.getLease(preparedId('i-standby'));
    const body = { group: 'web', persist: false, at: Date.parse('2026-11-26T03:00:00Z'), detail: 'test', ...prepared };
    const next = row ? { ...row, version: row.version + 1, prepared: body } : { resourceId: preparedId('i-standby'), version: 1, operationId: '', until: 0, holders: [], prepared: body, updatedAt: 0 };
    expect(await ledger.putLease(next)).toBe(true);
  }

  it('never prepared: drift missing; the serving primary: not applicable', async () => {
    // Act
    const shown = await status();

    // Assess
    expect(shown).toEqual({ 'i-primary': 'not applicable (serving)', 'i-standby': 'drift: missing (never prepared)' });
  });

  it('prepared with this script version and the group ENIs: prepared', async () => {
    // Prepare
    await record({ state: 'prepared', found: 'missing', version: hookVersion(guestScript), enis: ENIS });

    // Act
    const shown = await status();

    // Assess
    expect(shown['i-standby']).toBe(`prepared (hook ${hookVersion(guestScript)}, checked 2026-11-26T03:00:00.000Z, repaired: was missing)`);
  });

  it('an older script version: drift outdated', async () => {
    // Prepare
    await record({ state: 'prepared', found: 'current', version: '0123456789ab', enis: ENIS });

    // Act
    const shown = await status();

    // Assess
    expect(shown['i-standby']).toBe(`drift: outdated (hook 0123456789ab, script ${hookVersion(guestScript)})`);
  });

  it('another ENI set: drift outdated; a failed install: drift named', async () => {
    // Prepare
    await record({ state: 'prepared', found: 'current', version: hookVersion(guestScript), enis: '00:16:3e:12:34:56/10.0.1.5' });
    const changed = (await status())['i-standby'];
    await record({ state: 'failed', version: hookVersion(guestScript), enis: ENIS });

    // Act
    const failed = (await status())['i-standby'];

    // Assess
    expect(changed).toBe("drift: outdated (the group's ENIs changed)");
    expect(failed).toBe('drift: install failed (test)');
  });
});
