import './tablestore-globals';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Client, Condition, ComparatorType, INF_MAX, INF_MIN, Long, RowExistenceExpectation, SingleColumnCondition, type AttributeColumns, type DecodedAttribute } from 'tablestore';
import { LedgerUnavailable, parseLease, parseRecord, type LeaseRecord, type LedgerPort, type OperationRecord } from '../workflow/ledger';
import { resolveCredentials, type CredentialSource } from './credentials';

/**
 * The operation ledger on Alibaba Cloud Tablestore, over the `tablestore` SDK (5.6.5). Schema (s.yaml
 * `vars.ledger`, created by deploy and by the local cloud):
 *
 *   eni_failover_operations  PK operation_id STRING   version INTEGER, status, eni_id, started_at INTEGER, body (the record as JSON)
 *   eni_failover_leases      PK resource_id STRING    version INTEGER, body (the lease as JSON)
 *
 * Every write is conditional (shared/reference/tablestore.md §8, §11): a new row under EXPECT_NOT_EXIST, a
 * change under EXPECT_EXIST plus `version = <expected>` with passIfMissing false, so of two writers exactly
 * one wins and the other learns it (403 OTSConditionCheckFail). `version` is written as an Integer (Long):
 * a JS number would be stored as a Double and never equal the condition's Integer (§11).
 *
 * Tablestore down: every method throws LedgerUnavailable; the runner then acts on nothing and the trigger
 * redelivers - a failover never proceeds without the fencing the ledger gives.
 */
export interface TablestoreLedgerOptions {
  readonly endpoint: string;
  readonly instanceName: string;
  readonly credentials: CredentialSource;
  readonly operationsTable?: string;
  readonly leasesTable?: string;
  /** Socket timeout per request (ms). */
  readonly timeoutMs?: number;
}

export const DefaultTables = { operations: 'eni_failover_operations', leases: 'eni_failover_leases' } as const;

/** What a failed SDK call was: a lost condition (an answer), or the store not answering (an outage). */
export function classifyTablestoreError(err: unknown): { conditionFailed: boolean; code: string } {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // SDK 5.6.5 reports the HTTP status as `code` and the raw protobuf error body as the message (§4).
  const otsCode = /OTS[A-Za-z]+/.exec(message)?.[0];
  const code = otsCode ?? (typeof e?.code === 'string' || typeof e?.code === 'number' ? String(e.code) : 'Unknown');
  return { conditionFailed: otsCode === 'OTSConditionCheckFail', code };
}

/**
 * The SDK (5.6.5, lib/http/node.js) gives HTTPS requests an agent of its own without keepAlive, so every
 * ledger call in FC would pay a TCP and TLS handshake: each step makes several. One keep-alive agent per
 * ledger reuses the connection across the calls of a delivery and across deliveries on a warm instance.
 */
function keepAliveAgent(endpoint: string): HttpAgent {
  return endpoint.startsWith('https:') ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
}

export class TablestoreLedger implements LedgerPort {
  private readonly client: Client;
  private readonly operations: string;
  private readonly leases: string;
  /** Calls by operation, for the benchmark's "ledger calls per operation". */
  readonly calls: Record<string, number> = {};

  constructor(private readonly options: TablestoreLedgerOptions) {
    this.client = new Client({
      accessKeyId: 'pending',
      secretAccessKey: 'pending',
      endpoint: options.endpoint,
      instancename: options.instanceName,
      // Writes are never retried by the SDK (§5); reads would be retried up to 20 times with delays of
      // seconds: two is enough inside a step's budget, the trigger redelivers after that.
      maxRetries: 2,
      httpOptions: { timeout: options.timeoutMs ?? 5000, agent: keepAliveAgent(options.endpoint) },
    });
    this.operations = options.operationsTable ?? DefaultTables.operations;
    this.leases = options.leasesTable ?? DefaultTables.leases;
  }

  async create(record: OperationRecord) {
    try {
      await this.call('PutRow', () =>
        this.client.putRow({
          tableName: this.operations,
          primaryKey: [{ operation_id: record.operationId }],
          attributeColumns: this.operationColumns(record),
          condition: new Condition(RowExistenceExpectation.EXPECT_NOT_EXIST, null),
        }),
      );
      return { created: true, record };
    } catch (err) {
      if (!(err instanceof ConditionFailed)) throw err;
      const existing = await this.get(record.operationId);
      if (existing === undefined) throw new LedgerUnavailable(`${record.operationId} exists and does not (PutRow refused, GetRow found nothing); try again`);
      return { created: false, record: existing };
    }
  }

  async get(operationId: string) {
    const body = await this.readBody(this.operations, [{ operation_id: operationId }]);
    return body === undefined ? undefined : parseRecord(body);
  }

  async update(record: OperationRecord) {
    return this.compareAndSet(this.operations, [{ operation_id: record.operationId }], record.version, this.operationColumns(record));
  }

  async list(filter: { eniId?: string; since?: number; limit?: number } = {}) {
    const out: OperationRecord[] = [];
    let start: Array<Record<string, unknown>> = [{ operation_id: INF_MIN }];
    for (let page = 0; page < 100; page++) {
      const res = await this.call('GetRange', () =>
        this.client.getRange({
          tableName: this.operations,
          direction: 'FORWARD',
          inclusiveStartPrimaryKey: start as never,
          exclusiveEndPrimaryKey: [{ operation_id: INF_MAX }],
          maxVersions: 1,
          limit: 500,
          columnsToGet: ['body'],
        }),
      );
      for (const row of res.rows) {
        const body = stringCell(row.attributes, 'body');
        if (body === undefined) continue;
        const r = parseRecord(body);
        if ((filter.eniId === undefined || r.request.eniId === filter.eniId) && (filter.since === undefined || r.startedAt >= filter.since)) out.push(r);
      }
      if (res.nextStartPrimaryKey === null || res.nextStartPrimaryKey.length === 0) break;
      // The SDK returns [{name, value}] and wants [{[name]: value}] back (§9, samples/getRange.js).
      start = res.nextStartPrimaryKey.map((c) => ({ [c.name]: c.value }));
    }
    return out.sort((a, b) => b.startedAt - a.startedAt).slice(0, filter.limit ?? 1000);
  }

  async getLease(resourceId: string) {
    const body = await this.readBody(this.leases, [{ resource_id: resourceId }]);
    return body === undefined ? undefined : parseLease(body);
  }

  async putLease(lease: LeaseRecord) {
    const columns: AttributeColumns = [{ version: Long.fromNumber(lease.version) }, { body: JSON.stringify(lease) }];
    if (lease.version === 1) {
      try {
        await this.call('PutRow', () =>
          this.client.putRow({
            tableName: this.leases,
            primaryKey: [{ resource_id: lease.resourceId }],
            attributeColumns: columns,
            condition: new Condition(RowExistenceExpectation.EXPECT_NOT_EXIST, null),
          }),
        );
        return true;
      } catch (err) {
        if (err instanceof ConditionFailed) return false;
        throw err;
      }
    }
    return this.compareAndSet(this.leases, [{ resource_id: lease.resourceId }], lease.version, columns);
  }

  private operationColumns(r: OperationRecord): AttributeColumns {
    return [
      { version: Long.fromNumber(r.version) },
      { status: r.status },
      { eni_id: r.request.eniId },
      { started_at: Long.fromNumber(r.startedAt) },
      { body: JSON.stringify(r) },
    ];
  }

  private async compareAndSet(tableName: string, primaryKey: Array<Record<string, string>>, version: number, columns: AttributeColumns): Promise<boolean> {
    try {
      await this.call('UpdateRow', () =>
        this.client.updateRow({
          tableName,
          primaryKey,
          updateOfAttributeColumns: [{ PUT: columns }],
          condition: new Condition(RowExistenceExpectation.EXPECT_EXIST, new SingleColumnCondition('version', Long.fromNumber(version - 1), ComparatorType.EQUAL, false)),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionFailed) return false;
      throw err;
    }
  }

  private async readBody(tableName: string, primaryKey: Array<Record<string, string>>): Promise<string | undefined> {
    const res = await this.call('GetRow', () => this.client.getRow({ tableName, primaryKey, maxVersions: 1, columnsToGet: ['body'] }));
    return stringCell(res.row.attributes, 'body');
  }

  /** Signs with the current credentials (STS keys rotate), counts the call, and turns failures into answers or outages. */
  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const c = await resolveCredentials(this.options.credentials);
    const config = this.client.config as Record<string, unknown>;
    config.accessKeyId = c.accessKeyId;
    config.secretAccessKey = c.accessKeySecret;
    if (c.securityToken) config.stsToken = c.securityToken;
    else delete config.stsToken;
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    try {
      return await fn();
    } catch (err) {
      const { conditionFailed, code } = classifyTablestoreError(err);
      if (conditionFailed) throw new ConditionFailed();
      throw new LedgerUnavailable(`Tablestore ${op} failed: ${code}`);
    }
  }
}

/** A lost compare-and-set, internal to this adapter (callers get false / created: false). */
class ConditionFailed extends Error {}

function stringCell(attributes: DecodedAttribute[] | undefined, name: string): string | undefined {
  const cell = attributes?.find((a) => a.columnName === name);
  return typeof cell?.columnValue === 'string' ? cell.columnValue : undefined;
}

/** A table s.yaml `vars.ledger.tables` declares. */
export interface LedgerTableSpec {
  readonly name: string;
  readonly primaryKey: readonly { readonly name: string; readonly type: 'INTEGER' | 'STRING' | 'BINARY' }[];
  /** Seconds (>= 86400), or -1 to keep rows forever (reference §9). */
  readonly timeToLive: number;
  readonly maxVersions: number;
}

/**
 * Creates the ledger's tables that do not exist yet (deploy, and nothing else). Guarantees: idempotent
 * (an existing table is left as it is and reported `exists`); reserved throughput 0 (pay per request);
 * answers what it did per table. Throws with the Tablestore code when a call fails.
 */
export async function ensureLedgerTables(
  options: Pick<TablestoreLedgerOptions, 'endpoint' | 'instanceName' | 'credentials'>,
  tables: readonly LedgerTableSpec[],
): Promise<{ table: string; action: 'created' | 'exists' }[]> {
  const c = await resolveCredentials(options.credentials);
  const client = new Client({
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.accessKeySecret,
    ...(c.securityToken ? { stsToken: c.securityToken } : {}),
    endpoint: options.endpoint,
    instancename: options.instanceName,
  });
  const fail = (op: string) => (err: unknown) => {
    throw new Error(`Tablestore ${op} failed: ${classifyTablestoreError(err).code}`);
  };
  const existing = new Set((await client.listTable({}).catch(fail('ListTable'))).tableNames);
  const out: { table: string; action: 'created' | 'exists' }[] = [];
  for (const t of tables) {
    if (existing.has(t.name)) {
      out.push({ table: t.name, action: 'exists' });
      continue;
    }
    await client
      .createTable({
        tableMeta: { tableName: t.name, primaryKey: t.primaryKey.map((k) => ({ name: k.name, type: k.type })) },
        reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
        tableOptions: { timeToLive: t.timeToLive, maxVersions: t.maxVersions },
      })
      .catch(fail(`CreateTable ${t.name}`));
    out.push({ table: t.name, action: 'created' });
  }
  return out;
}
