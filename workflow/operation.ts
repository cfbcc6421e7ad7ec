import { z } from 'zod';
import { eniLeaseId, outcomeMarkId, powerHoldId, type LeaseRecord, type LedgerPort, type OperationRecord } from './ledger';
import { OperationState, Step, Steps, deriveOperationId, parseWith, type BindRequest, type ParseResult } from './messages';
import type { QueueNames } from './pipeline';
import type { QueuePort } from './ports';

/**
 * Starting operations, the wake-up message, and the two kinds of lease (ENI lease, instance power hold).
 * Pure logic over the ledger port: no SDK, no environment.
 */

/** How many deliveries one step may take (waits are >= 1 s each; the deadline is at most a day). */
export const MaxAttempt = 100_000;

/**
 * What travels on a step queue: which operation to look at, at which step and attempt. Nothing else: the
 * plan and the state are read from the ledger, so a forged or replayed message can at most wake an
 * operation the ledger knows, at the point the ledger says it is.
 */
export const WakeMessage = z
  .object({
    kind: z.literal('eni-failover.wake'),
    operationId: z.string().regex(/^op-[0-9a-f]{16}$/, 'must look like op-<16 hex digits>'),
    step: z.enum(Steps as [Step, ...Step[]]),
    attempt: z.number().int().min(0).max(MaxAttempt),
  })
  .strict();
export type WakeMessage = z.infer<typeof WakeMessage>;

export const parseWake = (text: string): ParseResult<WakeMessage> => parseWith(WakeMessage, text);

export const wakeBody = (operationId: string, step: Step, attempt: number): string =>
  JSON.stringify({ kind: 'eni-failover.wake', operationId, step, attempt } satisfies WakeMessage);

/** A new operation's first record (version 1, at validate). */
export function newRecord(request: BindRequest, now: number, group?: string): OperationRecord {
  return {
    operationId: deriveOperationId(request),
    version: 1,
    request,
    ...(group === undefined ? {} : { group }),
    status: 'running',
    step: Step.Validate,
    attempt: 0,
    startedAt: now,
    deadlineAt: now + request.policy.deadlineSeconds * 1000,
    updatedAt: now,
    state: OperationState.parse({}),
    timeline: [],
    timelineDropped: 0,
    calls: {},
    published: false,
  };
}

/**
 * Records the operation and wakes validate. Guarantees: one record per operationId however often it is
 * called (a repeated trigger is the same operation); the wake-up is sent when the record is new, or again
 * when the record shows a start that never got going (a crash between the two writes); an operation that is
 * past that point is left alone. A failed send throws (the caller's trigger retries and converges here).
 */
export async function startOperation(
  request: BindRequest,
  deps: { ledger: LedgerPort; queue: QueuePort; queues: QueueNames; now: number; group?: string },
): Promise<{ operationId: string; created: boolean; record: OperationRecord; woken: boolean }> {
  const { created, record } = await deps.ledger.create(newRecord(request, deps.now, deps.group));
  const unstarted = record.status === 'running' && record.step === Step.Validate && record.attempt === 0 && record.claim === undefined;
  if (created || unstarted) await deps.queue.send(deps.queues[Step.Validate], wakeBody(record.operationId, Step.Validate, 0));
  return { operationId: record.operationId, created, record, woken: created || unstarted };
}

// ---- ENI lease -------------------------------------------------------------------------------------------

export type LeaseAnswer = { readonly ok: true } | { readonly ok: false; readonly holder: string; readonly until: number };

/**
 * Takes (or keeps) the ENI's lease for `operationId` until `until`. Guarantees: at most one live operation
 * holds an ENI; a lease whose holder ended (or vanished, or passed `until`) is taken over; retried on a lost
 * compare-and-set, so `ok: false` always names a live holder.
 */
export async function acquireEniLease(ledger: LedgerPort, eniId: string, operationId: string, now: number, until: number): Promise<LeaseAnswer> {
  const id = eniLeaseId(eniId);
  for (let tries = 0; tries < 5; tries++) {
    const lease = await ledger.getLease(id);
    if (lease !== undefined && lease.operationId !== '' && lease.operationId !== operationId && lease.until > now) {
      const holder = await ledger.get(lease.operationId);
      if (holder !== undefined && holder.status === 'running') return { ok: false, holder: lease.operationId, until: lease.until };
    }
    if (lease?.operationId === operationId && lease.until >= until) return { ok: true };
    const next: LeaseRecord = {
      resourceId: id,
      version: (lease?.version ?? 0) + 1,
      operationId,
      until,
      ...(lease?.last ? { last: lease.last } : {}),
      holders: [],
      updatedAt: now,
    };
    if (await ledger.putLease(next)) return { ok: true };
  }
  throw new Error(`the lease of ${eniId} changed five times in a row; try again`);
}

/**
 * The live operation of this workflow that is moving `eniId` away from `fromInstanceId`, if any: the
 * holder of the ENI's lease, still running, whose request names that source. A repeated alarm for an
 * instance whose ENI is already in flight joins it instead of reporting "nothing to move".
 */
export async function operationMovingFrom(ledger: LedgerPort, eniId: string, fromInstanceId: string, now: number): Promise<string | undefined> {
  const lease = await ledger.getLease(eniLeaseId(eniId));
  if (lease === undefined || lease.operationId === '' || lease.until <= now) return undefined;
  const holder = await ledger.get(lease.operationId);
  return holder?.status === 'running' && holder.request.sourceInstanceId === fromInstanceId ? holder.operationId : undefined;
}

/** Whether `operationId` holds the ENI's lease now. */
export async function holdsEniLease(ledger: LedgerPort, eniId: string, operationId: string, now: number): Promise<boolean> {
  const lease = await ledger.getLease(eniLeaseId(eniId));
  return lease !== undefined && lease.operationId === operationId && lease.until > now;
}

/** Frees the ENI's lease if `operationId` holds it, recording how that operation ended. */
export async function releaseEniLease(
  ledger: LedgerPort,
  eniId: string,
  operationId: string,
  ended: { outcome: string; instanceId: string; reason?: string; step?: string },
  now: number,
): Promise<void> {
  for (let tries = 0; tries < 5; tries++) {
    const lease = await ledger.getLease(eniLeaseId(eniId));
    if (lease === undefined || lease.operationId !== operationId) return;
    const last = { operationId, outcome: ended.outcome, instanceId: ended.instanceId, at: now, ...(ended.reason ? { reason: ended.reason } : {}), ...(ended.step ? { step: ended.step } : {}) };
    const freed: LeaseRecord = { ...lease, version: lease.version + 1, operationId: '', until: 0, last, updatedAt: now };
    if (await ledger.putLease(freed)) return;
  }
}

// ---- instance power hold ---------------------------------------------------------------------------------

/**
 * Operations that need one instance stopped share a power hold: each joins before it looks at the
 * instance; the first that finds it Running records itself as `stoppedBy` and stops it; the last one out
 * starts it again (if a holder stopped it). So two ENIs bound to one Stopped-only standby never see it
 * started while the other still needs it stopped, and no instance is left stopped by the workflow.
 */
export async function changePowerHold(
  ledger: LedgerPort,
  instanceId: string,
  now: number,
  change: (hold: LeaseRecord) => LeaseRecord | undefined,
): Promise<LeaseRecord> {
  const id = powerHoldId(instanceId);
  for (let tries = 0; tries < 8; tries++) {
    const current = (await ledger.getLease(id)) ?? { resourceId: id, version: 0, operationId: '', until: 0, holders: [], updatedAt: now };
    const changed = change(current);
    if (changed === undefined) return current;
    const next = { ...changed, version: current.version + 1, updatedAt: now };
    if (await ledger.putLease(next)) return next;
  }
  throw new Error(`the power hold of ${instanceId} changed eight times in a row; try again`);
}

export const joinPowerHold = (ledger: LedgerPort, instanceId: string, operationId: string, now: number) =>
  changePowerHold(ledger, instanceId, now, (h) => (h.holders.includes(operationId) ? undefined : { ...h, holders: [...h.holders, operationId] }));

/**
 * Leaves the hold. Answers whether this operation is the last one out of a hold whose instance a holder
 * stopped: then it (and only it) owes the start. Idempotent: asked again (a redelivery after the answer was
 * lost), it answers the same, because the hold records who owes the start until {@link startRequested}.
 */
export async function leavePowerHold(ledger: LedgerPort, instanceId: string, operationId: string, now: number): Promise<{ startOwed: boolean; others: string[] }> {
  let startOwed = false;
  const after = await changePowerHold(ledger, instanceId, now, (h) => {
    if (!h.holders.includes(operationId)) {
      startOwed = h.startOwedBy === operationId;
      return undefined;
    }
    const holders = h.holders.filter((o) => o !== operationId);
    if (holders.length === 0 && h.stoppedBy !== undefined) {
      startOwed = true;
      const { stoppedBy: _dropped, ...rest } = h;
      return { ...rest, holders, startOwedBy: operationId };
    }
    startOwed = false;
    return { ...h, holders };
  });
  return { startOwed, others: after.holders.filter((o) => o !== operationId) };
}

/** The start this operation owed was asked for (or the instance runs again): the hold owes nothing more. */
export const startRequested = (ledger: LedgerPort, instanceId: string, operationId: string, now: number) =>
  changePowerHold(ledger, instanceId, now, (h) => {
    if (h.startOwedBy !== operationId) return undefined;
    const { startOwedBy: _done, ...rest } = h;
    return rest;
  });

// ---- outcomes decided before an operation exists ---------------------------------------------------------

/** A mark older than this whose publication was never confirmed is taken over (the publisher died). */
export const PublishTakeoverMs = 30_000;

/**
 * Publishes an outcome that no operation record carries (an entry's NoHealthyStandby) once per id, however
 * many triggers decide it at once (the Stopping and the Stopped event of one failure). Guarantees: `publish`
 * runs for the first caller, and again only if that caller never confirmed it within PublishTakeoverMs
 * (it died in between); answers whether this caller published.
 */
export async function publishOnce(ledger: LedgerPort, operationId: string, now: number, publish: () => Promise<void>): Promise<boolean> {
  const id = outcomeMarkId(operationId);
  const mark = await ledger.getLease(id);
  if (mark !== undefined && (mark.until === 1 || now - mark.updatedAt < PublishTakeoverMs)) return false;
  const claimed: LeaseRecord = { resourceId: id, version: (mark?.version ?? 0) + 1, operationId, until: 0, holders: [], updatedAt: now };
  if (!(await ledger.putLease(claimed))) return false;
  await publish();
  await ledger.putLease({ ...claimed, version: claimed.version + 1, until: 1 });
  return true;
}

// ---- liveness -------------------------------------------------------------------------------------------

/** A running operation whose record has not changed for this long, and that no delivery claims, is woken again. */
export const StalledAfterMs = 180_000;

/**
 * Wakes running operations whose wake-up was lost (a trigger that dead-lettered it during a ledger outage,
 * a queue that lost it): no operation vanishes. Guarantees: only `running` records untouched for
 * `staleAfterMs` and not claimed now are woken, at the (step, attempt) the record says, so a wake-up that
 * was not lost after all is a harmless duplicate. Answers the operations it woke.
 */
export async function rewakeStalled(deps: { ledger: LedgerPort; queue: QueuePort; queues: QueueNames; now: number; staleAfterMs?: number }): Promise<string[]> {
  const stale = deps.staleAfterMs ?? StalledAfterMs;
  const records = await deps.ledger.list({ since: deps.now - 7 * 86_400_000, limit: 1000 });
  const woken: string[] = [];
  for (const r of records) {
    if (r.status !== 'running' || deps.now - r.updatedAt < stale || (r.claim !== undefined && r.claim.until > deps.now)) continue;
    await deps.queue.send(deps.queues[r.step], wakeBody(r.operationId, r.step, r.attempt));
    woken.push(r.operationId);
  }
  return woken;
}
