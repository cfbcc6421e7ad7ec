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
