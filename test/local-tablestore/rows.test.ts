import TableStore from 'tablestore';
import {
  attrs,
  createTable,
  EXPECT_EXIST,
  getAttrs,
  IGNORE,
  Long,
  type OtsFixture,
  rejectionOf,
  ReturnType,
  startOtsFixture,
  TestClock,
} from './helpers';

describe('Local Tablestore: single-row operations', () => {
  const clock = new TestClock();
  let f: OtsFixture;
  beforeAll(async () => {
    f = await startOtsFixture({ now: clock.now });
    await createTable(f.client, 'rows');
    await createTable(f.client, 'versions', undefined, { timeToLive: -1, maxVersions: 3 });
    await createTable(f.client, 'composite', [{ name: 'g', type: 'STRING' }, { name: 'n', type: 'INTEGER' }]);
  });
  afterAll(() => f.close());

  it('PutRow stores every value type and GetRow reads them back typed', async () => {
    // Act
    await f.client.putRow({
      tableName: 'rows',
      primaryKey: [{ id: 'types' }],
      attributeColumns: [{ i: Long.fromNumber(-42) }, { d: 2.5 }, { b: false }, { s: 'héllo' }, { bin: Buffer.from([1, 2, 3]) }],
      condition: IGNORE,
    });
    const { row } = await f.client.getRow({ tableName: 'rows', primaryKey: [{ id: 'types' }] });
    // Assess
    expect(row.primaryKey).toEqual([{ name: 'id', value: 'types' }]);
    const a = attrs(row);
    expect(a).toEqual({ b: false, bin: Buffer.from([1, 2, 3]), d: 2.5, i: -42, s: 'héllo' });
  });

  it('GetRow of a missing row answers 200 with an empty row', async () => {
    // Act
    const res = await f.client.getRow({ tableName: 'rows', primaryKey: [{ id: 'nobody' }] });
    // Assess
    expect(res.row).toEqual({});
  });

  it('PutRow replaces the whole row', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'rows', primaryKey: [{ id: 'replace' }], attributeColumns: [{ a: 'one' }, { b: 'two' }], condition: IGNORE });
    // Act
    await f.client.putRow({ tableName: 'rows', primaryKey: [{ id: 'replace' }], attributeColumns: [{ c: 'three' }], condition: IGNORE });
    // Assess
    expect(await getAttrs(f.client, 'rows', 'replace')).toEqual({ c: 'three' });
  });

  it('UpdateRow puts, deletes all versions and creates a missing row under IGNORE', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'rows', primaryKey: [{ id: 'upd' }], attributeColumns: [{ keep: 'k' }, { drop: 'd' }], condition: IGNORE });
    // Act
    await f.client.updateRow({
      tableName: 'rows',
      primaryKey: [{ id: 'upd' }],
      updateOfAttributeColumns: [{ PUT: [{ added: 'x' }] }, { DELETE_ALL: ['drop'] }],
      condition: IGNORE,
    });
    await f.client.updateRow({ tableName: 'rows', primaryKey: [{ id: 'upd-new' }], updateOfAttributeColumns: [{ PUT: [{ v: 'fresh' }] }], condition: IGNORE });
    // Assess
    expect(await getAttrs(f.client, 'rows', 'upd')).toEqual({ added: 'x', keep: 'k' });
    expect(await getAttrs(f.client, 'rows', 'upd-new')).toEqual({ v: 'fresh' });
  });

  it('UpdateRow DELETE removes exactly the version with the given timestamp', async () => {
    // Prepare
    const t0 = clock.ms - 2000;
    await f.client.updateRow({
      tableName: 'versions',
      primaryKey: [{ id: 'v1' }],
      updateOfAttributeColumns: [{ PUT: [{ c: 'old', timestamp: t0 }] }],
      condition: IGNORE,
    });
    await f.client.updateRow({ tableName: 'versions', primaryKey: [{ id: 'v1' }], updateOfAttributeColumns: [{ PUT: [{ c: 'mid', timestamp: t0 + 1000 }] }], condition: IGNORE });
    // Act
    await f.client.updateRow({ tableName: 'versions', primaryKey: [{ id: 'v1' }], updateOfAttributeColumns: [{ DELETE: [{ c: t0 + 1000 }] }], condition: IGNORE });
    const { row } = await f.client.getRow({ tableName: 'versions', primaryKey: [{ id: 'v1' }], maxVersions: 3 });
    // Assess
    expect(row.attributes?.map((a) => [a.columnValue, a.timestamp.toNumber()])).toEqual([['old', t0]]);
  });

  it('keeps at most maxVersions versions and reads as many as max_versions asks, newest first', async () => {
    // Prepare
    for (const [i, v] of ['a', 'b', 'c', 'd'].entries()) {
      await f.client.updateRow({ tableName: 'versions', primaryKey: [{ id: 'v2' }], updateOfAttributeColumns: [{ PUT: [{ c: v, timestamp: clock.ms - 10_000 + i }] }], condition: IGNORE });
    }
    // Act
    const all = await f.client.getRow({ tableName: 'versions', primaryKey: [{ id: 'v2' }], maxVersions: 10 });
    const latest = await f.client.getRow({ tableName: 'versions', primaryKey: [{ id: 'v2' }], maxVersions: 1 });
    // Assess
    expect(all.row.attributes?.map((a) => a.columnValue)).toEqual(['d', 'c', 'b']);
    expect(latest.row.attributes?.map((a) => a.columnValue)).toEqual(['d']);
  });

  it('INCREMENT adds to the stored integer, counts a missing column as 0, and returns the new value with RT_AFTER_MODIFY', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'rows', primaryKey: [{ id: 'counter' }], attributeColumns: [{ n: Long.fromNumber(10) }], condition: IGNORE });
    // Act
    const inc = await f.client.updateRow({
      tableName: 'rows',
      primaryKey: [{ id: 'counter' }],
      updateOfAttributeColumns: [{ INCREMENT: [{ n: Long.fromNumber(5) }, { fresh: Long.fromNumber(2) }] }],
      condition: EXPECT_EXIST,
      returnContent: { returnType: ReturnType.AfterModify, returnColumns: ['n', 'fresh'] },
    });
    // Assess
    expect(attrs(inc.row)).toEqual({ fresh: 2, n: 15 });
    expect(await getAttrs(f.client, 'rows', 'counter')).toEqual({ fresh: 2, n: 15 });
  });

  it('refuses INCREMENT of a string column and leaves it unchanged', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'rows', primaryKey: [{ id: 'inc-str' }], attributeColumns: [{ n: 'text' }], condition: IGNORE });
    // Act
    const err = await rejectionOf(
      f.client.updateRow({ tableName: 'rows', primaryKey: [{ id: 'inc-str' }], updateOfAttributeColumns: [{ INCREMENT: [{ n: Long.fromNumber(1) }] }], condition: IGNORE }),
    );
    // Assess
    expect([err.status, err.code]).toEqual([400, 'OTSParameterInvalid']);
    expect(await getAttrs(f.client, 'rows', 'inc-str')).toEqual({ n: 'text' });
  });

  it('returns the primary key with RT_PK on PutRow', async () => {
    // Act
    const res = await f.client.putRow({
      tableName: 'rows',
      primaryKey: [{ id: 'rtpk' }],
      attributeColumns: [{ a: 'x' }],
      condition: IGNORE,
      returnContent: { returnType: ReturnType.Primarykey },
    });
    // Assess
    expect(res.row.primaryKey).toEqual([{ name: 'id', value: 'rtpk' }]);
  });

  it('DeleteRow removes the row', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'rows', primaryKey: [{ id: 'del' }], attributeColumns: [{ a: 'x' }], condition: IGNORE });
    // Act
    await f.client.deleteRow({ tableName: 'rows', primaryKey: [{ id: 'del' }], condition: EXPECT_EXIST });
    // Assess
    expect(await getAttrs(f.client, 'rows', 'del')).toBeUndefined();
    expect(f.ots.control.rows('rows').some((r) => r.primaryKey['id'] === 'del')).toBe(false);
  });

  it('columns_to_get returns only the named columns', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'rows', primaryKey: [{ id: 'cols' }], attributeColumns: [{ a: '1' }, { b: '2' }, { c: '3' }], condition: IGNORE });
    // Act
    const { row } = await f.client.getRow({ tableName: 'rows', primaryKey: [{ id: 'cols' }], columnsToGet: ['a', 'c'] });
    // Assess
    expect(attrs(row)).toEqual({ a: '1', c: '3' });
  });

  it.each([
    ['a missing primary key column', [{ g: 'x' }]],
    ['a primary key of the wrong type', [{ g: 'x' }, { n: 'not-an-integer' }]],
    ['primary key columns out of order', [{ n: Long.fromNumber(1) }, { g: 'x' }]],
  ])('refuses %s with OTSParameterInvalid (400) and writes nothing', async (_name, primaryKey) => {
    // Act
    const err = await rejectionOf(
      f.client.putRow({ tableName: 'composite', primaryKey: primaryKey as unknown as TableStore.PrimaryKey, attributeColumns: [{ a: 'x' }], condition: IGNORE }),
    );
    // Assess
    expect([err.status, err.code]).toEqual([400, 'OTSParameterInvalid']);
    expect(f.ots.control.rows('composite')).toEqual([]);
  });

  it('hides a row once its versions are older than the TTL (injected clock)', async () => {
    // Prepare
    await createTable(f.client, 'ttl', undefined, { timeToLive: 86400, maxVersions: 1 });
    await f.client.putRow({ tableName: 'ttl', primaryKey: [{ id: 'short' }], attributeColumns: [{ a: 'x' }], condition: IGNORE });
    clock.advance(86_400_000 - 1000);
    await f.client.putRow({ tableName: 'ttl', primaryKey: [{ id: 'young' }], attributeColumns: [{ a: 'y' }], condition: IGNORE });
    const before = await getAttrs(f.client, 'ttl', 'short');
    // Act
    clock.advance(2000);
    const after = await getAttrs(f.client, 'ttl', 'short');
    const young = await getAttrs(f.client, 'ttl', 'young');
    const recreate = await f.client.putRow({
      tableName: 'ttl',
      primaryKey: [{ id: 'short' }],
      attributeColumns: [{ a: 'again' }],
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_NOT_EXIST, null),
    });
    // Assess
    expect(before).toEqual({ a: 'x' });
    expect(after).toBeUndefined();
    expect(young).toEqual({ a: 'y' });
    expect(recreate.consumed).toBeDefined(); // an expired row no longer exists for EXPECT_NOT_EXIST
  });
});

describe('Local Tablestore: increments and puts on a frozen clock', () => {
  const clock = new TestClock();
  let f: OtsFixture;
  beforeAll(async () => {
    f = await startOtsFixture({ now: clock.now });
    await createTable(f.client, 'frozen');
  });
  afterAll(() => f.close());

  it('two increments and then a PUT in the same millisecond: the PUT is what a read sees', async () => {
    // Prepare
    const inc = () => f.client.updateRow({ tableName: 'frozen', primaryKey: [{ id: 'c' }], updateOfAttributeColumns: [{ INCREMENT: [{ n: Long.fromNumber(1) }] }], condition: IGNORE });
    await inc();
    await inc();
    const afterIncrements = await getAttrs(f.client, 'frozen', 'c');
    // Act
    await f.client.updateRow({ tableName: 'frozen', primaryKey: [{ id: 'c' }], updateOfAttributeColumns: [{ PUT: [{ n: Long.fromNumber(100) }] }], condition: IGNORE });
    // Assess
    expect(afterIncrements).toEqual({ n: 2 });
    expect(await getAttrs(f.client, 'frozen', 'c')).toEqual({ n: 100 });
  });
});
