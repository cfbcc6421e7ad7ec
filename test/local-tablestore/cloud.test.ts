import TableStore from 'tablestore';
import { declaredLedger, type LocalCloud, projectRoot, startLocalCloud } from '../../local/cloud';
import { join } from 'node:path';

describe('Local cloud: Tablestore', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await startLocalCloud({ functions: false, timeScale: 0.01 });
  });
  afterAll(() => cloud.close());

  it('creates the tables s.yaml declares in vars.ledger, with their key, TTL and max versions', async () => {
    // Prepare
    const declared = declaredLedger(join(projectRoot, 's.yaml'));
    const client = cloud.tablestoreClient();
    // Act
    const list = await client.listTable({});
    const described = await Promise.all(declared.tables.map((t) => client.describeTable({ tableName: t.name })));
    // Assess
    expect(declared.tables.map((t) => t.name)).toEqual(['eni_failover_operations', 'eni_failover_leases']);
    expect([...list.tableNames].sort()).toEqual(declared.tables.map((t) => t.name).sort());
    expect(described.map((d) => [d.tableMeta.tableName, d.tableMeta.primaryKey.map((k) => k.name), d.tableOptions.timeToLive, d.tableOptions.maxVersions])).toEqual(
      declared.tables.map((t) => [t.name, t.primaryKey.map((k) => k.name), t.timeToLive, t.maxVersions]),
    );
  });

  it('exposes the endpoint and instance in info, and the client writes and reads a row', async () => {
    // Prepare
    const client = cloud.tablestoreClient();
    // Act
    await client.putRow({
      tableName: 'eni_failover_leases',
      primaryKey: [{ resource_id: 'eni-1' }],
      attributeColumns: [{ holder: 'op-1' }],
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_NOT_EXIST, null),
    });
    const { row } = await client.getRow({ tableName: 'eni_failover_leases', primaryKey: [{ resource_id: 'eni-1' }] });
    // Assess
    expect(cloud.info.tablestoreEndpoint).toBe(cloud.tablestore.endpoint);
    expect(cloud.info.tablestoreInstance).toBe(process.env['ENI_FAILOVER_OTS_INSTANCE'] ?? 'eni-failover');
    expect(row.attributes?.map((a) => [a.columnName, a.columnValue])).toEqual([['holder', 'op-1']]);
  });
});
