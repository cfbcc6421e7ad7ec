import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { GroupsConfig } from '../../workflow/groups';
import type { LedgerPort } from '../../workflow/ledger';
import { describeIssues } from '../../workflow/messages';
import { StalledAfterMs, publishOnce, rewakeStalled, startOperation } from '../../workflow/operation';
import type { QueueNames } from '../../workflow/pipeline';
import { systemClock, type Clock, type EcsPort, type QueuePort, type TopicPort } from '../../workflow/ports';
import { AlarmState, normaliseAlarm, parseAlarmCallback } from '../../workflow/entries/alarm';
import { normaliseEcsEvent } from '../../workflow/entries/ecs-event';
import { DefaultFlapWindowSeconds, type EntryDecision, type EntryDeps, type EntryResult } from '../../workflow/entries/failover';
import { isFailbackMessage, normaliseFailbackRequest, normaliseRequest, parseFailbackEnvelope, parseRequestEnvelope } from '../../workflow/entries/request';
import { normaliseSchedule, parseSchedulePayload, type TimerEventLike } from '../../workflow/entries/schedule';
import { prepareStandbys, type PrepareReport } from '../../workflow/entries/prepare';
import { EntryWarmsAhead, WarmAheadEveryMs, sendWarmAhead, warmAheadGate, type WarmAheadGate } from '../../workflow/warm-ahead';
import { loadConfig, type FunctionConfig } from './config';
import { decodeQueueEvent } from './events';
import { initializerOf, instanceClients } from './instance-clients';
import type { StepFunctionContext } from './step-function';

/**
 * The adapters of the four entry points: CloudMonitor alarm (HTTP trigger), ECS event (EventBridge),
 * timer (scheduled jobs) and the requests queue (EventBridge MNS trigger). Each decodes its trigger's
 * event, runs a normaliser of workflow/entries, and sends `newOperation(request)` to the validate queue
 * for every bind (failures before an operation exists go to the outcomes topic and the dead-letter queue). No
 * business rule lives here. A factory per entry point for tests, `entryHandlerFromEnvironment` for FC.
 */

export interface EntryPorts {
  readonly ecs: EcsPort;
  readonly queue: QueuePort;
  /** Where entry-level failures are published (the outcomes topic, as the workflow's outcomes). */
  readonly topic: TopicPort;
  readonly ledger: LedgerPort;
  /** The region this deployment operates in (FC context `region`). */
  readonly regionId: string;
}

export interface EntryFunctionDeps {
  readonly queues: QueueNames;
  readonly groups: GroupsConfig;
  readonly ports: (context: StepFunctionContext) => EntryPorts;
  readonly clock?: Clock;
  readonly windowSeconds?: number;
  /** The deployment lets requests bind ENIs in no group (ALLOW_UNMANAGED); never a message's choice. */
  readonly allowUnmanaged?: boolean;
  /** The local cloud's faster clock (TIME_SCALE; 1 in production): scales the entries' own waits. */
  readonly timeScale?: number;
  /** Reconcile wakes running operations untouched this long (StalledAfterMs; scaled by the local cloud). */
  readonly staleAfterMs?: number;
  readonly log?: (line: Record<string, unknown>) => void;
  /** on-schedule: the guest scripts the prepare pass installs (embedded by the bundle); no prepare pass without them. */
  readonly prepareScripts?: { readonly guestScript: string; readonly installScript: string };
  /**
   * The steps keep no instance running (s.yaml vars.warmInstances: 0): an entry about to start operations
   * warms attach ahead when this gate (one per function instance) says one is due (workflow/warm-ahead.ts).
   */
  readonly warmAhead?: WarmAheadGate;
}

/** What an invocation did, in the order decided (also logged, one JSON line per item). */
export interface DispatchSummary {
  readonly enqueued: { operationId: string; eniId: string; instanceId: string; sourceInstanceId?: string; group?: string; note: string }[];
  readonly failed: { operationId: string; eniId: string; reason: string; message: string }[];
  /** `operationId`: the running operation already moving that ENI (the trigger joined it). */
  readonly skipped: { eniId?: string; group?: string; reason: string; operationId?: string }[];
}

/**
 * Sends what the decisions call for. Guarantees: one ledger record and one validate wake-up per bind (its
 * operationId derived from the request, so a repeated trigger is the same operation, recorded and woken
 * once); one outcomes-topic and one dead-letter message per failure, however many triggers decide it (the
 * ledger marks it published); nothing for skips. A send that fails throws (the trigger retries; repeats
 * converge on the same operationIds).
 */
/** Binds started at once by {@link dispatch}. */
const DispatchConcurrency = 16;

/** `work` over `items`, at most `limit` at a time; results in the order of `items`; the first failure throws. */
async function inPool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function dispatch(
  decisions: readonly EntryDecision[],
  ports: { queue: QueuePort; topic: TopicPort; ledger: LedgerPort; queues: QueueNames; now: number; log: (line: Record<string, unknown>) => void; entry: string },
): Promise<DispatchSummary> {
  const summary: DispatchSummary = { enqueued: [], failed: [], skipped: [] };
  // A planned switch-over of 1000 binds is 1000 ledger writes and queue sends: one after the other they
  // outlast the function's timeout, so they go DispatchConcurrency at a time (reported in order).
  const binds = decisions.filter((d): d is Extract<EntryDecision, { kind: 'bind' }> => d.kind === 'bind');
  const started = await inPool(binds, DispatchConcurrency, (d) =>
    startOperation(d.request, { ledger: ports.ledger, queue: ports.queue, queues: ports.queues, now: ports.now, ...(d.group ? { group: d.group } : {}) }),
  );
  let nextBind = 0;
  for (const d of decisions) {
    if (d.kind === 'bind') {
      const op = started[nextBind++]!;
      const { eniId, instanceId, sourceInstanceId } = d.request;
      const note = op.created ? d.note : `${d.note} (operation ${op.operationId} already recorded: ${op.record.status}${op.woken ? ', woken again' : ''})`;
      summary.enqueued.push({ operationId: op.operationId, eniId, instanceId, ...(sourceInstanceId ? { sourceInstanceId } : {}), ...(d.group ? { group: d.group } : {}), note });
      ports.log({ entry: ports.entry, decision: op.created ? 'enqueued' : 'repeated', operationId: op.operationId, eniId, instanceId, sourceInstanceId, group: d.group, note, passedOver: d.passedOver, origin: d.request.origin });
    } else if (d.kind === 'fail') {
      const body = JSON.stringify(d.event);
      const first = await publishOnce(ports.ledger, d.event.operationId, ports.now, async () => {
        await ports.topic.publish(ports.queues.outcomes, body, { tag: d.event.outcome });
        await ports.queue.send(ports.queues.deadLetter, body);
      });
      if (!first) {
        summary.skipped.push({ eniId: d.event.eniId, group: d.event.group, reason: `${d.event.reason} for ${d.event.eniId} was already reported as ${d.event.operationId}` });
        ports.log({ entry: ports.entry, decision: 'already-reported', operationId: d.event.operationId, eniId: d.event.eniId, reason: d.event.reason });
        continue;
      }
      summary.failed.push({ operationId: d.event.operationId, eniId: d.event.eniId, reason: d.event.reason, message: d.event.message });
      ports.log({ entry: ports.entry, decision: 'failed', operationId: d.event.operationId, eniId: d.event.eniId, reason: d.event.reason, message: d.event.message, passedOver: d.event.passedOver });
    } else {
      summary.skipped.push({ ...(d.eniId ? { eniId: d.eniId } : {}), ...(d.group ? { group: d.group } : {}), reason: d.reason, ...(d.operationId ? { operationId: d.operationId } : {}) });
      ports.log({ entry: ports.entry, decision: d.operationId ? 'joined' : 'skipped', eniId: d.eniId, group: d.group, reason: d.reason, operationId: d.operationId });
    }
  }
  return summary;
}

function setup(deps: EntryFunctionDeps, context: StepFunctionContext) {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  const ports = deps.ports(context);
  const entryDeps: EntryDeps & { windowSeconds: number; allowUnmanaged: boolean } = {
    ecs: ports.ecs,
    ledger: ports.ledger,
    allowUnmanaged: deps.allowUnmanaged === true,
    groups: deps.groups,
    regionId: ports.regionId,
    now: () => clock.now(),
    sleep: (ms: number) => clock.sleep(ms),
    timeScale: deps.timeScale ?? 1,
    windowSeconds: deps.windowSeconds ?? DefaultFlapWindowSeconds,
  };
  /** Sends attach its warm-ahead when one is due; never fails the entry (a lost one only means a cold start). */
  const warmAhead = async (entry: string): Promise<void> => {
    if (deps.warmAhead === undefined) return;
    const sent = await sendWarmAhead(deps.warmAhead, clock.now(), ports.queue, deps.queues[EntryWarmsAhead], entry);
    if (sent) log({ entry, decision: 'warm-ahead', to: EntryWarmsAhead, ...sent, requestId: context.requestId });
  };
  const send = async (result: EntryResult, entry: string): Promise<DispatchSummary> => {
    if (result.kind === 'ignored') return { enqueued: [], failed: [], skipped: [] };
    const binds = result.decisions.some((d) => d.kind === 'bind');
    const [summary] = await Promise.all([
      dispatch(result.decisions, { queue: ports.queue, topic: ports.topic, ledger: ports.ledger, queues: deps.queues, now: clock.now(), log: (l) => log({ ...l, requestId: context.requestId }), entry }),
      binds ? warmAhead(entry) : undefined,
    ]);
    return summary;
  };
  return { clock, log, ports, entryDeps, send, warmAhead };
}

// ---- on-alarm: CloudMonitor callback through an HTTP trigger --------------------------------------------

/** The FC 3.0 HTTP trigger event (function-compute.md, "HTTP trigger (FC 3.0)"), the parts read here. */
export interface HttpTriggerEventLike {
  readonly version?: string;
  readonly rawPath?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly queryParameters?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly http?: { readonly method?: string; readonly sourceIp?: string } };
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The largest alarm body accepted (64 KB); the whole trigger event may carry it base64-encoded and wrapped. */
export const MaxAlarmBodyBytes = 65_536;
const MaxAlarmEventBytes = MaxAlarmBodyBytes * 2;

/** Alarm tokens shorter than this are refused at load: a token in a URL must not be guessable. */
export const MinAlarmTokenLength = 32;

/** Where the alarm token may travel: `?token=` in the callback URL (CloudMonitor can set no header), or this header. */
export const AlarmTokenHeader = 'x-eni-failover-token';

/**
 * Constant-time token check. Both sides are hashed to 32 bytes first, so `timingSafeEqual` always compares
 * equal-length buffers and neither the content nor the length of the secret leaks through timing.
 */
export function tokenMatches(given: string | undefined, secret: string): boolean {
  if (given === undefined || secret === '') return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(secret, 'utf8').digest();
  return timingSafeEqual(a, b);
}

const json = (statusCode: number, body: Record<string, unknown>): HttpResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

function header(event: HttpTriggerEventLike, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * The alarm entry. Answers: 401 (nothing read or sent) without the right token; 405 for other methods
 * than POST; 400 for a body that is not a callback; 200 `ignored: ...` for OK / INSUFFICIENT_DATA or an
 * instance with nothing to move (an OK about a group's preferred member also says where its failback
 * stands, and starts it when the clock allows: then 202); 202 with the operation ids when binds were enqueued or are already running
 * for this instance's ENIs; 500 when the cloud
 * failed (CloudMonitor retries the callback).
 */
export function createAlarmFunction(deps: EntryFunctionDeps & { readonly token: string; readonly previousToken?: string }) {
  if (deps.token === '') throw new Error('eni-failover on-alarm: the alarm token is empty');
  const tokens = [deps.token, ...(deps.previousToken ? [deps.previousToken] : [])];
  return async function handler(event: Buffer | string, context: StepFunctionContext): Promise<HttpResponse> {
    // A body this large is no CloudMonitor callback (they are a few hundred bytes): refused unread.
    if (event.length > MaxAlarmEventBytes) return json(413, { error: `the request is ${event.length} bytes; a CloudMonitor callback is at most ${MaxAlarmBodyBytes}` });
    let http: HttpTriggerEventLike;
    try {
      http = JSON.parse(event.toString()) as HttpTriggerEventLike;
    } catch {
      return json(400, { error: 'the trigger event is not JSON (expected an FC 3.0 HTTP trigger event)' });
    }
    const given = http.queryParameters?.token ?? header(http, AlarmTokenHeader);
    // Every configured token is compared (no early exit), so timing does not tell which one matched.
    if (!tokens.map((t) => tokenMatches(given, t)).reduce((a, b) => a || b, false)) {
      (deps.log ?? ((l) => console.log(JSON.stringify(l))))({ entry: 'on-alarm', decision: 'unauthorized', sourceIp: http.requestContext?.http?.sourceIp, requestId: context.requestId });
      return json(401, { error: `missing or wrong token: put ?token=<ALARM_TOKEN> in the callback URL (or the ${AlarmTokenHeader} header)` });
    }
    const method = http.requestContext?.http?.method?.toUpperCase();
    if (method !== undefined && method !== 'POST') return json(405, { error: `CloudMonitor posts its callback; ${method} is not accepted` });
    const raw = http.isBase64Encoded ? Buffer.from(http.body ?? '', 'base64').toString('utf8') : (http.body ?? '');
    if (Buffer.byteLength(raw) > MaxAlarmBodyBytes) return json(413, { error: `the body is ${Buffer.byteLength(raw)} bytes; a CloudMonitor callback is at most ${MaxAlarmBodyBytes}` });
    let fields: string | Record<string, string> = raw;
    if (/json/i.test(header(http, 'content-type') ?? '')) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        fields = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
      } catch (err) {
        return json(400, { error: `body is not a JSON object: ${(err as Error).message}` });
      }
    }
    const alarm = parseAlarmCallback(fields, (deps.clock ?? systemClock).now());
    if (!alarm.ok) return json(400, { error: `not a CloudMonitor alarm callback: ${alarm.error}` });
    const { log, entryDeps, send, warmAhead } = setup(deps, context);
    // An alarm that can start a failover warms attach at once, while the entry still reads the cloud.
    const warming = alarm.value.alertState === AlarmState.Alarm || alarm.value.alertState === AlarmState.AlertLegacy ? warmAhead('on-alarm') : undefined;
    try {
      const result = await normaliseAlarm(alarm.value, entryDeps);
      if (result.kind === 'ignored') {
        log({ entry: 'on-alarm', decision: 'ignored', reason: result.reason, alertName: alarm.value.alertName, instanceId: alarm.value.instanceId, requestId: context.requestId });
        return json(200, { ignored: result.reason });
      }
      const summary = await send(result, 'on-alarm');
      // Enqueued now, or already running for this failure (a repeat while the ENI is in flight): the same answer.
      const operationIds = [...new Set([...summary.enqueued.map((e) => e.operationId), ...summary.skipped.flatMap((s) => (s.operationId ? [s.operationId] : []))])];
      if (operationIds.length === 0) {
        return json(200, { ignored: summary.failed.length ? 'no healthy standby' : 'nothing to move', ...summary });
      }
      return json(202, { operationIds, ...summary });
    } catch (err) {
      log({ entry: 'on-alarm', decision: 'error', error: (err as Error).message, requestId: context.requestId });
      return json(500, { error: `could not act on the alarm: ${(err as Error).message}` });
    } finally {
      await warming;
    }
  };
}

// ---- on-ecs-event: ECS events through EventBridge --------------------------------------------------------

/**
 * The ECS-event entry. An event EventBridge delivers is one object or (event-streaming) a JSON array.
 * Guarantees: events that do not start a failover are answered `ignored` with a reason; a cloud or queue
 * failure throws, so EventBridge retries.
 */
export function createEcsEventFunction(deps: EntryFunctionDeps) {
  return async function handler(event: Buffer | string, context: StepFunctionContext) {
    let data: unknown;
    try {
      data = JSON.parse(event.toString());
    } catch (err) {
      return [{ ignored: `event is not JSON: ${(err as Error).message}` }];
    }
    const { log, entryDeps, send } = setup(deps, context);
    const out: ({ ignored: string } | DispatchSummary)[] = [];
    for (const item of Array.isArray(data) ? data : [data]) {
      const result = await normaliseEcsEvent(item, entryDeps);
      if (result.kind === 'ignored') {
        log({ entry: 'on-ecs-event', decision: 'ignored', reason: result.reason, requestId: context.requestId });
        out.push({ ignored: result.reason });
      } else out.push(await send(result, 'on-ecs-event'));
    }
    return out;
  };
}

// ---- on-schedule: timer trigger --------------------------------------------------------------------------

/**
 * The timer entry: `{triggerTime, triggerName, payload}`. A payload that does not parse is reported
 * (and logged) without acting: a timer retry could only fail the same way.
 */
export function createScheduleFunction(deps: EntryFunctionDeps) {
  return async function handler(event: Buffer | string, context: StepFunctionContext) {
    let timer: TimerEventLike;
    try {
      timer = JSON.parse(event.toString()) as TimerEventLike;
    } catch (err) {
      return { error: `timer event is not JSON: ${(err as Error).message}` };
    }
    const payload = parseSchedulePayload(timer.payload ?? '');
    const { log, entryDeps, ports, send } = setup(deps, context);
    if (!payload.ok) {
      log({ entry: 'on-schedule', decision: 'invalid', error: payload.error, triggerName: timer.triggerName, requestId: context.requestId });
      return { error: payload.error };
    }
    const mode = Array.isArray(payload.value) ? 'switch-over' : payload.value.mode;
    const summary = await send(await normaliseSchedule(timer, payload.value, entryDeps), 'on-schedule');
    // Reconcile also repairs the ledger's side: operations whose wake-up was lost are woken again.
    const rewoken = mode === 'reconcile' ? await rewakeStalled({ ledger: ports.ledger, queue: ports.queue, queues: deps.queues, now: entryDeps.now(), ...(deps.staleAfterMs ? { staleAfterMs: deps.staleAfterMs } : {}) }) : [];
    const prepared = mode === 'switch-over' ? [] : await prepare(timer, ports, deps, log, context.requestId);
    log({ entry: 'on-schedule', mode, triggerName: timer.triggerName, enqueued: summary.enqueued.length, failed: summary.failed.length, skipped: summary.skipped.length, rewoken, requestId: context.requestId });
    return { mode, ...summary, ...(rewoken.length ? { rewoken } : {}), ...(prepared.length ? { prepared } : {}) };
  };
}

/** The prepare pass of a reconcile (or prepare) fire: one journal line per standby, drift named. */
async function prepare(timer: TimerEventLike, ports: EntryPorts, deps: EntryFunctionDeps, log: (line: Record<string, unknown>) => void, requestId: string | undefined): Promise<PrepareReport[]> {
  if (deps.prepareScripts === undefined || !deps.groups.groups.some((g) => g.prepare)) return [];
  const clock = deps.clock ?? systemClock;
  const reports = await prepareStandbys({
    ecs: ports.ecs,
    groups: deps.groups,
    ledger: ports.ledger,
    now: () => clock.now(),
    sleep: (ms) => clock.sleep(ms),
    ...deps.prepareScripts,
    passId: `${timer.triggerName ?? 'timer'}@${timer.triggerTime ?? new Date(clock.now()).toISOString()}`,
  });
  for (const r of reports) log({ entry: 'on-schedule', decision: 'prepare', ...r, drift: r.found !== undefined && r.found !== 'current' ? r.found : undefined, requestId });
  return reports;
}

// ---- on-request: the requests queue ----------------------------------------------------------------------

/**
 * The requests-queue entry. Guarantees: a message that does not parse, or that is refused (unmanaged
 * ENI, foreign region), goes to the dead-letter queue with the error and is acknowledged (a retry could
 * only fail the same way); a cloud or queue failure throws, so the trigger redelivers.
 */
export function createRequestFunction(deps: EntryFunctionDeps) {
  return async function handler(event: Buffer | string, context: StepFunctionContext) {
    const { log, entryDeps, ports, send } = setup(deps, context);
    const reject = async (messageId: string, error: string, body: string) => {
      await ports.queue.send(deps.queues.deadLetter, JSON.stringify({ kind: 'eni-failover.rejected', step: 'on-request', messageId, error, body: body.slice(0, 16_384) }));
      log({ entry: 'on-request', decision: 'rejected', messageId, error, requestId: context.requestId });
      return { messageId, rejected: error };
    };
    /** An operator's failback (`eni-failover failback --group G`): refused with where the group stands, or started. */
    const runFailbackRequest = async (message: { messageId: string; body: string }) => {
      const envelope = parseFailbackEnvelope(message.body);
      if (!envelope.ok) return reject(message.messageId, `invalid failback request: ${envelope.error}`, message.body);
      const decisions = await normaliseFailbackRequest(envelope.value, message, entryDeps);
      if (!Array.isArray(decisions)) return reject(message.messageId, `refused: ${decisions.reason}`, message.body);
      return { messageId: message.messageId, ...(await send({ kind: 'decided', decisions }, 'on-request')) };
    };
    const decoded = decodeQueueEvent(event);
    if (!decoded.ok) return [await reject(context.requestId ?? 'unknown', decoded.error, event.toString())];
    const out: ({ messageId: string; rejected: string } | ({ messageId: string } & DispatchSummary))[] = [];
    for (const message of decoded.messages) {
      if (isFailbackMessage(message.body)) {
        out.push(await runFailbackRequest(message));
        continue;
      }
      const envelope = parseRequestEnvelope(message.body);
      if (!envelope.ok) {
        out.push(await reject(message.messageId, `invalid request: ${envelope.error}`, message.body));
        continue;
      }
      const decision = await normaliseRequest(envelope.value, message, entryDeps);
      if (decision.kind === 'refused') {
        out.push(await reject(message.messageId, `refused: ${decision.reason}`, message.body));
        continue;
      }
      out.push({ messageId: message.messageId, ...(await send({ kind: 'decided', decisions: [decision] }, 'on-request')) });
    }
    return out;
  };
}

// ---- from the environment --------------------------------------------------------------------------------

const EntryEnv = z.object({
  /** Alarms/events for one instance inside this many seconds are one failover (default 600). */
  FLAP_WINDOW_SECONDS: z.coerce.number().int().min(60).max(86_400).default(DefaultFlapWindowSeconds),
  ALARM_TOKEN: z.string().optional(),
  /** During a rotation: the token being replaced, still accepted until it is removed. */
  ALARM_TOKEN_PREVIOUS: z.string().optional(),
});

export const EntryKind = { Alarm: 'alarm', EcsEvent: 'ecs-event', Schedule: 'schedule', Request: 'request' } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/**
 * The function FC runs for an entry point, built from the environment once per instance: `handler` for
 * events, `initialize` for s.yaml's initializer (it makes the clients before the first event). Guarantees:
 * a bad FAILOVER_GROUPS or FLAP_WINDOW_SECONDS stops the module at load with a message naming the
 * variable; an empty ALARM_TOKEN is detected at load too, and the alarm endpoint then answers every call
 * 503 naming the variable and enqueues nothing - it never runs unprotected.
 */
export function entryFunctionFromEnvironment(
  kind: EntryKind,
  bundledGroupsYaml: string,
  env: NodeJS.ProcessEnv = process.env,
  prepareScripts?: EntryFunctionDeps['prepareScripts'],
) {
  const config: FunctionConfig = loadConfig(env, bundledGroupsYaml);
  const clients = instanceClients(config, env);
  return { handler: entryHandler(kind, config, clients, env, prepareScripts), initialize: initializerOf(clients, config) };
}

/** {@link entryFunctionFromEnvironment}'s handler alone. */
export function entryHandlerFromEnvironment(kind: EntryKind, bundledGroupsYaml: string, env: NodeJS.ProcessEnv = process.env, prepareScripts?: EntryFunctionDeps['prepareScripts']) {
  return entryFunctionFromEnvironment(kind, bundledGroupsYaml, env, prepareScripts).handler;
}

function entryHandler(kind: EntryKind, config: FunctionConfig, clients: ReturnType<typeof instanceClients>, env: NodeJS.ProcessEnv, prepareScripts: EntryFunctionDeps['prepareScripts'] | undefined) {
  const parsed = EntryEnv.safeParse(env);
  if (!parsed.success) throw new Error(`eni-failover: bad function environment: ${describeIssues(parsed.error)}`);
  const e = parsed.data;
  const deps: EntryFunctionDeps = {
    queues: config.queues,
    groups: config.groups,
    allowUnmanaged: config.allowUnmanaged,
    staleAfterMs: StalledAfterMs * config.timeScale,
    ...(config.warmInstances === 0 ? { warmAhead: warmAheadGate(WarmAheadEveryMs * config.timeScale) } : {}),
    timeScale: config.timeScale,
    windowSeconds: e.FLAP_WINDOW_SECONDS,
    ...(prepareScripts ? { prepareScripts } : {}),
    ports: (context) => clients.ports(context),
  };
  switch (kind) {
    case EntryKind.Alarm: {
      const token = e.ALARM_TOKEN ?? '';
      const short = [token, e.ALARM_TOKEN_PREVIOUS ?? ''].some((t) => t.trim() !== '' && t.length < MinAlarmTokenLength);
      if (token.trim() === '' || short) {
        // Fail closed, but still load: a module that throws at load would also stop the local runtime
        // (and `s` tooling) from loading every other function of s.yaml.
        const problem = short
          ? `ALARM_TOKEN (or ALARM_TOKEN_PREVIOUS) is shorter than ${MinAlarmTokenLength} characters: use a long random secret (openssl rand -base64 32)`
          : 'ALARM_TOKEN is empty: set it (s.yaml vars.alarmToken, from ENI_FAILOVER_ALARM_TOKEN) to a long random secret and put ?token=<it> in the CloudMonitor callback URL';
        console.error(JSON.stringify({ entry: 'on-alarm', decision: 'misconfigured', error: problem }));
        return async (): Promise<HttpResponse> => json(503, { error: `on-alarm is not configured: ${problem}` });
      }
      return createAlarmFunction({ ...deps, token, ...(e.ALARM_TOKEN_PREVIOUS ? { previousToken: e.ALARM_TOKEN_PREVIOUS } : {}) });
    }
    case EntryKind.EcsEvent:
      return createEcsEventFunction(deps);
    case EntryKind.Schedule:
      return createScheduleFunction(deps);
    case EntryKind.Request:
      return createRequestFunction(deps);
  }
}
