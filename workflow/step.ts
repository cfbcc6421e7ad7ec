import type { OperationMessage, OperationState, Plan, Step } from './messages';
import type { Clock, EcsPort } from './ports';
import type { Reason } from './rules';

/**
 * What one look at the world concluded. A step reads the cloud, makes at most the writes its look calls for,
 * and says one of these; the runner (runner.ts) decides how to wait, where to send, and how to end.
 */
export type StepResult =
  /** Hand the operation to `step` (through its queue). */
  | { kind: 'next'; step: Step; detail: string; plan?: Plan; state?: Partial<OperationState> }
  /** Nothing to do until the cloud moves on: look again later. */
  | { kind: 'wait'; detail: string; state?: Partial<OperationState> }
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
}

export type StepFn = (op: OperationMessage, ctx: StepContext) => Promise<StepResult>;

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
