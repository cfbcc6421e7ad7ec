import { join } from 'node:path';
import { startLocalCloud, defaultScenarioPath, projectRoot, type LocalCloud } from '../local/cloud';
import { runInProcess } from '../workflow/in-process';
import { parseBindRequest } from '../workflow/messages';
import { parseGroups } from '../workflow/groups';
import { MemoryLedger } from '../workflow/memory-ledger';
import type { LedgerPort } from '../workflow/ledger';
import { TablestoreLedger } from '../cloud/ledger';
import type { OperationEvent } from '../workflow/messages';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { systemClock } from '../workflow/ports';
import { DefaultWaitPolicy, type WaitPolicy } from '../workflow/runner';
import { postAlarm, watchHops, TransitionName, type Hop, type HopSplit } from '../cli/hops';
import { ManualClock } from '../local/fc';

/**
 * The failover's end-to-end time against the inherent cloud time (the emulated detach + attach + guest
 * command latencies on the critical path), and the same workflow run with the polling schedules of the
 * tools users would otherwise reach for, all on the same scenario in the same run, time-scaled.
 */
// Large enough that per-request costs on loopback (about 1 ms) do not stand in for cloud time.
const Scale = 0.25;
const groupsYaml = readFileSync(join(projectRoot, 'config', 'groups.yaml'), 'utf8');
const Runs = 5;
/** The realistic draws vary run to run: more runs for a stable median. */
const RealismRuns = 7;

/** ms before timeScale; the runner multiplies by it. */
const Schedules: { name: string; wait: WaitPolicy }[] = [
  { name: 'eni-failover (100 ms looks around each expected end, then x1.5 to 2 s)', wait: { ...DefaultWaitPolicy, budgetMs: 600_000 } },
  { name: 'Terway (3 s x1.5)', wait: { initialMs: 3000, steadyForMs: 0, factor: 1.5, maxMs: 3000 * 1.5 ** 8, budgetMs: 600_000 } },
  { name: 'Terraform (every 5 s)', wait: { initialMs: 5000, steadyForMs: 0, factor: 1, maxMs: 5000, budgetMs: 600_000 } },
  { name: 'OOS templates (every 15 s)', wait: { initialMs: 15000, steadyForMs: 0, factor: 1, maxMs: 15000, budgetMs: 600_000 } },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The cloud's own time on the failover's critical path: detach 2 s + attach 3 s + guest command 1 s, scaled. */
const InherentMs = (2 + 3 + 1) * 1000 * Scale;

/**
 * One in-process failover of the demo ENI from a Stopped i-primary to i-standby, on a fresh local cloud of
 * `scenario` (functions off): `measure` reads the cloud's counters and the run's wall time before the cloud
 * closes. A failover that does not succeed throws, naming `label`.
 */
async function timedFailover<T>(
  scenario: string | Record<string, unknown>,
  label: string,
  originId: string,
  options: { readonly wait?: WaitPolicy; readonly ledger?: (cloud: LocalCloud) => LedgerPort },
  measure: (cloud: LocalCloud, ms: number) => T,
): Promise<T> {
  const cloud = await startLocalCloud({ scenario: scenario as never, timeScale: Scale, functions: false });
  try {
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const parsed = parseBindRequest({ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', regionId: cloud.regionId, origin: { kind: 'cli', id: originId, time: new Date().toISOString() } });
    if (!parsed.ok) throw new Error(parsed.error);
    const ledger = options.ledger?.(cloud) ?? new MemoryLedger();
    const t0 = Date.now();
    const event = await runInProcess(parsed.value, {
      ecs: cloud.ecsPort(),
      clock: systemClock,
      guestScript: 'true',
      timeScale: Scale,
      ...(options.wait ? { wait: options.wait } : {}),
      ledger,
      authority: { groups: parseGroups(groupsYaml, 'config/groups.yaml'), allowUnmanaged: false },
    });
    if (event.outcome !== 'succeeded') throw new Error(`${label}: ${event.outcome} ${event.message}`);
    return measure(cloud, Date.now() - t0);
  } finally {
    await cloud.close();
  }
}

/**
 * The same in-process failover on the kind ECS and on the realistic one (issue 11), same run, seeds 1..Runs
 * for the realistic draws: what the roughness costs end to end, in ECS calls, and how often it was met.
 */
export async function benchRealism(): Promise<string> {
  const base = parse(readFileSync(defaultScenarioPath, 'utf8')) as Record<string, unknown>;
  const rows: { name: string; ms: number; calls: number; refusals: number }[] = [];
  for (const name of ['kind ECS', 'realistic ECS'] as const) {
    const times: number[] = [];
    const calls: number[] = [];
    const refusals: number[] = [];
    for (let i = 0; i < RealismRuns; i++) {
      const scenario = name === 'kind ECS' ? base : { ...base, realism: { extends: 'realistic', seed: i + 1 } };
      await timedFailover(scenario, `${name} seed ${i + 1}`, `bench-r-${i}`, {}, (cloud, ms) => {
        times.push(ms);
        calls.push(cloud.ecs.control.calls().length);
        refusals.push(cloud.ecs.control.calls().filter((c) => c.code !== undefined).length);
      });
    }
    rows.push({ name, ms: median(times), calls: median(calls), refusals: median(refusals) });
  }
  const [kind, rough] = rows as [(typeof rows)[0], (typeof rows)[0]];
  const out = [`### Kind vs realistic ECS (same in-process failover, x${Scale}, median of ${RealismRuns}; realistic seeds 1-${RealismRuns})`, ''];
  out.push('| ECS | end-to-end ms | ECS calls | ECS refusals met | time vs kind |', '|---|---:|---:|---:|---:|');
  for (const r of rows) out.push(`| ${r.name} | ${r.ms} | ${r.calls} | ${r.refusals} | ${(r.ms / kind.ms).toFixed(2)}x |`);
  out.push('', `The realistic ECS adds its own waits to the critical path (a NIC visible to the guest 1-5 s after InUse, the agent online 5-30 s after a start, reads up to 2 s behind, x${Scale} here): ${(rough.ms / kind.ms).toFixed(2)}x the time and ${(rough.calls / kind.calls).toFixed(2)}x the ECS calls.`);
  return out.join('\n');
}

export async function benchWorkflow(): Promise<string> {
  const out: string[] = [];
  const rows: { name: string; ms: number; calls: number }[] = [];
  for (const s of Schedules) {
    const times: number[] = [];
    const calls: number[] = [];
    for (let i = 0; i < Runs; i++) {
      await timedFailover(defaultScenarioPath, s.name, `bench-${i}`, { wait: s.wait }, (cloud, ms) => {
        times.push(ms);
        calls.push(cloud.ecs.control.calls().length);
      });
    }
    rows.push({ name: s.name, ms: median(times), calls: median(calls) });
  }
  const ours = rows[0]!;
  out.push(`### Failover (detach 2 s + attach 3 s + guest command 1 s, x${Scale}; median of ${Runs}, in-process steps, real SDK to the local ECS)`, '');
  out.push('| polling schedule | end-to-end ms | inherent ms | overhead | ECS calls | time vs eni-failover |', '|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    out.push(`| ${r.name} | ${r.ms} | ${InherentMs} | ${(((r.ms - InherentMs) / InherentMs) * 100).toFixed(1)}% | ${r.calls} | ${(r.ms / ours.ms).toFixed(2)}x |`);
  }

  // The ledger's cost: the same in-process failover with the ledger in memory (no round trips: what the
  // workflow cost before it had a ledger, plus the bookkeeping) and on the local Tablestore (real SDK).
  const ledgerRows: { name: string; ms: number; ots: number; byOp: string }[] = [];
  for (const kind of ['in memory', 'Tablestore (real SDK, loopback)'] as const) {
    const times: number[] = [];
    let ots = 0;
    let byOp = '';
    for (let i = 0; i < Runs; i++) {
      let before = 0;
      const ledger = (cloud: LocalCloud): LedgerPort => {
        before = cloud.tablestore.control.calls().length;
        return kind === 'in memory' ? new MemoryLedger() : new TablestoreLedger({ endpoint: cloud.info.tablestoreEndpoint, instanceName: cloud.info.tablestoreInstance, credentials: cloud.root });
      };
      await timedFailover(defaultScenarioPath, `ledger ${kind}`, `bench-l-${i}`, { ledger }, (cloud, ms) => {
        times.push(ms);
        const calls = cloud.tablestore.control.calls().slice(before);
        ots = calls.length;
        const counts: Record<string, number> = {};
        for (const c of calls) counts[c.operation] = (counts[c.operation] ?? 0) + 1;
        byOp = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
      });
    }
    ledgerRows.push({ name: kind, ms: median(times), ots, byOp });
  }
  out.push('', `### The operation ledger's cost (same failover in-process, x${Scale}, median of ${Runs})`, '');
  out.push('| ledger | end-to-end ms | overhead over inherent | Tablestore calls per operation |', '|---|---:|---:|---|');
  for (const r of ledgerRows) out.push(`| ${r.name} | ${r.ms} | ${(((r.ms - InherentMs) / InherentMs) * 100).toFixed(1)}% | ${r.ots}${r.byOp ? ` (${r.byOp})` : ''} |`);
  out.push('', `Tablestore vs in memory: ${(ledgerRows[1]!.ms / ledgerRows[0]!.ms).toFixed(3)}x the time; the wall-clock difference is the ledger's round trips (loopback here; a few ms each inside an Alibaba region).`);

  return out.join('\n');
}

/** One failover through the deployed shape: CloudMonitor's POST -> on-alarm -> the step functions. */
async function deployedFailover(warm: boolean, i: number): Promise<{ ms: number; calls: number; deployCalls: number; split: HopSplit }> {
  // Timers on a manual clock and no ECS events, as npm start: the alarm's operation is the only one.
  const cloud = await startLocalCloud({ scenario: defaultScenarioPath, timeScale: Scale, timerClock: new ManualClock(), ecsEvents: false, vars: { warmInstances: warm ? 1 : 0 } });
  try {
    // Warm functions prime their ECS client at deploy (one DescribeInstances each): not the failover's calls.
    const deployCalls = cloud.ecs.control.calls().length;
    const t0 = Date.now();
    const hops = watchHops(cloud, t0);
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    hops.httpSent(Date.now());
    const { status, answer } = await postAlarm(cloud, 'i-primary');
    const operationId = answer.operationIds?.[0];
    if (status !== 202 || operationId === undefined) throw new Error(`deployed ${warm ? 'warm' : 'cold'} #${i}: on-alarm answered ${status} ${JSON.stringify(answer)}`);
    const mns = cloud.mnsQueues();
    let event: OperationEvent | undefined;
    while (event === undefined) {
      for (const m of await mns.receive(cloud.queues.events, { waitSeconds: 5, max: 16 })) {
        const e = JSON.parse(m.body) as OperationEvent;
        if (e.operationId === operationId) event = e;
      }
    }
    const ms = Date.now() - t0;
    if (event.outcome !== 'succeeded') throw new Error(`deployed ${warm ? 'warm' : 'cold'} #${i}: ${event.outcome} ${event.message}`);
    // The last step publishes the outcome before its invocation ends: let its record arrive.
    for (const until = Date.now() + 2000; !hops.split().hops.some((h) => h.function === event!.step) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
    const split = hops.split();
    hops.stop();
    return { ms, calls: cloud.ecs.control.calls().length - deployCalls, deployCalls, split };
  } finally {
    await cloud.close();
  }
}

const HopOrder = ['on-alarm', 'validate', 'stop-if-required', 'attach', 'verify-bound', 'configure-guest-routes'];

/**
 * Issue 16: the failover through the deployed shape on a cold path (no warm instances: every function
 * starts on its first event) and a warm one (s.yaml's minimum instances, started and initialized when the
 * local FC "deploys"), each hop split into pickup, instance start, module load, initializer and handler,
 * and each transition's poll overshoot; medians of Runs. `npm start` prints the same split for one run.
 */
export async function benchDeployedShape(): Promise<string> {
  const out = [`### Deployed shape: cold vs warm, per hop (alarm POST -> on-alarm -> queued step functions; detach 2 s + attach 3 s + guest command 1 s, x${Scale}; median of ${Runs})`, ''];
  const summary: string[] = ['| path | end-to-end ms | inherent ms | end-to-end / inherent | ECS calls (failover) | ECS calls at deploy (priming) |', '|---|---:|---:|---:|---:|---:|'];
  for (const warm of [false, true]) {
    const runs: Awaited<ReturnType<typeof deployedFailover>>[] = [];
    for (let i = 0; i < Runs; i++) runs.push(await deployedFailover(warm, i));
    const ms = median(runs.map((r) => r.ms));
    const calls = median(runs.map((r) => r.calls));
    summary.push(`| ${warm ? 'warm (minimum instances)' : 'cold (on-demand instances, warm-ahead)'} | ${ms} | ${InherentMs} | ${(ms / InherentMs).toFixed(2)} | ${calls} | ${median(runs.map((r) => r.deployCalls))} |`);
    out.push(`#### ${warm ? 'Warm' : 'Cold'} path`, '', '| hop | trigger pickup ms | instance start ms | module load ms | initializer ms | handler ms |', '|---|---:|---:|---:|---:|---:|');
    for (const fn of HopOrder) {
      const seen = runs.map((r) => r.split.hops.find((h) => h.function === fn)).filter((h): h is Hop => h !== undefined);
      if (seen.length === 0) continue;
      const m = (k: keyof Hop) => median(seen.map((h) => Number(h[k]))).toFixed(0);
      out.push(`| ${fn} | ${m('pickupMs')} | ${m('instanceStartMs')} | ${m('moduleLoadMs')} | ${m('initializerMs')} | ${m('handlerMs')} |`);
    }
    const overs = Object.values(TransitionName).map((t) => {
      const xs = runs.flatMap((r) => r.split.overshoots.filter((o) => o.transition === t).map((o) => o.ms));
      return xs.length === 0 ? undefined : `${t} ${median(xs)} ms`;
    });
    const warmed = [...new Set(runs.flatMap((r) => r.split.warmed))];
    out.push('', `poll overshoot (transition end to the first describe after it): ${overs.filter(Boolean).join(', ')}`, ...(warmed.length ? [`started ahead by a warm-ahead message (their cold start is off the path): ${warmed.join(', ')}`] : []), '');
  }
  return [...out, ...summary].join('\n');
}
