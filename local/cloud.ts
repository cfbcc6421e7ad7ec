import '../cloud/tablestore-globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import TableStore from 'tablestore';
import { parse } from 'yaml';
import { createEcsPort, type EcsPortWithStats } from '../cloud/ecs';
import { MnsQueues, type QueueAttributes } from '../cloud/mns';
import { Keyring, type AccessKey } from './credentials';
import { startLocalEcs, type GuestExecutor, type LocalEcs, type Scenario } from './ecs';
import { startLocalFc, type BusEventInput, type LocalFc, type TimerClock } from './fc';
import type { ModelEvent } from './ecs';
import { resolveReferences } from './fc/vars';
import { startLocalMns, type LocalMns } from './mns';
import { startLocalTablestore, type LocalTablestore } from './tablestore';

/** The repository root (this file is local/cloud.ts; bundled, it is dist/cli.js: both one level down). */
export const projectRoot = resolve(__dirname, '..');
export const defaultScenarioPath = join(projectRoot, 'local', 'scenarios', 'two-node-failover.yaml');

export interface LocalCloudOptions {
  /** A scenario file or object (local/ecs/README.md); default: the two-node failover. */
  readonly scenario?: string | Scenario;
  /** Multiplies every emulated latency (1 = real time; tests use ~0.01). */
  readonly timeScale?: number;
  /** Keeps MNS queues and messages across restarts. */
  readonly dataDir?: string;
  /** Scale MNS visibility timeouts and delays by `timeScale` too (local/mns README, "Control hooks"); default false. */
  readonly scaleMnsTimes?: boolean;
  readonly sYamlPath?: string;
  readonly accountId?: string;
  readonly guestExecutor?: GuestExecutor;
  /** Where the FC runtime's invocation lines and the functions' own log lines go (default: dropped). */
  readonly logSink?: (line: string) => void;
  readonly functionLogSink?: (line: string) => void;
  /** Whether to run the functions of s.yaml (tests of the ECS or MNS alone do not need them). */
  readonly functions?: boolean;
  /**
   * The CloudMonitor callback secret on-alarm checks (s.yaml `vars.alarmToken`). Default: 32 random bytes,
   * new for every cloud. It appears only in `info.alarmUrl` (and `alarmToken`), never in a log line.
   */
  readonly alarmToken?: string;
  /**
   * The clock the timer triggers (reconcile, planned switch-overs) run on. Default: the real clock, so
   * `*\/5` minutes means every five wall-clock minutes. Tests pass a `ManualClock` (local/fc) so a timer
   * fires only when they advance it, never by surprise in the middle of another test.
   */
  readonly timerClock?: TimerClock;
  /**
   * Publish the local ECS's instance state changes on EventBridge's default bus as ECS
   * `ecs:Instance:StateChange` events, so on-ecs-event's rule sees them as in the cloud. Default false:
   * a test or demo that stops an instance by hand would otherwise start a second failover it did not ask for.
   */
  readonly ecsEvents?: boolean;
  /** Failover groups as YAML/JSON text for the entry functions (s.yaml `vars.failoverGroups`); default: the bundled config/groups.yaml. */
  readonly failoverGroups?: string;
  /** More s.yaml `vars` overrides (key by key), e.g. `plannedSwitchOver`. */
  readonly vars?: Record<string, unknown>;
  /**
   * Added to every function's environment (wins over s.yaml's): what a deployer sets from outside, such
   * as the notifier's robot URLs and secrets (s.yaml vars.notifierEnvironment reads them from env()).
   */
  readonly functionEnv?: Record<string, string>;
}

/** Everything a client needs to talk to the local cloud; what `eni-failover local up` prints. */
export interface LocalCloudInfo {
  readonly ecsEndpoint: string;
  readonly mnsEndpoint: string;
  readonly fcEndpoint: string;
  /** The local Tablestore (`new TableStore.Client({ endpoint, instancename })`). */
  readonly tablestoreEndpoint: string;
  /** s.yaml `vars.ledger.instanceName`, the only instance the local Tablestore answers for. */
  readonly tablestoreInstance: string;
  readonly httpTriggers: Record<string, string>;
  /**
   * The CloudMonitor alarm callback URL: on-alarm's HTTP trigger with `?token=<alarm token>` (empty when
   * the functions do not run). Secret: the only place the local cloud shows the token.
   */
  readonly alarmUrl: string;
  readonly accountId: string;
  readonly regionId: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
}

export interface LocalCloud {
  readonly ecs: LocalEcs;
  readonly mns: LocalMns;
  readonly fc: LocalFc | undefined;
  /** The local Tablestore, holding the tables s.yaml declares in `vars.ledger.tables`. */
  readonly tablestore: LocalTablestore;
  readonly keyring: Keyring;
  readonly root: AccessKey;
  readonly regionId: string;
  readonly accountId: string;
  readonly queues: LocalQueueNames;
  readonly info: LocalCloudInfo;
  /** The token on-alarm accepts (see {@link LocalCloudOptions.alarmToken}). */
  readonly alarmToken: string;
  /** The production ECS port (cloud/ecs.ts) pointed at the local ECS. */
  ecsPort(): EcsPortWithStats;
  /** The production MNS port pointed at the local MNS. */
  mnsQueues(): MnsQueues;
  /**
   * A real Tablestore SDK client for the local Tablestore, signed with the root key. It leaves
   * `maxRetries` alone: the SDK keeps that setting process-wide (shared/reference/tablestore.md §5).
   */
  tablestoreClient(): TableStore.Client;
  close(): Promise<void>;
}

/** The deployment's queues by role: one per step, the events and the dead-letter queue (s.yaml vars.queuePrefix). */
export type LocalQueueNames = Readonly<Record<'validate' | 'stop-if-required' | 'attach' | 'verify-bound' | 'configure-guest-routes', string>> & {
  readonly events: string;
  readonly deadLetter: string;
  /** The outcomes topic (s.yaml vars.topics): the events queue is subscribed to it. */
  readonly outcomes: string;
};

/** Reads the queue prefix from s.yaml (the emulator knows the deployment, not the workflow's code). */
export function queueNamesOf(sYamlPath: string): LocalQueueNames {
  const doc = parse(readFileSync(sYamlPath, 'utf8')) as { vars?: { queuePrefix?: unknown } };
  const p = typeof doc.vars?.queuePrefix === 'string' ? doc.vars.queuePrefix : 'eni-failover-';
  return {
    validate: `${p}validate`,
    'stop-if-required': `${p}stop-if-required`,
    attach: `${p}attach`,
    'verify-bound': `${p}verify-bound`,
    'configure-guest-routes': `${p}configure-guest-routes`,
    events: `${p}events`,
    deadLetter: `${p}dead-letter`,
    outcomes: `${p}outcomes`,
  };
}

interface DeclaredQueue extends QueueAttributes {
  readonly name: string;
}

/** The queues s.yaml declares in `vars.queues` (fc3 creates none; deploy and the local cloud do). */
export function declaredQueues(sYamlPath: string): DeclaredQueue[] {
  const doc = parse(readFileSync(sYamlPath, 'utf8')) as { vars?: { queues?: unknown } };
  const list = doc.vars?.queues;
  if (!Array.isArray(list)) throw new Error(`${sYamlPath}: vars.queues must list the MNS queues the deployment uses`);
  return list.map((q, i) => {
    if (typeof q !== 'object' || q === null || typeof (q as { name?: unknown }).name !== 'string') {
      throw new Error(`${sYamlPath}: vars.queues[${i}] needs a name`);
    }
    return q as DeclaredQueue;
  });
}

/** A topic of s.yaml `vars.topics`, with the subscriptions deploy and the local cloud make (queue endpoints). */
export interface DeclaredTopic {
  readonly name: string;
  readonly maximumMessageSize?: number;
  readonly subscriptions: ReadonlyArray<{ readonly name: string; readonly queue: string; readonly notifyContentFormat?: 'SIMPLIFIED' | 'XML' | 'JSON'; readonly filterTag?: string }>;
}

/** The topics s.yaml declares in `vars.topics` (none when absent). */
export function declaredTopics(sYamlPath: string): DeclaredTopic[] {
  const doc = parse(readFileSync(sYamlPath, 'utf8')) as { vars?: { topics?: unknown } };
  const list = doc.vars?.topics ?? [];
  if (!Array.isArray(list)) throw new Error(`${sYamlPath}: vars.topics must list the MNS topics the deployment uses`);
  return list.map((t, i) => {
    const topic = t as Partial<DeclaredTopic> | null;
    if (topic === null || typeof topic !== 'object' || typeof topic.name !== 'string') throw new Error(`${sYamlPath}: vars.topics[${i}] needs a name`);
    const subs = topic.subscriptions ?? [];
    if (!Array.isArray(subs) || subs.some((s) => typeof s?.name !== 'string' || typeof s?.queue !== 'string')) {
      throw new Error(`${sYamlPath}: vars.topics[${i}].subscriptions: each needs a name and the queue it delivers to`);
    }
    return { name: topic.name, ...(topic.maximumMessageSize === undefined ? {} : { maximumMessageSize: topic.maximumMessageSize }), subscriptions: subs };
  });
}

/** The SDK port's subscription specs for a declared topic. */
export function topicSpecs(topics: readonly DeclaredTopic[]) {
  return topics.map((t) => ({
    name: t.name,
    ...(t.maximumMessageSize === undefined ? {} : { maximumMessageSize: t.maximumMessageSize }),
    subscriptions: t.subscriptions.map((s) => ({ name: s.name, endpoint: { queue: s.queue }, ...(s.notifyContentFormat ? { notifyContentFormat: s.notifyContentFormat } : {}), ...(s.filterTag ? { filterTag: s.filterTag } : {}) })),
  }));
}

/** A table of s.yaml `vars.ledger.tables`. */
export interface DeclaredTable {
  readonly name: string;
  readonly primaryKey: ReadonlyArray<{ readonly name: string; readonly type: 'INTEGER' | 'STRING' | 'BINARY' }>;
  /** Seconds; -1 = never. */
  readonly timeToLive: number;
  readonly maxVersions: number;
}

/** s.yaml `vars.ledger`: the operation ledger's Tablestore instance and tables (deploy and the local cloud create them). */
export interface DeclaredLedger {
  readonly instanceName: string;
  readonly tables: readonly DeclaredTable[];
}

/** Reads `vars.ledger` (references such as `${env('ENI_FAILOVER_OTS_INSTANCE', 'eni-failover')}` resolved). */
export function declaredLedger(sYamlPath: string, varsOverride: Record<string, unknown> = {}): DeclaredLedger {
  const doc = parse(readFileSync(sYamlPath, 'utf8')) as { vars?: Record<string, unknown> };
  const vars = { ...(doc.vars ?? {}), ...varsOverride };
  const ledger = resolveReferences(vars['ledger'], { vars, env: process.env, resources: {} }, 'vars.ledger') as
    | { instanceName?: unknown; tables?: unknown }
    | undefined;
  const fail = (what: string): never => {
    throw new Error(`${sYamlPath}: vars.ledger${what}`);
  };
  if (ledger === undefined || ledger === null || typeof ledger !== 'object') return fail(' must declare the Tablestore instance and tables');
  if (typeof ledger.instanceName !== 'string' || ledger.instanceName === '') return fail('.instanceName must name the Tablestore instance');
  if (!Array.isArray(ledger.tables)) return fail('.tables must list the tables');
  const tables = ledger.tables.map((t: unknown, i: number): DeclaredTable => {
    const table = t as Partial<DeclaredTable> | null;
    if (table === null || typeof table !== 'object' || typeof table.name !== 'string') return fail(`.tables[${i}] needs a name`);
    if (!Array.isArray(table.primaryKey) || table.primaryKey.length === 0) return fail(`.tables[${i}].primaryKey must list the key columns`);
    for (const k of table.primaryKey) {
      if (typeof k?.name !== 'string' || !['INTEGER', 'STRING', 'BINARY'].includes(String(k.type))) {
        fail(`.tables[${i}].primaryKey: each column needs a name and a type INTEGER, STRING or BINARY`);
      }
    }
    return { name: table.name, primaryKey: table.primaryKey, timeToLive: Number(table.timeToLive ?? -1), maxVersions: Number(table.maxVersions ?? 1) };
  });
  return { instanceName: ledger.instanceName, tables };
}

/**
 * Starts the local Alibaba cloud in this process: ECS (scenario), MNS (the queues s.yaml declares), Tablestore
 * (the ledger tables s.yaml declares) and,
 * unless `functions: false`, the Function Compute runtime running the built functions of s.yaml with
 * their triggers. Every endpoint is on 127.0.0.1 with an ephemeral port; every client must sign with the
 * generated keys (or STS keys minted from them).
 */
export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const timeScale = options.timeScale ?? 1;
  const accountId = options.accountId ?? '1000000000000001';
  const sYamlPath = options.sYamlPath ?? join(projectRoot, 's.yaml');
  const { keyring, root } = Keyring.generate();
  const alarmToken = options.alarmToken ?? randomBytes(32).toString('base64url');
  if (alarmToken.trim() === '') throw new Error('startLocalCloud: alarmToken must not be empty (on-alarm would answer 503 to every callback)');
  const started: { close(): Promise<void> }[] = [];
  try {
    const ecs = await startLocalEcs({
      scenario: options.scenario ?? defaultScenarioPath,
      keyring,
      timeScale,
      ...(options.guestExecutor ? { guestExecutor: options.guestExecutor } : {}),
    });
    started.push(ecs);
    const regionId = ecs.regionId;
    const mns = await startLocalMns({ keyring, accountId, regionId, ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(options.scaleMnsTimes ? { messageTimeScale: timeScale } : {}) });
    started.push(mns);
    const mnsQueues = () => new MnsQueues({ endpoint: mns.endpoint, accountId, regionId, credentials: root });
    const declared = declaredQueues(sYamlPath);
    await mnsQueues().ensureQueues(declared.map(({ name, ...attributes }) => ({ name, attributes })));
    await mnsQueues().ensureTopics(topicSpecs(declaredTopics(sYamlPath)));

    const ledger = declaredLedger(sYamlPath, options.vars);
    const tablestore = await startLocalTablestore({ keyring, instanceName: ledger.instanceName });
    started.push(tablestore);
    const tablestoreClient = () =>
      new TableStore.Client({
        accessKeyId: root.accessKeyId,
        secretAccessKey: root.accessKeySecret,
        endpoint: tablestore.endpoint,
        instancename: ledger.instanceName,
      });
    // Like the queues: the tables s.yaml declares exist before any function runs (deploy creates them in the cloud).
    for (const table of ledger.tables) {
      await tablestoreClient().createTable({
        tableMeta: { tableName: table.name, primaryKey: table.primaryKey.map((k) => ({ name: k.name, type: k.type })) },
        reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
        tableOptions: { timeToLive: table.timeToLive, maxVersions: table.maxVersions },
      });
    }

    const fc =
      options.functions === false
        ? undefined
        : await startLocalFc({
            sYamlPath,
            // Through vars, not extraEnv: s.yaml wires vars.alarmToken to on-alarm's ALARM_TOKEN, so the
            // loader's export check and the instances see the same environment the deployment gets.
            vars: {
              ...(options.vars ?? {}),
              region: regionId,
              accountId,
              alarmToken,
              ...(options.failoverGroups === undefined ? {} : { failoverGroups: options.failoverGroups }),
            },
            keyring,
            accountId,
            regionId,
            mns: { endpoint: mns.endpoint, credentials: root },
            queues: declared.map((q) => q.name),
            extraEnv: {
              ECS_ENDPOINT: ecs.endpoint,
              ECS_PROTOCOL: 'HTTP',
              MNS_ENDPOINT: mns.endpoint,
              TABLESTORE_ENDPOINT: tablestore.endpoint,
              TABLESTORE_INSTANCE: ledger.instanceName,
              TIME_SCALE: String(Math.min(1, timeScale)),
              ...(options.functionEnv ?? {}),
            },
            timeScale,
            ...(options.timerClock ? { clock: options.timerClock } : {}),
            ...(options.logSink ? { logSink: options.logSink } : { logSink: () => {} }),
            ...(options.functionLogSink ? { functionLogSink: options.functionLogSink } : { functionLogSink: () => {} }),
          });
    if (fc) started.push(fc);

    if (fc && options.ecsEvents === true) {
      // ECS -> EventBridge: every instance state change, as ECS publishes it on the default bus. Stopped
      // before the FC runtime closes (started closes in reverse), and publishing waits for nothing.
      const inFlight = new Set<Promise<unknown>>();
      const unsubscribe = ecs.model.subscribe((event) => {
        if (event.type !== 'instance' && event.type !== 'system') return;
        const ctx = { regionId, accountId };
        const p = fc
          .publishEvent(event.type === 'instance' ? ecsStateChangeEvent(event, ctx) : ecsSystemEvent(event, ctx))
          .catch((err: unknown) => process.stderr.write(`[local-cloud] publishing an ECS event failed: ${(err as Error).message}\n`));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      });
      started.push({
        async close() {
          unsubscribe();
          await Promise.race([Promise.all([...inFlight]), new Promise((r) => setTimeout(r, 2000).unref())]);
        },
      });
    }

    const alarmFunction = fc?.model.functions.find((f) => f.environmentVariables['ALARM_TOKEN'] !== undefined && fc.httpTriggers[f.functionName] !== undefined);
    const alarmUrl = alarmFunction ? `${fc!.httpTriggers[alarmFunction.functionName]}?token=${encodeURIComponent(alarmToken)}` : '';

    return {
      ecs,
      mns,
      fc,
      tablestore,
      keyring,
      root,
      regionId,
      accountId,
      queues: queueNamesOf(sYamlPath),
      alarmToken,
      info: {
        ecsEndpoint: ecs.endpoint,
        mnsEndpoint: mns.endpoint,
        fcEndpoint: fc?.endpoint ?? '',
        tablestoreEndpoint: tablestore.endpoint,
        tablestoreInstance: ledger.instanceName,
        httpTriggers: fc?.httpTriggers ?? {},
        alarmUrl,
        accountId,
        regionId,
        accessKeyId: root.accessKeyId,
        accessKeySecret: root.accessKeySecret,
      },
      ecsPort: () => createEcsPort({ regionId, endpoint: ecs.endpoint, protocol: 'HTTP', credentials: root }),
      mnsQueues,
      tablestoreClient,
      async close() {
        for (const s of started.reverse()) await s.close();
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => {});
    throw err;
  }
}

/** `20240501T080000.123+0800`: the eventTime format of CloudMonitor's ECS events (China Standard Time). */
export function cloudMonitorEventTime(ms: number): string {
  const d = new Date(ms + 8 * 3600_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0800`;
}

/**
 * A system (O&M) event on EventBridge's default bus: type `ecs:Instance:<EventType>`, and as `data`
 * CloudMonitor's notification (help.aliyun.com doc 143663, "Appendix: notifications for instance-related
 * O&M events": `name: Instance:<EventType>:<Status>`, level CRITICAL, content `{eventId, publishTime,
 * instanceId, eventType, eventStatus}`). The EventBridge type spelling is the one our rule's pattern
 * expects (function-compute.md); unverified against a real bus.
 */
export function ecsSystemEvent(event: Extract<ModelEvent, { type: 'system' }>, ctx: { regionId: string; accountId: string }): BusEventInput {
  const arn = `acs:ecs:${ctx.regionId}:${ctx.accountId}:instance/${event.instanceId}`;
  const id = randomUUID();
  return {
    id,
    source: 'acs.ecs',
    type: `ecs:Instance:${event.eventType}`,
    subject: arn,
    time: new Date(event.at).toISOString(),
    data: {
      id,
      product: 'ECS',
      resourceId: arn,
      level: 'CRITICAL',
      name: `Instance:${event.eventType}:${event.eventStatus}`,
      userId: ctx.accountId,
      eventTime: cloudMonitorEventTime(event.at),
      regionId: ctx.regionId,
      content: { eventId: event.eventId, publishTime: new Date(event.at).toISOString(), instanceId: event.instanceId, eventType: event.eventType, eventStatus: event.eventStatus },
    },
  };
}

/**
 * The event ECS puts on EventBridge's default bus when an instance changes state (function-compute.md,
 * "ECS events through EventBridge"): CloudEvent `source: acs.ecs`, `type: ecs:Instance:StateChange`,
 * `subject` the instance ARN, and as `data` CloudMonitor's ECS event body `{ver, id, product: ECS,
 * resourceId: acs:ecs:<region>:<uid>:instance/i-..., level, name: Instance:StateChange, userId, eventTime,
 * regionId, content: {resourceId, resourceType: ALIYUN::ECS::Instance, state}}`.
 */
export function ecsStateChangeEvent(
  event: Extract<ModelEvent, { type: 'instance' }>,
  ctx: { regionId: string; accountId: string },
): BusEventInput {
  const arn = `acs:ecs:${ctx.regionId}:${ctx.accountId}:instance/${event.instanceId}`;
  const id = randomUUID();
  return {
    id,
    source: 'acs.ecs',
    type: 'ecs:Instance:StateChange',
    subject: arn,
    time: new Date(event.at).toISOString(),
    data: {
      ver: '1.0',
      id,
      product: 'ECS',
      resourceId: arn,
      level: 'INFO',
      name: 'Instance:StateChange',
      userId: ctx.accountId,
      eventTime: cloudMonitorEventTime(event.at),
      regionId: ctx.regionId,
      content: { resourceId: event.instanceId, resourceType: 'ALIYUN::ECS::Instance', state: event.to },
    },
  };
}
