/**
 * A local Tablestore (OTS) server that the real `tablestore` 5.6.5 SDK talks to over HTTP: the 2015-12-31
 * protobuf API with PlainBuffer rows, the request signature, the service's error bodies and statuses, and
 * a control API for tests (injected faults, lost answers, snapshots). Sections cited are
 * shared/reference/tablestore.md; README.md beside this file lists what is emulated and what is guessed.
 */
import { listenOnLoopback } from '../loopback';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import protos from 'tablestore/lib/protocol/tablestore_compiled_proto.js';
import { type Keyring, safeEqual } from '../credentials';
import { invalid, OtsErrorTable, OtsFault, type OtsErrorCode } from './errors';
import {
  type ColumnCondition,
  keyToJson,
  type KeySchema,
  type KeyType,
  type ReadSpec,
  type ReturnedRow,
  type ReturnSpec,
  type RowExistenceValue,
  type RowSnapshot,
  type TableOptionsState,
  TablestoreLimits,
  TablestoreModel,
  type WriteCondition,
} from './model';
import { concatRows, decodeConditionValue, decodeRow, type DecodedRow, encodePrimaryKey, encodeRow } from './plainbuffer';

export { OtsErrorTable, OtsFault, type OtsErrorCode } from './errors';
export { TablestoreLimits, type RowSnapshot } from './model';

const pb = protos.main.proto;
const pbFilter = protos.filter.proto;
type Msg = Record<string, unknown>;

/** The operations this server answers; the path is `/<Operation>` (§1). */
export const TablestoreOperations = [
  'CreateTable',
  'ListTable',
  'DescribeTable',
  'UpdateTable',
  'DeleteTable',
  'PutRow',
  'GetRow',
  'UpdateRow',
  'DeleteRow',
  'GetRange',
  'BatchGetRow',
  'BatchWriteRow',
] as const;
export type TablestoreOperation = (typeof TablestoreOperations)[number];

export interface LocalTablestoreOptions {
  /** The access keys (long-term and STS) whose signatures the server accepts. */
  keyring: Keyring;
  /** The instance the server is; requests naming another in x-ots-instancename are refused. */
  instanceName: string;
  /** 0 or absent: an ephemeral port. */
  port?: number;
  /**
   * The data clock: server-assigned versions, TTL and STS expiry. Request freshness (x-ots-date) is
   * checked against the real clock, because the SDK signs with the real clock (signer.js:13).
   */
  now?: () => number;
  /** Row operations on a new table answer 404 OTSTableNotReady for this long (on `now`); default 0. */
  tableReadyAfterMs?: number;
}

/** One request as the server saw it. */
export interface TablestoreCall {
  operation: string;
  /** The table(s) named (comma-separated for batches); absent for ListTable or unreadable bodies. */
  table?: string;
  /** The row's primary key as JSON for single-row operations. */
  primaryKey?: Record<string, unknown>;
  status: number;
  /** The error code answered (absent on success). */
  code?: string;
  /** Set when the answer was dropped on purpose (loseAnswerNext). */
  answerLost?: boolean;
  /** Real-clock ms. */
  at: number;
}

export interface FailNextSpec {
  /** Only requests of this operation (default: any). */
  operation?: string;
  /** Only requests naming this table (default: any). */
  table?: string;
  code: string;
  /** Default: the code's status in OtsErrorTable, else 500. */
  status?: number;
  message?: string;
  /** Default 1. */
  count?: number;
}

export interface LoseAnswerSpec {
  operation?: string;
  /** Default 1. */
  count?: number;
}

/** Test hooks, in process and at `POST /_local/<method>` (JSON body = the single argument). */
export interface TablestoreControl {
  /** Every request so far, oldest first. */
  calls(): TablestoreCall[];
  /** The next `count` matching requests answer this error and change nothing. */
  failNext(spec: FailNextSpec): void;
  /** The next `count` matching requests are executed, then the socket is destroyed without an answer. */
  loseAnswerNext(spec?: LoseAnswerSpec): void;
  /** While on, every request answers 503 OTSServerUnavailable and changes nothing. */
  setUnavailable(on: boolean): void;
  /** The visible rows of a table (TTL applied), PK order, as plain JSON. */
  rows(table: string): RowSnapshot[];
  /** The table names. */
  tables(): string[];
  /** Drops every table, row, call record and pending fault. */
  reset(): void;
}

export interface LocalTablestore {
  /** `http://127.0.0.1:PORT`: what `new TableStore.Client({ endpoint })` takes. */
  readonly endpoint: string;
  readonly instanceName: string;
  readonly control: TablestoreControl;
  close(): Promise<void>;
}

/** The allowed gap between x-ots-date and the server clock (§2: 15 minutes, OTS v1 docs and the Python SDK). */
const DATE_SKEW_MS = 15 * 60_000;
/** Larger bodies answer 413 (§9: PutRow/UpdateRow/BatchWriteRow ≤ 4 MB; where exactly the service cuts is a guess). */
const MAX_BODY_BYTES = 4 * 1024 * 1024 + 64 * 1024;
const API_VERSION = '2015-12-31';
const REQUIRED_HEADERS = ['x-ots-date', 'x-ots-apiversion', 'x-ots-accesskeyid', 'x-ots-instancename', 'x-ots-contentmd5', 'x-ots-signature'] as const;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/**
 * The request signature (§2, SDK signer.js:23-66): base64(HMAC-SHA1(secret, "/Op\nPOST\n\n" + H + "\n")),
 * H = every `x-ots-*` header but x-ots-signature, as lowercase `name:value` (value trimmed), sorted, joined by "\n".
 */
export function otsRequestSignature(secret: string, operation: string, headers: Record<string, string>): string {
  const signed = Object.keys(headers)
    .map((k) => [k.toLowerCase(), headers[k] as string] as const)
    .filter(([k]) => k.startsWith('x-ots-') && k !== 'x-ots-signature')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}:${v.trim()}`)
    .join('\n');
  return createHmac('sha1', secret).update(`/${operation}\nPOST\n\n${signed}\n`, 'utf8').digest('base64');
}

// ------------------------------------------------------------------ request decoding helpers

function has(m: Msg, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, field) && m[field] !== null && m[field] !== undefined;
}
function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(String(v));
}
function bytes(m: Msg, field: string): Uint8Array {
  const v = m[field];
  if (!(v instanceof Uint8Array) || v.length === 0) throw invalid(`Missing ${field}.`);
  return v;
}
function decodeMessage(type: string, body: Buffer): Msg {
  try {
    return (pb[type] as NonNullable<(typeof pb)[string]>).decode(body);
  } catch (err) {
    throw invalid(`Failed to parse the ProtoBuf message: ${(err as Error).message}.`);
  }
}

/** Filter{type, filter} -> a column condition (tablestore_filter.proto, §7). */
function decodeFilter(filter: Msg): ColumnCondition {
  const inner = filter['filter'] as Uint8Array;
  try {
    switch (num(filter['type'])) {
      case 1: {
        const f = (pbFilter['SingleColumnValueFilter'] as NonNullable<(typeof pbFilter)[string]>).decode(inner);
        return {
          kind: 'single',
          comparator: num(f['comparator']),
          columnName: String(f['columnName']),
          value: decodeConditionValue(f['columnValue'] as Uint8Array),
          filterIfMissing: f['filterIfMissing'] === true,
          latestVersionOnly: f['latestVersionOnly'] === true,
        };
      }
      case 2: {
        const f = (pbFilter['CompositeColumnValueFilter'] as NonNullable<(typeof pbFilter)[string]>).decode(inner);
        return { kind: 'composite', combinator: num(f['combinator']), subs: ((f['subFilters'] as Msg[] | undefined) ?? []).map(decodeFilter) };
      }
      default:
        throw invalid(`Unsupported filter type ${String(filter['type'])} in a condition.`);
    }
  } catch (err) {
    if (err instanceof OtsFault) throw err;
    throw invalid(`Failed to parse the column condition: ${(err as Error).message}.`);
  }
}
function decodeFilterBytes(b: Uint8Array): ColumnCondition {
  let filter: Msg;
  try {
    filter = (pbFilter['Filter'] as NonNullable<(typeof pbFilter)[string]>).decode(b);
  } catch (err) {
    throw invalid(`Failed to parse the filter: ${(err as Error).message}.`);
  }
  return decodeFilter(filter);
}

function decodeCondition(m: Msg | undefined): WriteCondition {
  if (m === undefined || m === null) throw invalid('Missing condition.');
  const rowExistence = num(m['rowExistence']) as RowExistenceValue;
  const cc = m['columnCondition'];
  return cc instanceof Uint8Array && cc.length > 0 ? { rowExistence, column: decodeFilterBytes(cc) } : { rowExistence };
}

function decodeReturn(m: unknown): ReturnSpec | undefined {
  if (m === undefined || m === null) return undefined;
  const r = m as Msg;
  return { type: num(r['returnType'] ?? 0), columnNames: ((r['returnColumnNames'] as string[] | undefined) ?? []).map(String) };
}

function decodeRead(m: Msg): ReadSpec {
  const spec: { columnsToGet: string[]; maxVersions?: number; timeRange?: ReadSpec['timeRange']; filter?: ColumnCondition } = {
    columnsToGet: ((m['columnsToGet'] as string[] | undefined) ?? []).map(String),
  };
  if (has(m, 'maxVersions')) spec.maxVersions = num(m['maxVersions']);
  if (has(m, 'timeRange')) {
    const tr = m['timeRange'] as Msg;
    spec.timeRange = {
      ...(has(tr, 'startTime') ? { start: num(tr['startTime']) } : {}),
      ...(has(tr, 'endTime') ? { end: num(tr['endTime']) } : {}),
      ...(has(tr, 'specificTime') ? { specific: num(tr['specificTime']) } : {}),
    };
  }
  const f = m['filter'];
  if (f instanceof Uint8Array && f.length > 0) spec.filter = decodeFilterBytes(f);
  return spec;
}

function decodeTableOptions(m: unknown): Partial<TableOptionsState> {
  if (m === undefined || m === null) return {};
  const o = m as Msg;
  return {
    ...(has(o, 'timeToLive') ? { timeToLive: num(o['timeToLive']) } : {}),
    ...(has(o, 'maxVersions') ? { maxVersions: num(o['maxVersions']) } : {}),
    ...(has(o, 'deviationCellVersionInSec') ? { deviationCellVersionInSec: num(o['deviationCellVersionInSec']) } : {}),
    ...(has(o, 'allowUpdate') ? { allowUpdate: o['allowUpdate'] === true } : {}),
  };
}

const KEY_TYPES: Record<number, KeyType> = { 1: 'INTEGER', 2: 'STRING', 3: 'BINARY' };
const KEY_TYPE_CODES: Record<KeyType, number> = { INTEGER: 1, STRING: 2, BINARY: 3 };

// ------------------------------------------------------------------ response encoding helpers

const consumed = (read: number, write: number) => ({ capacityUnit: { read, write } });
const rowBytes = (r: ReturnedRow | undefined): Buffer => (r === undefined ? Buffer.alloc(0) : encodeRow(r.primaryKey, r.cells));
function encode(type: string, message: Msg): Buffer {
  return Buffer.from((pb[type] as NonNullable<(typeof pb)[string]>).encode(message).finish());
}

interface Handled {
  body: Buffer;
  table?: string;
  primaryKey?: Record<string, unknown>;
}

/**
 * Starts a local Tablestore on 127.0.0.1. The real SDK client reaches it with
 * `new TableStore.Client({ endpoint, instancename, accessKeyId, secretAccessKey, stsToken? })`.
 */
export async function startLocalTablestore(options: LocalTablestoreOptions): Promise<LocalTablestore> {
  const now = options.now ?? Date.now;
  const model = new TablestoreModel(now, options.tableReadyAfterMs ?? 0);
  const calls: TablestoreCall[] = [];
  const failRules: Array<Required<Pick<FailNextSpec, 'code' | 'count'>> & FailNextSpec> = [];
  const loseRules: Array<{ operation?: string; count: number }> = [];
  let unavailable = false;

  // ---------------------------------------------------------------- authentication (§2)

  const header = (req: IncomingMessage, name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };

  /** Returns the secret of the signing key (used to sign the answer). */
  const authenticate = (req: IncomingMessage, operation: string, body: Buffer): string => {
    for (const name of REQUIRED_HEADERS) {
      const v = header(req, name);
      if (v === undefined || v === '') throw invalid(`Missing header: ${name}.`);
    }
    if (header(req, 'x-ots-apiversion') !== API_VERSION) throw invalid(`Unsupported API version: ${header(req, 'x-ots-apiversion')}.`);
    const date = header(req, 'x-ots-date') as string;
    const sentAt = Date.parse(date);
    if (!ISO_DATE.test(date) || Number.isNaN(sentAt)) throw invalid(`Invalid date format: ${date}.`);
    if (Math.abs(Date.now() - sentAt) > DATE_SKEW_MS) throw new OtsFault('OTSAuthFailed', `Mismatch between system time and x-ots-date: ${date}.`);
    const accessKeyId = header(req, 'x-ots-accesskeyid') as string;
    const found = options.keyring.lookup(accessKeyId, header(req, 'x-ots-ststoken'), now());
    if (!found.ok) {
      // The service's wording for these is not published; the code (OTSAuthFailed, 403) is §2's.
      const why = {
        unknownKey: `The AccessKeyId ${accessKeyId} does not exist.`,
        tokenMissing: `The STS AccessKeyId ${accessKeyId} needs its x-ots-ststoken header.`,
        tokenMismatch: `The x-ots-ststoken does not match the STS AccessKeyId ${accessKeyId}.`,
        tokenExpired: `The security token of the STS AccessKeyId ${accessKeyId} has expired.`,
      }[found.reason];
      throw new OtsFault('OTSAuthFailed', why);
    }
    const xOts = Object.fromEntries(Object.keys(req.headers).map((k) => [k, header(req, k) ?? '']));
    const expected = otsRequestSignature(found.key.accessKeySecret, operation, xOts);
    if (!safeEqual(expected, header(req, 'x-ots-signature') as string)) throw new OtsFault('OTSAuthFailed', 'Signature mismatch.');
    const md5 = createHash('md5').update(body).digest('base64');
    if (!safeEqual(md5, header(req, 'x-ots-contentmd5') as string)) {
      throw new OtsFault('OTSAuthFailed', 'Mismatch between MD5 value of request body and x-ots-contentmd5 in header.');
    }
    // GUESS: the service's answer to an instance it does not have is not documented; a refused
    // credential (403 OTSAuthFailed) is what a key that does not own the named instance would get.
    const instance = header(req, 'x-ots-instancename') as string;
    if (instance !== options.instanceName) {
      throw new OtsFault('OTSAuthFailed', `The instance '${instance}' is not found (this server is instance '${options.instanceName}').`);
    }
    return found.key.accessKeySecret;
  };

  // ---------------------------------------------------------------- operations

  const singleRow = (row: DecodedRow, what: 'put' | 'update' | 'delete' | 'key'): void => {
    if (what === 'put' && row.deleteMarker) throw invalid('A PutRow row cannot carry a delete marker.');
    if (what === 'key' && (row.cells.length > 0 || row.deleteMarker)) throw invalid('A primary key buffer carries only primary key columns.');
    if (what === 'delete' && row.cells.length > 0) throw invalid('A DeleteRow buffer carries only primary key columns.');
  };

  const writeOne = (tableName: string, type: 'PUT' | 'UPDATE' | 'DELETE', change: Uint8Array, condition: WriteCondition, ret: ReturnSpec | undefined) => {
    const row = decodeRow(change);
    if (type === 'PUT') {
      singleRow(row, 'put');
      return model.putRow(tableName, row.primaryKey, row.cells, condition, ret);
    }
    if (type === 'UPDATE') return model.updateRow(tableName, row.primaryKey, row.cells, condition, ret);
    singleRow(row, 'delete');
    return model.deleteRow(tableName, row.primaryKey, condition, ret);
  };

  const execute = (operation: TablestoreOperation, body: Buffer): Handled => {
    switch (operation) {
      case 'CreateTable': {
        const m = decodeMessage('CreateTableRequest', body);
        const meta = m['tableMeta'] as Msg;
        const primaryKey: KeySchema[] = ((meta['primaryKey'] as Msg[] | undefined) ?? []).map((k) => {
          const type = KEY_TYPES[num(k['type'])];
          if (type === undefined) throw invalid(`Unknown primary key type ${String(k['type'])}.`);
          return { name: String(k['name']), type, autoIncrement: has(k, 'option') && num(k['option']) === 1 };
        });
        const cu = ((m['reservedThroughput'] as Msg | undefined)?.['capacityUnit'] as Msg | undefined) ?? {};
        model.createTable({
          name: String(meta['tableName']),
          primaryKey,
          options: decodeTableOptions(m['tableOptions']),
          reserved: { read: num(cu['read'] ?? 0), write: num(cu['write'] ?? 0) },
        });
        return { body: encode('CreateTableResponse', {}), table: String(meta['tableName']) };
      }
      case 'ListTable':
        decodeMessage('ListTableRequest', body);
        return { body: encode('ListTableResponse', { tableNames: model.listTables() }) };
      case 'DescribeTable': {
        const m = decodeMessage('DescribeTableRequest', body);
        const t = model.table(String(m['tableName']));
        return {
          table: t.name,
          body: encode('DescribeTableResponse', {
            tableMeta: {
              tableName: t.name,
              primaryKey: t.primaryKey.map((k) => ({ name: k.name, type: KEY_TYPE_CODES[k.type], ...(k.autoIncrement ? { option: 1 } : {}) })),
            },
            reservedThroughputDetails: { capacityUnit: { ...t.reserved }, lastIncreaseTime: Math.floor(t.lastIncreaseTime / 1000) },
            tableOptions: { ...t.options },
            tableStatus: 1, // ACTIVE, also while rows answer OTSTableNotReady (a guess, README)
          }),
        };
      }
      case 'UpdateTable': {
        const m = decodeMessage('UpdateTableRequest', body);
        const cu = (m['reservedThroughput'] as Msg | undefined)?.['capacityUnit'] as Msg | undefined;
        const t = model.updateTable(
          String(m['tableName']),
          decodeTableOptions(m['tableOptions']),
          cu === undefined ? undefined : { ...(has(cu, 'read') ? { read: num(cu['read']) } : {}), ...(has(cu, 'write') ? { write: num(cu['write']) } : {}) },
        );
        return {
          table: t.name,
          body: encode('UpdateTableResponse', {
            reservedThroughputDetails: { capacityUnit: { ...t.reserved }, lastIncreaseTime: Math.floor(t.lastIncreaseTime / 1000) },
            tableOptions: { ...t.options },
          }),
        };
      }
      case 'DeleteTable': {
        const m = decodeMessage('DeleteTableRequest', body);
        model.deleteTable(String(m['tableName']));
        return { body: encode('DeleteTableResponse', {}), table: String(m['tableName']) };
      }
      case 'PutRow': {
        const m = decodeMessage('PutRowRequest', body);
        const tableName = String(m['tableName']);
        const change = bytes(m, 'row');
        const returned = writeOne(tableName, 'PUT', change, decodeCondition(m['condition'] as Msg), decodeReturn(m['returnContent']));
        return { table: tableName, primaryKey: keyToJson(decodeRow(change).primaryKey), body: encode('PutRowResponse', { consumed: consumed(0, 1), row: rowBytes(returned) }) };
      }
      case 'UpdateRow': {
        const m = decodeMessage('UpdateRowRequest', body);
        const tableName = String(m['tableName']);
        const change = bytes(m, 'rowChange');
        const returned = writeOne(tableName, 'UPDATE', change, decodeCondition(m['condition'] as Msg), decodeReturn(m['returnContent']));
        return { table: tableName, primaryKey: keyToJson(decodeRow(change).primaryKey), body: encode('UpdateRowResponse', { consumed: consumed(0, 1), row: rowBytes(returned) }) };
      }
      case 'DeleteRow': {
        const m = decodeMessage('DeleteRowRequest', body);
        const tableName = String(m['tableName']);
        const change = bytes(m, 'primaryKey');
        const returned = writeOne(tableName, 'DELETE', change, decodeCondition(m['condition'] as Msg), decodeReturn(m['returnContent']));
        return { table: tableName, primaryKey: keyToJson(decodeRow(change).primaryKey), body: encode('DeleteRowResponse', { consumed: consumed(0, 1), row: rowBytes(returned) }) };
      }
      case 'GetRow': {
        const m = decodeMessage('GetRowRequest', body);
        const tableName = String(m['tableName']);
        const key = decodeRow(bytes(m, 'primaryKey'));
        singleRow(key, 'key');
        const row = model.getRow(tableName, key.primaryKey, decodeRead(m));
        return { table: tableName, primaryKey: keyToJson(key.primaryKey), body: encode('GetRowResponse', { consumed: consumed(1, 0), row: rowBytes(row) }) };
      }
      case 'GetRange': {
        const m = decodeMessage('GetRangeRequest', body);
        const tableName = String(m['tableName']);
        const start = decodeRow(bytes(m, 'inclusiveStartPrimaryKey'));
        const end = decodeRow(bytes(m, 'exclusiveEndPrimaryKey'));
        singleRow(start, 'key');
        singleRow(end, 'key');
        const direction = num(m['direction']) === 1 ? 'BACKWARD' : 'FORWARD';
        const result = model.getRange(
          tableName,
          { direction, start: start.primaryKey, end: end.primaryKey, ...(has(m, 'limit') ? { limit: num(m['limit']) } : {}) },
          decodeRead(m),
        );
        return {
          table: tableName,
          body: encode('GetRangeResponse', {
            consumed: consumed(Math.max(1, result.rows.length), 0),
            rows: concatRows(result.rows.map((r) => encodeRow(r.primaryKey, r.cells))),
            ...(result.next === undefined ? {} : { nextStartPrimaryKey: encodePrimaryKey(result.next) }),
          }),
        };
      }
      case 'BatchGetRow': {
        const m = decodeMessage('BatchGetRowRequest', body);
        const tables = (m['tables'] as Msg[] | undefined) ?? [];
        const total = tables.reduce((n, t) => n + ((t['primaryKey'] as unknown[] | undefined) ?? []).length, 0);
        if (total === 0) throw invalid('BatchGetRow needs at least one row.');
        if (total > TablestoreLimits.BatchGetRows) throw invalid(`Rows count exceeds the upper limit: ${total} > ${TablestoreLimits.BatchGetRows}.`);
        const answer = tables.map((t) => {
          const tableName = String(t['tableName']);
          const keys = ((t['primaryKey'] as Uint8Array[] | undefined) ?? []).map((b) => decodeRow(b));
          const spec = decodeRead(t);
          return {
            tableName,
            rows: keys.map((key) => {
              try {
                singleRow(key, 'key');
                return { isOk: true, consumed: consumed(1, 0), row: rowBytes(model.getRow(tableName, key.primaryKey, spec)) };
              } catch (err) {
                if (!(err instanceof OtsFault)) throw err;
                return { isOk: false, error: { code: err.code, message: err.message } };
              }
            }),
          };
        });
        return { table: tables.map((t) => String(t['tableName'])).join(','), body: encode('BatchGetRowResponse', { tables: answer }) };
      }
      case 'BatchWriteRow': {
        const m = decodeMessage('BatchWriteRowRequest', body);
        const tables = (m['tables'] as Msg[] | undefined) ?? [];
        const total = tables.reduce((n, t) => n + ((t['rows'] as unknown[] | undefined) ?? []).length, 0);
        if (total === 0) throw invalid('BatchWriteRow needs at least one row.');
        if (total > TablestoreLimits.BatchWriteRows) throw invalid(`Rows count exceeds the upper limit: ${total} > ${TablestoreLimits.BatchWriteRows}.`);
        // Decode every row first: an unreadable row or a PK written twice refuses the whole batch.
        const plan = tables.map((t) => {
          const tableName = String(t['tableName']);
          const seen = new Set<string>();
          const rows = ((t['rows'] as Msg[] | undefined) ?? []).map((r) => {
            const type = ({ 1: 'PUT', 2: 'UPDATE', 3: 'DELETE' } as const)[num(r['type']) as 1 | 2 | 3];
            if (type === undefined) throw invalid(`Unknown row operation type ${String(r['type'])}.`);
            const change = bytes(r, 'rowChange');
            const pk = JSON.stringify(keyToJson(decodeRow(change).primaryKey));
            if (seen.has(pk)) throw invalid(`The input parameter is invalid: primary key ${pk} appears twice in table '${tableName}'.`);
            seen.add(pk);
            return { type, change, condition: decodeCondition(r['condition'] as Msg), ret: decodeReturn(r['returnContent']) };
          });
          return { tableName, rows };
        });
        const answer = plan.map(({ tableName, rows }) => ({
          tableName,
          rows: rows.map((r) => {
            try {
              const returned = writeOne(tableName, r.type, r.change, r.condition, r.ret);
              return { isOk: true, consumed: consumed(0, 1), ...(returned === undefined ? {} : { row: rowBytes(returned) }) };
            } catch (err) {
              if (!(err instanceof OtsFault)) throw err;
              return { isOk: false, error: { code: err.code, message: err.message } };
            }
          }),
        }));
        return { table: plan.map((t) => t.tableName).join(','), body: encode('BatchWriteRowResponse', { tables: answer }) };
      }
    }
  };

  /** The table (and row) a request names, for failNext matching and calls(); best effort. */
  const peekTarget = (operation: TablestoreOperation, body: Buffer): { table?: string; primaryKey?: Record<string, unknown> } => {
    try {
      if (operation === 'ListTable') return {};
      const type = `${operation}Request`;
      const m = (pb[type] as NonNullable<(typeof pb)[string]>).decode(body);
      if (operation === 'BatchGetRow' || operation === 'BatchWriteRow') {
        return { table: ((m['tables'] as Msg[] | undefined) ?? []).map((t) => String(t['tableName'])).join(',') };
      }
      const table = operation === 'CreateTable' ? String((m['tableMeta'] as Msg)['tableName']) : String(m['tableName']);
      const pkField = { PutRow: 'row', UpdateRow: 'rowChange', DeleteRow: 'primaryKey', GetRow: 'primaryKey' }[operation as string];
      if (pkField !== undefined && m[pkField] instanceof Uint8Array) return { table, primaryKey: keyToJson(decodeRow(m[pkField] as Uint8Array).primaryKey) };
      return { table };
    } catch {
      return {};
    }
  };

  // ---------------------------------------------------------------- HTTP

  const sockets = new Set<Socket>();

  const send = (res: ServerResponse, operation: string, status: number, body: Buffer, secret: string | undefined, accessKeyId: string | undefined): void => {
    if (res.destroyed) return;
    const headers: Record<string, string> = {
      'x-ots-contentmd5': createHash('md5').update(body).digest('base64'),
      'x-ots-contenttype': 'protocol buffer',
      'x-ots-date': new Date().toISOString().replace('Z', '000Z'), // microseconds, like the service (§3)
      'x-ots-requestid': randomUUID(),
    };
    if (secret !== undefined && accessKeyId !== undefined) {
      // The Python SDK checks this on every answer but a 403 OTSAuthFailed (§3): base64(HMAC-SHA1(secret, H + "\n/Op")).
      const canonical = Object.keys(headers)
        .sort()
        .map((k) => `${k}:${headers[k]}`)
        .join('\n');
      headers['authorization'] = `OTS ${accessKeyId}:${createHmac('sha1', secret).update(`${canonical}\n/${operation}`, 'utf8').digest('base64')}`;
    }
    res.writeHead(status, { ...headers, 'content-length': String(body.length) });
    res.end(body);
  };

  const errorBody = (code: string, message: string): Buffer => encode('Error', { code, message });

  const handleControl = (req: IncomingMessage, res: ServerResponse, method: string, body: Buffer): void => {
    const json = (status: number, value: unknown) => {
      const payload = Buffer.from(JSON.stringify(value ?? { ok: true }));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(payload.length) });
      res.end(payload);
    };
    const remote = req.socket.remoteAddress ?? '';
    if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(remote)) return json(403, { error: 'the control API answers loopback callers only' });
    if (req.method !== 'POST') return json(405, { error: `use POST /_local/${method} with a JSON body` });
    let arg: unknown = undefined;
    try {
      if (body.length > 0) arg = JSON.parse(body.toString('utf8'));
    } catch {
      return json(400, { error: 'the body must be JSON' });
    }
    const a = (arg ?? {}) as Record<string, unknown>;
    try {
      switch (method) {
        case 'calls':
          return json(200, control.calls());
        case 'failNext':
          control.failNext(a as unknown as FailNextSpec);
          return json(200, { ok: true });
        case 'loseAnswerNext':
          control.loseAnswerNext(a as LoseAnswerSpec);
          return json(200, { ok: true });
        case 'setUnavailable':
          control.setUnavailable(typeof arg === 'boolean' ? arg : a['on'] === true);
          return json(200, { ok: true });
        case 'rows':
          return json(200, control.rows(typeof arg === 'string' ? arg : String(a['table'])));
        case 'tables':
          return json(200, control.tables());
        case 'reset':
          control.reset();
          return json(200, { ok: true });
        default:
          return json(404, { error: `unknown control method ${method}; known: calls, failNext, loseAnswerNext, setUnavailable, rows, tables, reset` });
      }
    } catch (err) {
      return json(400, { error: (err as Error).message, ...(err instanceof OtsFault ? { code: err.code } : {}) });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path.startsWith('/_local/')) return handleControl(req, res, path.slice('/_local/'.length), body);
    const operation = path.slice(1);
    const call: TablestoreCall = { operation, status: 200, at: Date.now() };
    calls.push(call);
    let secret: string | undefined;
    const accessKeyId = header(req, 'x-ots-accesskeyid');
    const fail = (fault: OtsFault): void => {
      call.status = fault.status;
      call.code = fault.code;
      // An answer to a refused credential is not signed (the Python SDK skips that check, §3).
      send(res, operation, fault.status, errorBody(fault.code, fault.message), fault.code === 'OTSAuthFailed' ? undefined : secret, accessKeyId);
    };
    try {
      if (unavailable) throw new OtsFault('OTSServerUnavailable');
      if (req.method !== 'POST') throw new OtsFault('OTSMethodNotAllowed', `Method ${req.method ?? ''} is not allowed: only POST is.`);
      if (size > MAX_BODY_BYTES) throw new OtsFault('OTSRequestBodyTooLarge');
      // GUESS: the service's code for an unknown path is not in the reference; OTSUnsupportOperation (400).
      if (!(TablestoreOperations as readonly string[]).includes(operation)) throw new OtsFault('OTSUnsupportOperation', `Unsupported operation: '${operation}'.`);
      const op = operation as TablestoreOperation;
      secret = authenticate(req, op, body);
      Object.assign(call, peekTarget(op, body));
      const rule = failRules.find((r) => (r.operation === undefined || r.operation === op) && (r.table === undefined || (call.table ?? '').split(',').includes(r.table)));
      if (rule !== undefined) {
        rule.count -= 1;
        if (rule.count <= 0) failRules.splice(failRules.indexOf(rule), 1);
        const known = (OtsErrorTable as Record<string, { status: number; message: string } | undefined>)[rule.code];
        throw new OtsFault(rule.code as OtsErrorCode, rule.message ?? known?.message ?? rule.code, rule.status ?? known?.status ?? 500);
      }
      const lose = loseRules.find((r) => r.operation === undefined || r.operation === op);
      let answer: Handled | OtsFault;
      try {
        answer = execute(op, body);
      } catch (err) {
        if (!(err instanceof OtsFault)) throw err;
        answer = err;
      }
      if (lose !== undefined) {
        // Executed, answer lost: the write stands and the client sees a dropped connection.
        lose.count -= 1;
        if (lose.count <= 0) loseRules.splice(loseRules.indexOf(lose), 1);
        call.answerLost = true;
        if (answer instanceof OtsFault) {
          call.status = answer.status;
          call.code = answer.code;
        }
        req.socket.destroy();
        return;
      }
      if (answer instanceof OtsFault) return fail(answer);
      send(res, operation, 200, answer.body, secret, accessKeyId);
    } catch (err) {
      if (err instanceof OtsFault) return fail(err);
      fail(new OtsFault('OTSInternalServerError', `Internal error: ${(err as Error).message}`));
    }
  };

  const control: TablestoreControl = {
    calls: () => calls.map((c) => ({ ...c })),
    failNext(spec) {
      if (typeof spec?.code !== 'string' || spec.code === '') throw new Error('failNext needs a code');
      failRules.push({ ...spec, count: spec.count ?? 1 });
    },
    loseAnswerNext(spec = {}) {
      loseRules.push({ ...(spec.operation === undefined ? {} : { operation: spec.operation }), count: spec.count ?? 1 });
    },
    setUnavailable(on) {
      unavailable = on;
    },
    rows: (table) => model.snapshot(table),
    tables: () => model.listTables(),
    reset() {
      model.reset();
      calls.length = 0;
      failRules.length = 0;
      loseRules.length = 0;
      unavailable = false;
    },
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => req.socket.destroy());
  });
  const port = await listenOnLoopback(server, sockets, options.port);
  let closed: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    instanceName: options.instanceName,
    control,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}
