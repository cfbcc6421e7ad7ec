import TableStore from 'tablestore';
import {
  ComparatorType,
  CompositeCondition,
  Condition,
  createTable,
  EXPECT_EXIST,
  EXPECT_NOT_EXIST,
  getAttrs,
  IGNORE,
  LogicalOperator,
  Long,
  type OtsFixture,
  rejectionOf,
  RowExistenceExpectation,
  SingleColumnCondition,
  startOtsFixture,
} from './helpers';

const T = 'cond';
const pk = (id: string) => [{ id }];
const cond = (column: TableStore.ColumnCondition, existence: number = RowExistenceExpectation.IGNORE) => new Condition(existence, column);
const single = (name: string, value: TableStore.AttributeInput, comparator: number, passIfMissing = true, latestVersionOnly = true) =>
  new SingleColumnCondition(name, value, comparator, passIfMissing, latestVersionOnly);

describe('Local Tablestore: conditions', () => {
  let f: OtsFixture;
  const seed = async (id: string, columns: TableStore.AttributeColumns = [{ version: Long.fromNumber(5) }, { state: 'OPEN' }]) =>
    f.client.putRow({ tableName: T, primaryKey: pk(id), attributeColumns: columns, condition: IGNORE });
  const update = (id: string, condition: TableStore.Condition) =>
    f.client.updateRow({ tableName: T, primaryKey: pk(id), updateOfAttributeColumns: [{ PUT: [{ state: 'CHANGED' }] }], condition });

  beforeAll(async () => {
    f = await startOtsFixture();
    await createTable(f.client, T);
    await createTable(f.client, 'multi', undefined, { timeToLive: -1, maxVersions: 5 });
  });
  afterAll(() => f.close());

  describe('row existence', () => {
    it('PutRow EXPECT_NOT_EXIST on an existing row fails with OTSConditionCheckFail (403) and leaves it unchanged', async () => {
      // Prepare
      await seed('exists-1');
      // Act
      const err = await rejectionOf(f.client.putRow({ tableName: T, primaryKey: pk('exists-1'), attributeColumns: [{ state: 'NEW' }], condition: EXPECT_NOT_EXIST }));
      // Assess
      expect([err.status, err.code]).toEqual([403, 'OTSConditionCheckFail']);
      expect(err.message).toBe('Condition check failed.');
      expect(await getAttrs(f.client, T, 'exists-1')).toEqual({ state: 'OPEN', version: 5 });
    });

    it('PutRow EXPECT_NOT_EXIST on a missing row writes it', async () => {
      // Act
      await f.client.putRow({ tableName: T, primaryKey: pk('fresh-1'), attributeColumns: [{ state: 'NEW' }], condition: EXPECT_NOT_EXIST });
      // Assess
      expect(await getAttrs(f.client, T, 'fresh-1')).toEqual({ state: 'NEW' });
    });

    it('UpdateRow EXPECT_EXIST on a missing row fails and creates nothing', async () => {
      // Act
      const err = await rejectionOf(update('missing-1', EXPECT_EXIST));
      // Assess
      expect([err.status, err.code]).toEqual([403, 'OTSConditionCheckFail']);
      expect(await getAttrs(f.client, T, 'missing-1')).toBeUndefined();
    });

    it('DeleteRow EXPECT_EXIST on a missing row fails; on an existing row it deletes', async () => {
      // Prepare
      await seed('del-1');
      // Act
      const err = await rejectionOf(f.client.deleteRow({ tableName: T, primaryKey: pk('del-missing'), condition: EXPECT_EXIST }));
      await f.client.deleteRow({ tableName: T, primaryKey: pk('del-1'), condition: EXPECT_EXIST });
      // Assess
      expect(err.code).toBe('OTSConditionCheckFail');
      expect(await getAttrs(f.client, T, 'del-1')).toBeUndefined();
    });

    it('DeleteRow EXPECT_NOT_EXIST on an existing row fails and keeps it', async () => {
      // Prepare
      await seed('del-2');
      // Act
      const err = await rejectionOf(f.client.deleteRow({ tableName: T, primaryKey: pk('del-2'), condition: EXPECT_NOT_EXIST }));
      // Assess
      expect(err.code).toBe('OTSConditionCheckFail');
      expect(await getAttrs(f.client, T, 'del-2')).toEqual({ state: 'OPEN', version: 5 });
    });
  });

  describe('column conditions on PutRow, DeleteRow and BatchWriteRow', () => {
    const stale = () => cond(single('version', Long.fromNumber(4), ComparatorType.EQUAL, false));

    it('PutRow with a failing column condition leaves the row unchanged', async () => {
      // Prepare
      await seed('put-cc');
      // Act
      const err = await rejectionOf(f.client.putRow({ tableName: T, primaryKey: pk('put-cc'), attributeColumns: [{ state: 'REPLACED' }], condition: stale() }));
      // Assess
      expect([err.status, err.code]).toEqual([403, 'OTSConditionCheckFail']);
      expect(await getAttrs(f.client, T, 'put-cc')).toEqual({ state: 'OPEN', version: 5 });
    });

    it('DeleteRow with a failing column condition keeps the row; with a passing one deletes it', async () => {
      // Prepare
      await seed('del-cc');
      // Act
      const err = await rejectionOf(f.client.deleteRow({ tableName: T, primaryKey: pk('del-cc'), condition: stale() }));
      const kept = await getAttrs(f.client, T, 'del-cc');
      await f.client.deleteRow({ tableName: T, primaryKey: pk('del-cc'), condition: cond(single('version', Long.fromNumber(5), ComparatorType.EQUAL, false)) });
      // Assess
      expect(err.code).toBe('OTSConditionCheckFail');
      expect(kept).toEqual({ state: 'OPEN', version: 5 });
      expect(await getAttrs(f.client, T, 'del-cc')).toBeUndefined();
    });

    it('BatchWriteRow checks each row\'s column condition on its own', async () => {
      // Prepare
      await seed('batch-cc-1');
      await seed('batch-cc-2');
      // Act
      const res = await f.client.batchWriteRow({
        tables: [
          {
            tableName: T,
            rows: [
              { type: 'UPDATE', primaryKey: pk('batch-cc-1'), attributeColumns: [{ PUT: [{ state: 'B1' }] }], condition: stale() },
              { type: 'UPDATE', primaryKey: pk('batch-cc-2'), attributeColumns: [{ PUT: [{ state: 'B2' }] }], condition: cond(single('version', Long.fromNumber(5), ComparatorType.EQUAL, false)) },
            ],
          },
        ],
      });
      // Assess
      expect(res.tables.map((r) => [r.isOk, r.errorCode])).toEqual([
        [false, 'OTSConditionCheckFail'],
        [true, null],
      ]);
      expect((await getAttrs(f.client, T, 'batch-cc-1'))?.['state']).toBe('OPEN');
      expect((await getAttrs(f.client, T, 'batch-cc-2'))?.['state']).toBe('B2');
    });
  });

  describe('single column conditions (stored version = 5)', () => {
    const cases: Array<[string, number, number, boolean]> = [
      ['EQUAL', ComparatorType.EQUAL, 5, true],
      ['EQUAL', ComparatorType.EQUAL, 4, false],
      ['NOT_EQUAL', ComparatorType.NOT_EQUAL, 4, true],
      ['NOT_EQUAL', ComparatorType.NOT_EQUAL, 5, false],
      ['GREATER_THAN', ComparatorType.GREATER_THAN, 4, true],
      ['GREATER_THAN', ComparatorType.GREATER_THAN, 5, false],
      ['GREATER_EQUAL', ComparatorType.GREATER_EQUAL, 5, true],
      ['GREATER_EQUAL', ComparatorType.GREATER_EQUAL, 6, false],
      ['LESS_THAN', ComparatorType.LESS_THAN, 6, true],
      ['LESS_THAN', ComparatorType.LESS_THAN, 5, false],
      ['LESS_EQUAL', ComparatorType.LESS_EQUAL, 5, true],
      ['LESS_EQUAL', ComparatorType.LESS_EQUAL, 4, false],
    ];
    it.each(cases)('column %s %d: %s', async (name, comparator, operand, passes) => {
      // Prepare
      const id = `cmp-${name}-${operand}`;
      await seed(id);
      // Act
      const outcome = await update(id, cond(single('version', Long.fromNumber(operand), comparator, false), RowExistenceExpectation.EXPECT_EXIST)).then(
        () => 'ok',
        (e) => rejectionOf(Promise.reject(e)).then((r) => `${r.status} ${r.code}`),
      );
      // Assess
      expect(outcome).toBe(passes ? 'ok' : '403 OTSConditionCheckFail');
      expect((await getAttrs(f.client, T, id))?.['state']).toBe(passes ? 'CHANGED' : 'OPEN');
    });

    it('compares strings bytewise', async () => {
      // Prepare
      await seed('str-1', [{ state: 'b' }]);
      // Act
      const lower = await rejectionOf(update('str-1', cond(single('state', 'c', ComparatorType.GREATER_THAN))));
      await update('str-1', cond(single('state', 'a', ComparatorType.GREATER_THAN)));
      // Assess
      expect(lower.code).toBe('OTSConditionCheckFail');
      expect((await getAttrs(f.client, T, 'str-1'))?.['state']).toBe('CHANGED');
    });

    it('an Integer condition never matches a Double cell (a version stored as a JS number)', async () => {
      // Prepare
      await seed('double-1', [{ version: 5 }]);
      // Act
      const err = await rejectionOf(update('double-1', cond(single('version', Long.fromNumber(5), ComparatorType.EQUAL, false))));
      // Assess
      expect(err.code).toBe('OTSConditionCheckFail');
    });

    it('passIfMissing=true lets a write through when the column is missing', async () => {
      // Prepare
      await seed('missing-col-1', [{ other: 'x' }]);
      // Act
      await update('missing-col-1', cond(single('version', Long.fromNumber(1), ComparatorType.EQUAL, true)));
      // Assess
      expect((await getAttrs(f.client, T, 'missing-col-1'))?.['state']).toBe('CHANGED');
    });

    it('passIfMissing=false fails when the column is missing, and when the row is missing', async () => {
      // Prepare
      await seed('missing-col-2', [{ other: 'x' }]);
      // Act
      const missingColumn = await rejectionOf(update('missing-col-2', cond(single('version', Long.fromNumber(1), ComparatorType.EQUAL, false))));
      const missingRow = await rejectionOf(update('missing-row-2', cond(single('version', Long.fromNumber(1), ComparatorType.EQUAL, false))));
      // Assess
      expect(missingColumn.code).toBe('OTSConditionCheckFail');
      expect(missingRow.code).toBe('OTSConditionCheckFail');
      expect(await getAttrs(f.client, T, 'missing-col-2')).toEqual({ other: 'x' });
      expect(await getAttrs(f.client, T, 'missing-row-2')).toBeUndefined();
    });

    it('latestVersionOnly=false passes when any kept version matches; true looks at the newest only', async () => {
      // Prepare
      const now = Date.now();
      const row = (id: string) =>
        f.client.updateRow({ tableName: 'multi', primaryKey: pk(id), updateOfAttributeColumns: [{ PUT: [{ v: 'old', timestamp: now - 1000 }, { v: 'new', timestamp: now }] }], condition: IGNORE });
      await row('lv-1');
      const put = (latestOnly: boolean) =>
        f.client.updateRow({
          tableName: 'multi',
          primaryKey: pk('lv-1'),
          updateOfAttributeColumns: [{ PUT: [{ touched: String(latestOnly) }] }],
          condition: cond(single('v', 'old', ComparatorType.EQUAL, false, latestOnly)),
        });
      // Act
      const latestOnly = await rejectionOf(put(true));
      await put(false);
      // Assess
      expect(latestOnly.code).toBe('OTSConditionCheckFail');
      const { row: got } = await f.client.getRow({ tableName: 'multi', primaryKey: pk('lv-1'), columnsToGet: ['touched'] });
      expect(got.attributes?.map((a) => a.columnValue)).toEqual(['false']);
    });
  });

  describe('composite conditions', () => {
    const and = (...subs: TableStore.ColumnCondition[]) => {
      const c = new CompositeCondition(LogicalOperator.AND);
      subs.forEach((s) => c.addSubCondition(s));
      return c;
    };
    const or = (...subs: TableStore.ColumnCondition[]) => {
      const c = new CompositeCondition(LogicalOperator.OR);
      subs.forEach((s) => c.addSubCondition(s));
      return c;
    };
    const not = (sub: TableStore.ColumnCondition) => {
      const c = new CompositeCondition(LogicalOperator.NOT);
      c.addSubCondition(sub);
      return c;
    };
    const v5 = () => single('version', Long.fromNumber(5), ComparatorType.EQUAL, false);
    const v9 = () => single('version', Long.fromNumber(9), ComparatorType.EQUAL, false);
    const open = () => single('state', 'OPEN', ComparatorType.EQUAL, false);

    it.each([
      ['AND of two true', () => and(v5(), open()), true],
      ['AND with one false', () => and(v5(), v9()), false],
      ['OR with one true', () => or(v9(), open()), true],
      ['OR of two false', () => or(v9(), single('state', 'X', ComparatorType.EQUAL)), false],
      ['NOT of false', () => not(v9()), true],
      ['NOT of true', () => not(v5()), false],
      ['nested AND(OR(false, true), NOT(false))', () => and(or(v9(), v5()), not(v9())), true],
    ])('%s', async (name, build, passes) => {
      // Prepare
      const id = `comp-${name}`;
      await seed(id);
      // Act
      const outcome = await update(id, cond(build(), RowExistenceExpectation.EXPECT_EXIST)).then(
        () => 'ok',
        (e) => rejectionOf(Promise.reject(e)).then((r) => r.code),
      );
      // Assess
      expect(outcome).toBe(passes ? 'ok' : 'OTSConditionCheckFail');
      expect((await getAttrs(f.client, T, id))?.['state']).toBe(passes ? 'CHANGED' : 'OPEN');
    });

    it('refuses more than 10 conditions with OTSParameterInvalid (400)', async () => {
      // Prepare
      await seed('too-many');
      const c = new CompositeCondition(LogicalOperator.AND);
      for (let i = 0; i < 10; i += 1) c.addSubCondition(v5());
      // Act
      const err = await rejectionOf(update('too-many', cond(c)));
      // Assess
      expect([err.status, err.code]).toEqual([400, 'OTSParameterInvalid']);
      expect((await getAttrs(f.client, T, 'too-many'))?.['state']).toBe('OPEN');
    });
  });

  describe('what the SDK hands the caller (the 5.6.5 error quirk, reference §4)', () => {
    it('a condition failure rejects with code 403 (a number) and the protobuf bytes naming OTSConditionCheckFail', async () => {
      // Prepare
      await seed('raw-1');
      // Act
      const raw = await f.client.putRow({ tableName: T, primaryKey: pk('raw-1'), attributeColumns: [{ a: 'x' }], condition: EXPECT_NOT_EXIST }).then(
        () => undefined,
        (e: unknown) => e as { code: unknown; message: string },
      );
      // Assess
      expect(raw?.code).toBe(403);
      expect(raw?.message.includes('OTSConditionCheckFail')).toBe(true);
      expect(raw?.message).toMatch(/^\n\u0015OTSConditionCheckFail\u0012\u0017Condition check failed\. requestId:[0-9a-f-]{36}$/);
    });
  });

  describe('optimistic concurrency on a version column (reference §11)', () => {
    it('of two writers that read the same version, exactly one wins and the other sees OTSConditionCheckFail', async () => {
      // Prepare
      await f.client.putRow({ tableName: T, primaryKey: pk('op-1'), attributeColumns: [{ version: Long.fromNumber(1) }, { state: 'PENDING' }], condition: EXPECT_NOT_EXIST });
      const read = async () => {
        const { row } = await f.client.getRow({ tableName: T, primaryKey: pk('op-1'), maxVersions: 1 });
        return (row.attributes?.find((a) => a.columnName === 'version')?.columnValue as TableStore.Int64LE).toNumber();
      };
      const [va, vb] = await Promise.all([read(), read()]);
      const write = (v: number, state: string) =>
        f.client.updateRow({
          tableName: T,
          primaryKey: pk('op-1'),
          condition: new Condition(RowExistenceExpectation.EXPECT_EXIST, new SingleColumnCondition('version', Long.fromNumber(v), ComparatorType.EQUAL, false)),
          updateOfAttributeColumns: [{ PUT: [{ version: Long.fromNumber(v + 1) }, { state }] }],
        });
      // Act
      const results = await Promise.allSettled([write(va, 'DONE-A'), write(vb, 'DONE-B')]);
      // Assess
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => rejectionOf(Promise.reject(r.reason)));
      expect(won).toHaveLength(1);
      expect(await Promise.all(lost)).toMatchObject([{ status: 403, code: 'OTSConditionCheckFail' }]);
      const after = await getAttrs(f.client, T, 'op-1');
      expect(after?.['version']).toBe(2);
      expect(['DONE-A', 'DONE-B']).toContain(after?.['state']);
    });
  });
});
