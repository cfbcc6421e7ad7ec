import { createHash } from 'node:crypto';
import { request } from 'node:http';
import TableStore from 'tablestore';
import { type AccessKey, Keyring } from '../../local/credentials';
import { otsRequestSignature, startLocalTablestore, type LocalTablestore } from '../../local/tablestore';
import protos from 'tablestore/lib/protocol/tablestore_compiled_proto.js';

export const INSTANCE = 'test-inst';
export const { Long, Condition, SingleColumnCondition, CompositeCondition, RowExistenceExpectation, ComparatorType, LogicalOperator, ReturnType } = TableStore;
export const IGNORE = new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null);
export const EXPECT_EXIST = new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_EXIST, null);
export const EXPECT_NOT_EXIST = new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_NOT_EXIST, null);

/** A settable data clock (versions, TTL). */
export class TestClock {
  constructor(public ms = Date.now()) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface OtsFixture {
  ots: LocalTablestore;
  keyring: Keyring;
  root: AccessKey;
  client: TableStore.Client;
  clientWith(key: Partial<AccessKey> & { instancename?: string }): TableStore.Client;
  close(): Promise<void>;
}

export async function startOtsFixture(options: { now?: () => number; tableReadyAfterMs?: number } = {}): Promise<OtsFixture> {
  const { keyring, root } = Keyring.generate();
  const ots = await startLocalTablestore({ keyring, instanceName: INSTANCE, ...options });
  const clientWith = (key: Partial<AccessKey> & { instancename?: string }) =>
    new TableStore.Client({
      accessKeyId: key.accessKeyId ?? root.accessKeyId,
      secretAccessKey: key.accessKeySecret ?? root.accessKeySecret,
      ...(key.securityToken === undefined ? {} : { stsToken: key.securityToken }),
      endpoint: ots.endpoint,
      instancename: key.instancename ?? INSTANCE,
      // Process-global in the SDK (reference §5); no retries so a failure is seen once, at once.
      maxRetries: 0,
    });
  return { ots, keyring, root, client: clientWith({}), clientWith, close: () => ots.close() };
}

/** What a rejected SDK call carried: the HTTP status (err.code, the 5.6.5 quirk) and the decoded protobuf Error. */
export interface OtsRejection {
  status: number | string;
  code: string | undefined;
  message: string;
  raw: unknown;
}

/** Decodes the SDK 5.6.5 error: code = HTTP status, message = protobuf Error bytes as UTF-8 + " requestId:..." (reference §4). */
export function otsError(err: unknown): OtsRejection {
  const e = err as { code?: number | string; message?: string };
  const text = e.message ?? '';
  const cut = text.lastIndexOf(' requestId:');
  const bodyText = cut < 0 ? text : text.slice(0, cut);
  let code: string | undefined;
  let message = bodyText;
  try {
    const decoded = (protos.main.proto['Error'] as NonNullable<(typeof protos.main.proto)[string]>).decode(Buffer.from(bodyText, 'utf8'));
    code = String(decoded['code']);
    message = String(decoded['message'] ?? '');
  } catch {
    code = /OTS[A-Za-z]+/.exec(bodyText)?.[0];
  }
  return { status: e.code ?? 'none', code, message, raw: err };
}

export async function rejectionOf(p: Promise<unknown>): Promise<OtsRejection> {
  try {
    await p;
  } catch (err) {
    return otsError(err);
  }
  throw new Error('expected the call to be rejected, it succeeded');
}

export async function createTable(
  client: TableStore.Client,
  tableName: string,
  primaryKey: Array<{ name: string; type: 'INTEGER' | 'STRING' | 'BINARY' }> = [{ name: 'id', type: 'STRING' }],
  tableOptions: { timeToLive: number; maxVersions: number } = { timeToLive: -1, maxVersions: 1 },
): Promise<void> {
  await client.createTable({ tableMeta: { tableName, primaryKey }, reservedThroughput: { capacityUnit: { read: 0, write: 0 } }, tableOptions });
}

/** A row's attributes as `{name: value}` (integers as numbers), the latest version of each. */
export function attrs(row: TableStore.DecodedRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of row.attributes ?? []) {
    if (a.columnName in out) continue;
    const v = a.columnValue as unknown;
    out[a.columnName] = typeof v === 'object' && v !== null && 'toNumber' in v ? (v as TableStore.Int64LE).toNumber() : v;
  }
  return out;
}

export async function getAttrs(client: TableStore.Client, tableName: string, id: string): Promise<Record<string, unknown> | undefined> {
  const { row } = await client.getRow({ tableName, primaryKey: [{ id }], maxVersions: 1 });
  return row.primaryKey === undefined ? undefined : attrs(row);
}

/** A raw POST signed like the SDK signs, with knobs to break one thing at a time. */
export function rawOtsRequest(
  endpoint: string,
  operation: string,
  key: AccessKey,
  opts: { body?: Buffer; method?: string; md5?: string; omit?: string; instance?: string; date?: string } = {},
): Promise<{ status: number; body: Buffer; headers: Record<string, string | string[] | undefined> }> {
  const body = opts.body ?? Buffer.alloc(0);
  const headers: Record<string, string> = {
    'x-ots-apiversion': '2015-12-31',
    'x-ots-instancename': opts.instance ?? INSTANCE,
    'x-ots-contentmd5': opts.md5 ?? createHash('md5').update(body).digest('base64'),
    'x-ots-date': opts.date ?? new Date().toISOString(),
    'x-ots-accesskeyid': key.accessKeyId,
  };
  if (key.securityToken !== undefined) headers['x-ots-ststoken'] = key.securityToken;
  headers['x-ots-signature'] = otsRequestSignature(key.accessKeySecret, operation, headers);
  if (opts.omit !== undefined) delete headers[opts.omit];
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/${operation}`, { method: opts.method ?? 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Decodes a raw error answer. */
export function errorCodeOf(body: Buffer): { code: string; message: string } {
  const m = (protos.main.proto['Error'] as NonNullable<(typeof protos.main.proto)[string]>).decode(body);
  return { code: String(m['code']), message: String(m['message'] ?? '') };
}
