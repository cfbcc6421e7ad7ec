import TableStore from 'tablestore';
import { attrs, createTable, EXPECT_EXIST, EXPECT_NOT_EXIST, getAttrs, IGNORE, Long, type OtsFixture, rejectionOf, startOtsFixture } from './helpers';

const { INF_MIN, INF_MAX } = TableStore;
const key = (g: string, n: number): TableStore.PrimaryKey => [{ g }, { n: Long.fromNumber(n) }];
const keyOf = (pk: TableStore.DecodedPrimaryKeyColumn[]) => `${String(pk[0]?.value)}/${(pk[1]?.value as TableStore.Int64LE).toNumber()}`;

/** The SDK answers next_start_primary_key as [{name, value}]; a request wants [{name: value}] (reference §9). */
const asRequestKey = (pk: TableStore.DecodedPrimaryKeyColumn[]): TableStore.PrimaryKey => pk.map((c) => ({ [c.name]: c.value }));

describe('Local Tablestore: GetRange', () => {
  let f: OtsFixture;
  beforeAll(async () => {
    f = await startOtsFixture();
    await createTable(f.client, 'range', [{ name: 'g', type: 'STRING' }, { name: 'n', type: 'INTEGER' }]);
    const rows = [];
    for (const g of ['a', 'b']) for (let n = 1; n <= 10; n += 1) rows.push({ type: 'PUT' as const, primaryKey: key(g, n), attributeColumns: [{ v: `${g}${n}` }], condition: IGNORE });
    await f.client.batchWriteRow({ tables: [{ tableName: 'range', rows }] });
  });
  afterAll(() => f.close());

  it('reads [start, end) forward: the start row included, the end row excluded', async () => {
    // Act
    const res = await f.client.getRange({ tableName: 'range', direction: 'FORWARD', inclusiveStartPrimaryKey: key('a', 3), exclusiveEndPrimaryKey: key('a', 6) });
    // Assess
    expect(res.rows.map((r) => keyOf(r.primaryKey))).toEqual(['a/3', 'a/4', 'a/5']);
    expect(res.nextStartPrimaryKey).toBeNull();
  });

  it('orders by the first key column, then the second (INF_MIN/INF_MAX bound a whole group)', async () => {
    // Act
    const res = await f.client.getRange({
      tableName: 'range',
      direction: 'FORWARD',
      inclusiveStartPrimaryKey: [{ g: 'a' }, { n: INF_MAX }],
      exclusiveEndPrimaryKey: [{ g: INF_MAX }, { n: INF_MAX }],
    });
    // Assess
    expect(res.rows.map((r) => keyOf(r.primaryKey))).toEqual(Array.from({ length: 10 }, (_, i) => `b/${i + 1}`));
  });

  it('pages with limit and next_start_primary_key until every row is read once', async () => {
    // Prepare
    const seen: string[] = [];
    let start: TableStore.PrimaryKey = [{ g: INF_MIN }, { n: INF_MIN }];
    let pages = 0;
    // Act
    for (;;) {
      const res = await f.client.getRange({ tableName: 'range', direction: 'FORWARD', inclusiveStartPrimaryKey: start, exclusiveEndPrimaryKey: [{ g: INF_MAX }, { n: INF_MAX }], limit: 7 });
      pages += 1;
      seen.push(...res.rows.map((r) => keyOf(r.primaryKey)));
      if (res.nextStartPrimaryKey === null) break;
      start = asRequestKey(res.nextStartPrimaryKey);
    }
    // Assess
    expect(pages).toBe(3);
    expect(seen).toHaveLength(20);
    expect(new Set(seen).size).toBe(20);
    expect(seen.slice(0, 2)).toEqual(['a/1', 'a/2']);
  });

  it('reads BACKWARD from the start key down to (excluding) the end key, paging too', async () => {
    // Act
    const first = await f.client.getRange({ tableName: 'range', direction: 'BACKWARD', inclusiveStartPrimaryKey: key('b', 3), exclusiveEndPrimaryKey: key('a', 8), limit: 3 });
    const second = await f.client.getRange({
      tableName: 'range',
      direction: 'BACKWARD',
      inclusiveStartPrimaryKey: asRequestKey(first.nextStartPrimaryKey ?? []),
      exclusiveEndPrimaryKey: key('a', 8),
      limit: 3,
    });
    // Assess
    expect(first.rows.map((r) => keyOf(r.primaryKey))).toEqual(['b/3', 'b/2', 'b/1']);
    expect(second.rows.map((r) => keyOf(r.primaryKey))).toEqual(['a/10', 'a/9']);
    expect(second.nextStartPrimaryKey).toBeNull();
  });

  it('refuses a FORWARD range whose start is after its end (OTSParameterInvalid)', async () => {
    // Act
    const err = await rejectionOf(f.client.getRange({ tableName: 'range', direction: 'FORWARD', inclusiveStartPrimaryKey: key('b', 1), exclusiveEndPrimaryKey: key('a', 1) }));
    // Assess
    expect([err.status, err.code]).toEqual([400, 'OTSParameterInvalid']);
  });

  it('returns at most 5000 rows per call and says where to go on', async () => {
    // Prepare
    await createTable(f.client, 'big', [{ name: 'n', type: 'INTEGER' }]);
    for (let b = 0; b < 26; b += 1) {
      const rows = Array.from({ length: 200 }, (_, i) => ({ type: 'PUT' as const, primaryKey: [{ n: Long.fromNumber(b * 200 + i) }], attributeColumns: [{ x: 'y' }], condition: IGNORE }));
      await f.client.batchWriteRow({ tables: [{ tableName: 'big', rows }] });
    }
    // Act
    const res = await f.client.getRange({ tableName: 'big', direction: 'FORWARD', inclusiveStartPrimaryKey: [{ n: INF_MIN }], exclusiveEndPrimaryKey: [{ n: INF_MAX }], limit: 6000 });
    // Assess
    expect(res.rows).toHaveLength(5000);
    expect((res.nextStartPrimaryKey?.[0]?.value as TableStore.Int64LE).toNumber()).toBe(5000);
  });
});

describe('Local Tablestore: batches', () => {
  let f: OtsFixture;
  beforeAll(async () => {
    f = await startOtsFixture();
    await createTable(f.client, 'batch');
    await createTable(f.client, 'batch2');
  });
  afterAll(() => f.close());

  it('BatchGetRow answers each key in order across tables, a missing row as an ok empty row', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'batch', primaryKey: [{ id: 'g1' }], attributeColumns: [{ v: '1' }], condition: IGNORE });
    await f.client.putRow({ tableName: 'batch2', primaryKey: [{ id: 'g2' }], attributeColumns: [{ v: '2' }], condition: IGNORE });
    // Act
    const res = await f.client.batchGetRow({
      tables: [
        { tableName: 'batch', primaryKey: [[{ id: 'g1' }], [{ id: 'nope' }]] },
        { tableName: 'batch2', primaryKey: [[{ id: 'g2' }]] },
      ],
    });
    // Assess
    const [t1, t2] = res.tables;
    expect(t1?.map((r) => [r.isOk, r.attributes?.[0]?.columnValue ?? null])).toEqual([
      [true, '1'],
      [true, null],
    ]);
    expect(t2?.map((r) => [r.isOk, r.tableName, r.attributes?.[0]?.columnValue])).toEqual([[true, 'batch2', '2']]);
  });

  it('BatchWriteRow answers 200 with a per-row failure for the one row whose condition fails, and applies the others', async () => {
    // Prepare
    await f.client.putRow({ tableName: 'batch', primaryKey: [{ id: 'taken' }], attributeColumns: [{ v: 'original' }], condition: IGNORE });
    // Act
    const res = await f.client.batchWriteRow({
      tables: [
        {
          tableName: 'batch',
          rows: [
            { type: 'PUT', primaryKey: [{ id: 'w1' }], attributeColumns: [{ v: 'one' }], condition: EXPECT_NOT_EXIST },
            { type: 'PUT', primaryKey: [{ id: 'taken' }], attributeColumns: [{ v: 'overwritten' }], condition: EXPECT_NOT_EXIST },
            { type: 'UPDATE', primaryKey: [{ id: 'w2' }], attributeColumns: [{ PUT: [{ v: 'two' }] }], condition: IGNORE },
            { type: 'DELETE', primaryKey: [{ id: 'never' }], condition: EXPECT_EXIST },
          ],
        },
      ],
    });
    // Assess
    expect(res.tables.map((r) => [r.isOk, r.errorCode])).toEqual([
      [true, null],
      [false, 'OTSConditionCheckFail'],
      [true, null],
      [false, 'OTSConditionCheckFail'],
    ]);
    expect(await getAttrs(f.client, 'batch', 'w1')).toEqual({ v: 'one' });
    expect(await getAttrs(f.client, 'batch', 'w2')).toEqual({ v: 'two' });
    expect(await getAttrs(f.client, 'batch', 'taken')).toEqual({ v: 'original' });
  });

  it('BatchWriteRow reports a missing table per row', async () => {
    // Act
    const res = await f.client.batchWriteRow({ tables: [{ tableName: 'no_such_table', rows: [{ type: 'PUT', primaryKey: [{ id: 'x' }], attributeColumns: [{ v: 'x' }], condition: IGNORE }] }] });
    // Assess
    expect(res.tables.map((r) => [r.isOk, r.errorCode])).toEqual([[false, 'OTSObjectNotExist']]);
  });

  it('refuses a BatchWriteRow of more than 200 rows (OTSParameterInvalid, 400) and writes none', async () => {
    // Prepare
    const rows = Array.from({ length: 201 }, (_, i) => ({ type: 'PUT' as const, primaryKey: [{ id: `many-${i}` }], attributeColumns: [{ v: 'x' }], condition: IGNORE }));
    // Act
    const err = await rejectionOf(f.client.batchWriteRow({ tables: [{ tableName: 'batch', rows }] }));
    // Assess
    expect([err.status, err.code]).toEqual([400, 'OTSParameterInvalid']);
    expect(f.ots.control.rows('batch').some((r) => String(r.primaryKey['id']).startsWith('many-'))).toBe(false);
  });

  it('refuses a BatchGetRow of more than 100 rows', async () => {
    // Act
    const err = await rejectionOf(f.client.batchGetRow({ tables: [{ tableName: 'batch', primaryKey: Array.from({ length: 101 }, (_, i) => [{ id: `k${i}` }]) }] }));
    // Assess
    expect([err.status, err.code]).toEqual([400, 'OTSParameterInvalid']);
  });

  it('returns increments per row with RT_AFTER_MODIFY inside a batch', async () => {
    // Act
    const res = await f.client.batchWriteRow({
      tables: [
        {
          tableName: 'batch',
          rows: [
            {
              type: 'UPDATE',
              primaryKey: [{ id: 'ctr' }],
              attributeColumns: [{ INCREMENT: [{ n: Long.fromNumber(3) }] }],
              condition: IGNORE,
              returnContent: { returnType: TableStore.ReturnType.AfterModify, returnColumns: ['n'] },
            },
          ],
        },
      ],
    });
    // Assess
    expect(attrs({ attributes: res.tables[0]?.attributes ?? [] })).toEqual({ n: 3 });
  });
});
