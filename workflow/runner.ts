import { CloudError, isCloudError } from './errors';
import {
  Outcome,
  type Step,
  type OperationEvent,
  type OperationMessage,
  type OperationState,
  type TimelineEntry,
} from './messages';
import { InstanceStatus } from './model';
import { Pipeline, type QueueNames } from './pipeline';
import type { Clock, EcsPort, QueuePort } from './ports';
import { Reason } from './rules';
import type { StepContext, StepResult } from './step';

/** How a step waits for the cloud: poll with backoff inside one invocation, then a delayed message. */
export interface WaitPolicy {
  /** Look again after this long (ms, before timeScale) ... */
  readonly initialMs: number;
  /** ... for this long into the wait (ms, before timeScale): ENI and instance transitions take seconds, */
  readonly steadyForMs: number;
  /** ... then back off by this factor up to maxMs, so a long wait (a stop, a hung detach) costs few calls. */
  readonly factor: number;
  readonly maxMs: number;
  /** One invocation polls at most this long (ms, real time): keep it well inside the function timeout. */
  readonly budgetMs: number;
}

/**
 * Every poll overshoots the moment the cloud finished by half an interval on average, and a failover waits
 * three times (detach, attach, guest command): 200 ms polls keep that near 0.3 s in all. Five describes a
 * second for a few seconds per operation fit the ECS budgets; bulk work is paced by the port's rate limiter.
 */
export const DefaultWaitPolicy: WaitPolicy = { initialMs: 200, steadyForMs: 6000, factor: 1.5, maxMs: 2000, budgetMs: 40_000 };

export interface RunnerDeps {
  readonly ecs: EcsPort;
  readonly queue: QueuePort;
  readonly clock: Clock;
  readonly queues: QueueNames;
  readonly guestScript: string;
  readonly timeScale?: number;
  readonly wait?: WaitPolicy;
  /** One structured line per step invocation (the operation journal). */
  readonly log?: (line: Record<string, unknown>) => void;
}

/** What one invocation of a step did. */
export type RunReport =
  | { readonly kind: 'forwarded'; readonly to: Step }
  | { readonly kind: 'requeued'; readonly delaySeconds: number }
  | { readonly kind: 'ended'; readonly event: OperationEvent };

/**
 * Runs the operation's current step once, as one function invocation: looks, acts, waits with backoff
 * inside the budget, and hands the operation on (next step's queue, its own queue with a delay, or the
 * events queue). Transient cloud errors are waited out like any other state; a cloud error that retrying
 * cannot fix ends the operation. Throws only when it could not hand the operation on (a queue failure, or
 * restoring a stopped instance failed), so the trigger redelivers the message and nothing is lost.
 */
export async function runStep(input: OperationMessage, deps: RunnerDeps): Promise<RunReport> {
  const { clock, queues } = deps;
  const timeScale = deps.timeScale ?? 1;
  const policy = deps.wait ?? DefaultWaitPolicy;
  const started = clock.now();
  const calls: Record<string, number> = {};
  const ctx: StepContext = { ecs: countingEcs(deps.ecs, calls), clock, guestScript: deps.guestScript, timeScale };
  let op: OperationMessage = input;
  let delay = policy.initialMs * timeScale;
  let polls = 0;
  let result: StepResult;

  for (;;) {
    if (clock.now() > op.deadlineAt) {
      result = { kind: 'end', outcome: 'failed', reason: Reason.DeadlineExceeded, detail: `the operation passed its deadline of ${op.request.policy.deadlineSeconds} s during ${op.step}` };
      break;
    }
    result = await look(op, ctx);
    if (result.state) op = { ...op, state: { ...op.state, ...result.state } };
    if (result.kind !== 'wait') break;
    const now = clock.now();
    if (now + delay > started + policy.budgetMs || now + delay > op.deadlineAt) {
      return requeue(result.detail);
    }
    polls++;
    await clock.sleep(delay);
    if (clock.now() - started > policy.steadyForMs * timeScale) delay = Math.min(delay * policy.factor, policy.maxMs * timeScale);
  }

  if (result.kind === 'next') {
    if (!Pipeline[op.step].mayGoTo.includes(result.step)) {
      throw new Error(`pipeline: ${op.step} may not go to ${result.step}`);
    }
    const forwarded: OperationMessage = {
      ...op,
      step: result.step,
      attempt: 0,
      ...(result.plan ? { plan: result.plan } : {}),
      timeline: [...op.timeline, entry('next', result.detail)],
    };
    await deps.queue.send(queues[result.step], JSON.stringify(forwarded));
    journal('next', result.detail, { to: result.step });
    return { kind: 'forwarded', to: result.step };
  }

  const restored = await restoreIfStoppedByUs(op, result.outcome, ctx, started + policy.budgetMs);
  const finishedAt = clock.now();
  const timeline = [...op.timeline, entry(result.outcome, result.detail)];
  const event: OperationEvent = {
    kind: 'eni-failover.outcome',
    operationId: op.operationId,
    outcome: result.outcome,
    ...(result.reason ? { reason: result.reason } : {}),
    step: op.step,
    message: result.detail,
    request: op.request,
    startedAt: op.startedAt,
    finishedAt,
    durationMs: finishedAt - op.startedAt,
    apiCalls: timeline.reduce((sum, t) => sum + Object.values(t.calls).reduce((a, b) => a + b, 0), 0),
    timeline,
    ...(result.guest === undefined ? {} : { guest: result.guest }),
    ...(restored === undefined ? {} : { restored }),
  };
  const body = JSON.stringify(event);
  await deps.queue.send(queues.events, body);
  if (result.outcome === Outcome.Failed) await deps.queue.send(queues.deadLetter, body);
  journal(result.outcome, result.detail, { reason: result.reason, restored, durationMs: event.durationMs });
  return { kind: 'ended', event };

  function entry(outcome: string, detail: string): TimelineEntry {
    return { step: op.step, outcome, detail, at: started, ms: clock.now() - started, calls: { ...calls } };
  }

  async function requeue(detail: string): Promise<RunReport> {
    const delaySeconds = Math.min(60, Math.max(1, Math.ceil(delay / 1000)));
    const again: OperationMessage = { ...op, attempt: op.attempt + 1, timeline: [...op.timeline, entry('wait', detail)] };
    await deps.queue.send(queues[op.step], JSON.stringify(again), { delaySeconds });
    journal('requeued', detail, { delaySeconds });
    return { kind: 'requeued', delaySeconds };
  }

  function journal(outcome: string, detail: string, extra: Record<string, unknown>): void {
    deps.log?.({
      operationId: op.operationId,
      step: op.step,
      attempt: op.attempt,
      outcome,
      detail,
      eniId: op.request.eniId,
      instanceId: op.request.instanceId,
      durationMs: clock.now() - started,
      polls,
      apiCalls: calls,
      ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined)),
    });
  }
}

/** One look; cloud errors become data: retryable ones a wait, others the end of the operation. */
async function look(op: OperationMessage, ctx: StepContext): Promise<StepResult> {
  try {
    return await Pipeline[op.step].run(op, ctx);
  } catch (err) {
    if (!isCloudError(err)) throw err;
    if (err.retryable) return { kind: 'wait', detail: `${err.details.api ?? 'ECS'} answered ${err.code}; retrying` };
    return {
      kind: 'end',
      outcome: 'failed',
      reason: Reason.CloudApiError,
      detail: `${err.details.api ?? 'ECS'} failed with ${err.code}: ${err.message}`,
    };
  }
}

/**
 * An instance this operation stopped is started again, whatever the outcome. Success already guarantees it
 * (verify-bound starts it before it reports bound), so this acts on superseded and failed operations.
 */
async function restoreIfStoppedByUs(op: OperationMessage, outcome: string, ctx: StepContext, until: number): Promise<string | undefined> {
  const state: OperationState = op.state;
  if (!state.stoppedByUs || outcome === Outcome.Succeeded) return undefined;
  const { instanceId } = op.request;
  while (ctx.clock.now() < until) {
    const instance = await ctx.ecs.describeInstance(instanceId);
    if (instance === undefined) return `${instanceId} no longer exists`;
    if (instance.status === InstanceStatus.Running || instance.status === InstanceStatus.Starting) {
      return `${instanceId} is ${instance.status}`;
    }
    if (instance.status === InstanceStatus.Stopped) {
      try {
        await ctx.ecs.startInstance(instanceId);
      } catch (err) {
        if (isCloudError(err) && err.retryable) {
          await ctx.clock.sleep(500 * ctx.timeScale);
          continue;
        }
        throw err;
      }
      return `asked ECS to start ${instanceId} again (this operation had stopped it)`;
    }
    await ctx.clock.sleep(500 * ctx.timeScale);
  }
  // Throwing makes the trigger deliver this message again: the step repeats its decision and the restore.
  throw new CloudError('transient', 'RestoreTimeout', `${instanceId} did not reach Stopped within the budget; cannot start it again yet`);
}

/** Counts port calls by method, for the journal and the outcome's API-call total. */
function countingEcs(ecs: EcsPort, calls: Record<string, number>): EcsPort {
  return new Proxy(ecs, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
