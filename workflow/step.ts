import type { Authority, Verdict, Write, WriteFacts } from './authority';
import { CloudErrorKind, isCloudError } from './errors';
import type { LedgerPort, OperationRecord } from './ledger';
import type { OperationState, Plan, Step } from './messages';
import type { Clock, EcsPort } from './ports';
import type { Reason } from './rules';

/** What a step sees of its operation: the ledger record's facts (never a message's). */
export type Operation = Pick<OperationRecord, 'operationId' | 'request' | 'group' | 'step' | 'attempt' | 'startedAt' | 'deadlineAt' | 'plan' | 'state'>;

/**
 * What one look at the world concluded. A step reads the cloud, makes at most the writes its look calls for,
 * and says one of these; the runner (runner.ts) decides how to wait, where to send, and how to end.
 */
export type StepResult =
  /** Hand the operation to `step` (through its queue). */
  | { kind: 'next'; step: Step; detail: string; plan?: Plan; state?: Partial<OperationState> }
  /** Nothing to do until the cloud moves on: look again later (`awaiting`: the transition it waits for, if one). */
  | { kind: 'wait'; detail: string; state?: Partial<OperationState>; awaiting?: Awaiting }
  /** The operation is over. */
  | {
      kind: 'end';
      outcome: 'succeeded' | 'superseded' | 'failed';
      reason?: Reason;
      detail: string;
      state?: Partial<OperationState>;
      guest?: unknown;
    };

export interface StepContext {
  readonly ecs: EcsPort;
  readonly clock: Clock;
  /** The guest script (guest/configure-eni.sh), embedded by the function bundle. */
  readonly guestScript: string;
  /**
   * Multiplies every wait the workflow decides on (1 in production). The local cloud runs its clock faster
   * for tests and benchmarks; the workflow's own patience scales with it so ratios stay meaningful.
   */
  readonly timeScale: number;
  /** The failover groups and the deployment's switches: what the workflow may do at all. */
  readonly authority: Authority;
  readonly ledger: LedgerPort;
  /**
   * Stores a state change in the ledger now, fenced by this delivery's claim: throws {@link LostClaim}
   * when another delivery owns the operation (then this one must write nothing more to the cloud).
   */
  remember(patch: Partial<OperationState>): Promise<void>;
  /**
   * Just before a cloud write: checks it against the groups and the cloud's facts (authority.ts), checks
   * that this operation still holds the ENI's lease, and stores `intent` (fenced, as remember). A refusal
   * is returned; the step ends the operation with its reason and writes nothing.
   */
  beforeWrite(write: Write, facts: WriteFacts, intent?: Partial<OperationState>): Promise<Verdict>;
}

/** This delivery lost its claim on the operation (another delivery took over, or the claim expired). */
export class LostClaim extends Error {
  override readonly name = 'LostClaim';
}

export type StepFn = (op: Operation, ctx: StepContext) => Promise<StepResult>;

/** The cloud transitions a step waits out, each started by one write of ours. */
export const Transition = { Detach: 'detach', Attach: 'attach', Command: 'command' } as const;
export type Transition = (typeof Transition)[keyof typeof Transition];

/**
 * A transition this operation started at `since` (epoch ms, when ECS accepted the write): the runner's
 * wait policy may skip the looks that could only see it still in motion and look often around the time
 * it is expected to end (runner.ts, WaitPolicy.expectMs).
 */
export interface Awaiting {
  readonly transition: Transition;
  readonly since: number;
}

/** A wait for a transition of ours that started at `since`. */
export const waitFor = (detail: string, awaiting: Awaiting, state?: Partial<OperationState>): StepResult =>
  state ? { kind: 'wait', detail, state, awaiting } : { kind: 'wait', detail, awaiting };

export const next = (step: Step, detail: string, extra: Omit<Extract<StepResult, { kind: 'next' }>, 'kind' | 'step' | 'detail'> = {}): StepResult => ({
  kind: 'next',
  step,
  detail,
  ...extra,
});
export const wait = (detail: string, state?: Partial<OperationState>): StepResult =>
  state ? { kind: 'wait', detail, state } : { kind: 'wait', detail };
export const fail = (reason: Reason, detail: string, state?: Partial<OperationState>): StepResult =>
  state ? { kind: 'end', outcome: 'failed', reason, detail, state } : { kind: 'end', outcome: 'failed', reason, detail };
export const superseded = (detail: string): StepResult => ({ kind: 'end', outcome: 'superseded', detail });
/**
 * Makes a cloud write; an invalid-state answer (another writer got there first, or the resource is between
 * states) becomes a wait, so the next look re-reads and decides instead of failing the operation.
 */
export async function writeOrLookAgain(api: string, what: string, write: () => Promise<unknown>): Promise<StepResult | undefined> {
  try {
    await write();
    return undefined;
  } catch (err) {
    if (isCloudError(err) && err.kind === CloudErrorKind.InvalidState) return wait(`${api} answered ${err.code}; looking at ${what} again`);
    throw err;
  }
}

/**
 * How long after a write of ours a read may still show the state before it (ms, scaled): ECS reads are
 * eventually consistent (ecs-realism.md; Terraform and Terway re-read after every write), so a read inside
 * this window that contradicts the write is looked at again, not acted on.
 */
export const ReadLagGraceMs = 5_000;

/** Whether a read at `now` may still lag a write of ours made at `since` (within {@link ReadLagGraceMs}, scaled). */
export const readMayLag = (since: number | undefined, now: number, timeScale: number): since is number => since !== undefined && now - since < ReadLagGraceMs * timeScale;

export const refused = (verdict: Extract<Verdict, { ok: false }>): StepResult => ({ kind: 'end', outcome: 'failed', reason: verdict.reason, detail: `refused: ${verdict.detail}` });
