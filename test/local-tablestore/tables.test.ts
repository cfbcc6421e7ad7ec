import { createTable, getAttrs, IGNORE, type OtsFixture, rejectionOf, startOtsFixture, TestClock } from './helpers';

describe('Local Tablestore: tables', () => {
  let f: OtsFixture;
  beforeAll(async () => {
    f = await startOtsFixture();
  });
  afterAll(() => f.close());

  it('creates a table that ListTable and DescribeTable then report with its schema and options', async () => {
    // Act
    await createTable(f.client, 'tbl_describe', [{ name: 'pk', type: 'STRING' }, { name: 'seq', type: 'INTEGER' }], { timeToLive: 86400, maxVersions: 3 });
    const list = await f.client.listTable({});
    const d = await f.client.describeTable({ tableName: 'tbl_describe' });
    // Assess
    expect(list.tableNames).toContain('tbl_describe');
    expect(d.tableMeta.tableName).toBe('tbl_describe');
    expect(d.tableMeta.primaryKey.map((k) => [k.name, k.type])).toEqual([
      ['pk', 2], // PrimaryKeyType.STRING (tablestore.proto)
      ['seq', 1], // INTEGER
    ]);
    expect(d.tableOptions.timeToLive).toBe(86400);
    expect(d.tableOptions.maxVersions).toBe(3);
    expect(d.tableStatus).toBe(1); // TableStatus.ACTIVE
  });

  it('answers OTSObjectAlreadyExist (409) to a second CreateTable of the same name', async () => {
    // Prepare
    await createTable(f.client, 'tbl_dup');
    // Act
    const err = await rejectionOf(createTable(f.client, 'tbl_dup'));
    // Assess
    expect(err.status).toBe(409);
    expect(err.code).toBe('OTSObjectAlreadyExist');
  });

  it('answers OTSObjectNotExist (404) for a table that does not exist', async () => {
    // Act
    const describe = await rejectionOf(f.client.describeTable({ tableName: 'tbl_missing' }));
    const get = await rejectionOf(f.client.getRow({ tableName: 'tbl_missing', primaryKey: [{ id: 'x' }] }));
    // Assess
    expect([describe.status, describe.code]).toEqual([404, 'OTSObjectNotExist']);
    expect([get.status, get.code]).toEqual([404, 'OTSObjectNotExist']);
  });

  it('refuses a TTL below one day (OTSParameterInvalid, 400)', async () => {
    // Act
    const err = await rejectionOf(createTable(f.client, 'tbl_short_ttl', undefined, { timeToLive: 60, maxVersions: 1 }));
    // Assess
    expect([err.status, err.code]).toEqual([400, 'OTSParameterInvalid']);
    expect((await f.client.listTable({})).tableNames).not.toContain('tbl_short_ttl');
  });

  it('refuses a table with five primary key columns', async () => {
    // Act
    const pk = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, type: 'STRING' as const }));
    const err = await rejectionOf(createTable(f.client, 'tbl_wide_pk', pk));
    // Assess
    expect([err.status, err.code]).toEqual([400, 'OTSParameterInvalid']);
  });

  it('changes TTL and max versions with UpdateTable', async () => {
    // Prepare
    await createTable(f.client, 'tbl_update');
    // Act
    const updated = await f.client.updateTable({ tableName: 'tbl_update', tableOptions: { timeToLive: 172800, maxVersions: 5 } });
    const d = await f.client.describeTable({ tableName: 'tbl_update' });
    // Assess
    expect(updated.tableOptions.timeToLive).toBe(172800);
    expect([d.tableOptions.timeToLive, d.tableOptions.maxVersions]).toEqual([172800, 5]);
  });

  it('deletes a table, after which it is gone from ListTable and its rows cannot be read', async () => {
    // Prepare
    await createTable(f.client, 'tbl_delete');
    // Act
    await f.client.deleteTable({ tableName: 'tbl_delete' });
    // Assess
    expect((await f.client.listTable({})).tableNames).not.toContain('tbl_delete');
    const err = await rejectionOf(f.client.deleteTable({ tableName: 'tbl_delete' }));
    expect([err.status, err.code]).toEqual([404, 'OTSObjectNotExist']);
  });
});

describe('Local Tablestore: table readiness', () => {
  it('answers row operations on a new table with 404 OTSTableNotReady until tableReadyAfterMs has passed', async () => {
    // Prepare
    const clock = new TestClock();
    const f = await startOtsFixture({ now: clock.now, tableReadyAfterMs: 30_000 });
    try {
      await createTable(f.client, 'loading');
      // Act
      const early = await rejectionOf(f.client.putRow({ tableName: 'loading', primaryKey: [{ id: 'a' }], attributeColumns: [{ v: 'x' }], condition: IGNORE }));
      clock.advance(30_000);
      await f.client.putRow({ tableName: 'loading', primaryKey: [{ id: 'a' }], attributeColumns: [{ v: 'x' }], condition: IGNORE });
      // Assess
      expect([early.status, early.code]).toEqual([404, 'OTSTableNotReady']);
      expect(await getAttrs(f.client, 'loading', 'a')).toEqual({ v: 'x' });
    } finally {
      await f.close();
    }
  });
});
