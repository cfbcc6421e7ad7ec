import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { parse } from 'yaml';
import { SYamlError } from './errors';
import { parseSchedule, type Schedule } from './cron';
import { resolveReferences, UnresolvedReferenceError } from './vars';
import { EventPatternError, parseEventPattern, type EventPattern } from './event-pattern';

/**
 * The model of an s.yaml (Serverless Devs edition 3.0.0, component fc3) that the local runtime runs, and
 * `loadSYaml`, which parses, resolves and validates it. Every refusal is an {@link SYamlError} naming the
 * YAML path (`resources.<key>.props.<field>`) of the value at fault.
 */

/** Trigger types the fc3 component accepts (function-compute.md); the local runtime runs four of them. */
export const Fc3TriggerTypes = ['cdn_events', 'eventbridge', 'http', 'log', 'mns_topic', 'oss', 'tablestore', 'timer'] as const;
export const LocallySupportedTriggerTypes = ['eventbridge', 'timer', 'http', 'mns_topic'] as const;

/** EventBridge push retry strategies (EventBridge "Retry policies and dead-letter queues"). */
export const PushRetryStrategy = {
  /** 3 retries, a random 10-20 s apart. The default. */
  BackoffRetry: 'BACKOFF_RETRY',
  /** 176 retries: 1 s doubling to 512 s, then 512 s, about one day in all. */
  ExponentialDecayRetry: 'EXPONENTIAL_DECAY_RETRY',
} as const;
export type PushRetryStrategy = (typeof PushRetryStrategy)[keyof typeof PushRetryStrategy];

/** After the retries: ALL = skip the event (to the DLQ if any, else drop); NONE = block the stream. */
export const ErrorsTolerance = { All: 'ALL', None: 'NONE' } as const;
export type ErrorsTolerance = (typeof ErrorsTolerance)[keyof typeof ErrorsTolerance];

export const DeliveryMode = { EventStreaming: 'event-streaming', EventDriven: 'event-driven' } as const;
export type DeliveryMode = (typeof DeliveryMode)[keyof typeof DeliveryMode];

export const EventSchema = { CloudEvents: 'CloudEvents', RawData: 'RawData' } as const;
export type EventSchema = (typeof EventSchema)[keyof typeof EventSchema];

export interface MnsQueueTrigger {
  readonly triggerType: 'eventbridge';
  readonly triggerName: string;
  readonly enabled: boolean;
  readonly queueName: string;
  readonly isBase64Decode: boolean;
  readonly mode: DeliveryMode;
  readonly eventSchema: EventSchema;
  readonly retryStrategy: PushRetryStrategy;
  readonly errorsTolerance: ErrorsTolerance;
  /** Queue name parsed from runOptions.deadLetterQueue.Arn. */
  readonly deadLetterQueue?: string;
  /** event-streaming only: deliver when this many events are buffered (CountBasedWindow). */
  readonly batchCount: number;
  /** event-streaming only: or when this many seconds passed since the first buffered event (TimeBasedWindow). */
  readonly batchWindowSeconds: number;
}

export interface TimerTrigger {
  readonly triggerType: 'timer';
  readonly triggerName: string;
  readonly enabled: boolean;
  readonly schedule: Schedule;
  readonly payload: string;
}

export const HttpAuthType = { Anonymous: 'anonymous', Function: 'function' } as const;
export type HttpAuthType = (typeof HttpAuthType)[keyof typeof HttpAuthType];

export interface HttpTrigger {
  readonly triggerType: 'http';
  readonly triggerName: string;
  readonly authType: HttpAuthType;
  /** Upper-case methods the trigger accepts. */
  readonly methods: readonly string[];
}

export interface MnsTopicTrigger {
  readonly triggerType: 'mns_topic';
  readonly triggerName: string;
  readonly topicName: string;
  readonly notifyContentFormat: 'STREAM' | 'JSON';
  /** How MNS retries a push the function failed (fc3 triggerConfig.notifyStrategy; default BACKOFF_RETRY). */
  readonly notifyStrategy: 'BACKOFF_RETRY' | 'EXPONENTIAL_DECAY_RETRY';
  readonly filterTag?: string;
}

/**
 * EventBridge event source types the local runtime runs: `MNS` (a queue, {@link MnsQueueTrigger}) and
 * `Default` (a rule on the default event bus, where Alibaba Cloud services such as ECS publish their events,
 * {@link EventBusTrigger}). The fc3 shape of the latter is the component's own e2e example
 * (devsapp/fc3 __tests__/e2e/trigger/eb/s.yaml, trigger `defaultTrigger`): `eventSourceConfig:
 * {eventSourceType: Default}` plus `eventRuleFilterPattern`.
 */
export const EventSourceType = { Mns: 'MNS', DefaultBus: 'Default' } as const;
export type EventSourceType = (typeof EventSourceType)[keyof typeof EventSourceType];

/**
 * An s.yaml `eventbridge` trigger with `eventSourceType: Default`: a rule on the default event bus whose
 * `eventRuleFilterPattern` selects the events (local/fc/event-pattern.ts); events arrive through
 * `LocalFc.publishEvent`. Its model `triggerType` is `eventbus`, so code that reads MNS-queue triggers off
 * `eventbridge` (queue checks, consumers) never mistakes a bus rule for a queue. Delivery options, retries
 * and dead-letter queue are read exactly as for an MNS source.
 */
export interface EventBusTrigger {
  readonly triggerType: 'eventbus';
  readonly triggerName: string;
  readonly enabled: boolean;
  readonly pattern: EventPattern;
  /** The pattern as written in s.yaml (JSON text). */
  readonly patternText: string;
  readonly mode: DeliveryMode;
  readonly eventSchema: EventSchema;
  readonly retryStrategy: PushRetryStrategy;
  readonly errorsTolerance: ErrorsTolerance;
  readonly deadLetterQueue?: string;
  readonly batchCount: number;
  readonly batchWindowSeconds: number;
}

export type TriggerSpec = MnsQueueTrigger | EventBusTrigger | TimerTrigger | HttpTrigger | MnsTopicTrigger;

export interface FunctionSpec {
  /** The key under `resources:`. */
  readonly resourceKey: string;
  readonly functionName: string;
  readonly region: string;
  readonly runtime: 'nodejs20';
  /** Absolute code directory. */
  readonly codeDir: string;
  readonly handler: string;
  /** Absolute path of the handler module and the export called. */
  readonly handlerFile: string;
  readonly handlerExport: string;
  readonly memorySize: number;
  /** Seconds. */
  readonly timeout: number;
  readonly instanceConcurrency: number;
  /**
   * `concurrencyConfig.reservedConcurrency`: the most requests the function serves at once, provisioned and
   * on-demand instances together (FC 3.0 PutConcurrencyConfig, struct PutConcurrencyInput
   * https://www.alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-putconcurrencyinput;
   * ROS ALIYUN::FC3::ConcurrencyConfig caps it at 300). The fc3 prop name mirrors the API struct (**unsure**:
   * not checked against the fc3 component's schema). The local runtime runs at most
   * ceil(reservedConcurrency / instanceConcurrency) instances of it.
   */
  readonly reservedConcurrency?: number;
  readonly environmentVariables: Readonly<Record<string, string>>;
  readonly initializer?: { readonly handler: string; readonly export: string; readonly timeout: number };
  /**
   * Where FC sends the function's stdout/stderr (Log Service): 'auto' (fc3 creates or reuses a default
   * project and logstore) or a named project/logstore (FC 3.0 API struct LogConfig,
   * https://help.aliyun.com/zh/functioncompute/api-fc-2023-03-30-struct-logconfig). The local runtime
   * checks the shape and keeps no Log Service: it has none (invocation logs stay with the invocation).
   */
  readonly logConfig?: 'auto' | { readonly project: string; readonly logstore: string };
  /**
   * Instances kept running ahead of events: the larger of `scalingConfig.minInstances` (FC 3.0's minimum
   * number of instances, "Configure elastic policies for the minimum number of instances",
   * help.aliyun.com/en/functioncompute/fc/configure-launch-snapshot-and-auto-scaling-rules) and
   * `provisionConfig.defaultTarget` (provisioned instances, API struct PutProvisionConfigInput,
   * alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-putprovisionconfiginput); fc3 deploys
   * both props (devsapp/fc3 src/subCommands/deploy/impl/{scaling,provision}_config.ts). 0 when neither is set.
   */
  readonly minInstances: number;
  readonly triggers: readonly TriggerSpec[];
  /** The resolved props, for checks this model does not cover. */
  readonly props: Readonly<Record<string, unknown>>;
}

export interface SYamlModel {
  readonly file: string;
  readonly dir: string;
  readonly name?: string;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly functions: readonly FunctionSpec[];
}

export interface LoadSYamlOptions {
  /** Queue names that exist; when given, every MNS trigger's QueueName and dead-letter queue must be one. */
  readonly queues?: readonly string[];
  /** Environment for ${env(...)}; default process.env. */
  readonly env?: Record<string, string | undefined>;
  /**
   * Load each handler module in a throwaway worker to check that the export (and initializer) is a
   * function. Default true. The module never loads in the caller's isolate.
   */
  readonly checkExports?: boolean;
  /**
   * Added after each function's environmentVariables in the export check's worker, as the runtime adds
   * its `extraEnv` to every instance: a module that reads the environment at load sees what it will run with.
   */
  readonly runtimeEnv?: Readonly<Record<string, string>>;
}

/**
 * Reads, resolves and validates an s.yaml. `vars` override the file's top-level `vars` (key by key).
 * Guarantees: every function is `nodejs20`, its code directory and handler file exist (and, unless
 * `checkExports: false`, the handler/initializer exports are functions), every trigger is one the local
 * runtime runs, and with `queues` given every referenced queue is in that list.
 */
export async function loadSYaml(
  sYamlPath: string,
  vars: Record<string, unknown> = {},
  options: LoadSYamlOptions = {},
): Promise<SYamlModel> {
  const file = resolve(sYamlPath);
  const dir = dirname(file);
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SYamlError(file, '(file)', `cannot be read as YAML: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new SYamlError(file, '(root)', 'is not a YAML map');
  if (String(doc['edition'] ?? '') !== '3.0.0') {
    throw new SYamlError(file, 'edition', `is "${String(doc['edition'] ?? '')}"; the local runtime reads edition 3.0.0 (component fc3)`);
  }
  const rawVars = { ...(isRecord(doc['vars']) ? doc['vars'] : {}), ...vars };
  const rawResources = doc['resources'];
  if (!isRecord(rawResources)) throw new SYamlError(file, 'resources', 'is missing or not a map');

  const scope = { vars: rawVars, env: options.env ?? process.env, resources: rawResources };
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof UnresolvedReferenceError) throw new SYamlError(file, err.at, err.message);
      throw err;
    }
  };
  const resolvedVars = wrap(() => resolveReferences(rawVars, scope, 'vars')) as Record<string, unknown>;

  const functions: FunctionSpec[] = [];
  for (const [key, resource] of Object.entries(rawResources)) {
    const at = `resources.${key}`;
    if (!isRecord(resource)) throw new SYamlError(file, at, 'is not a map');
    if (resource['component'] !== 'fc3') {
      throw new SYamlError(file, `${at}.component`, `is "${String(resource['component'])}"; the local runtime runs only fc3 resources`);
    }
    const props = wrap(() => resolveReferences(resource['props'], scope, `${at}.props`, key));
    if (!isRecord(props)) throw new SYamlError(file, `${at}.props`, 'is missing or not a map');
    functions.push(validateFunction(file, dir, `${at}.props`, key, props, options.queues));
  }
  const names = new Set<string>();
  for (const fn of functions) {
    if (names.has(fn.functionName)) throw new SYamlError(file, `resources.${fn.resourceKey}.props.functionName`, `"${fn.functionName}" is declared twice`);
    names.add(fn.functionName);
  }
  if (options.checkExports ?? true) {
    for (const fn of functions) await checkExports(file, fn, options.runtimeEnv ?? {});
  }
  return { file, dir, name: typeof doc['name'] === 'string' ? doc['name'] : undefined, vars: resolvedVars, functions };
}

function validateFunction(
  file: string,
  dir: string,
  at: string,
  resourceKey: string,
  props: Record<string, unknown>,
  queues: readonly string[] | undefined,
): FunctionSpec {
  const fail = (field: string, problem: string): never => {
    throw new SYamlError(file, `${at}.${field}`, problem);
  };
  const str = (field: string): string => {
    const v = props[field];
    if (typeof v !== 'string' || v === '') return fail(field, 'is required (a non-empty string)');
    return v;
  };
  const functionName = str('functionName');
  if (!/^[a-zA-Z_][a-zA-Z0-9_-]{0,127}$/.test(functionName)) {
    fail('functionName', `"${functionName}" is not a valid FC function name (letters, digits, _ and -, starting with a letter or _)`);
  }
  const region = str('region');
  const runtime = str('runtime');
  if (runtime !== 'nodejs20') fail('runtime', `is "${runtime}"; the local runtime runs only nodejs20`);

  const codeDir = resolve(dir, str('code'));
  if (!existsSync(codeDir) || !statSync(codeDir).isDirectory()) fail('code', `directory ${codeDir} does not exist (build the functions first?)`);

  const handler = str('handler');
  const handlerRef = parseHandler(handler);
  if (handlerRef === undefined) fail('handler', `"${handler}" is not <file>.<export>`);
  const handlerFile = join(codeDir, `${handlerRef!.file}.js`);
  if (!existsSync(handlerFile)) fail('handler', `"${handler}" needs ${handlerFile}, which does not exist`);

  const memorySize = num(props['memorySize'], 128, () => fail('memorySize', 'must be a number of MB'));
  if (memorySize < 64 || memorySize > 32768) fail('memorySize', `${memorySize} MB is outside 64-32768`);
  const timeout = num(props['timeout'], 3, () => fail('timeout', 'must be a number of seconds'));
  if (timeout < 1 || timeout > 86400) fail('timeout', `${timeout} s is outside 1-86400`);
  const instanceConcurrency = num(props['instanceConcurrency'], 1, () => fail('instanceConcurrency', 'must be a number'));
  if (!Number.isInteger(instanceConcurrency) || instanceConcurrency < 1 || instanceConcurrency > 200) {
    fail('instanceConcurrency', `${instanceConcurrency} is outside 1-200`);
  }

  let reservedConcurrency: number | undefined;
  const concurrency = props['concurrencyConfig'];
  if (concurrency !== undefined && concurrency !== null) {
    if (!isRecord(concurrency)) fail('concurrencyConfig', 'must be a map ({reservedConcurrency: N})');
    const raw = (concurrency as Record<string, unknown>)['reservedConcurrency'];
    if (raw === undefined || raw === null) fail('concurrencyConfig.reservedConcurrency', 'is required (the most requests the function serves at once)');
    reservedConcurrency = num(raw, 0, () => fail('concurrencyConfig.reservedConcurrency', 'must be a number'));
    if (!Number.isInteger(reservedConcurrency) || reservedConcurrency < 1 || reservedConcurrency > 300) {
      fail('concurrencyConfig.reservedConcurrency', `${reservedConcurrency} is outside 1-300`);
    }
  }

  const environmentVariables: Record<string, string> = {};
  const env = props['environmentVariables'];
  if (env !== undefined && env !== null) {
    if (!isRecord(env)) fail('environmentVariables', 'must be a map of strings');
    for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
      if (v === null || typeof v === 'object') fail(`environmentVariables.${k}`, 'must be a string (objects are not environment values)');
      environmentVariables[k] = String(v);
    }
  }

  let initializer: FunctionSpec['initializer'];
  const lifecycle = props['instanceLifecycleConfig'];
  if (isRecord(lifecycle) && isRecord(lifecycle['initializer']) && lifecycle['initializer']['handler'] !== undefined) {
    const init = lifecycle['initializer'];
    const initHandler = String(init['handler']);
    const ref = parseHandler(initHandler);
    if (ref === undefined || ref.file !== handlerRef!.file) {
      fail('instanceLifecycleConfig.initializer.handler', `"${initHandler}" must be an export of the handler file ${handlerRef!.file}.js`);
    }
    const initTimeout = num(init['timeout'], timeout, () => fail('instanceLifecycleConfig.initializer.timeout', 'must be seconds'));
    initializer = { handler: initHandler, export: ref!.export, timeout: initTimeout };
  }

  const logConfig = validateLogConfig(props['logConfig'], fail);

  const minInstances = Math.max(
    instanceCount(props['scalingConfig'], 'minInstances', 'scalingConfig.minInstances', fail),
    instanceCount(props['provisionConfig'], 'defaultTarget', 'provisionConfig.defaultTarget', fail),
  );

  const rawTriggers = props['triggers'] ?? [];
  if (!Array.isArray(rawTriggers)) fail('triggers', 'must be a list');
  const triggers = (rawTriggers as unknown[]).map((t, i) => validateTrigger(file, `${at}.triggers[${i}]`, t, queues));
  const triggerNames = new Set<string>();
  triggers.forEach((t, i) => {
    if (triggerNames.has(t.triggerName)) fail(`triggers[${i}].triggerName`, `"${t.triggerName}" is used twice in this function`);
    triggerNames.add(t.triggerName);
  });

  return {
    resourceKey,
    functionName,
    region,
    runtime: 'nodejs20',
    codeDir,
    handler,
    handlerFile,
    handlerExport: handlerRef!.export,
    memorySize,
    timeout,
    instanceConcurrency,
    ...(reservedConcurrency !== undefined ? { reservedConcurrency } : {}),
    ...(logConfig !== undefined ? { logConfig } : {}),
    environmentVariables,
    initializer,
    minInstances,
    triggers,
    props,
  };
}

/** A count of instances under `block[key]` (0 when the block or key is absent); refused unless an integer 0-10000 (the API's range). */
function instanceCount(block: unknown, key: string, field: string, fail: (field: string, problem: string) => never): number {
  if (block === undefined || block === null) return 0;
  if (!isRecord(block)) return fail(field.split('.')[0]!, 'must be a map');
  const v = block[key];
  if (v === undefined || v === null || v === '') return 0;
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isInteger(n) || n < 0 || n > 10000) return fail(field, `"${String(v)}" must be a whole number of instances, 0-10000`);
  return n;
}

function validateTrigger(file: string, at: string, raw: unknown, queues: readonly string[] | undefined): TriggerSpec {
  const fail = (field: string, problem: string): never => {
    throw new SYamlError(file, field === '' ? at : `${at}.${field}`, problem);
  };
  if (!isRecord(raw)) return fail('', 'is not a map');
  const triggerName = raw['triggerName'];
  if (typeof triggerName !== 'string' || triggerName === '') return fail('triggerName', 'is required');
  const type = raw['triggerType'];
  if (typeof type !== 'string' || !(Fc3TriggerTypes as readonly string[]).includes(type)) {
    return fail('triggerType', `"${String(type)}" is not a trigger type fc3 accepts (${Fc3TriggerTypes.join(', ')})`);
  }
  if (!(LocallySupportedTriggerTypes as readonly string[]).includes(type)) {
    return fail('triggerType', `"${type}" is not supported by the local runtime (it runs ${LocallySupportedTriggerTypes.join(', ')})`);
  }
  const config = raw['triggerConfig'];
  if (!isRecord(config)) return fail('triggerConfig', 'is required (a map)');
  const checkQueue = (field: string, name: string): void => {
    if (queues !== undefined && !queues.includes(name)) {
      fail(field, `queue "${name}" is not declared (declared queues: ${queues.join(', ') || 'none'}); add it to the queues the local cloud creates`);
    }
  };

  switch (type) {
    case 'timer': {
      const cron = config['cronExpression'];
      if (typeof cron !== 'string') return fail('triggerConfig.cronExpression', 'is required');
      let schedule: Schedule;
      try {
        schedule = parseSchedule(cron);
      } catch (err) {
        return fail('triggerConfig.cronExpression', (err as Error).message);
      }
      const payload = config['payload'];
      return {
        triggerType: 'timer',
        triggerName,
        enabled: config['enable'] !== false,
        schedule,
        payload: payload === undefined || payload === null ? '' : typeof payload === 'string' ? payload : JSON.stringify(payload),
      };
    }
    case 'http': {
      const authType = config['authType'] ?? 'anonymous';
      if (authType !== 'anonymous' && authType !== 'function') {
        return fail('triggerConfig.authType', `"${String(authType)}" is not supported by the local runtime (anonymous or function)`);
      }
      const methods = config['methods'] ?? ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];
      if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')) return fail('triggerConfig.methods', 'must be a list of HTTP methods');
      return { triggerType: 'http', triggerName, authType, methods: (methods as string[]).map((m) => m.toUpperCase()) };
    }
    case 'mns_topic': {
      const arn = String(raw['sourceArn'] ?? config['topicName'] ?? '');
      const topicName = /(?:^|:\/?)topics\/([^/]+)$/.exec(arn)?.[1] ?? (arn.includes(':') ? undefined : arn || undefined);
      if (topicName === undefined) return fail('sourceArn', `"${arn}" is not an MNS topic ARN (acs:mns:<region>:<account>:/topics/<name>)`);
      const format = config['notifyContentFormat'] ?? 'STREAM';
      if (format !== 'STREAM' && format !== 'JSON') return fail('triggerConfig.notifyContentFormat', `"${String(format)}" is not STREAM or JSON`);
      const strategy = config['notifyStrategy'] ?? 'BACKOFF_RETRY';
      if (strategy !== 'BACKOFF_RETRY' && strategy !== 'EXPONENTIAL_DECAY_RETRY') return fail('triggerConfig.notifyStrategy', `"${String(strategy)}" is not BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY`);
      const filterTag = config['filterTag'];
      if (typeof filterTag === 'string' && filterTag.length > 16) return fail('triggerConfig.filterTag', 'may hold at most 16 characters');
      return { triggerType: 'mns_topic', triggerName, topicName, notifyContentFormat: format, notifyStrategy: strategy, filterTag: typeof filterTag === 'string' && filterTag !== '' ? filterTag : undefined };
    }
    default: {
      // eventbridge
      const source = config['eventSourceConfig'];
      if (!isRecord(source)) return fail('triggerConfig.eventSourceConfig', 'is required');
      const sourceType = source['eventSourceType'];
      if (sourceType !== EventSourceType.Mns && sourceType !== EventSourceType.DefaultBus) {
        return fail(
          'triggerConfig.eventSourceConfig.eventSourceType',
          `"${String(sourceType)}" is not supported by the local runtime (MNS queues, or Default: the default event bus)`,
        );
      }
      const delivery = readDelivery(config, fail, checkQueue);
      const enabled = config['triggerEnable'] !== false;
      if (sourceType === EventSourceType.DefaultBus) {
        const raw = config['eventRuleFilterPattern'];
        if (raw === undefined || raw === null) {
          return fail('triggerConfig.eventRuleFilterPattern', 'is required for the default event bus (e.g. \'{"source":["acs.ecs"]}\'); \'{}\' matches every event');
        }
        const patternText = typeof raw === 'string' ? raw : JSON.stringify(raw);
        let pattern: EventPattern;
        try {
          pattern = parseEventPattern(typeof raw === 'string' || isRecord(raw) ? raw : JSON.stringify(raw));
        } catch (err) {
          if (err instanceof EventPatternError) return fail('triggerConfig.eventRuleFilterPattern', err.message);
          throw err;
        }
        return { triggerType: 'eventbus', triggerName, enabled, pattern, patternText, ...delivery };
      }
      const params = isRecord(source['eventSourceParameters']) ? source['eventSourceParameters']['sourceMNSParameters'] : undefined;
      if (!isRecord(params)) return fail('triggerConfig.eventSourceConfig.eventSourceParameters.sourceMNSParameters', 'is required');
      const queueName = params['QueueName'];
      const queueField = 'triggerConfig.eventSourceConfig.eventSourceParameters.sourceMNSParameters.QueueName';
      if (typeof queueName !== 'string' || queueName === '') return fail(queueField, 'is required');
      checkQueue(queueField, queueName);
      const isBase64Decode = params['IsBase64Decode'] === undefined ? true : params['IsBase64Decode'] === true || params['IsBase64Decode'] === 'true';
      return { triggerType: 'eventbridge', triggerName, enabled, queueName, isBase64Decode, ...delivery };
    }
  }
}

type Delivery = Pick<MnsQueueTrigger, 'mode' | 'eventSchema' | 'retryStrategy' | 'errorsTolerance' | 'deadLetterQueue' | 'batchCount' | 'batchWindowSeconds'>;

/** eventSinkConfig and runOptions of an eventbridge trigger, the same for every event source. */
function readDelivery(config: Record<string, unknown>, fail: (field: string, problem: string) => never, checkQueue: (field: string, name: string) => void): Delivery {
  const sink = isRecord(config['eventSinkConfig']) ? config['eventSinkConfig'] : {};
  const delivery = isRecord(sink['deliveryOption']) ? sink['deliveryOption'] : {};
  const mode = delivery['mode'] ?? DeliveryMode.EventDriven;
  if (mode !== DeliveryMode.EventDriven && mode !== DeliveryMode.EventStreaming) {
    return fail('triggerConfig.eventSinkConfig.deliveryOption.mode', `"${String(mode)}" is not event-streaming or event-driven`);
  }
  const eventSchema = delivery['eventSchema'] ?? EventSchema.CloudEvents;
  if (eventSchema !== EventSchema.CloudEvents && eventSchema !== EventSchema.RawData) {
    return fail('triggerConfig.eventSinkConfig.deliveryOption.eventSchema', `"${String(eventSchema)}" is not CloudEvents or RawData`);
  }

  const run = isRecord(config['runOptions']) ? config['runOptions'] : {};
  const retry = isRecord(run['retryStrategy']) ? run['retryStrategy'] : {};
  const retryStrategy = retry['PushRetryStrategy'] ?? PushRetryStrategy.BackoffRetry;
  if (retryStrategy !== PushRetryStrategy.BackoffRetry && retryStrategy !== PushRetryStrategy.ExponentialDecayRetry) {
    return fail('triggerConfig.runOptions.retryStrategy.PushRetryStrategy', `"${String(retryStrategy)}" is not BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY`);
  }
  const errorsTolerance = run['errorsTolerance'] ?? ErrorsTolerance.All;
  if (errorsTolerance !== ErrorsTolerance.All && errorsTolerance !== ErrorsTolerance.None) {
    return fail('triggerConfig.runOptions.errorsTolerance', `"${String(errorsTolerance)}" is not ALL or NONE`);
  }
  let deadLetterQueue: string | undefined;
  const dlq = run['deadLetterQueue'];
  if (isRecord(dlq) && dlq['Arn'] !== undefined && dlq['Arn'] !== '') {
    const arn = String(dlq['Arn']);
    const m = /^acs:mns:[^:]*:[^:]*:\/?queues\/([^/]+)\/?$/.exec(arn);
    if (m?.[1] === undefined) return fail('triggerConfig.runOptions.deadLetterQueue.Arn', `"${arn}" is not an MNS queue ARN (acs:mns:<region>:<account>:/queues/<name>)`);
    deadLetterQueue = m[1];
    checkQueue('triggerConfig.runOptions.deadLetterQueue.Arn', deadLetterQueue);
  }
  const window = isRecord(run['batchWindow']) ? run['batchWindow'] : {};
  const batchCount = num(window['CountBasedWindow'], 1, () => fail('triggerConfig.runOptions.batchWindow.CountBasedWindow', 'must be a number'));
  const batchWindowSeconds = num(window['TimeBasedWindow'], 0, () => fail('triggerConfig.runOptions.batchWindow.TimeBasedWindow', 'must be seconds'));
  if (!Number.isInteger(batchCount) || batchCount < 1 || batchCount > 10000) {
    return fail('triggerConfig.runOptions.batchWindow.CountBasedWindow', `${batchCount} is outside 1-10000`);
  }
  return {
    mode,
    eventSchema,
    retryStrategy,
    errorsTolerance,
    deadLetterQueue,
    batchCount: mode === DeliveryMode.EventStreaming ? batchCount : 1,
    batchWindowSeconds: mode === DeliveryMode.EventStreaming ? batchWindowSeconds : 0,
  };
}

/** 'index.handler' -> file index, export handler; 'dist/main.handler' -> file dist/main. */
function parseHandler(handler: string): { file: string; export: string } | undefined {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1) return undefined;
  return { file: handler.slice(0, dot), export: handler.slice(dot + 1) };
}

function num(value: unknown, fallback: number, onBad: () => never): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) return onBad();
  return n;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// Loads the module in a worker (never in this isolate: its top-level code is the function's, with the
// function's environment) and reports which of the wanted exports are functions.
const EXPORT_CHECK_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
(async () => {
  let mod;
  try { mod = createRequire(workerData.file)(workerData.file); }
  catch (err) {
    if (err && err.code === 'ERR_REQUIRE_ESM') mod = await import(require('node:url').pathToFileURL(workerData.file).href);
    else throw err;
  }
  parentPort.postMessage({ ok: true, types: workerData.names.map((n) => typeof (mod && mod[n])) });
})().catch((err) => parentPort.postMessage({ ok: false, error: String(err && err.stack || err) }));
`;

async function checkExports(file: string, fn: FunctionSpec, runtimeEnv: Readonly<Record<string, string>>): Promise<void> {
  const names = [fn.handlerExport, ...(fn.initializer ? [fn.initializer.export] : [])];
  const answer = await new Promise<{ ok: true; types: string[] } | { ok: false; error: string }>((done, reject) => {
    const worker = new Worker(EXPORT_CHECK_SOURCE, {
      eval: true,
      workerData: { file: fn.handlerFile, names },
      env: { ...fn.environmentVariables, ...runtimeEnv },
      stdout: true,
      stderr: true,
    });
    worker.once('message', (m) => {
      done(m);
      void worker.terminate();
    });
    worker.once('error', (err) => done({ ok: false, error: String(err.stack ?? err) }));
    worker.once('exit', () => reject(new Error(`export check of ${fn.handlerFile} ended without an answer`)));
  });
  const at = `resources.${fn.resourceKey}.props`;
  if (!answer.ok) throw new SYamlError(file, `${at}.handler`, `loading ${fn.handlerFile} failed: ${answer.error.split('\n')[0]}`);
  if (answer.types[0] !== 'function') {
    throw new SYamlError(file, `${at}.handler`, `"${fn.handler}": ${fn.handlerFile} does not export a function named "${fn.handlerExport}"`);
  }
  if (fn.initializer !== undefined && answer.types[1] !== 'function') {
    throw new SYamlError(file, `${at}.instanceLifecycleConfig.initializer.handler`, `${fn.handlerFile} does not export a function named "${fn.initializer.export}"`);
  }
}

/**
 * fc3 `logConfig`: the string 'auto', or the LogConfig struct (project and logstore required together;
 * enableRequestMetrics / enableInstanceMetrics booleans; logBeginRule DefaultRegex or None).
 */
function validateLogConfig(raw: unknown, fail: (field: string, problem: string) => never): FunctionSpec['logConfig'] {
  if (raw === undefined || raw === null) return undefined;
  if (raw === 'auto') return 'auto';
  if (!isRecord(raw)) return fail('logConfig', `must be 'auto' or { project, logstore }, not ${JSON.stringify(raw)}`);
  const project = raw['project'];
  const logstore = raw['logstore'];
  if (typeof project !== 'string' || !/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(project)) fail('logConfig.project', `must be a Log Service project name (3-63 lowercase letters, digits, -), not ${JSON.stringify(project)}`);
  if (typeof logstore !== 'string' || !/^[a-z0-9_][a-z0-9_-]{1,61}[a-z0-9_]$/.test(logstore)) fail('logConfig.logstore', `must be a logstore name (3-63 lowercase letters, digits, _ and -), not ${JSON.stringify(logstore)}`);
  for (const flag of ['enableRequestMetrics', 'enableInstanceMetrics'] as const) {
    if (raw[flag] !== undefined && typeof raw[flag] !== 'boolean') fail(`logConfig.${flag}`, 'must be true or false');
  }
  if (raw['logBeginRule'] !== undefined && raw['logBeginRule'] !== 'DefaultRegex' && raw['logBeginRule'] !== 'None') fail('logConfig.logBeginRule', 'must be DefaultRegex or None');
  return { project: project as string, logstore: logstore as string };
}
