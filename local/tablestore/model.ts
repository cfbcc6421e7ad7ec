/**
 * The local Tablestore's state and rules: tables, rows with per-column versions, TTL, max versions,
 * row-existence and column conditions, and the row operations. It raises the service's wire codes
 * (OtsFault); the HTTP layer (index.ts) only decodes requests and encodes answers.
 * Sections cited are shared/reference/tablestore.md.
 */
import { invalid, OtsFault } from './errors';
import { CellOp, type DecodedCell, type KeyColumn, type KeyValue, type OutCell, type RequestKeyValue, type Value, valueToJson } from './plainbuffer';

export type KeyType = 'INTEGER' | 'STRING' | 'BINARY';

export interface KeySchema {
  readonly name: string;
  readonly type: KeyType;
  readonly autoIncrement: boolean;
}

export interface TableOptionsState {
  /** seconds; -1 = never (§9) */
  timeToLive: number;
  maxVersions: number;
  /** seconds; how far a client-given version may be from now (§9) */
  deviationCellVersionInSec: number;
  allowUpdate: boolean;
}

export interface TableState {
  readonly name: string;
  readonly primaryKey: readonly KeySchema[];
  readonly options: TableOptionsState;
  readonly reserved: { read: number; write: number };
  readonly createdAt: number;
  lastIncreaseTime: number;
  /** serialized PK -> row */
  readonly rows: Map<string, StoredRow>;
  autoIncrement: bigint;
}

interface Version {
  readonly ts: number;
  readonly value: Value;
}

export interface StoredRow {
  readonly primaryKey: KeyColumn<KeyValue>[];
  /** column -> versions, newest first */
  readonly columns: Map<string, Version[]>;
  /** When the row was last written; what keeps a PK-only row alive under TTL (a guess, README). */
  writtenAt: number;
}

export const RowExistence = { Ignore: 0, ExpectExist: 1, ExpectNotExist: 2 } as const;
export type RowExistenceValue = (typeof RowExistence)[keyof typeof RowExistence];

/** Comparators of SingleColumnValueFilter (tablestore_filter.proto, §7). */
export const Comparator = { Equal: 1, NotEqual: 2, GreaterThan: 3, GreaterEqual: 4, LessThan: 5, LessEqual: 6 } as const;
export const Combinator = { Not: 1, And: 2, Or: 3 } as const;

export type ColumnCondition =
  | {
      readonly kind: 'single';
      readonly comparator: number;
      readonly columnName: string;
      readonly value: Value;
      /** The wire's filter_if_missing: true = a missing column FAILS (the SDK sends !passIfMissing, encoder.js:508). */
      readonly filterIfMissing: boolean;
      readonly latestVersionOnly: boolean;
    }
  | { readonly kind: 'composite'; readonly combinator: number; readonly subs: readonly ColumnCondition[] };

export interface WriteCondition {
  readonly rowExistence: RowExistenceValue;
  readonly column?: ColumnCondition;
}

export const ReturnKind = { None: 0, PrimaryKey: 1, AfterModify: 2 } as const;

export interface ReturnSpec {
  readonly type: number;
  readonly columnNames: readonly string[];
}

/** What a write answers in `row`: nothing, or a PK with the requested columns. */
export interface ReturnedRow {
  readonly primaryKey: KeyColumn<KeyValue>[];
  readonly cells: OutCell[];
}

export interface ReadSpec {
  readonly columnsToGet: readonly string[];
  readonly maxVersions?: number;
  readonly timeRange?: { start?: number; end?: number; specific?: number };
  readonly filter?: ColumnCondition;
}

/** Limits (§9, general limits page); the numbers the service enforces and the emulator with it. */
export const TablestoreLimits = {
  MaxTables: 64,
  MaxPrimaryKeyColumns: 4,
  MaxNameBytes: 255,
  MaxKeyValueBytes: 1024,
  MaxAttributeValueBytes: 2 * 1024 * 1024,
  MaxColumnsPerWrite: 1024,
  MaxColumnsToGet: 128,
  MaxColumnConditions: 10,
  BatchGetRows: 100,
  BatchWriteRows: 200,
  GetRangeRows: 5000,
  MinTimeToLive: 86400,
  DefaultDeviationSec: 86400,
} as const;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(name: string, what: string): void {
  if (name === '' || Buffer.byteLength(name) > TablestoreLimits.MaxNameBytes || !NAME.test(name)) {
    throw invalid(`Invalid ${what} name: '${name}'. Names are 1-255 characters of [A-Za-z0-9_] and do not start with a digit.`);
  }
}

/** Orders PK values of one column: INF_MIN < every value < INF_MAX; ints numerically, strings/binary bytewise. */
function compareKeyValue(a: RequestKeyValue, b: RequestKeyValue): number {
  const rank = (v: RequestKeyValue) => (v.type === 'INF_MIN' ? 0 : v.type === 'INF_MAX' ? 2 : 1);
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (a.type === 'INF_MIN' || a.type === 'INF_MAX') return 0;
  if (a.type === 'INTEGER' && b.type === 'INTEGER') return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  if ((a.type === 'STRING' || a.type === 'BINARY') && (b.type === 'STRING' || b.type === 'BINARY')) {
    return Buffer.compare(Buffer.from(a.value as string | Buffer), Buffer.from(b.value as string | Buffer));
  }
  return 0;
}

/**
 * Compares a column value with a condition value. Different types never compare (undefined): the service
 * compares typed values and reference §11 warns an Integer condition never equals a Double cell; what it
 * answers for `!=` across types is not documented, so every comparator fails then (a guess, README).
 */
function compareValues(a: Value, b: Value): number | undefined {
  if (a.type !== b.type) return undefined;
  switch (a.type) {
    case 'INTEGER': {
      const bv = b.value as bigint;
      return a.value < bv ? -1 : a.value > bv ? 1 : 0;
    }
    case 'DOUBLE': {
      const bv = b.value as number;
      return a.value < bv ? -1 : a.value > bv ? 1 : 0;
    }
    case 'BOOLEAN':
      return Number(a.value) - Number(b.value as boolean);
    case 'STRING':
      return Buffer.compare(Buffer.from(a.value), Buffer.from(b.value as string));
    case 'BINARY':
      return Buffer.compare(a.value, b.value as Buffer);
  }
}

function satisfies(comparator: number, cmp: number | undefined): boolean {
  if (cmp === undefined) return false;
  switch (comparator) {
    case Comparator.Equal:
      return cmp === 0;
    case Comparator.NotEqual:
      return cmp !== 0;
    case Comparator.GreaterThan:
      return cmp > 0;
    case Comparator.GreaterEqual:
      return cmp >= 0;
    case Comparator.LessThan:
      return cmp < 0;
    case Comparator.LessEqual:
      return cmp <= 0;
    default:
      throw invalid(`Unknown comparator ${comparator}.`);
  }
}

/** Checks a column condition's shape: NOT has one sub-condition, AND/OR at least two, at most 10 in all (§8). */
export function validateColumnCondition(c: ColumnCondition): void {
  let count = 0;
  const walk = (n: ColumnCondition): void => {
    count += 1;
    if (n.kind === 'single') {
      checkName(n.columnName, 'column');
      if (!Object.values(Comparator).includes(n.comparator as 1)) throw invalid(`Unknown comparator ${n.comparator}.`);
      return;
    }
    if (n.combinator === Combinator.Not) {
      if (n.subs.length !== 1) throw invalid('A NOT condition takes exactly one sub-condition.');
    } else if (n.combinator === Combinator.And || n.combinator === Combinator.Or) {
      if (n.subs.length < 2) throw invalid('An AND or OR condition takes at least two sub-conditions.');
    } else {
      throw invalid(`Unknown logical operator ${n.combinator}.`);
    }
    n.subs.forEach(walk);
  };
  walk(c);
  if (count > TablestoreLimits.MaxColumnConditions) {
    throw invalid(`The number of column conditions (${count}) exceeds the limit (${TablestoreLimits.MaxColumnConditions}).`);
  }
}

function keyString(pk: readonly KeyColumn<KeyValue>[]): string {
  return JSON.stringify(pk.map((c) => [c.value.type, c.value.type === 'BINARY' ? c.value.value.toString('base64') : String(c.value.value)]));
}

/** A plain-JSON view of a PK, for calls() and rows(). */
export function keyToJson(pk: readonly KeyColumn[]): Record<string, unknown> {
  return Object.fromEntries(pk.map((c) => [c.name, valueToJson(c.value)]));
}

/** A plain-JSON snapshot of one row: PK values, and each column's visible versions newest first. */
export interface RowSnapshot {
  primaryKey: Record<string, unknown>;
  columns: Record<string, Array<{ value: unknown; type: Value['type']; timestamp: number }>>;
}

export class TablestoreModel {
  private readonly tables = new Map<string, TableState>();

  constructor(
    private readonly now: () => number,
    /**
     * How long after CreateTable row operations answer 404 OTSTableNotReady (on `now`). The service takes
     * "several seconds" to a minute (§9); default 0 so tests need not wait.
     */
    private readonly tableReadyAfterMs = 0,
  ) {}

  reset(): void {
    this.tables.clear();
  }

  // ---------------------------------------------------------------- tables

  createTable(input: { name: string; primaryKey: readonly KeySchema[]; options: Partial<TableOptionsState>; reserved?: { read?: number; write?: number } }): void {
    checkName(input.name, 'table');
    if (this.tables.has(input.name)) throw new OtsFault('OTSObjectAlreadyExist');
    if (this.tables.size >= TablestoreLimits.MaxTables) throw new OtsFault('OTSQuotaExhausted', 'Number of tables exceeded the quota.');
    if (input.primaryKey.length < 1 || input.primaryKey.length > TablestoreLimits.MaxPrimaryKeyColumns) {
      throw invalid(`A table has 1 to ${TablestoreLimits.MaxPrimaryKeyColumns} primary key columns, got ${input.primaryKey.length}.`);
    }
    const seen = new Set<string>();
    input.primaryKey.forEach((k, i) => {
      checkName(k.name, 'primary key');
      if (seen.has(k.name)) throw invalid(`Duplicated primary key name: '${k.name}'.`);
      seen.add(k.name);
      if (k.autoIncrement && (k.type !== 'INTEGER' || i === 0)) {
        throw invalid(`The auto-increment primary key '${k.name}' must be INTEGER and not the partition key.`);
      }
    });
    const options: TableOptionsState = {
      timeToLive: input.options.timeToLive ?? -1,
      maxVersions: input.options.maxVersions ?? 1,
      deviationCellVersionInSec: input.options.deviationCellVersionInSec ?? TablestoreLimits.DefaultDeviationSec,
      allowUpdate: input.options.allowUpdate ?? true,
    };
    this.checkOptions(options);
    const at = this.now();
    this.tables.set(input.name, {
      name: input.name,
      primaryKey: input.primaryKey.map((k) => ({ ...k })),
      options,
      reserved: { read: input.reserved?.read ?? 0, write: input.reserved?.write ?? 0 },
      createdAt: at,
      lastIncreaseTime: at,
      rows: new Map(),
      autoIncrement: 0n,
    });
  }

  private checkOptions(o: TableOptionsState): void {
    if (!Number.isInteger(o.timeToLive) || (o.timeToLive !== -1 && o.timeToLive < TablestoreLimits.MinTimeToLive)) {
      throw invalid(`time_to_live must be -1 or at least ${TablestoreLimits.MinTimeToLive} seconds, got ${o.timeToLive}.`);
    }
    if (!Number.isInteger(o.maxVersions) || o.maxVersions < 1) throw invalid(`max_versions must be at least 1, got ${o.maxVersions}.`);
    if (!Number.isFinite(o.deviationCellVersionInSec) || o.deviationCellVersionInSec <= 0) {
      throw invalid(`deviation_cell_version_in_sec must be positive, got ${o.deviationCellVersionInSec}.`);
    }
  }

  listTables(): string[] {
    return [...this.tables.keys()].sort();
  }

  table(name: string): TableState {
    const t = this.tables.get(name);
    if (t === undefined) throw new OtsFault('OTSObjectNotExist');
    return t;
  }

  /** The table for a row operation: 404 OTSTableNotReady until it has loaded (§4, §9). */
  private readyTable(name: string): TableState {
    const t = this.table(name);
    if (this.now() < t.createdAt + this.tableReadyAfterMs) throw new OtsFault('OTSTableNotReady');
    return t;
  }

  hasTable(name: string): boolean {
    return this.tables.has(name);
  }

  deleteTable(name: string): void {
    this.table(name);
    this.tables.delete(name);
  }

  /** UpdateTable: table options only (reserved throughput is recorded, nothing else changes). */
  updateTable(name: string, options: Partial<TableOptionsState>, reserved?: { read?: number; write?: number }): TableState {
    const t = this.table(name);
    const next: TableOptionsState = {
      timeToLive: options.timeToLive ?? t.options.timeToLive,
      maxVersions: options.maxVersions ?? t.options.maxVersions,
      deviationCellVersionInSec: options.deviationCellVersionInSec ?? t.options.deviationCellVersionInSec,
      allowUpdate: options.allowUpdate ?? t.options.allowUpdate,
    };
    this.checkOptions(next);
    Object.assign(t.options, next);
    if (reserved !== undefined) {
      if ((reserved.read ?? 0) > t.reserved.read || (reserved.write ?? 0) > t.reserved.write) t.lastIncreaseTime = this.now();
      t.reserved.read = reserved.read ?? t.reserved.read;
      t.reserved.write = reserved.write ?? t.reserved.write;
    }
    // A smaller max_versions applies to the versions already stored.
    for (const row of t.rows.values()) for (const versions of row.columns.values()) versions.splice(next.maxVersions);
    return t;
  }

  // ---------------------------------------------------------------- visibility

  /** A version is visible while it is younger than the TTL (version/1000 vs now, §9). */
  private alive(t: TableState, ts: number): boolean {
    return t.options.timeToLive === -1 || ts > this.now() - t.options.timeToLive * 1000;
  }

  private visibleVersions(t: TableState, row: StoredRow, column: string): Version[] {
    return (row.columns.get(column) ?? []).filter((v) => this.alive(t, v.ts));
  }

  /** The row if it exists for a reader now: it has a visible cell, or it has no cells and was written within the TTL. */
  private visibleRow(t: TableState, key: string): StoredRow | undefined {
    const row = t.rows.get(key);
    if (row === undefined) return undefined;
    let cells = 0;
    for (const [name, versions] of row.columns) {
      const live = versions.filter((v) => this.alive(t, v.ts));
      if (live.length !== versions.length) {
        if (live.length === 0) row.columns.delete(name);
        else row.columns.set(name, live);
      }
      cells += live.length;
    }
    if (cells > 0 || this.alive(t, row.writtenAt)) return row;
    t.rows.delete(key);
    return undefined;
  }

  // ---------------------------------------------------------------- keys

  /**
   * Checks a request's PK against the schema: the same columns in the same order with the schema's
   * types (§9 limits). `range` admits INF_MIN/INF_MAX; `assign` admits AUTO_INCREMENT on its column.
   */
  private checkKey(t: TableState, pk: readonly KeyColumn[], mode: 'row' | 'range' | 'assign'): void {
    if (pk.length !== t.primaryKey.length) {
      throw invalid(`Validate PK size fail. Input: ${pk.length}, Meta: ${t.primaryKey.length}.`);
    }
    pk.forEach((c, i) => {
      const schema = t.primaryKey[i] as KeySchema;
      if (c.name !== schema.name) throw invalid(`Validate PK name fail. Input: ${c.name}, Meta: ${schema.name}.`);
      const v = c.value;
      if (v.type === 'INF_MIN' || v.type === 'INF_MAX') {
        if (mode !== 'range') throw invalid(`INF_MIN and INF_MAX are only allowed in a range, got one in '${c.name}'.`);
        return;
      }
      if (v.type === 'AUTO_INCREMENT') {
        if (mode !== 'assign' || !schema.autoIncrement) throw invalid(`'${c.name}' is not an auto-increment primary key column.`);
        return;
      }
      if (v.type !== schema.type) throw invalid(`Validate PK type fail. Input: ${v.type}, Meta: ${schema.type}.`);
      if ((v.type === 'STRING' || v.type === 'BINARY') && Buffer.byteLength(v.value) > TablestoreLimits.MaxKeyValueBytes) {
        throw invalid(`The length of primary key column '${c.name}' exceeds ${TablestoreLimits.MaxKeyValueBytes} bytes.`);
      }
    });
  }

  /** A row PK as stored (assigning auto-increment values when asked). */
  private rowKey(t: TableState, pk: readonly KeyColumn[], assign: boolean): KeyColumn<KeyValue>[] {
    this.checkKey(t, pk, assign ? 'assign' : 'row');
    return pk.map((c) => {
      if (c.value.type === 'AUTO_INCREMENT') {
        // The service assigns increasing integers per partition; one counter per table is enough here.
        t.autoIncrement += 1n;
        return { name: c.name, value: { type: 'INTEGER', value: BigInt(this.now()) * 1000n + t.autoIncrement } };
      }
      return c as KeyColumn<KeyValue>;
    });
  }

  // ---------------------------------------------------------------- conditions

  private columnConditionHolds(t: TableState, row: StoredRow | undefined, c: ColumnCondition): boolean {
    if (c.kind === 'composite') {
      if (c.combinator === Combinator.Not) return !this.columnConditionHolds(t, row, c.subs[0] as ColumnCondition);
      if (c.combinator === Combinator.And) return c.subs.every((s) => this.columnConditionHolds(t, row, s));
      return c.subs.some((s) => this.columnConditionHolds(t, row, s));
    }
    const versions = row === undefined ? [] : this.visibleVersions(t, row, c.columnName);
    if (versions.length === 0) return !c.filterIfMissing;
    const candidates = c.latestVersionOnly ? versions.slice(0, 1) : versions;
    return candidates.some((v) => satisfies(c.comparator, compareValues(v.value, c.value)));
  }

  /** Row existence first, then the column condition (§8); a failure changes nothing. */
  private checkCondition(t: TableState, row: StoredRow | undefined, condition: WriteCondition): void {
    if (condition.rowExistence === RowExistence.ExpectExist && row === undefined) throw new OtsFault('OTSConditionCheckFail');
    if (condition.rowExistence === RowExistence.ExpectNotExist && row !== undefined) throw new OtsFault('OTSConditionCheckFail');
    if (condition.column !== undefined && !this.columnConditionHolds(t, row, condition.column)) throw new OtsFault('OTSConditionCheckFail');
  }

  private checkConditionShape(condition: WriteCondition): void {
    if (!Object.values(RowExistence).includes(condition.rowExistence)) throw invalid(`Unknown row existence expectation ${condition.rowExistence}.`);
    if (condition.column !== undefined) validateColumnCondition(condition.column);
  }

  // ---------------------------------------------------------------- writes

  private versionOf(t: TableState, cell: DecodedCell): number {
    const at = this.now();
    if (cell.timestamp === undefined) return at;
    if (cell.timestamp < 0) throw invalid(`The timestamp of column '${cell.name}' must not be negative.`);
    if (Math.abs(cell.timestamp - at) > t.options.deviationCellVersionInSec * 1000) {
      throw invalid(`The timestamp of column '${cell.name}' deviates from the server time by more than ${t.options.deviationCellVersionInSec} seconds.`);
    }
    return cell.timestamp;
  }

  private checkValue(cell: DecodedCell): void {
    checkName(cell.name, 'column');
    const v = cell.value;
    if (v !== undefined && (v.type === 'STRING' || v.type === 'BINARY') && Buffer.byteLength(v.value) > TablestoreLimits.MaxAttributeValueBytes) {
      throw invalid(`The length of attribute column '${cell.name}' exceeds ${TablestoreLimits.MaxAttributeValueBytes} bytes.`);
    }
  }

  private checkCells(t: TableState, cells: readonly DecodedCell[]): void {
    if (cells.length > TablestoreLimits.MaxColumnsPerWrite) throw invalid(`The number of columns written (${cells.length}) exceeds ${TablestoreLimits.MaxColumnsPerWrite}.`);
    for (const cell of cells) {
      this.checkValue(cell);
      if (t.primaryKey.some((k) => k.name === cell.name)) throw invalid(`'${cell.name}' is a primary key column, not an attribute column.`);
    }
  }

  private putVersion(t: TableState, row: StoredRow, name: string, version: Version): void {
    const versions = (row.columns.get(name) ?? []).filter((v) => v.ts !== version.ts);
    versions.push(version);
    versions.sort((a, b) => b.ts - a.ts);
    versions.splice(t.options.maxVersions);
    row.columns.set(name, versions);
  }

  private returned(t: TableState, row: StoredRow | undefined, pk: KeyColumn<KeyValue>[], spec: ReturnSpec | undefined): ReturnedRow | undefined {
    if (spec === undefined || spec.type === ReturnKind.None) return undefined;
    if (spec.type === ReturnKind.PrimaryKey) return { primaryKey: pk, cells: [] };
    if (spec.type === ReturnKind.AfterModify) {
      const cells: OutCell[] = [];
      for (const name of spec.columnNames) {
        const latest = row === undefined ? undefined : this.visibleVersions(t, row, name)[0];
        if (latest !== undefined) cells.push({ name, value: latest.value, timestamp: latest.ts });
      }
      return { primaryKey: pk, cells };
    }
    throw invalid(`Unknown return type ${spec.type}.`);
  }

  /** PutRow: inserts or replaces the whole row (§8). */
  putRow(tableName: string, pk: readonly KeyColumn[], cells: readonly DecodedCell[], condition: WriteCondition, ret?: ReturnSpec): ReturnedRow | undefined {
    const t = this.readyTable(tableName);
    this.checkConditionShape(condition);
    const autoAssigned = pk.some((c) => c.value.type === 'AUTO_INCREMENT');
    this.checkKey(t, pk, 'assign');
    this.checkCells(t, cells);
    for (const cell of cells) {
      if (cell.op !== undefined) throw invalid(`PutRow cannot carry an op on column '${cell.name}'.`);
      if (cell.value === undefined) throw invalid(`Column '${cell.name}' has no value.`);
    }
    if (autoAssigned && condition.rowExistence !== RowExistence.Ignore) {
      throw invalid('A row with an auto-increment primary key can only be written with row existence IGNORE.');
    }
    const stored = this.rowKey(t, pk, true);
    const key = keyString(stored);
    const existing = this.visibleRow(t, key);
    this.checkCondition(t, existing, condition);
    const versions = cells.map((c) => ({ name: c.name, version: { ts: this.versionOf(t, c), value: c.value as Value } }));
    const row: StoredRow = { primaryKey: stored, columns: new Map(), writtenAt: this.now() };
    for (const { name, version } of versions) this.putVersion(t, row, name, version);
    t.rows.set(key, row);
    return this.returned(t, row, stored, ret);
  }

  /**
   * UpdateRow: creates the row when missing (under IGNORE), then applies each cell: PUT adds a version,
   * DELETE_ONE_VERSION removes the version with that timestamp, DELETE_ALL_VERSION removes the column,
   * INCREMENT adds an Int64 delta to the latest version (a missing column counts as 0) (§7, §8).
   */
  updateRow(tableName: string, pk: readonly KeyColumn[], cells: readonly DecodedCell[], condition: WriteCondition, ret?: ReturnSpec): ReturnedRow | undefined {
    const t = this.readyTable(tableName);
    this.checkConditionShape(condition);
    const stored = this.rowKey(t, pk, false);
    this.checkCells(t, cells);
    if (cells.length === 0) throw invalid('UpdateRow needs at least one attribute column.');
    for (const cell of cells) {
      // Several versions of one column may be written at once; an increment must be the column's only change.
      if (cell.op === CellOp.Increment && cells.filter((c) => c.name === cell.name).length > 1) {
        throw invalid(`Column '${cell.name}' is incremented and changed again in the same UpdateRow.`);
      }
      if (cell.op === undefined && cell.value === undefined) throw invalid(`Column '${cell.name}' has no value.`);
      if (cell.op === CellOp.DeleteOneVersion && cell.timestamp === undefined) throw invalid(`Deleting one version of '${cell.name}' needs its timestamp.`);
      if (cell.op === CellOp.Increment) {
        if (cell.value?.type !== 'INTEGER') throw invalid(`The increment of column '${cell.name}' must be an INTEGER.`);
        if (cell.timestamp !== undefined) throw invalid(`An increment of column '${cell.name}' cannot carry a timestamp.`);
      }
    }
    const key = keyString(stored);
    const existing = this.visibleRow(t, key);
    this.checkCondition(t, existing, condition);
    // Validate increments against the current values before changing anything.
    for (const cell of cells) {
      if (cell.op !== CellOp.Increment || existing === undefined) continue;
      const latest = this.visibleVersions(t, existing, cell.name)[0];
      if (latest !== undefined && latest.value.type !== 'INTEGER') {
        throw invalid(`Column '${cell.name}' holds a ${latest.value.type}, so it cannot be incremented.`);
      }
    }
    const row: StoredRow = existing ?? { primaryKey: stored, columns: new Map(), writtenAt: this.now() };
    for (const cell of cells) {
      switch (cell.op) {
        case undefined:
          this.putVersion(t, row, cell.name, { ts: this.versionOf(t, cell), value: cell.value as Value });
          break;
        case CellOp.DeleteAllVersions:
          row.columns.delete(cell.name);
          break;
        case CellOp.DeleteOneVersion: {
          const versions = (row.columns.get(cell.name) ?? []).filter((v) => v.ts !== cell.timestamp);
          if (versions.length === 0) row.columns.delete(cell.name);
          else row.columns.set(cell.name, versions);
          break;
        }
        case CellOp.Increment: {
          const latest = this.visibleVersions(t, row, cell.name)[0];
          const base = latest === undefined ? 0n : (latest.value.value as bigint);
          const delta = (cell.value as Extract<Value, { type: 'INTEGER' }>).value;
          const sum = BigInt.asIntN(64, base + delta);
          // A server-assigned version like any write: a second change in the same ms replaces it (as the
          // service's same-version overwrite does), so a following PUT in that ms is not hidden behind it.
          this.putVersion(t, row, cell.name, { ts: this.now(), value: { type: 'INTEGER', value: sum } });
          break;
        }
      }
    }
    row.writtenAt = this.now();
    t.rows.set(key, row);
    return this.returned(t, row, stored, ret);
  }

  /** DeleteRow: removes every column and every version (§8). */
  deleteRow(tableName: string, pk: readonly KeyColumn[], condition: WriteCondition, ret?: ReturnSpec): ReturnedRow | undefined {
    const t = this.readyTable(tableName);
    this.checkConditionShape(condition);
    const stored = this.rowKey(t, pk, false);
    const key = keyString(stored);
    const existing = this.visibleRow(t, key);
    this.checkCondition(t, existing, condition);
    t.rows.delete(key);
    if (ret !== undefined && ret.type === ReturnKind.AfterModify) return undefined;
    return this.returned(t, undefined, stored, ret);
  }

  // ---------------------------------------------------------------- reads

  private checkRead(spec: ReadSpec): void {
    if (spec.maxVersions === undefined && spec.timeRange === undefined) throw invalid('Either max_versions or time_range must be set.');
    if (spec.maxVersions !== undefined && (!Number.isInteger(spec.maxVersions) || spec.maxVersions < 1)) {
      throw invalid(`max_versions must be at least 1, got ${spec.maxVersions}.`);
    }
    if (spec.columnsToGet.length > TablestoreLimits.MaxColumnsToGet) throw invalid(`columns_to_get names more than ${TablestoreLimits.MaxColumnsToGet} columns.`);
    if (spec.filter !== undefined) validateColumnCondition(spec.filter);
  }

  /**
   * What a read returns for a row: the PK, then each requested column's visible versions (newest first,
   * at most maxVersions, within the time range), columns by name. undefined when the row is missing, the
   * filter rejects it, or columns_to_get names only columns it does not have (a guess, README).
   */
  private readRow(t: TableState, row: StoredRow | undefined, spec: ReadSpec): ReturnedRow | undefined {
    if (row === undefined) return undefined;
    if (spec.filter !== undefined && !this.columnConditionHolds(t, row, spec.filter)) return undefined;
    const wanted = spec.columnsToGet.length === 0 ? undefined : new Set(spec.columnsToGet);
    const cells: OutCell[] = [];
    const range = spec.timeRange;
    for (const name of [...row.columns.keys()].sort()) {
      if (wanted !== undefined && !wanted.has(name)) continue;
      let versions = this.visibleVersions(t, row, name);
      if (range?.specific !== undefined) versions = versions.filter((v) => v.ts === range.specific);
      else if (range !== undefined) versions = versions.filter((v) => (range.start === undefined || v.ts >= range.start) && (range.end === undefined || v.ts < range.end));
      for (const v of versions.slice(0, spec.maxVersions ?? versions.length)) cells.push({ name, value: v.value, timestamp: v.ts });
    }
    if (wanted !== undefined && cells.length === 0 && !t.primaryKey.some((k) => wanted.has(k.name))) return undefined;
    return { primaryKey: row.primaryKey, cells };
  }

  getRow(tableName: string, pk: readonly KeyColumn[], spec: ReadSpec): ReturnedRow | undefined {
    const t = this.readyTable(tableName);
    this.checkRead(spec);
    const stored = this.rowKey(t, pk, false);
    return this.readRow(t, this.visibleRow(t, keyString(stored)), spec);
  }

  /**
   * GetRange over [start, end) FORWARD or (end, start] BACKWARD (§9). Stops after `limit` rows (and
   * never returns more than 5000); `next` is then the PK of the first row not returned.
   */
  getRange(
    tableName: string,
    range: { direction: 'FORWARD' | 'BACKWARD'; start: readonly KeyColumn[]; end: readonly KeyColumn[]; limit?: number },
    spec: ReadSpec,
    /** The per-call row cap; only in-process snapshots lift it. */
    cap: number = TablestoreLimits.GetRangeRows,
  ): { rows: ReturnedRow[]; next?: KeyColumn<KeyValue>[] } {
    const t = this.readyTable(tableName);
    this.checkRead(spec);
    this.checkKey(t, range.start, 'range');
    this.checkKey(t, range.end, 'range');
    if (range.limit !== undefined && (!Number.isInteger(range.limit) || range.limit <= 0)) throw invalid(`limit must be positive, got ${range.limit}.`);
    const cmpKeys = (a: readonly KeyColumn[], b: readonly KeyColumn[]): number => {
      for (let i = 0; i < a.length; i += 1) {
        const c = compareKeyValue((a[i] as KeyColumn).value, (b[i] as KeyColumn).value);
        if (c !== 0) return c;
      }
      return 0;
    };
    const forward = range.direction === 'FORWARD';
    const order = cmpKeys(range.start, range.end);
    if (forward ? order > 0 : order < 0) {
      throw invalid(`The start primary key must be ${forward ? 'less' : 'greater'} than the end primary key for a ${range.direction} range.`);
    }
    const max = Math.min(range.limit ?? cap, cap);
    const candidates = [...t.rows.keys()]
      .map((key) => this.visibleRow(t, key))
      .filter((r): r is StoredRow => r !== undefined)
      .filter((r) => (forward ? cmpKeys(r.primaryKey, range.start) >= 0 && cmpKeys(r.primaryKey, range.end) < 0 : cmpKeys(r.primaryKey, range.start) <= 0 && cmpKeys(r.primaryKey, range.end) > 0))
      .sort((a, b) => (forward ? cmpKeys(a.primaryKey, b.primaryKey) : cmpKeys(b.primaryKey, a.primaryKey)));
    const rows: ReturnedRow[] = [];
    for (const row of candidates) {
      if (rows.length === max) return { rows, next: row.primaryKey };
      const read = this.readRow(t, row, spec);
      if (read !== undefined) rows.push(read);
    }
    return { rows };
  }

  // ---------------------------------------------------------------- snapshots

  /** Every visible row of a table, in PK order, as plain JSON. */
  snapshot(tableName: string): RowSnapshot[] {
    const t = this.table(tableName);
    if (t.rows.size === 0) return [];
    const all = this.getRange(
      tableName,
      {
        direction: 'FORWARD',
        start: t.primaryKey.map((k) => ({ name: k.name, value: { type: 'INF_MIN' } })),
        end: t.primaryKey.map((k) => ({ name: k.name, value: { type: 'INF_MAX' } })),
        limit: Number.MAX_SAFE_INTEGER,
      },
      { columnsToGet: [], maxVersions: Number.MAX_SAFE_INTEGER },
      Number.MAX_SAFE_INTEGER,
    );
    return all.rows.map((r) => {
      const columns: RowSnapshot['columns'] = {};
      for (const c of r.cells) (columns[c.name] ??= []).push({ value: valueToJson(c.value), type: c.value.type, timestamp: c.timestamp });
      return { primaryKey: keyToJson(r.primaryKey), columns };
    });
  }
}
