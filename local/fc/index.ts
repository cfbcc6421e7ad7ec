import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EventEmitter } from 'node:events';
import { MnsQueues } from '../../cloud/mns';
import type { Keyring } from '../credentials';
import { systemTimerClock, type TimerClock } from './clock';
import { InvocationControl, type LocalFcControl } from './control';
import { LocalFcError } from './errors';
import { FunctionRuntime, newRequestId, type InstanceStartup, type InvocationResult } from './function-runtime';
import { startHttpServer } from './http-server';
import { busCloudEvent, EventBusRule, type BusDelivery, type BusEventInput, type EventBusReport } from './event-bus';
import { MnsTriggerConsumer, type MnsQueueClient, type MnsTriggerReport } from './mns-trigger';
import { topicEventFromPush, topicSubscriptionOf, TopicPushPath, verifyMnsPush } from './topic-trigger';
import { loadSYaml, type FunctionSpec, type HttpTrigger, type MnsTopicTrigger, type SYamlModel, type TimerTrigger } from './syaml';
import { TimerSchedule, timerEvent } from './timer-trigger';

export { ManualClock, systemTimerClock, type TimerClock } from './clock';
export { parseSchedule, formatTriggerTime } from './cron';
export { SYamlError, LocalFcError, FcErrorType, FcApiError } from './errors';
export {
  InjectedFailurePhase,
  type FailSpec,
  type Hold,
  type HoldSpec,
  type InjectedFailure,
  type InvocationMatcher,
  type LocalFcControl,
} from './control';
export { InvocationOutcome, type InvocationResult, type FunctionErrorBody } from './function-runtime';
export { mnsCloudEvent, mnsTriggerPayload, RetryPolicies, type MnsCloudEvent, type MnsQueueClient, type ReceivedMnsMessage } from './mns-trigger';
export type { HttpTriggerEvent } from './http-server';
export { busCloudEvent, busTriggerPayload, BusDeliveryOutcome, type BusCloudEvent, type BusEventInput, type BusDelivery } from './event-bus';
export { parseEventPattern, matchesEventPattern, EventPatternError, type EventPattern } from './event-pattern';
export type { TimerEvent } from './timer-trigger';
export {
  loadSYaml,
  Fc3TriggerTypes,
  LocallySupportedTriggerTypes,
  PushRetryStrategy,
  ErrorsTolerance,
  DeliveryMode,
  EventSchema,
  type SYamlModel,
  type FunctionSpec,
  type TriggerSpec,
  type MnsQueueTrigger,
  type EventBusTrigger,
  EventSourceType,
  type TimerTrigger,
  type HttpTrigger,
  type MnsTopicTrigger,
  type LoadSYamlOptions,
} from './syaml';

export interface StartLocalFcOptions {
  readonly sYamlPath: string;
  /** Override s.yaml's top-level `vars` (key by key). */
  readonly vars?: Record<string, unknown>;
  readonly keyring: Keyring;
  readonly accountId: string;
  readonly regionId: string;
  readonly mns: { readonly endpoint: string; readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string } };
  /**
   * The queues that exist (the local cloud creates them). Every eventbridge trigger's QueueName and
   * dead-letter queue must be one of them: s.yaml has no place to declare queues (fc3 only references
   * them), so the list comes from whoever creates them.
   */
  readonly queues: readonly string[];
  /** Added to every instance's environment after the function's environmentVariables (wins on a clash). */
  readonly extraEnv?: Record<string, string>;
  /** Multiplies EventBridge retry intervals and batch windows (0.001 turns 10-20 s into 10-20 ms). Default 1. */
  readonly timeScale?: number;
  /** Port of the invoke API and HTTP triggers; default ephemeral. */
  readonly port?: number;
  /** Receives one JSON line per invocation; default stdout. */
  readonly logSink?: (line: string) => void;
  /** Receives the functions' own log lines (`<time> <requestId> [LEVEL] msg`); default: logSink. */
  readonly functionLogSink?: (line: string) => void;
  /** Default 4. */
  readonly maxInstancesPerFunction?: number;
  /** The clock timer triggers run on; pass a {@link ManualClock} to fire cron times without waiting. */
  readonly clock?: TimerClock;
  /** Replaces the MNS client built from `mns` (tests of the consumer itself). */
  readonly mnsClient?: MnsQueueClient;
  /** Long-poll wait of idle queue consumers, seconds (default 1); close() waits at most about this long. */
  readonly pollWaitSeconds?: number;
}

/** One structured line per invocation (also emitted as the `invocation` event). */
export interface InvocationRecord {
  readonly time: string;
  readonly function: string;
  /** Trigger name, `api`, `api:async`, or `direct` for {@link LocalFc.invoke}. */
  readonly trigger: string;
  readonly triggerType: string;
  readonly requestId: string;
  readonly durationMs: number;
  readonly outcome: InvocationResult['outcome'];
  readonly error?: string;
  readonly attempt?: number;
  readonly messageIds?: readonly string[];
  /** Of the whole invocation, the handler's own run (the rest waited for the instance to start). */
  readonly handlerMs: number;
  /** Set when this invocation started its instance (on demand): the start's cost (function-runtime.ts). */
  readonly coldStart?: InstanceStartup;
  /** Queue triggers: from the message's enqueue to its invocation (EventBridge's pickup). */
  readonly pickupMs?: number;
}

/**
 * Events of {@link LocalFc.events}:
 *   'invocation' (InvocationRecord, InvocationResult)   every invocation, whatever started it
 *   'log' ({functionName, requestId, line})              every log line a function wrote
 *   'deadLettered' | 'dropped' | 'blocked' | 'consumerError' ({functionName, triggerName, ...report})
 *                                                        MNS-queue triggers and default-bus rules alike
 */
export interface LocalFc {
  /** `http://127.0.0.1:PORT`: the FC 3.0 API endpoint (`127.0.0.1:PORT` for the SDK's `endpoint`). */
  readonly endpoint: string;
  /** functionName -> base URL of its HTTP trigger (`${endpoint}/${functionName}`). */
  readonly httpTriggers: Record<string, string>;
  readonly functions: string[];
  readonly model: SYamlModel;
  readonly events: EventEmitter;
  /**
   * Invokes in-process (no signature), resolving when the invocation ended; a function failure is a
   * result (`ok: false`), an unknown function throws {@link LocalFcError}. `trigger` labels the record.
   */
  invoke(name: string, payload: Buffer | string | object, opts?: { trigger?: string }): Promise<InvocationResult>;
  /** Fires a timer trigger now (or as if at `atMs`), whether or not it is enabled; resolves with the result. */
  fireTimer(functionName: string, triggerName: string, atMs?: number): Promise<InvocationResult>;
  /**
   * Puts an event on EventBridge's default bus (`PutEvents`): every enabled `eventbridge` trigger with
   * `eventSourceType: Default` whose `eventRuleFilterPattern` matches it gets it, as a CloudEvent (an
   * array in event-streaming mode, only `data` with RawData), with the trigger's retries and dead-letter
   * queue. Resolves when every matching rule is done with the event, one {@link BusDelivery} each (none
   * when nothing matched). The bus fills `id`, `time`, `specversion` and the `aliyun*` attributes.
   */
  publishEvent(event: BusEventInput): Promise<BusDelivery[]>;
  /** Publishes to an MNS topic: every mns_topic trigger on it (and matching filterTag) is invoked. */
  publishToTopic(topicName: string, message: string, opts?: { messageTag?: string; attributes?: Record<string, string> }): Promise<InvocationResult[]>;
  /** Instances alive per function (for tests of instance reuse and replacement). */
  instanceCount(functionName: string): number;
  /** How each live instance of the function started: provisioned ahead of events or on demand, and its start's cost. */
  instanceStartups(functionName: string): ReturnType<FunctionRuntime['startups']>;
  /** Default-bus events not yet delivered for good (buffered, being delivered, or waiting to be retried). */
  pendingBusEvents(): number;
  /** Invocations of any function started and not yet ended (a test's "is anything still running?"). */
  invocationsInProgress(): number;
  /** Control hooks (test devices): hold and release invocations, fail one before or after its handler. */
  readonly control: LocalFcControl;
  /** Stops timers and queue consumers, closes the HTTP server, terminates every worker. */
  close(): Promise<void>;
}

/**
 * Starts the local Function Compute runtime for an s.yaml. Guarantees on return: the s.yaml is valid
 * ({@link loadSYaml} with `queues`), the HTTP server listens, timers are armed and queue consumers run,
 * and every function's minimum instances (scalingConfig.minInstances, provisionConfig.defaultTarget) are
 * running and initialized - an instance FC keeps warm is started when it is deployed, not on the first event.
 */
export async function startLocalFc(options: StartLocalFcOptions): Promise<LocalFc> {
  const model = await loadSYaml(options.sYamlPath, options.vars ?? {}, { queues: options.queues, runtimeEnv: options.extraEnv ?? {} });
  const events = new EventEmitter();
  const sink = options.logSink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const functionSink = options.functionLogSink ?? sink;
  const timeScale = options.timeScale ?? 1;
  const clock = options.clock ?? systemTimerClock;
  const maxInstances = options.maxInstancesPerFunction ?? 4;

  const runtimes = new Map<string, FunctionRuntime>();
  const control = new InvocationControl((name) => runtimes.has(name));
  for (const spec of model.functions) {
    runtimes.set(
      spec.functionName,
      new FunctionRuntime({
        spec,
        base: {
          accountId: options.accountId,
          region: options.regionId,
          mintCredentials: () => {
            const k = options.keyring.mintSts();
            return { accessKeyId: k.accessKeyId, accessKeySecret: k.accessKeySecret, securityToken: k.securityToken };
          },
        },
        extraEnv: options.extraEnv ?? {},
        // The function's reserved concurrency caps its instances, as in FC; else the runtime's default.
        maxInstances: spec.reservedConcurrency === undefined ? maxInstances : Math.ceil(spec.reservedConcurrency / spec.instanceConcurrency),
        onLog: (line, requestId) => {
          functionSink(line);
          events.emit('log', { functionName: spec.functionName, requestId, line });
        },
        intercept: (event) => control.intercept(spec.functionName, event),
      }),
    );
  }

  // Minimum instances start at deploy time; one that fails to start is said loudly, as FC's currentError is.
  await Promise.all(
    [...runtimes.values()].map(async (r) => {
      const { failed } = await r.provision();
      for (const error of failed) {
        const line = { level: 'ERROR', time: new Date().toISOString(), function: r.spec.functionName, kind: 'provisionFailed', error: `${error.errorType}: ${error.errorMessage}` };
        sink(JSON.stringify(line));
        process.stderr.write(`[local-fc] PROVISION FAILED ${r.spec.functionName}: ${line.error}\n`);
      }
    }),
  );

  const runtimeOf = (name: string): FunctionRuntime => {
    const r = runtimes.get(name);
    if (r === undefined) throw new LocalFcError(`no function "${name}" in ${model.file} (functions: ${[...runtimes.keys()].join(', ')})`);
    return r;
  };

  const record = (result: InvocationResult, how: { trigger: string; triggerType: string; attempt?: number; messageIds?: string[]; pickupMs?: number }): void => {
    const rec: InvocationRecord = {
      time: new Date().toISOString(),
      function: result.functionName,
      trigger: how.trigger,
      triggerType: how.triggerType,
      requestId: result.requestId,
      durationMs: result.durationMs,
      handlerMs: result.handlerMs,
      ...(result.coldStart === undefined ? {} : { coldStart: result.coldStart }),
      ...(how.pickupMs === undefined ? {} : { pickupMs: how.pickupMs }),
      outcome: result.outcome,
      ...(result.error === undefined ? {} : { error: `${result.error.errorType}: ${result.error.errorMessage}` }),
      ...(how.attempt === undefined ? {} : { attempt: how.attempt }),
      ...(how.messageIds === undefined ? {} : { messageIds: how.messageIds }),
    };
    sink(JSON.stringify(rec));
    events.emit('invocation', rec, result);
  };

  const run = async (name: string, event: Buffer, how: { trigger: string; triggerType: string; requestId?: string; attempt?: number; messageIds?: string[]; quiet?: boolean }): Promise<InvocationResult> => {
    const result = await runtimeOf(name).invoke(event, how.requestId ?? newRequestId());
    if (how.quiet !== true) record(result, how);
    return result;
  };

  // --- HTTP: invoke API and HTTP triggers
  const httpTriggerOf = (name: string): HttpTrigger | undefined =>
    runtimes.get(name)?.spec.triggers.find((t): t is HttpTrigger => t.triggerType === 'http');
  const http = await startHttpServer(
    {
      keyring: options.keyring,
      accountId: options.accountId,
      httpTrigger: httpTriggerOf,
      invoke: (name, event, how) => (runtimes.has(name) ? run(name, event, how) : undefined),
      topicPush: (req, path, body) => receiveTopicPush(req, path, body),
    },
    options.port ?? 0,
  );

  // --- MNS topic triggers: subscribe this runtime's push receiver to each topic (topic-trigger.ts)
  const pushTrust = { mnsEndpoint: options.mns.endpoint, keys: new Map<string, KeyObject>() };
  const receiveTopicPush = async (req: IncomingMessage, path: string, body: Buffer): Promise<number> => {
    const [fnName = '', triggerName = ''] = path.slice(TopicPushPath.length).split('?')[0]!.split('/').map(decodeURIComponent);
    const t = runtimes.get(fnName)?.spec.triggers.find((x): x is MnsTopicTrigger => x.triggerType === 'mns_topic' && x.triggerName === triggerName);
    if (t === undefined) return 404;
    const check = await verifyMnsPush({ method: req.method ?? 'POST', path, headers: req.headers, body }, pushTrust);
    if (!check.ok) {
      sink(JSON.stringify({ level: 'ERROR', time: new Date().toISOString(), function: fnName, trigger: triggerName, triggerType: 'mns_topic', kind: 'pushRefused', why: check.why }));
      return check.status;
    }
    const result = await run(fnName, topicEventFromPush(t, body), { trigger: t.triggerName, triggerType: 'mns_topic' });
    // HttpEndpoint: 204 is "handled"; anything else makes MNS push again by the subscription's NotifyStrategy.
    return result.ok ? 204 : 500;
  };
  const topicTriggers = model.functions.flatMap((spec) => spec.triggers.filter((t): t is MnsTopicTrigger => t.triggerType === 'mns_topic').map((t) => ({ spec, t })));
  if (topicTriggers.length > 0) {
    const mnsApi = new MnsQueues({ endpoint: options.mns.endpoint, accountId: options.accountId, regionId: options.regionId, credentials: { ...options.mns.credentials } });
    for (const { spec, t } of topicTriggers) {
      try {
        await mnsApi.subscribe(t.topicName, topicSubscriptionOf(spec.functionName, t, http.endpoint));
      } catch (err) {
        await http.close();
        throw new LocalFcError(`${spec.functionName}/${t.triggerName}: cannot subscribe to MNS topic ${t.topicName} (${(err as Error).message}); create the topic first (s.yaml vars.topics), as the cloud needs it before fc3 deploys the trigger`);
      }
    }
  }

  // --- timers
  const schedules: TimerSchedule[] = [];
  const timerOf = (fn: FunctionSpec, triggerName: string): TimerTrigger => {
    const t = fn.triggers.find((x): x is TimerTrigger => x.triggerType === 'timer' && x.triggerName === triggerName);
    if (t === undefined) throw new LocalFcError(`function "${fn.functionName}" has no timer trigger "${triggerName}"`);
    return t;
  };
  for (const spec of model.functions) {
    for (const t of spec.triggers) {
      if (t.triggerType !== 'timer') continue;
      schedules.push(
        new TimerSchedule(t, clock, (event) =>
          run(spec.functionName, Buffer.from(JSON.stringify(event)), { trigger: t.triggerName, triggerType: 'timer' }),
        ),
      );
    }
  }

  /** What became of a message or event other than an invocation; losing or parking one is said loudly. */
  const reportTriggerEvent = (functionName: string, triggerName: string, r: { kind: string }): void => {
    const line = { time: new Date().toISOString(), function: functionName, trigger: triggerName, triggerType: 'eventbridge', ...r };
    const loud = r.kind === 'dropped' || r.kind === 'blocked' || r.kind === 'consumerError';
    sink(JSON.stringify(loud ? { level: 'ERROR', ...line } : line));
    if (loud) process.stderr.write(`[local-fc] ${r.kind.toUpperCase()} ${functionName}/${triggerName}: ${JSON.stringify(r)}\n`);
    events.emit(r.kind, { functionName, triggerName, ...r });
  };

  // --- MNS queue triggers (EventBridge)
  const mnsClient: MnsQueueClient =
    options.mnsClient ?? new MnsQueues({ endpoint: options.mns.endpoint, accountId: options.accountId, credentials: { ...options.mns.credentials } });
  const consumers: MnsTriggerConsumer[] = [];
  for (const spec of model.functions) {
    for (const t of spec.triggers) {
      if (t.triggerType !== 'eventbridge') continue;
      const report = (r: MnsTriggerReport): void =>
        r.kind === 'delivered' || r.kind === 'failedAttempt'
          ? record(r.result, { trigger: t.triggerName, triggerType: 'eventbridge', attempt: r.attempt, messageIds: r.messageIds, ...(r.kind === 'delivered' && r.pickupMs !== undefined ? { pickupMs: r.pickupMs } : {}) })
          : reportTriggerEvent(spec.functionName, t.triggerName, r);
      const consumer = new MnsTriggerConsumer({
        functionName: spec.functionName,
        trigger: t,
        accountId: options.accountId,
        regionId: options.regionId,
        client: mnsClient,
        invoke: (event) => runtimeOf(spec.functionName).invoke(event),
        functionTimeoutSeconds: spec.timeout,
        timeScale,
        concurrency: Math.max(1, Math.min(spec.reservedConcurrency ?? maxInstances * spec.instanceConcurrency, 16)),
        pollWaitSeconds: options.pollWaitSeconds ?? 1,
        report,
      });
      consumer.start();
      consumers.push(consumer);
    }
  }

  // --- EventBridge default-bus rules (eventbridge triggers with eventSourceType Default)
  const rules: EventBusRule[] = [];
  for (const spec of model.functions) {
    for (const t of spec.triggers) {
      if (t.triggerType !== 'eventbus') continue;
      const report = (r: EventBusReport): void =>
        r.kind === 'delivered' || r.kind === 'failedAttempt'
          ? record(r.result, { trigger: t.triggerName, triggerType: 'eventbridge', attempt: r.attempt, messageIds: r.eventIds })
          : reportTriggerEvent(spec.functionName, t.triggerName, r);
      rules.push(
        new EventBusRule({
          functionName: spec.functionName,
          trigger: t,
          invoke: (event) => runtimeOf(spec.functionName).invoke(event),
          client: mnsClient,
          timeScale,
          report,
        }),
      );
    }
  }

  const httpTriggers: Record<string, string> = {};
  for (const spec of model.functions) if (httpTriggerOf(spec.functionName) !== undefined) httpTriggers[spec.functionName] = `${http.endpoint}/${spec.functionName}`;

  let closed = false;
  return {
    endpoint: http.endpoint,
    httpTriggers,
    functions: model.functions.map((f) => f.functionName),
    model,
    events,
    async invoke(name, payload, opts = {}) {
      const event = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
      const how = { trigger: opts.trigger ?? 'direct', triggerType: 'direct' };
      return run(name, event, how);
    },
    async fireTimer(functionName, triggerName, atMs) {
      const spec = runtimeOf(functionName).spec;
      const t = timerOf(spec, triggerName);
      return run(functionName, Buffer.from(JSON.stringify(timerEvent(t, atMs ?? clock.now()))), { trigger: t.triggerName, triggerType: 'timer' });
    },
    async publishEvent(input) {
      if (closed) throw new LocalFcError('the local FC runtime is closed');
      const event = busCloudEvent(input, { accountId: options.accountId, regionId: options.regionId });
      return Promise.all(rules.filter((r) => r.matches(event)).map((r) => r.offer(event)));
    },
    async publishToTopic(topicName, message, opts = {}) {
      const results: Promise<InvocationResult>[] = [];
      const messageId = randomBytes(16).toString('hex').toUpperCase();
      for (const spec of model.functions) {
        for (const t of spec.triggers) {
          if (t.triggerType !== 'mns_topic' || t.topicName !== topicName) continue;
          if (t.filterTag !== undefined && t.filterTag !== opts.messageTag) continue;
          const event = topicEvent(t, topicName, message, messageId, opts.attributes, options);
          results.push(run(spec.functionName, event, { trigger: t.triggerName, triggerType: 'mns_topic' }));
        }
      }
      return Promise.all(results);
    },
    instanceCount: (name) => runtimeOf(name).instanceCount,
    instanceStartups: (name) => runtimeOf(name).startups(),
    pendingBusEvents: () => rules.reduce((n, r) => n + r.pending(), 0),
    invocationsInProgress: () => [...runtimes.values()].reduce((n, r) => n + r.inProgress, 0),
    control,
    async close() {
      if (closed) return;
      closed = true;
      // Held invocations would keep consumers (and so close) waiting: let them go; they end RuntimeClosed
      // or run, whichever the runtime's state allows.
      control.reset();
      for (const s of schedules) s.stop();
      await Promise.all([...consumers.map((c) => c.stop()), ...rules.map((r) => r.stop())]);
      await http.close();
      await Promise.all([...runtimes.values()].map((r) => r.close()));
    },
  };
}

/**
 * The mns_topic trigger event (function-compute.md): STREAM is the raw message, or `{body, attrs}` when
 * the message has attributes; JSON is the MNS notification document.
 */
function topicEvent(
  t: MnsTopicTrigger,
  topicName: string,
  message: string,
  messageId: string,
  attributes: Record<string, string> | undefined,
  options: StartLocalFcOptions,
): Buffer {
  if (t.notifyContentFormat === 'STREAM') {
    return Buffer.from(attributes === undefined ? message : JSON.stringify({ body: message, attrs: attributes }));
  }
  return Buffer.from(
    JSON.stringify({
      TopicOwner: options.accountId,
      Message: message,
      Subscriber: options.accountId,
      PublishTime: Date.now(),
      SubscriptionName: t.triggerName,
      MessageMD5: createHash('md5').update(message).digest('hex').toUpperCase(),
      TopicName: topicName,
      MessageId: messageId,
    }),
  );
}
