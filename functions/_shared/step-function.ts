import { createEcsPort, type EcsPortWithStats } from '../../cloud/ecs';
import { fromFcContext, type EcsCredentials, type FcContextLike } from '../../cloud/credentials';
import { MnsQueues } from '../../cloud/mns';
import { parseOperationMessage, type Step } from '../../workflow/messages';
import { systemClock, type Clock, type QueuePort } from '../../workflow/ports';
import { DefaultWaitPolicy, runStep, type RunReport } from '../../workflow/runner';
import guestScript from '../../guest/configure-eni.sh';
import { loadConfig, type FunctionConfig } from './config';
import { decodeQueueEvent } from './events';

/** The part of the FC 3.0 context a step function reads. */
export interface StepFunctionContext extends FcContextLike {
  readonly requestId?: string;
  readonly region?: string;
  readonly accountId?: string;
}

export interface StepFunctionDeps {
  readonly step: Step;
  readonly config: FunctionConfig;
  readonly ports: (context: StepFunctionContext) => { ecs: EcsPortWithStats; queue: QueuePort };
  readonly clock?: Clock;
  readonly guestScript?: string;
  readonly log?: (line: Record<string, unknown>) => void;
}

/** What one invocation did with each message it was given. */
export type MessageReport = { messageId: string } & (RunReport | { kind: 'rejected'; error: string });

/**
 * The adapter between an EventBridge MNS trigger and one workflow step: decode, parse, run, hand on.
 * No business rule lives here. A message that does not parse goes to the dead-letter queue with the
 * parse error and is acknowledged (retrying it could only fail the same way); anything that could not be
 * handed on throws, so the trigger redelivers and nothing is lost.
 */
export function createStepFunction(deps: StepFunctionDeps) {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  return async function handler(event: Buffer | string, context: StepFunctionContext): Promise<MessageReport[]> {
    const { ecs, queue } = deps.ports(context);
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
      const parsed = parseOperationMessage(message.body);
      if (!parsed.ok) {
        reports.push(await reject(message.messageId, `malformed operation message: ${parsed.error}`, message.body));
        continue;
      }
      if (parsed.value.step !== deps.step) {
        reports.push(await reject(message.messageId, `message for step ${parsed.value.step} arrived at ${deps.step}`, message.body));
        continue;
      }
      const report = await runStep(parsed.value, {
        ecs: ecs.withDeadline(clock.now() + deps.config.stepBudgetMs),
        queue,
        clock,
        queues: deps.config.queues,
        guestScript: deps.guestScript ?? guestScript,
        timeScale: deps.config.timeScale,
        wait: { ...DefaultWaitPolicy, budgetMs: deps.config.stepBudgetMs },
        log: (line) => log({ ...line, requestId: context.requestId, messageId: message.messageId }),
      });
      reports.push({ messageId: message.messageId, ...report });
    }
    return reports;
  };
}

/**
 * The handler FC calls for `step`, built from the environment once per function instance. Clients are
 * made once and sign every request with the credentials of the latest invocation's context (STS keys
 * rotate; a warm instance must not keep signing with expired ones).
 */
export function stepHandlerFromEnvironment(step: Step) {
  const config = loadConfig();
  let credentials: EcsCredentials | undefined;
  let clients: { ecs: EcsPortWithStats; queue: QueuePort } | undefined;
  const current = (): EcsCredentials => {
    if (credentials === undefined) throw new Error('no invocation context yet');
    return credentials;
  };
  return createStepFunction({
    step,
    config,
    ports(context) {
      credentials = fromFcContext(context);
      if (clients === undefined) {
        const regionId = context.region ?? process.env.FC_REGION ?? '';
        const accountId = context.accountId ?? process.env.FC_ACCOUNT_ID ?? '';
        if (regionId === '' || accountId === '') throw new Error('FC context has no region or accountId');
        clients = {
          ecs: createEcsPort({ regionId, endpoint: config.ecsEndpoint(regionId), protocol: config.ecsProtocol, credentials: current }),
          queue: new MnsQueues({ endpoint: config.mnsEndpoint(accountId, regionId), accountId, credentials: current }),
        };
      }
      return clients;
    },
  });
}
