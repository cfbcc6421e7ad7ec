/**
 * Mass failover (issue 14): a host failure that stops the instances holding N = 1, 10, 100 ENIs, and a
 * planned switch-over of 1000 binds, through the deployed shape (the built functions of s.yaml in the
 * local FC, MNS queues and triggers, the local Tablestore ledger, real SDKs), under per-API ECS limits
 * enforced by the local ECS per account, time-scaled. Printed: end-to-end time against the rate-limit
 * floor, ECS calls per operation, Throttling answers, failures; then what 1000 failovers cost.
 */
import { startLocalCloud, type LocalCloud } from '../local/cloud';
import { ManualClock, type InvocationRecord } from '../local/fc';
import { TablestoreLedger } from '../cloud/ledger';
import { DefaultRateLimitsPerMinute } from '../cloud/rate-limit';
import type { OperationRecord } from '../workflow/ledger';
import { FailingHost, hostFailureScenario, type HostFailureScenario } from '../test/helpers/host-failure';

/** Every emulated latency and ECS's minute window x this (a minute lasts 3 s). */
const Scale = 0.05;
/**
 * The account's limits: Terway's budgets (and ours for the APIs Terway has none for) divided by 4,
 * so that the limits, not this 2-core machine, set the pace of the big runs. The local ECS enforces them
 * per account across all callers; the functions are told the same (vars.ecsRateLimits).
 */
const Limits: Record<string, number> = Object.fromEntries(Object.entries(DefaultRateLimitsPerMinute).map(([api, perMinute]) => [api, Math.round(perMinute / 4)]));
/** Latencies on the critical path of one failover from a stopped source: detach 2 s + attach 3 s + guest command 1 s. */
const InherentMs = (2 + 3 + 1) * 1000 * Scale;
/**
 * Each step function's instances (s.yaml vars.stepMaxInstances): the deployment's default. 16 made
 * this 2-core machine the bottleneck (80 workers), not the limits.
 */
const StepInstances = 4;
/** The share of each API's budget, by the rule of s.yaml (test/deploy/mass-sizing.test.ts) for StepInstances. */
const RateShare = {
  default: 5 * StepInstances + 4,
  AttachNetworkInterface: StepInstances,
  DetachNetworkInterface: StepInstances,
  StopInstance: 2 * StepInstances,
  StartInstance: 5 * StepInstances,
  RebootInstance: StepInstances,
  // configure-guest-routes, and on-schedule's prepare pass.
  RunCommand: StepInstances + 1,
  DescribeInvocationResults: StepInstances + 1,
};
/** The step functions' memory (s.yaml memorySize), for GB-seconds. */
const MemoryGb = 256 / 1024;

interface Case {
  readonly name: string;
  readonly kind: 'host failure' | 'planned switch-over';
  readonly enis: number;
}

const Cases: readonly Case[] = [
  { name: 'host failure, 1 ENI', kind: 'host failure', enis: 1 },
  { name: 'host failure, 10 ENIs', kind: 'host failure', enis: 10 },
  { name: 'host failure, 100 ENIs', kind: 'host failure', enis: 100 },
  { name: 'planned switch-over, 1000 binds', kind: 'planned switch-over', enis: 1000 },
];

export interface MassResult {
  readonly name: string;
  readonly enis: number;
  readonly endToEndMs: number;
  /** The least time the limits allow for the ECS calls the run made (busiest API), or the inherent latency if longer. */
  readonly floorMs: number;
  readonly floorApi: string;
  readonly ecsCalls: number;
  readonly throttled: number;
  readonly failures: number;
  /** What the failures were: each operation that did not succeed (outcome, reason), and ENIs with more than one operation. */
  readonly failed: readonly string[];
  readonly operations: number;
  readonly mnsRequests: number;
  readonly fcInvocations: number;
  readonly gbSeconds: number;
  readonly otsReads: number;
  readonly otsWrites: number;
  /** Per function: invocations and their mean duration (ms). */
  readonly byFunction: Readonly<Record<string, { invocations: number; meanMs: number }>>;
}

/** The layout of a case: sources holding 2 ENIs each (1 for N = 1), standbys of 7 slots, one spare. */
function layoutOf(c: Case): HostFailureScenario {
  const enisPerSource = c.enis === 1 ? 1 : 2;
  const sources = Math.ceil(c.enis / enisPerSource);
  return hostFailureScenario({
    sources,
    enisPerSource,
    standbys: [{ count: Math.ceil(c.enis / 7) + 1, eniQuantity: 8 }],
    // Groups of at most 50 sources: a group's members fit one DescribeInstances (100 ids).
    sourcesPerGroup: 50,
    rateLimits: Limits,
  });
}

/** The planned switch-over's binds: each ENI to the next standby slot, in order. */
function plannedBinds(layout: HostFailureScenario): { eniId: string; instanceId: string }[] {
  const slots = layout.standbyIds.flatMap((id) => Array.from({ length: layout.freeSlots.get(id) ?? 0 }, () => id));
  return layout.eniIds.map((eniId, i) => ({ eniId, instanceId: slots[i]! }));
}

async function runCase(c: Case): Promise<MassResult> {
  const layout = layoutOf(c);
  const planned = c.kind === 'planned switch-over';
  // The planned timer fires at 03:01:30; the reconcile timer (every 5 minutes) is never reached.
  const clock = new ManualClock(Date.parse('2026-03-01T03:01:29Z'));
  const cloud = await startLocalCloud({
    scenario: layout.scenario as never,
    timeScale: Scale,
    scaleMnsTimes: true,
    timerClock: clock,
    ecsEvents: !planned,
    failoverGroups: layout.groups,
    vars: {
      ecsRateLimits: JSON.stringify(Limits),
      stepMaxInstances: StepInstances,
      ecsRateShare: JSON.stringify(RateShare),
      ...(planned ? { plannedSwitchOver: { enable: true, cronExpression: '30 1 3 * * *', payload: JSON.stringify(plannedBinds(layout)) } } : {}),
    },
  });
  const invocations: InvocationRecord[] = [];
  cloud.fc!.events.on('invocation', (record: InvocationRecord) => invocations.push(record));
  try {
    const mnsBefore = cloud.mns.requestCount;
    // What the warm instances' initializers did at deploy (priming) is not the failover's traffic.
    const ecsBefore = cloud.ecs.control.calls().length;
    const otsBefore = cloud.tablestore.control.calls().length;
    const t0 = Date.now();
    if (planned) await clock.advance(1_000);
    else cloud.ecs.control.failHost({ hostId: FailingHost });
    const { ops, ownReads } = await settle(cloud, layout.eniIds.length);
    // The end: the last outcome recorded (the ledger's end write), not when this loop noticed it.
    const endToEndMs = Math.max(...ops.map((o) => o.updatedAt)) - t0;
    const ecsCalls = cloud.ecs.control.calls().slice(ecsBefore);
    const served = ecsCalls.filter((call) => !call.code?.startsWith('Throttling'));
    const byApi = new Map<string, number>();
    for (const call of served) byApi.set(call.action, (byApi.get(call.action) ?? 0) + 1);
    const [floorApi, rateFloorMs] = [...byApi].map(([api, n]) => [api, (n / (Limits[api] ?? Infinity)) * 60_000 * Scale] as const).reduce((a, b) => (b[1] > a[1] ? b : a), ['-', 0] as const);
    const ots = cloud.tablestore.control.calls().slice(otsBefore);
    const steps = invocations.filter((r) => r.function.startsWith('eni-failover-'));
    return {
      name: c.name,
      enis: c.enis,
      endToEndMs,
      floorMs: Math.max(rateFloorMs, InherentMs),
      floorApi: rateFloorMs >= InherentMs ? floorApi : 'latency',
      ecsCalls: served.length,
      throttled: ecsCalls.length - served.length,
      failures: layout.eniIds.length - ops.filter((o) => o.status === 'succeeded').length + Math.max(0, ops.length - layout.eniIds.length),
      failed: [
        ...ops.filter((o) => o.status !== 'succeeded').map((o) => `${o.request.eniId} ${o.status}${o.outcome?.reason ? ` (${o.outcome.reason})` : ''}: ${o.outcome?.message ?? ''}`.slice(0, 300)),
        ...[...new Set(ops.map((o) => o.request.eniId))].filter((eni) => ops.filter((o) => o.request.eniId === eni).length > 1).map((eni) => `${eni}: ${ops.filter((o) => o.request.eniId === eni).length} operations`),
      ],
      operations: ops.length,
      mnsRequests: cloud.mns.requestCount - mnsBefore,
      fcInvocations: steps.length,
      // FC bills an invocation's execution time on the instance's memory (and vCPU); time-scaled here, so
      // the waits inside a delivery shrink with Scale: scaled back up for the cost.
      gbSeconds: (steps.reduce((sum, r) => sum + r.durationMs, 0) / 1000) * MemoryGb,
      otsReads: ots.filter((call) => /^(GetRow|GetRange|BatchGetRow)$/.test(call.operation)).length - ownReads,
      byFunction: Object.fromEntries(
        [...new Set(steps.map((r) => r.function))].map((fn) => {
          const mine = steps.filter((r) => r.function === fn);
          return [fn.replace(/^eni-failover-/, ''), { invocations: mine.length, meanMs: Math.round(mine.reduce((a, r) => a + r.durationMs, 0) / mine.length) }];
        }),
      ),
      otsWrites: ots.filter((call) => /^(PutRow|UpdateRow|DeleteRow|BatchWriteRow)$/.test(call.operation)).length,
    };
  } finally {
    await cloud.close();
  }
}

/**
 * Waits until every ENI has an operation that ended and was published, the step queues are empty and
 * no invocation is running (bounded: 10 minutes). Answers the operations and how many Tablestore reads
 * this polling made (not the workflow's traffic).
 */
async function settle(cloud: LocalCloud, enis: number): Promise<{ ops: OperationRecord[]; ownReads: number }> {
  const until = Date.now() + 600_000;
  const ledger = new TablestoreLedger({ endpoint: cloud.info.tablestoreEndpoint, instanceName: cloud.info.tablestoreInstance, credentials: cloud.root });
  const stepQueues = (['validate', 'stop-if-required', 'attach', 'verify-bound', 'configure-guest-routes'] as const).map((q) => cloud.queues[q]);
  let ownReads = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const queuesEmpty = stepQueues.every((q) => cloud.mns.queues.counts(q)?.total === 0);
    if (!queuesEmpty && Date.now() < until) continue;
    const before = cloud.tablestore.control.calls().length;
    const ops = await ledger.list({ limit: 10_000 });
    ownReads += cloud.tablestore.control.calls().length - before;
    const ended = ops.length >= enis && ops.every((o) => o.status !== 'running' && o.published);
    if (ended || Date.now() > until) return { ops, ownReads };
  }
}

/** All cases, or those whose ENI count is in `only` (`npx tsx bench/mass.ts 1 10`). */
export async function benchMass(only?: readonly number[]): Promise<MassResult[]> {
  const results: MassResult[] = [];
  for (const c of Cases.filter((x) => only === undefined || only.length === 0 || only.includes(x.enis))) results.push(await runCase(c));
  return results;
}

/** Unit prices (README, "Mass failover", where each is cited). */
export const UnitPrices = {
  /** FC 3.0 pay-as-you-go, tier 1: USD per CU; 75 CU per 10,000 invocations, 0.15 CU per GB-s, 1 CU per active vCPU-s. */
  fcUsdPerCu: 0.00002,
  fcCuPerInvocation: 75 / 10_000,
  fcCuPerGbSecond: 0.15,
  fcCuPerVcpuSecond: 1,
  /** vCPU of a 256 MB function: **estimated** (FC 3.0 allows 1-4 GB per vCPU; 0.25 vCPU is the most a 256 MB function may have). */
  vcpuPerInstance: 0.25,
  /** MNS queue requests: CNY per million (estimated: an older copy of the price page). */
  mnsCnyPerMillion: 2,
  /** Tablestore CU mode, capacity instance, metered read CU: CNY per 10,000 (Hangzhou example); write CU: **estimated** equal. */
  otsCnyPer10kReadCu: 0.004,
  otsCnyPer10kWriteCu: 0.004,
} as const;

export function toMarkdown(results: readonly MassResult[]): string {
  const out = [`### Mass failover (x${Scale}: a minute window lasts ${60 * Scale} s; limits = Terway's budgets / 4, per account, enforced by the local ECS)`, ''];
  out.push('| case | end-to-end s | floor s (bound by) | ratio | ECS calls / op | Throttling answers (of calls) | failures |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const ratio = r.endToEndMs / r.floorMs;
    out.push(
      `| ${r.name} | ${(r.endToEndMs / 1000).toFixed(2)} | ${(r.floorMs / 1000).toFixed(2)} (${r.floorApi}) | ${ratio.toFixed(2)} | ${(r.ecsCalls / r.enis).toFixed(1)} | ${r.throttled} (${((100 * r.throttled) / Math.max(1, r.ecsCalls + r.throttled)).toFixed(1)}%) | ${r.failures} |`,
    );
  }
  for (const r of results) if (r.failed.length > 0) out.push('', `${r.name}: ${r.failed.join('; ')}`);
  out.push('', 'Invocations per function (mean ms): ' + results.map((r) => `${r.name}: ${Object.entries(r.byFunction).map(([fn, v]) => `${fn} ${v.invocations} (${v.meanMs})`).join(', ')}`).join('; ') + '.');
  out.push('', 'Limits per minute: ' + Object.entries(Limits).map(([api, n]) => `${api} ${n}`).join(', ') + '.');
  out.push('', '### What 1000 failovers cost (scaled from each run; ECS API calls are free)', '');
  out.push('| case | ECS calls | MNS requests | FC invocations | FC GB-s (unscaled) | Tablestore reads / writes | FC USD | MNS CNY | Tablestore CNY |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const k = 1000 / r.enis;
    // Execution time shrinks with Scale where a delivery waits on the cloud; the rest (our own work) does not:
    // dividing by Scale is an upper bound of the unscaled GB-seconds.
    const gbs = (r.gbSeconds * k) / Scale;
    const vcpuS = (gbs / MemoryGb) * UnitPrices.vcpuPerInstance;
    const fcUsd = (r.fcInvocations * k * UnitPrices.fcCuPerInvocation + gbs * UnitPrices.fcCuPerGbSecond + vcpuS * UnitPrices.fcCuPerVcpuSecond) * UnitPrices.fcUsdPerCu;
    const mnsCny = ((r.mnsRequests * k) / 1e6) * UnitPrices.mnsCnyPerMillion;
    const otsCny = ((r.otsReads * k) / 1e4) * UnitPrices.otsCnyPer10kReadCu + ((r.otsWrites * k) / 1e4) * UnitPrices.otsCnyPer10kWriteCu;
    out.push(
      `| ${r.name} | ${Math.round(r.ecsCalls * k)} | ${Math.round(r.mnsRequests * k)} | ${Math.round(r.fcInvocations * k)} | ${gbs.toFixed(0)} | ${Math.round(r.otsReads * k)} / ${Math.round(r.otsWrites * k)} | ${fcUsd.toFixed(3)} | ${mnsCny.toFixed(3)} | ${otsCny.toFixed(3)} |`,
    );
  }
  out.push('', 'MNS requests include the triggers\' long polls of the five step queues over the run (an idle poll is a request too); Tablestore counts are requests (each under 4 KB: one CU).');
  return out.join('\n');
}

if (require.main === module) {
  benchMass(process.argv.slice(2).map(Number)).then(
    (r) => {
      console.log(toMarkdown(r));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
