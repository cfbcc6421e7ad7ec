import { z } from 'zod';
import { BindRequest, OperationState, Plan, Step, Steps, TimelineEntry, type OperationEvent } from './messages';

/**
 * The operation ledger: the truth of every operation, in a table with conditional writes (Tablestore in
 * production, cloud/ledger.ts; memory in tests, workflow/memory-ledger.ts). A queue message is only a
 * wake-up `(operationId, step, attempt)`; whatever the workflow decides, it decides from the record it read
 * here, and every change is a compare-and-set on the record's version, so of two copies of one delivery
 * exactly one may act.
 *
 *   entry: create(record v1) --wake(validate,0)--> claim v2 -> look/act (intent v3 before each write)
 *          -> hand on v4 (step', attempt 0) --wake(step',0)--> ... -> end vN (outcome, published: false)
 *          -> publish -> vN+1 (published: true)
 *
 * A delivery whose (step, attempt) is not the record's, or whose operation has ended, writes nothing to
 * the cloud; the only thing it may do is to repeat what the record says was to happen next (re-send the
 * wake-up that a crash may have lost, or publish the recorded outcome once more).
 */

export const OperationStatus = { Running: 'running', Succeeded: 'succeeded', Superseded: 'superseded', Failed: 'failed' } as const;
export type OperationStatus = (typeof OperationStatus)[keyof typeof OperationStatus];

/** The record keeps the last this-many timeline entries (and counts the rest), so it never outgrows a row or a message. */
export const TimelineKeep = 40;

const StepName = z.enum(Steps as [Step, ...Step[]]);

/** Who may act on the operation now: one delivery of (step, attempt), until `until` (epoch ms). */
export const Claim = z.object({ step: StepName, attempt: z.number().int().min(0), token: z.string().min(1).max(64), until: z.number() }).strict();
export type Claim = z.infer<typeof Claim>;

export const OperationRecord = z
  .object({
    operationId: z.string().regex(/^op-[0-9a-f]{16}$/),
    /** Incremented by every write; the compare-and-set key. */
    version: z.number().int().min(1),
    request: BindRequest,
    /** The failover group the request was authorised by (undefined: an unmanaged bind the deployment allows). */
    group: z.string().optional(),
    status: z.enum(['running', 'succeeded', 'superseded', 'failed']),
    step: StepName,
    attempt: z.number().int().min(0),
    startedAt: z.number(),
    deadlineAt: z.number(),
    updatedAt: z.number(),
    plan: Plan.optional(),
    state: OperationState,
    claim: Claim.optional(),
    /** The delivery that handed the operation to (step, attempt), and the delay it asked for: a redelivery of it re-sends the wake-up. */
    handoff: z.object({ from: z.object({ step: StepName, attempt: z.number().int().min(0) }).strict(), delaySeconds: z.number().int().min(0) }).strict().optional(),
    timeline: z.array(TimelineEntry),
    /** Entries dropped from the front of `timeline` (see TimelineKeep). */
    timelineDropped: z.number().int().min(0),
    /** ECS calls by API name over the whole operation. */
    calls: z.record(z.number()),
    /** The terminal event, recorded once. */
    outcome: z.custom<OperationEvent>((v) => typeof v === 'object' && v !== null).optional(),
    /** Whether the terminal event reached the events queue (and the dead-letter queue for failures). */
    published: z.boolean(),
  })
  .strict();
export type OperationRecord = z.infer<typeof OperationRecord>;

/**
 * What the prepare job knows of one standby's hot-plug hook: the hook it installed (version, ENIs, persist),
 * what it found before (missing / outdated / current: drift is anything but current), and when.
 */
export const PreparedState = z
  .object({
    group: z.string(),
    state: z.enum(['prepared', 'failed']),
    version: z.string(),
    enis: z.string(),
    persist: z.boolean(),
    found: z.enum(['missing', 'outdated', 'current']).optional(),
    detail: z.string(),
    invokeId: z.string().optional(),
    at: z.number(),
  })
  .strict();
export type PreparedState = z.infer<typeof PreparedState>;

/**
 * A group's failback clock (row `failback/<group>`, workflow/failback.ts): what the entries observed of the
 * preferred member and of the group's ENIs, in the observations' own times (epoch ms: an alarm's timestamp,
 * an event's time, a timer's fire time), and the failback started from it.
 */
export const FailbackClock = z
  .object({
    /** The preferred member these facts are about (the group's first member when they were recorded). */
    preferred: z.string(),
    /** Group ENIs bound to another member, and since when (the dwell counts from there). */
    away: z.record(z.object({ instanceId: z.string(), since: z.number() }).strict()).default({}),
    /** The preferred member has been healthy since then (unset: not healthy, or not seen healthy yet). */
    healthySince: z.number().optional(),
    /** The last failure of the preferred member seen, and what it was. */
    lastFailureAt: z.number().optional(),
    lastFailure: z.string().max(512).optional(),
    /** The last state of each CloudMonitor alarm rule (by alertName) about the preferred member. */
    alarms: z.record(z.enum(['ALARM', 'OK'])).default({}),
    /** When the last failback of the group was started: at most one per hold. */
    lastFailbackAt: z.number().optional(),
    /** The failback in flight: its origin id and one operation per ENI it moves. */
    failback: z
      .object({
        originId: z.string(),
        at: z.number(),
        operations: z.array(z.object({ operationId: z.string(), eniId: z.string(), from: z.string() }).strict()),
      })
      .strict()
      .optional(),
    /** The latest observation time: the clock's present is never earlier (observers' clocks may differ). */
    observedAt: z.number().optional(),
    /** How the last failback ended. */
    lastOutcome: z.object({ originId: z.string(), outcome: z.string(), reason: z.string().optional(), at: z.number() }).strict().optional(),
  })
  .strict();
export type FailbackClock = z.infer<typeof FailbackClock>;

/**
 * A lease row. For an ENI (`eni/<id>`): which operation may move it now. For an instance
 * (`instance/<id>`): the operations that need it stopped (`holders`) and which of them stopped it; the last
 * holder out starts it again. For a prepared standby (`prepared/<id>`): only `prepared`, written by the
 * prepare pass (entries/prepare.ts) with the same compare-and-set.
 */
export const LeaseRecord = z
  .object({
    resourceId: z.string().regex(/^(?:(?:eni|instance|outcome|prepared|notice|slots)\/[a-z0-9-]{3,64}|failback\/[a-z0-9][a-z0-9-]{0,62})$/),
    version: z.number().int().min(1),
    /** ENI lease: the live holder ('' when free) and until when (epoch ms). */
    operationId: z.string(),
    until: z.number(),
    /** ENI lease: the last operation that ended holding it, its outcome (and reason, step) and its target. */
    last: z
      .object({ operationId: z.string(), outcome: z.string(), instanceId: z.string(), at: z.number(), reason: z.string().optional(), step: z.string().optional() })
      .strict()
      .optional(),
    /** Instance power hold: operations that need the instance stopped, and the one that stopped it. */
    holders: z.array(z.string()).default([]),
    stoppedBy: z.string().optional(),
    /** Instance power hold: the last holder out, which owes the instance its start (until it asked for it). */
    startOwedBy: z.string().optional(),
    /** Prepared standby (`prepared/<instance>`): what the prepare job last found and did (workflow/prepare.ts). */
    prepared: PreparedState.optional(),
    /** Failback row (`failback/<group>`): the group's failback clock. */
    failback: FailbackClock.optional(),
    /**
     * Standby slots (`slots/<instance id>`): ENIs that entries planned onto the instance for operations
     * still in flight, each until its operation's deadline. They count against the instance's ENI quota
     * with the ENIs bound to it, so concurrent entries (one per failed instance of a host) never plan
     * more ENIs onto one standby than its type takes.
     */
    reserved: z.array(z.object({ eniId: z.string(), operationId: z.string(), until: z.number() }).strict()).optional(),
    updatedAt: z.number(),
    /**
     * A notice row (`notice/<operationId>-<target index>`, workflow/notifier.ts): one notification of one
     * outcome to one target. `operationId` and `until` are then the notifier delivery that is sending it.
     */
    notice: z
      .object({ state: z.enum(['sending', 'sent', 'dead-lettered']), target: z.string().max(64), attempts: z.number().int().min(0), why: z.string().max(512).optional() })
      .strict()
      .optional(),
  })
  .strict();
export type LeaseRecord = z.infer<typeof LeaseRecord>;
export type LeaseInput = z.input<typeof LeaseRecord>;

export const eniLeaseId = (eniId: string) => `eni/${eniId}`;
export const powerHoldId = (instanceId: string) => `instance/${instanceId}`;
/** The row that makes one outcome's notification to one target happen once (workflow/notifier.ts). */
export const noticeMarkId = (operationId: string, targetIndex: number) => `notice/${operationId}-${targetIndex}`;
export const standbySlotsId = (instanceId: string) => `slots/${instanceId}`;
/** The mark of an outcome published outside an operation record (an entry's failure before any operation). */
export const outcomeMarkId = (operationId: string) => `outcome/${operationId}`;
/** The prepare job's record of a standby's hot-plug hook. */
export const preparedId = (instanceId: string) => `prepared/${instanceId}`;
/** A group's failback clock (workflow/failback.ts). */
export const failbackClockId = (group: string) => `failback/${group}`;

/** The ledger is unreachable or answered an error: the workflow must not act without it (no fencing otherwise). */
export class LedgerUnavailable extends Error {
  override readonly name = 'LedgerUnavailable';
}

/**
 * The ledger as the workflow sees it: two kinds of rows, each changed only by compare-and-set. Every
 * method throws {@link LedgerUnavailable} when the store cannot answer; `false`/`created: false` mean
 * another writer won, which is an answer, not an error.
 */
export interface LedgerPort {
  /** Records a new operation (version 1). When the id exists, changes nothing and returns the stored record. */
  create(record: OperationRecord): Promise<{ created: boolean; record: OperationRecord }>;
  get(operationId: string): Promise<OperationRecord | undefined>;
  /** Stores `record` if the stored version is `record.version - 1`; false when another writer won. */
  update(record: OperationRecord): Promise<boolean>;
  /** Operations, newest first: all, or those of one ENI, started at or after `since`. */
  list(filter?: { eniId?: string; since?: number; limit?: number }): Promise<OperationRecord[]>;
  getLease(resourceId: string): Promise<LeaseRecord | undefined>;
  /** Stores `lease` if the stored version is `lease.version - 1` (version 1: only if no row exists). */
  putLease(lease: LeaseRecord): Promise<boolean>;
}

/** Bounds the timeline: the last TimelineKeep entries, the rest counted. */
export function appendTimeline(record: Pick<OperationRecord, 'timeline' | 'timelineDropped'>, entry: TimelineEntry): Pick<OperationRecord, 'timeline' | 'timelineDropped'> {
  const all = [...record.timeline, entry];
  const drop = Math.max(0, all.length - TimelineKeep);
  return { timeline: all.slice(drop), timelineDropped: record.timelineDropped + drop };
}

/** Parses a stored record; a row that does not parse is reported, never acted on. */
export function parseRecord(json: string): OperationRecord {
  const parsed = OperationRecord.safeParse(JSON.parse(json));
  if (!parsed.success) throw new LedgerUnavailable(`a ledger row does not parse: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function parseLease(json: string): LeaseRecord {
  const parsed = LeaseRecord.safeParse(JSON.parse(json));
  if (!parsed.success) throw new LedgerUnavailable(`a lease row does not parse: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
