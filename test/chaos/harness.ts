import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { ManualClock } from '../../local/fc';
import { Steps } from '../../workflow/messages';
import { ledgerOf, postAlarm, queueBodies } from '../integration/helpers';
import { checkAll, type EcsCall, type EcsEvent, type Observation, type OpView, type OutcomeMessage, type SentRequest, type Violation } from './invariants';

/**
 * One randomized whole-system run on the local cloud (built functions of s.yaml, real SDKs): a seeded
 * plan (scenario, failure, entries, faults), executed against a fresh cloud, then settled, then checked
 * (invariants.ts). Everything random comes from the seed; what the run cannot make deterministic is the
 * interleaving of the functions with the injected faults, so a replay reproduces the plan exactly and the
 * race most of the time.
 */

export const TimeScale = 0.01;

/** mulberry32: small, seedable, the same generator local MNS uses for its fault rules. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}
export type Rng = ReturnType<typeof rng>;

/** What a run may inject; the fixed-seed jest set turns off what makes runs slow or timing-sensitive. */
export interface FaultProfile {
  readonly ecsEvents: number;
  readonly requests: number;
  readonly conflicting: number;
  readonly reconcile: number;
  readonly duplicates: number;
  readonly late: number;
  readonly fcCrash: number;
  readonly ecsBursts: number;
  readonly ecsDrops: number;
  readonly ecsLostAnswers: number;
  readonly mnsLostAnswers: number;
  readonly mnsErrors: number;
  readonly tablestoreOutage: number;
  readonly tablestoreLostAnswers: number;
  readonly stoppedOnly: number;
  readonly hang: number;
  /** Probability that a run's ECS is as rough as the real one (local/ecs/realism.ts `realistic`, seeded per run). */
  readonly realistic: number;
}

export const FullProfile: FaultProfile = {
  ecsEvents: 0.7,
  requests: 0.5,
  conflicting: 0.5,
  reconcile: 0.4,
  duplicates: 0.5,
  late: 0.6,
  fcCrash: 0.4,
  ecsBursts: 0.5,
  ecsDrops: 0.2,
  ecsLostAnswers: 0.3,
  mnsLostAnswers: 0.4,
  mnsErrors: 0.2,
  tablestoreOutage: 0.2,
  tablestoreLostAnswers: 0.2,
  stoppedOnly: 0.3,
  hang: 0.3,
  // Issue 11: the suite runs against the realistic ECS (read lag, transient Attach/Detach refusals, late
  // NIC and agent, StartInstance refusals, throttling, failed invocations), not the kind emulator.
  realistic: 1,
};

export type Action =
  | { at: number; kind: 'alarm'; repeat: number }
  | { at: number; kind: 'request'; eniId: string; instanceId: string; sourceInstanceId?: string; conflicting: boolean }
  | { at: number; kind: 'reconcile' }
  | { at: number; kind: 'ecsBurst'; action?: string; code: string; count: number }
  | { at: number; kind: 'ecsDrop'; action?: string; count: number }
  | { at: number; kind: 'ecsLostAnswer'; action: string; count: number }
  | { at: number; kind: 'tablestoreOutage'; ms: number }
  | { at: number; kind: 'tablestoreLostAnswer'; operation: string; count: number };

export interface RunPlan {
  readonly seed: number;
  readonly members: string[];
  readonly enis: string[];
  readonly stoppedOnlyStandby: boolean;
  readonly failure: { instanceId: string; mode: 'crash' | 'hang' };
  readonly ecsEvents: boolean;
  /** The realistic profile's RNG seed, or undefined for the kind emulator. */
  readonly realismSeed: number | undefined;
  readonly actions: Action[];
  readonly duplicates: number;
  readonly late: boolean;
  readonly fcCrashes: { functionName: string; count: number }[];
  readonly mnsFaults: { kind: 'answerLost' | 'serverError'; operation: string; probability: number; count: number; seed: number }[];
}

const StepFunctions = Steps.map((s) => `eni-failover-${s}`);
const EcsWriteActions = ['DetachNetworkInterface', 'AttachNetworkInterface', 'StopInstance', 'StartInstance', 'RunCommand'];
const EcsActions = [...EcsWriteActions, 'DescribeNetworkInterfaces', 'DescribeInstances', 'DescribeInvocationResults', 'DescribeInstanceStatus'];
const EcsCodes = ['Throttling.User', 'InternalError', 'ServiceUnavailable', 'OperationConflict'];

export function planRun(seed: number, profile: FaultProfile = FullProfile): RunPlan {
  // Consecutive seeds must not give correlated plans: scramble before seeding.
  const r = rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ (seed >>> 13));
  const members = Array.from({ length: r.int(2, 4) }, (_, i) => `i-m${i}`);
  const enis = Array.from({ length: r.int(1, 3) }, (_, i) => `eni-s${i}`);
  const stoppedOnlyStandby = r.chance(profile.stoppedOnly);
  const mode = r.chance(profile.hang) ? 'hang' : 'crash';
  const actions: Action[] = [];
  const alarms = r.int(1, 5);
  for (let i = 0; i < alarms; i++) actions.push({ at: r.int(0, 700), kind: 'alarm', repeat: i });
  if (r.chance(profile.requests)) {
    const n = r.int(1, 2);
    for (let i = 0; i < n; i++) {
      const conflicting = r.chance(profile.conflicting);
      // A conflicting request names a target the alarm's standby choice (the first standby) would not.
      const target = conflicting && members.length > 2 ? r.pick(members.slice(2)) : conflicting ? members[0]! : members[1]!;
      actions.push({ at: r.int(0, 900), kind: 'request', eniId: r.pick(enis), instanceId: target, ...(r.chance(0.7) ? { sourceInstanceId: members[0]! } : {}), conflicting });
    }
  }
  if (r.chance(profile.reconcile)) actions.push({ at: r.int(0, 1200), kind: 'reconcile' });
  if (r.chance(profile.ecsBursts)) {
    const n = r.int(1, 3);
    for (let i = 0; i < n; i++) {
      const action = r.chance(0.8) ? r.pick(EcsActions) : undefined;
      actions.push({ at: r.int(0, 1000), kind: 'ecsBurst', ...(action ? { action } : {}), code: r.pick(EcsCodes), count: r.int(1, 4) });
    }
  }
  if (r.chance(profile.ecsDrops)) {
    const action = r.chance(0.7) ? r.pick(EcsActions) : undefined;
    actions.push({ at: r.int(0, 1000), kind: 'ecsDrop', ...(action ? { action } : {}), count: r.int(1, 2) });
  }
  if (r.chance(profile.ecsLostAnswers)) actions.push({ at: r.int(0, 800), kind: 'ecsLostAnswer', action: r.pick(EcsWriteActions), count: 1 });
  if (r.chance(profile.tablestoreOutage)) actions.push({ at: r.int(0, 1000), kind: 'tablestoreOutage', ms: r.int(50, 400) });
  if (r.chance(profile.tablestoreLostAnswers)) actions.push({ at: r.int(0, 1000), kind: 'tablestoreLostAnswer', operation: r.pick(['UpdateRow', 'PutRow']), count: r.int(1, 2) });
  actions.sort((a, b) => a.at - b.at);
  const fcCrashes = r.chance(profile.fcCrash) ? Array.from({ length: r.int(1, 2) }, () => ({ functionName: r.pick([...StepFunctions, 'eni-failover-on-request', 'eni-failover-on-ecs-event']), count: r.int(1, 2) })) : [];
  const mnsFaults: RunPlan['mnsFaults'] = [];
  if (r.chance(profile.mnsLostAnswers)) {
    mnsFaults.push({ kind: 'answerLost', operation: r.pick(['SendMessage', 'DeleteMessage', 'ReceiveMessage']), probability: r.pick([0.1, 0.2, 0.3]), count: r.int(1, 3), seed: r.int(1, 1e6) });
  }
  if (r.chance(profile.mnsErrors)) {
    mnsFaults.push({ kind: 'serverError', operation: r.pick(['SendMessage', 'ReceiveMessage', 'DeleteMessage']), probability: 0.2, count: r.int(1, 3), seed: r.int(1, 1e6) });
  }
  return {
    seed,
    members,
    enis,
    stoppedOnlyStandby,
    failure: { instanceId: members[0]!, mode },
    ecsEvents: r.chance(profile.ecsEvents),
    realismSeed: r.chance(profile.realistic) ? r.int(1, 1e6) : undefined,
    actions,
    duplicates: r.chance(profile.duplicates) ? r.int(1, 4) : 0,
    late: r.chance(profile.late),
    fcCrashes,
    mnsFaults,
  };
}

export function scenarioOf(plan: RunPlan): unknown {
  return {
    regionId: 'cn-hangzhou',
    zones: ['cn-hangzhou-h'],
    vpcs: [{ vpcId: 'vpc-chaos', cidrBlock: '10.0.0.0/16' }],
    vSwitches: [{ vSwitchId: 'vsw-chaos', vpcId: 'vpc-chaos', zoneId: 'cn-hangzhou-h', cidrBlock: '10.0.1.0/24' }],
    securityGroups: [{ securityGroupId: 'sg-chaos', vpcId: 'vpc-chaos' }],
    instanceTypes: [
      { instanceTypeId: 'ecs.g7.large', eniQuantity: 5, cpuCoreCount: 2, memorySize: 8 },
      // One of the types that take a secondary ENI only while Stopped (local/ecs binding rules).
      { instanceTypeId: 'ecs.t6-c1m1.large', eniQuantity: 5, cpuCoreCount: 2, memorySize: 2 },
    ],
    instances: plan.members.map((id, i) => ({
      instanceId: id,
      instanceType: plan.stoppedOnlyStandby && i === 1 ? 'ecs.t6-c1m1.large' : 'ecs.g7.large',
      vSwitchId: 'vsw-chaos',
      securityGroupIds: ['sg-chaos'],
      startTime: '2024-05-01T08:00:00Z',
    })),
    enis: plan.enis.map((id) => ({ eniId: id, vSwitchId: 'vsw-chaos', securityGroupIds: ['sg-chaos'], status: 'InUse', instanceId: plan.members[0] })),
    latency: { attachSeconds: 3, detachSeconds: 2, stopSeconds: 15, startSeconds: 10, rebootSeconds: 20, commandSeconds: 1 },
    ...(plan.realismSeed === undefined ? {} : { realism: { extends: 'realistic', seed: plan.realismSeed } }),
  };
}

export function groupsOf(plan: RunPlan): string {
  return JSON.stringify({ version: 1, groups: [{ name: 'chaos', enis: plan.enis, members: plan.members, policy: { fenceSource: true, allowStop: plan.stoppedOnlyStandby } }] });
}

export interface RunResult {
  readonly seed: number;
  readonly plan: RunPlan;
  readonly violations: Violation[];
  readonly durationMs: number;
  /** What was injected (and fired, where the hook says). */
  readonly faults: Record<string, number>;
  readonly outcomes: Record<string, number>;
  readonly duplicatePublications: number;
  readonly log: string[];
}

export interface RunOptions {
  readonly profile?: FaultProfile;
  /** Longest wait for the system to come to rest (ms, real time). */
  readonly settleMs?: number;
  readonly verbose?: boolean;
  readonly print?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Hooks that other work is adding to the local cloud; used when present, counted as skipped when not. */

export async function runOnce(seed: number, options: RunOptions = {}): Promise<RunResult> {
  const plan = planRun(seed, options.profile ?? FullProfile);
  const log: string[] = [];
  const started = Date.now();
  const say = (text: string) => {
    const line = `+${((Date.now() - started) / 1000).toFixed(1)}s ${text}`;
    log.push(line);
    if (options.verbose) (options.print ?? console.log)(`  [${seed}] ${line}`);
  };
  const faults: Record<string, number> = {};
  const count = (k: string, n = 1) => (faults[k] = (faults[k] ?? 0) + n);
  say(`plan: ${plan.members.length} members${plan.stoppedOnlyStandby ? ' (standby Stopped-only, allowStop)' : ''}, ${plan.enis.length} ENIs, ${plan.failure.mode} of ${plan.failure.instanceId}, ecsEvents ${plan.ecsEvents}, ${plan.realismSeed === undefined ? 'kind ECS' : `realistic ECS (seed ${plan.realismSeed})`}`);
  say(`actions: ${plan.actions.map((a) => `${a.at}ms ${a.kind}${'action' in a && a.action ? ` ${a.action}` : ''}${'code' in a ? ` ${a.code}x${a.count}` : ''}${a.kind === 'request' ? ` ${a.eniId}->${a.instanceId}${a.sourceInstanceId ? ` from ${a.sourceInstanceId}` : ''}` : ''}`).join(', ')}`);
  say(`duplicates ${plan.duplicates}, late ${plan.late}, fc crashes ${JSON.stringify(plan.fcCrashes)}, mns ${JSON.stringify(plan.mnsFaults)}`);

  const cloud = await startLocalCloud({
    scenario: scenarioOf(plan) as never,
    timeScale: TimeScale,
    scaleMnsTimes: true,
    timerClock: new ManualClock(),
    failoverGroups: groupsOf(plan),
    ecsEvents: plan.ecsEvents,
  });
  const ledger = ledgerOf(cloud);
  const fc = cloud.fc!;
  const tablestore = cloud.tablestore;
  const stepQueues = Steps.map((s) => cloud.queues[s]);
  const allQueues = [...stepQueues, 'eni-failover-requests'];
  let lastActivity = Date.now();
  fc.events.on('invocation', () => (lastActivity = Date.now()));
  const requests = new Map<string, { messageIds: string[] }>();
  let running = true;
  const background: Promise<unknown>[] = [];
  try {
    for (const c of plan.fcCrashes) {
      fc.control.failNextInvocation({ functionName: c.functionName, phase: 'after', count: c.count });
      count('fc crash after handler', c.count);
    }
    for (const f of plan.mnsFaults) {
      cloud.mns.control.addFault({
        effect: f.kind === 'answerLost' ? { kind: 'answerLost' } : { kind: 'serverError', code: 'InternalError' },
        operation: f.operation as never,
        probability: f.probability,
        seed: f.seed,
        count: f.count,
      });
    }

    // The failure.
    if (plan.failure.mode === 'crash') cloud.ecs.control.setInstanceStatus({ instanceId: plan.failure.instanceId, status: 'Stopped' });
    else cloud.ecs.control.setGuestResponsive({ instanceId: plan.failure.instanceId, responsive: false });
    count(`failure: ${plan.failure.mode}`);
  if (plan.realismSeed !== undefined) count('realistic ECS');
    const t0 = Date.now();

    // Duplicates while running: MNS hands a message out again while its first delivery is still working.
    if (plan.duplicates > 0) {
      background.push(
        (async () => {
          const r = rng(seed ^ 0x5eed);
          let left = plan.duplicates;
          while (running && left > 0 && Date.now() - t0 < 4000) {
            await sleep(r.int(20, 80));
            for (const q of stepQueues) {
              const inflight = cloud.mns.control.inFlight(q);
              if (inflight.length > 0 && left > 0 && r.chance(0.35)) {
                cloud.mns.control.redeliverNow(q, { messageId: r.pick(inflight).messageId });
                left--;
                count('redelivered while running');
              }
            }
          }
        })(),
      );
    }

    let reqN = 0;
    for (const a of plan.actions) {
      const wait = t0 + a.at - Date.now();
      if (wait > 0) await sleep(wait);
      switch (a.kind) {
        case 'alarm': {
          count('alarm');
          background.push(alarm(cloud, plan, t0, say));
          break;
        }
        case 'request': {
          const originId = `chaos-${seed}-${reqN++}`;
          const body = JSON.stringify({
            kind: 'eni-failover.request',
            request: { eniId: a.eniId, instanceId: a.instanceId, ...(a.sourceInstanceId ? { sourceInstanceId: a.sourceInstanceId } : {}), origin: { kind: 'request', id: originId, time: new Date().toISOString() } },
          });
          const entry = { messageIds: [] as string[] };
          requests.set(`req/request/${originId}`, entry);
          count(a.conflicting ? 'request (conflicting)' : 'request');
          background.push(sendRetrying(cloud, 'eni-failover-requests', body, entry.messageIds, say));
          break;
        }
        case 'reconcile':
          count('reconcile timer');
          background.push(fc.fireTimer('eni-failover-on-schedule', 'reconcile').catch((e: Error) => say(`reconcile: ${e.message}`)));
          break;
        case 'ecsBurst':
          cloud.ecs.control.injectFault({ ...(a.action ? { action: a.action } : {}), code: a.code, count: a.count });
          count(`ecs ${a.code}`, a.count);
          break;
        case 'ecsDrop':
          cloud.ecs.control.dropConnections({ ...(a.action ? { action: a.action } : {}), count: a.count });
          count('ecs dropped connection', a.count);
          break;
        case 'ecsLostAnswer':
          // Executed, answer lost: the caller must find out from the cloud what its call did.
          cloud.ecs.control.loseAnswers({ action: a.action, count: a.count });
          count(`ecs ${a.action} answer lost`, a.count);
          break;
        case 'tablestoreOutage': {
          // Every request answers 503 OTSServerUnavailable for a moment (the ledger must stop the workflow, not be skipped).
          tablestore.control.setUnavailable(true);
          setTimeout(() => tablestore.control.setUnavailable(false), a.ms).unref();
          count('tablestore outage');
          break;
        }
        case 'tablestoreLostAnswer':
          // A conditional write that went in, answer lost: the writer must not take its own write for another's.
          tablestore.control.loseAnswerNext({ operation: a.operation, count: a.count });
          count(`tablestore ${a.operation} answer lost`, a.count);
          break;
      }
    }
    await Promise.all(background.splice(0));

    // Settle, then (maybe) late copies of everything that was handled, then settle again.
    const liveness = async () => {
      count('reconcile timer (liveness)');
      await fc.fireTimer('eni-failover-on-schedule', 'reconcile');
    };
    let unsettled = await settle(cloud, ledger, allQueues, () => lastActivity, options.settleMs ?? 90_000, liveness);
    say(unsettled === undefined ? 'settled' : `not settled: ${unsettled}`);
    let late: Observation['late'];
    if (unsettled === undefined && plan.late) {
      const opsBefore = (await ledger.list()).map((o) => ({ operationId: o.operationId, version: o.version, published: o.published }));
      const callsBefore = cloud.ecs.control.calls().length;
      const eventsBefore = queueBodies(cloud, cloud.queues.events).length;
      let injected = 0;
      for (const q of allQueues) injected += cloud.mns.control.resendDeleted(q, () => true).length;
      count('late redelivered copies', injected);
      say(`late: ${injected} copies re-sent after the settle point`);
      late = { callsBefore, opsBefore, eventsBefore, injected };
      // The copies are consumed (or dead-lettered) within a few trigger rounds.
      await sleep(300);
      unsettled = await settle(cloud, ledger, allQueues, () => lastActivity, options.settleMs ?? 90_000, liveness);
      say(unsettled === undefined ? 'settled again' : `not settled after the late copies: ${unsettled}`);
    }
    running = false;

    const records = await ledger.list();
    const ops: OpView[] = records.map((r) => ({
      operationId: r.operationId,
      status: r.status,
      request: r.request,
      ...(r.plan ? { plan: r.plan } : {}),
      startedAt: r.startedAt,
      updatedAt: r.updatedAt,
      version: r.version,
      published: r.published,
      ...(r.outcome ? { outcome: { outcome: r.outcome.outcome, ...(r.outcome.reason ? { reason: r.outcome.reason } : {}), finishedAt: r.outcome.finishedAt } } : {}),
    }));
    const events = queueBodies(cloud, cloud.queues.events).filter((e) => e?.kind === 'eni-failover.outcome') as OutcomeMessage[];
    const deadLetters = safeBodies(cloud, cloud.queues.deadLetter);
    const state = cloud.ecs.control.state();
    const observation: Observation = {
      groupEnis: plan.enis,
      members: plan.members,
      failed: plan.failure,
      ops,
      events,
      deadLetters,
      ecsEvents: cloud.ecs.control.events() as EcsEvent[],
      calls: cloud.ecs.control.calls() as unknown as EcsCall[],
      scripts: cloud.ecs.control.scripts().map((s) => ({ instanceId: s.instanceId, script: s.script, at: s.at, ...(s.exitCode === undefined ? {} : { exitCode: s.exitCode }) })),
      final: {
        instances: state.instances.map((i) => ({ instanceId: i.instanceId, status: i.status, guestResponsive: i.guestResponsive, eniIds: i.eniIds })),
        enis: state.enis.filter((e) => e.type !== 'Primary').map((e) => ({ eniId: e.eniId, status: e.status, instanceId: e.instanceId, macAddress: e.macAddress })),
      },
      requests: [...requests].map(([originId, e]): SentRequest => ({ originId, messageIds: e.messageIds })),
      ...(late ? { late } : {}),
      ...(unsettled ? { unsettled } : {}),
    };
    const violations = checkAll(observation);
    const outcomes: Record<string, number> = {};
    for (const o of ops) outcomes[`${o.status}${o.outcome?.reason ? `/${o.outcome.reason}` : ''}`] = (outcomes[`${o.status}${o.outcome?.reason ? `/${o.outcome.reason}` : ''}`] ?? 0) + 1;
    for (const e of events) if (!ops.some((o) => o.operationId === e.operationId)) outcomes[`entry ${e.outcome}/${e.reason ?? ''}`] = (outcomes[`entry ${e.outcome}/${e.reason ?? ''}`] ?? 0) + 1;
    const perOp = new Map<string, number>();
    for (const e of events) perOp.set(e.operationId, (perOp.get(e.operationId) ?? 0) + 1);
    const duplicatePublications = [...perOp.values()].reduce((a, n) => a + Math.max(0, n - 1), 0);
    count('mns faults fired', cloud.mns.control.firedFaults().length);
    for (const c of cloud.ecs.control.calls()) {
      if (c.code && (c.source === 'realism' || (c.action === 'StartInstance' && /NoStock|InstanceNotReady/.test(c.code)))) count(`realistic ECS answered ${c.action} ${c.code}`);
    }
    {
      if (options.verbose) for (const o of records) for (const t of o.timeline) say(`  ${o.operationId} ${t.step} ${t.outcome} +${t.at - o.startedAt}ms: ${t.detail}`);
      for (const o of records) say(`op ${o.operationId} ${o.request.eniId} ${o.request.sourceInstanceId ?? '-'} -> ${o.request.instanceId} (${o.request.origin.kind}): ${o.status}${o.outcome?.reason ? `/${o.outcome.reason}` : ''} ${o.outcome?.message ?? ''}`);
      say(`final: ${state.enis.filter((e) => e.type !== 'Primary').map((e) => `${e.eniId} ${e.status} on ${e.instanceId ?? '-'}`).join(', ')}; ${state.instances.map((i) => `${i.instanceId} ${i.status}`).join(', ')}`);
      say(`ecs writes: ${cloud.ecs.control.calls().filter((c) => !/^(Describe|List)/.test(c.action)).map((c) => `${c.action}${c.code ? `(${c.code})` : ''}`).join(' ')}`);
    }
    return { seed, plan, violations, durationMs: Date.now() - started, faults, outcomes, duplicatePublications, log };
  } finally {
    running = false;
    await Promise.allSettled(background);
    await cloud.close();
  }
}

/** CloudMonitor posts the callback and retries it when the endpoint fails (5xx or no answer). */
async function alarm(cloud: LocalCloud, plan: RunPlan, t0: number, say: (l: string) => void): Promise<void> {
  const fields = {
    userId: cloud.accountId,
    alertName: 'service-down',
    timestamp: String(t0),
    alertState: 'ALARM',
    dimensions: `{userId=${cloud.accountId}, instanceId=${plan.failure.instanceId}}`,
    expression: '$Maximum<1',
    curValue: '0',
    metricName: 'vm.ProcessCount',
    metricProject: 'acs_ecs_dashboard',
    instanceName: plan.failure.instanceId,
  };
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      const res = await postAlarm(cloud, fields);
      if (res.status < 500) return;
      say(`alarm answered ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}; CloudMonitor retries`);
    } catch (err) {
      say(`alarm failed: ${(err as Error).message}; CloudMonitor retries`);
    }
    await sleep(100);
  }
}

/** A producer that retries a send whose answer it did not get (the lost-answer copy is a second message). */
async function sendRetrying(cloud: LocalCloud, queue: string, body: string, ids: string[], say: (l: string) => void): Promise<void> {
  for (let attempt = 0; attempt < 6; attempt++) {
    try {
      const sent = (await cloud.mnsQueues().send(queue, body)) as unknown as { messageId?: string } | string | undefined;
      const id = typeof sent === 'string' ? sent : sent?.messageId;
      if (id) ids.push(id);
      return;
    } catch (err) {
      say(`send to ${queue} failed: ${(err as Error).message}; retrying`);
      // The lost-answer case: the message went in; find it by body so its id is known.
      for (const m of cloud.mns.queues.messages?.(queue) ?? []) if (decode(m.body) === body && !ids.includes(m.messageId)) ids.push(m.messageId);
      await sleep(50);
    }
  }
}

function decode(b: string): string {
  try {
    return Buffer.from(b, 'base64').toString();
  } catch {
    return b;
  }
}

function safeBodies(cloud: LocalCloud, queue: string): Record<string, unknown>[] {
  return cloud.mns.queues.peekBodies(queue).flatMap((b) => {
    try {
      return [JSON.parse(decode(b)) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/**
 * Waits until nothing moves: every step queue and the requests queue empty (visible, in flight and
 * delayed), no operation running in the ledger, no ENI or instance between states, and no function
 * invocation ended for a quiet second. Answers undefined when settled, else what still moved at the bound.
 */
async function settle(cloud: LocalCloud, ledger: ReturnType<typeof ledgerOf>, queues: string[], lastActivity: () => number, boundMs: number, reconcile?: () => Promise<void>): Promise<string | undefined> {
  const until = Date.now() + boundMs;
  let why = '';
  let lastReconcile = Date.now();
  for (;;) {
    why = '';
    const busy = queues.filter((q) => (cloud.mns.queues.counts(q)?.total ?? 0) > 0);
    if (busy.length > 0) why = `messages on ${busy.join(', ')}`;
    const state = cloud.ecs.control.state();
    const moving = [...state.enis.filter((e) => !['InUse', 'Available'].includes(e.status)).map((e) => `${e.eniId} ${e.status}`), ...state.instances.filter((i) => !['Running', 'Stopped'].includes(i.status)).map((i) => `${i.instanceId} ${i.status}`)];
    if (why === '' && moving.length > 0) why = `moving: ${moving.join(', ')}`;
    // An invocation in a long backoff ends nothing for seconds: count what runs, not only what ended.
    if (why === '' && (cloud.fc?.invocationsInProgress() ?? 0) > 0) why = `${cloud.fc!.invocationsInProgress()} invocations still running`;
    if (why === '' && Date.now() - lastActivity() < 1000) why = 'functions still running';
    // An ECS event whose delivery failed is retried by EventBridge seconds later: not at rest until it is done.
    if (why === '' && (cloud.fc?.pendingBusEvents() ?? 0) > 0) why = `${cloud.fc!.pendingBusEvents()} ECS events still to be delivered (EventBridge retries)`;
    if (why === '') {
      try {
        const runningOps = (await ledger.list()).filter((o) => o.status === 'running');
        if (runningOps.length > 0) why = `running operations: ${runningOps.map((o) => `${o.operationId} at ${o.step}#${o.attempt}`).join(', ')}`;
      } catch (err) {
        why = `ledger unreadable: ${(err as Error).message}`;
      }
    }
    // Production's reconcile timer fires every 5 minutes whatever else is going on: it wakes operations
    // whose wake-up was lost (a trigger that dead-lettered it during a ledger outage, an answer lost after
    // the record was written). Scaled (x0.01) that is every 3 s while anything is still running.
    if (why !== '' && reconcile !== undefined && Date.now() - lastReconcile > 3000) {
      try {
        if ((await ledger.list()).some((o) => o.status === 'running')) {
          lastReconcile = Date.now();
          await reconcile().catch(() => undefined);
        }
      } catch {
        // The ledger may be down in this run; the next look tries again.
      }
    }
    if (why === '') return undefined;
    if (Date.now() > until) return why;
    await sleep(150);
  }
}
