import { fromFcContext, type EcsCredentials } from '../../cloud/credentials';
import { TablestoreLedger } from '../../cloud/ledger';
import { MnsQueues } from '../../cloud/mns';
import { fetchHttp } from '../../cloud/webhook';
import type { LedgerPort } from '../../workflow/ledger';
import { deliverNotice, type NoticeReport, type NotifierDeps } from '../../workflow/notifier';
import { DefaultNotifyRetryPolicy, type NotifyRetryPolicy, type NotifyTarget } from '../../workflow/notify';
import { systemClock, type Clock, type HttpPort, type QueuePort } from '../../workflow/ports';
import groupsYaml from '../../config/groups.yaml' with { type: 'text' };
import { loadConfig, type FunctionConfig } from './config';
import type { StepFunctionContext } from './step-function';

/**
 * The adapter between the outcomes topic (fc3 `mns_topic` trigger) and workflow/notifier.ts: decode the
 * push, deliver the notice, log what happened with URLs masked and secrets never written. It writes
 * nothing but notice rows and dead letters: a notifier failure cannot touch a failover.
 */

export interface NotifierFunctionDeps {
  readonly config: FunctionConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly ports: (context: StepFunctionContext) => { queue: QueuePort; ledger: LedgerPort; http: HttpPort };
  readonly clock?: Clock;
  readonly log?: (line: Record<string, unknown>) => void;
  readonly policy?: NotifierDeps['policy'];
}

/** An outcome whose target another delivery is sending right now: thrown so the trigger looks again later. */
export class NoticeInFlight extends Error {
  override readonly name = 'NoticeInFlight';
}

/**
 * The message a push carries: the JSON notification's `Message` (notifyContentFormat JSON), or the body
 * itself (STREAM). Either is the outcome as published (base64 JSON from the MNS port, or JSON).
 */
export function decodeTopicEvent(event: Buffer | string): { messageId: string; body: string } {
  const text = event.toString();
  try {
    const doc = JSON.parse(text) as Record<string, unknown>;
    if (typeof doc === 'object' && doc !== null && typeof doc['Message'] === 'string') return { messageId: String(doc['MessageId'] ?? 'unknown'), body: doc['Message'] };
  } catch {
    // STREAM: the body as published (base64), not JSON.
  }
  return { messageId: 'stream', body: text };
}

/** A target's URL and secret from the environment; an error names the variable, never its value. */
export function resolveTarget(env: Readonly<Record<string, string | undefined>>, target: NotifyTarget): ReturnType<NotifierDeps['resolve']> {
  const url = env[target.urlEnv] ?? '';
  if (url.trim() === '') return { ok: false, error: `${target.urlEnv} is not set in the notifier's environment: set it to the ${target.type} webhook URL (s.yaml notifier environmentVariables)` };
  if (!/^https?:\/\//.test(url) || !URL.canParse(url)) return { ok: false, error: `${target.urlEnv} does not hold an http(s) URL: set it to the ${target.type} webhook URL` };
  if (target.secretEnv === undefined) return { ok: true, url };
  const secret = env[target.secretEnv] ?? '';
  if (secret === '') return { ok: false, error: `${target.secretEnv} is not set in the notifier's environment: set it to the ${target.type} signing secret` };
  return { ok: true, url, secret };
}

/** The default retry policy with its waits scaled (TIME_SCALE: only the local cloud sets it below 1). */
function scaledPolicy(timeScale: number): NotifyRetryPolicy {
  const p = DefaultNotifyRetryPolicy;
  return { ...p, initialMs: p.initialMs * timeScale, maxMs: p.maxMs * timeScale };
}

export function createNotifierFunction(deps: NotifierFunctionDeps) {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  return async function handler(event: Buffer | string, context: StepFunctionContext): Promise<NoticeReport> {
    const { queue, ledger, http } = deps.ports(context);
    const { messageId, body } = decodeTopicEvent(event);
    const report = await deliverNotice(body, {
      groups: deps.config.groups,
      ledger,
      http,
      clock,
      resolve: (t) => resolveTarget(deps.env, t),
      deadLetter: async (b) => void (await queue.send(deps.config.queues.deadLetter, b)),
      holder: `${messageId}/${context.requestId ?? 'local'}`,
      policy: deps.policy ?? scaledPolicy(deps.config.timeScale),
      log: (line) => log({ ...line, requestId: context.requestId, messageId }),
    });
    if (report.kind === 'delivered') {
      const busy = report.targets.filter((t) => t.kind === 'inFlight');
      if (busy.length > 0) throw new NoticeInFlight(`${report.operationId}: ${busy.map((t) => `${t.type}#${t.index}`).join(', ')} being sent by another delivery; the trigger looks again later`);
    }
    return report;
  };
}

/** The handler FC calls, built from the environment once per instance (as the step functions). */
export function notifierHandlerFromEnvironment() {
  const config = loadConfig(process.env, groupsYaml);
  let credentials: EcsCredentials | undefined;
  let clients: { queue: QueuePort; ledger: LedgerPort; http: HttpPort } | undefined;
  const current = (): EcsCredentials => {
    if (credentials === undefined) throw new Error('no invocation context yet');
    return credentials;
  };
  return createNotifierFunction({
    config,
    env: process.env,
    ports(context) {
      credentials = fromFcContext(context);
      if (clients === undefined) {
        const regionId = context.region ?? process.env.FC_REGION ?? '';
        const accountId = context.accountId ?? process.env.FC_ACCOUNT_ID ?? '';
        if (regionId === '' || accountId === '') throw new Error('FC context has no region or accountId');
        clients = {
          queue: new MnsQueues({ endpoint: config.mnsEndpoint(accountId, regionId), accountId, credentials: current }),
          ledger: new TablestoreLedger({ endpoint: config.ledger.endpoint(regionId), instanceName: config.ledger.instanceName, credentials: current }),
          http: fetchHttp,
        };
      }
      return clients;
    },
  });
}
