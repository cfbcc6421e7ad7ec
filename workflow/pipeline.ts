import { Step } from './messages';
import { Transition, type Awaiting, type Operation, type StepFn } from './step';
import { attach } from './steps/attach';
import { configureGuestRoutes } from './steps/configure-guest-routes';
import { stopIfRequired } from './steps/stop-if-required';
import { validate } from './steps/validate';
import { verifyBound } from './steps/verify-bound';

/**
 * The only place the step order lives. Each step names its successor itself (validate may skip
 * stop-if-required when nothing needs stopping, and jumps to verify-bound when the ENI is already bound),
 * but only along these edges.
 */
export const Pipeline: Readonly<Record<Step, { run: StepFn; mayGoTo: readonly Step[]; awaits?: (op: Operation) => Awaiting | undefined }>> = {
  [Step.Validate]: { run: validate, mayGoTo: [Step.StopIfRequired, Step.Attach, Step.VerifyBound] },
  [Step.StopIfRequired]: { run: stopIfRequired, mayGoTo: [Step.Attach] },
  [Step.Attach]: { run: attach, mayGoTo: [Step.VerifyBound] },
  // verify-bound starts right after attach asked ECS: the attach it checks is in motion for seconds, so
  // its first look may wait until the attach is expected to be done (the runner's wait policy decides).
  [Step.VerifyBound]: { run: verifyBound, mayGoTo: [Step.Attach, Step.ConfigureGuestRoutes], awaits: attachInMotion },
  [Step.ConfigureGuestRoutes]: { run: configureGuestRoutes, mayGoTo: [] },
};

/** The attach this operation last asked for, while no look has seen it bound yet. */
function attachInMotion(op: Operation): Awaiting | undefined {
  const since = op.state.attachRequestedAt;
  return since !== undefined && op.state.boundSeenAt === undefined ? { transition: Transition.Attach, since } : undefined;
}

/**
 * Deployed names: a queue per step, the events and dead-letter queues, and the outcomes topic every
 * outcome is published on (the events queue is one of its subscribers; s.yaml vars.topics).
 */
export type QueueNames = Readonly<Record<Step, string>> & { readonly events: string; readonly deadLetter: string; readonly outcomes: string };

/** The queue names s.yaml declares, with a prefix (`eni-failover-` by default). */
export function defaultQueueNames(prefix = 'eni-failover-'): QueueNames {
  return {
    [Step.Validate]: `${prefix}validate`,
    [Step.StopIfRequired]: `${prefix}stop-if-required`,
    [Step.Attach]: `${prefix}attach`,
    [Step.VerifyBound]: `${prefix}verify-bound`,
    [Step.ConfigureGuestRoutes]: `${prefix}configure-guest-routes`,
    events: `${prefix}events`,
    deadLetter: `${prefix}dead-letter`,
    outcomes: `${prefix}outcomes`,
  };
}
