import type { EcsPortWithStats } from '../../cloud/ecs';
import type { FcContextLike } from '../../cloud/credentials';
import type { LedgerPort } from '../../workflow/ledger';
import type { Step } from '../../workflow/messages';
import { parseWake } from '../../workflow/operation';
import { WarmAheadEveryMs, WarmAheadOf, isWarmAhead, sendWarmAhead, warmAheadGate, type WarmAheadGate } from '../../workflow/warm-ahead';
import { systemClock, type Clock, type QueuePort, type TopicPort } from '../../workflow/ports';
import { DefaultWaitPolicy, runDelivery, type RunReport } from '../../workflow/runner';
import groupsYaml from '../../config/groups.yaml' with { type: 'text' };
import { loadConfig, type FunctionConfig } from './config';
import { decodeQueueEvent } from './events';
import { initializerOf, instanceClients } from './instance-clients';

/** The part of the FC 3.0 context a step function reads. */
export interface StepFunctionContext extends FcContextLike {
  readonly requestId?: string;
  readonly region?: string;
  readonly accountId?: string;
}

export interface StepFunctionDeps {
  readonly step: Step;
  readonly config: FunctionConfig;
  readonly ports: (context: StepFunctionContext) => { ecs: EcsPortWithStats; queue: QueuePort; topic: TopicPort; ledger: LedgerPort };
  readonly clock?: Clock;
  /** The guest script (guest/configure-eni.sh): only configure-guest-routes runs it, so only its bundle carries it. */
  readonly guestScript?: string;
  readonly log?: (line: Record<string, unknown>) => void;
  /**
   * The steps keep no instance running (s.yaml vars.warmInstances: 0): a delivery of a step that waits on
   * the cloud first sends its successor a warm-ahead message when this gate says one is due (workflow/warm-ahead.ts).
   */
  readonly warmAhead?: WarmAheadGate;
}

/** What one invocation did with each message it was given. */
export type MessageReport = { messageId: string } & (RunReport | { kind: 'rejected'; error: string } | { kind: 'warmed' });

/**
 * The adapter between an EventBridge MNS trigger and one workflow step: decode, parse the wake-up, run the
 * delivery, hand on. No business rule lives here. A message that does not parse, is for another step, or
 * wakes an operation the ledger does not know goes to the dead-letter queue with the reason and is
 * acknowledged (retrying it could only fail the same way); anything that could not be handed on (queue or
 * ledger down) throws, so the trigger redelivers and nothing is lost.
 */
export function createStepFunction(deps: StepFunctionDeps) {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  const successor = WarmAheadOf[deps.step];
  return async function handler(event: Buffer | string, context: StepFunctionContext): Promise<MessageReport[]> {
    const { ecs, queue, topic, ledger } = deps.ports(context);
    const reject = async (messageId: string, error: string, body: string): Promise<MessageReport> => {
      await queue.send(
        deps.config.queues.deadLetter,
        JSON.stringify({ kind: 'eni-failover.rejected', step: deps.step, messageId, error, body: body.slice(0, 16_384) }),
      );
      log({ step: deps.step, outcome: 'rejected', messageId, error, requestId: context.requestId });
      return { messageId, kind: 'rejected', error };
    };

    const decoded = decodeQueueEvent(event);
    if (!decoded.ok) return [await reject(context.requestId ?? 'unknown', decoded.error, event.toString())];

    const reports: MessageReport[] = [];
    for (const message of decoded.messages) {
      // An entry's warm-ahead (workflow/warm-ahead.ts): this instance has started, which was the point.
      if (isWarmAhead(message.body)) {
        reports.push({ messageId: message.messageId, kind: 'warmed' });
        continue;
      }
      const parsed = parseWake(message.body);
      if (!parsed.ok) {
        reports.push(await reject(message.messageId, `malformed wake-up: ${parsed.error}`, message.body));
        continue;
      }
      if (parsed.value.step !== deps.step) {
        reports.push(await reject(message.messageId, `wake-up for step ${parsed.value.step} arrived at ${deps.step}`, message.body));
        continue;
      }
      // Sent alongside the delivery, never failing it: a lost one only means the successor starts cold.
      const warming =
        deps.warmAhead !== undefined && successor !== undefined
          ? sendWarmAhead(deps.warmAhead, clock.now(), queue, deps.config.queues[successor], deps.step).then((sent) => {
              if (sent) log({ step: deps.step, decision: 'warm-ahead', to: successor, ...sent, requestId: context.requestId });
            })
          : undefined;
      const report = await runDelivery(parsed.value, {
        ecs: ecs.withDeadline(clock.now() + deps.config.stepBudgetMs),
        queue,
        topic,
        clock,
        ledger,
        authority: { groups: deps.config.groups, allowUnmanaged: deps.config.allowUnmanaged },
        queues: deps.config.queues,
        guestScript: deps.guestScript ?? '',
        timeScale: deps.config.timeScale,
        wait: { ...DefaultWaitPolicy, budgetMs: deps.config.stepBudgetMs },
        deliveryId: message.messageId,
        log: (line: Record<string, unknown>) => log({ ...line, requestId: context.requestId, messageId: message.messageId }),
      }).finally(() => warming);
      if (report.kind === 'unknown') {
        reports.push(await reject(message.messageId, report.error, message.body));
        continue;
      }
      reports.push({ messageId: message.messageId, ...report });
    }
    return reports;
  };
}

/**
 * The function FC runs for `step`, built from the environment once per function instance: `handler` for
 * events, `initialize` for s.yaml's initializer (it makes the clients before the first event).
 */
export function stepFunctionFromEnvironment(step: Step, guestScript?: string) {
  const config = loadConfig(process.env, groupsYaml);
  const clients = instanceClients(config);
  return {
    handler: createStepFunction({
      step,
      config,
      ports: (context) => clients.ports(context),
      ...(guestScript === undefined ? {} : { guestScript }),
      ...(config.warmInstances === 0 ? { warmAhead: warmAheadGate(WarmAheadEveryMs * config.timeScale) } : {}),
    }),
    initialize: initializerOf(clients, config),
  };
}
