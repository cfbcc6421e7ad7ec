import { LedgerUnavailable, type LeaseRecord, type LedgerPort, type OperationRecord } from './ledger';

/**
 * The ledger in this process's memory, with the same compare-and-set semantics as the Tablestore adapter
 * (cloud/ledger.ts). For unit tests and for `eni-failover bind` without a ledger endpoint. Records are
 * copied in and out, so a caller that mutates what it got cannot change the store behind the port.
 */
export class MemoryLedger implements LedgerPort {
  private readonly operations = new Map<string, string>();
  private readonly leases = new Map<string, string>();
  /** While true every call throws LedgerUnavailable (tests of "the ledger is down"). */
  unavailable = false;
  /** Calls by method, for the benchmark's "ledger calls per operation". */
  readonly calls: Record<string, number> = {};

  async create(record: OperationRecord) {
    this.count('create');
    const existing = this.operations.get(record.operationId);
    if (existing !== undefined) return { created: false, record: JSON.parse(existing) as OperationRecord };
    if (record.version !== 1) throw new Error(`MemoryLedger.create: a new record has version 1, not ${record.version}`);
    this.operations.set(record.operationId, JSON.stringify(record));
    return { created: true, record: structuredClone(record) };
  }

  async get(operationId: string) {
    this.count('get');
    const found = this.operations.get(operationId);
    return found === undefined ? undefined : (JSON.parse(found) as OperationRecord);
  }

  async update(record: OperationRecord) {
    this.count('update');
    const found = this.operations.get(record.operationId);
    if (found === undefined || (JSON.parse(found) as OperationRecord).version !== record.version - 1) return false;
    this.operations.set(record.operationId, JSON.stringify(record));
    return true;
  }

  async list(filter: { eniId?: string; since?: number; limit?: number } = {}) {
    this.count('list');
    return [...this.operations.values()]
      .map((j) => JSON.parse(j) as OperationRecord)
      .filter((r) => (filter.eniId === undefined || r.request.eniId === filter.eniId) && (filter.since === undefined || r.startedAt >= filter.since))
      .sort((a, b) => b.startedAt - a.startedAt)
      .slice(0, filter.limit ?? 1000);
  }

  async getLease(resourceId: string) {
    this.count('getLease');
    const found = this.leases.get(resourceId);
    return found === undefined ? undefined : (JSON.parse(found) as LeaseRecord);
  }

  async putLease(lease: LeaseRecord) {
    this.count('putLease');
    const found = this.leases.get(lease.resourceId);
    const stored = found === undefined ? 0 : (JSON.parse(found) as LeaseRecord).version;
    if (stored !== lease.version - 1) return false;
    this.leases.set(lease.resourceId, JSON.stringify(lease));
    return true;
  }

  private count(method: string): void {
    if (this.unavailable) throw new LedgerUnavailable('the in-memory ledger is switched off (test)');
    this.calls[method] = (this.calls[method] ?? 0) + 1;
  }
}
