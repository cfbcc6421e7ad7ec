import { statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startLocalCloud, defaultScenarioPath, projectRoot } from '../local/cloud';
import { runInProcess } from '../workflow/in-process';
import { parseBindRequest } from '../workflow/messages';
import { parseGroups } from '../workflow/groups';
import { startOperation } from '../workflow/operation';
import { MemoryLedger } from '../workflow/memory-ledger';
import { TablestoreLedger } from '../cloud/ledger';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { systemClock } from '../workflow/ports';
import { DefaultWaitPolicy, type WaitPolicy } from '../workflow/runner';

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
  { name: 'eni-failover (200 ms for 6 s, then x1.5 to 2 s)', wait: { ...DefaultWaitPolicy, budgetMs: 600_000 } },
  { name: 'Terway (3 s x1.5)', wait: { initialMs: 3000, steadyForMs: 0, factor: 1.5, maxMs: 3000 * 1.5 ** 8, budgetMs: 600_000 } },
  { name: 'Terraform (every 5 s)', wait: { initialMs: 5000, steadyForMs: 0, factor: 1, maxMs: 5000, budgetMs: 600_000 } },
  { name: 'OOS templates (every 15 s)', wait: { initialMs: 15000, steadyForMs: 0, factor: 1, maxMs: 15000, budgetMs: 600_000 } },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
      const cloud = await startLocalCloud({ scenario: scenario as never, timeScale: Scale, functions: false });
      try {
        cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
        const parsed = parseBindRequest({ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', regionId: cloud.regionId, origin: { kind: 'cli', id: `bench-r-${i}`, time: new Date().toISOString() } });
        if (!parsed.ok) throw new Error(parsed.error);
        const t0 = Date.now();
        const event = await runInProcess(parsed.value, { ecs: cloud.ecsPort(), clock: systemClock, guestScript: 'true', timeScale: Scale, ledger: new MemoryLedger(), authority: { groups: parseGroups(groupsYaml, 'config/groups.yaml'), allowUnmanaged: false } });
        if (event.outcome !== 'succeeded') throw new Error(`${name} seed ${i + 1}: ${event.outcome} ${event.message}`);
        times.push(Date.now() - t0);
        calls.push(cloud.ecs.control.calls().length);
        refusals.push(cloud.ecs.control.calls().filter((c) => c.code !== undefined).length);
      } finally {
        await cloud.close();
      }
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
  const inherent = (2 + 3 + 1) * 1000 * Scale;
  const rows: { name: string; ms: number; calls: number }[] = [];
  for (const s of Schedules) {
    const times: number[] = [];
    const calls: number[] = [];
    for (let i = 0; i < Runs; i++) {
      const cloud = await startLocalCloud({ scenario: defaultScenarioPath, timeScale: Scale, functions: false });
      try {
        cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
        const parsed = parseBindRequest({ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', regionId: cloud.regionId, origin: { kind: 'cli', id: `bench-${i}`, time: new Date().toISOString() } });
        if (!parsed.ok) throw new Error(parsed.error);
        const t0 = Date.now();
        const event = await runInProcess(parsed.value, { ecs: cloud.ecsPort(), clock: systemClock, guestScript: 'true', timeScale: Scale, wait: s.wait, ledger: new MemoryLedger(), authority: { groups: parseGroups(groupsYaml, 'config/groups.yaml'), allowUnmanaged: false } });
        if (event.outcome !== 'succeeded') throw new Error(`${s.name}: ${event.outcome} ${event.message}`);
        times.push(Date.now() - t0);
        calls.push(cloud.ecs.control.calls().length);
      } finally {
        await cloud.close();
      }
    }
    rows.push({ name: s.name, ms: median(times), calls: median(calls) });
  }
  const ours = rows[0]!;
  out.push(`### Failover (detach 2 s + attach 3 s + guest command 1 s, x${Scale}; median of ${Runs}, in-process steps, real SDK to the local ECS)`, '');
  out.push('| polling schedule | end-to-end ms | inherent ms | overhead | ECS calls | time vs eni-failover |', '|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    out.push(`| ${r.name} | ${r.ms} | ${inherent} | ${(((r.ms - inherent) / inherent) * 100).toFixed(1)}% | ${r.calls} | ${(r.ms / ours.ms).toFixed(2)}x |`);
  }

  // The same failover through the deployed shape: queues, triggers, five function bundles.
  const e2e: number[] = [];
  let e2eCalls = 0;
  for (let i = 0; i < Runs; i++) {
    const cloud = await startLocalCloud({ scenario: defaultScenarioPath, timeScale: Scale });
    try {
      cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
      const parsed = parseBindRequest({ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', regionId: cloud.regionId, origin: { kind: 'request', id: `bench-q-${i}`, time: new Date().toISOString() } });
      if (!parsed.ok) throw new Error(parsed.error);
      const mns = cloud.mnsQueues();
      const ledger = new TablestoreLedger({ endpoint: cloud.info.tablestoreEndpoint, instanceName: cloud.info.tablestoreInstance, credentials: cloud.root });
      const t0 = Date.now();
      const op = await startOperation(parsed.value, { ledger, queue: mns, queues: cloud.queues, now: Date.now() });
      for (let found = false; !found; ) {
        for (const m of await mns.receive(cloud.queues.events, { waitSeconds: 5, max: 16 })) {
          if ((JSON.parse(m.body) as { operationId: string }).operationId === op.operationId) found = true;
        }
      }
      e2e.push(Date.now() - t0);
      e2eCalls = cloud.ecs.control.calls().length;
    } finally {
      await cloud.close();
    }
  }
  const m = median(e2e);
  out.push('', `### Through the queues and the five function bundles (same scenario, median of ${Runs})`, '');
  out.push('| path | end-to-end ms | inherent ms | overhead | ECS calls |', '|---|---:|---:|---:|---:|');
  out.push(`| MNS -> EventBridge trigger -> FC worker, x5 steps | ${m} | ${inherent} | ${(((m - inherent) / inherent) * 100).toFixed(1)}% | ${e2eCalls} |`);

  // The ledger's cost: the same in-process failover with the ledger in memory (no round trips: what the
  // workflow cost before it had a ledger, plus the bookkeeping) and on the local Tablestore (real SDK).
  const ledgerRows: { name: string; ms: number; ots: number; byOp: string }[] = [];
  for (const kind of ['in memory', 'Tablestore (real SDK, loopback)'] as const) {
    const times: number[] = [];
    let ots = 0;
    let byOp = '';
    for (let i = 0; i < Runs; i++) {
      const cloud = await startLocalCloud({ scenario: defaultScenarioPath, timeScale: Scale, functions: false });
      try {
        cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
        const parsed = parseBindRequest({ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', regionId: cloud.regionId, origin: { kind: 'cli', id: `bench-l-${i}`, time: new Date().toISOString() } });
        if (!parsed.ok) throw new Error(parsed.error);
        const ledger = kind === 'in memory' ? new MemoryLedger() : new TablestoreLedger({ endpoint: cloud.info.tablestoreEndpoint, instanceName: cloud.info.tablestoreInstance, credentials: cloud.root });
        const before = cloud.tablestore.control.calls().length;
        const t0 = Date.now();
        const event = await runInProcess(parsed.value, { ecs: cloud.ecsPort(), clock: systemClock, guestScript: 'true', timeScale: Scale, ledger, authority: { groups: parseGroups(groupsYaml, 'config/groups.yaml'), allowUnmanaged: false } });
        if (event.outcome !== 'succeeded') throw new Error(`ledger ${kind}: ${event.outcome} ${event.message}`);
        times.push(Date.now() - t0);
        const calls = cloud.tablestore.control.calls().slice(before);
        ots = calls.length;
        const counts: Record<string, number> = {};
        for (const c of calls) counts[c.operation] = (counts[c.operation] ?? 0) + 1;
        byOp = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
      } finally {
        await cloud.close();
      }
    }
    ledgerRows.push({ name: kind, ms: median(times), ots, byOp });
  }
  out.push('', `### The operation ledger's cost (same failover in-process, x${Scale}, median of ${Runs})`, '');
  out.push('| ledger | end-to-end ms | overhead over inherent | Tablestore calls per operation |', '|---|---:|---:|---|');
  for (const r of ledgerRows) out.push(`| ${r.name} | ${r.ms} | ${(((r.ms - inherent) / inherent) * 100).toFixed(1)}% | ${r.ots}${r.byOp ? ` (${r.byOp})` : ''} |`);
  out.push('', `Tablestore vs in memory: ${(ledgerRows[1]!.ms / ledgerRows[0]!.ms).toFixed(3)}x the time; the wall-clock difference is the ledger's round trips (loopback here; a few ms each inside an Alibaba region).`);

  // Bundle size and module load time of each function (cold start).
  out.push('', '### Function bundles (cold start: median `require` time in 5 fresh node processes)', '');
  out.push('| function | bundle KB | load ms |', '|---|---:|---:|');
  for (const fn of ['validate', 'stop-if-required', 'attach', 'verify-bound', 'configure-guest-routes', 'on-alarm', 'on-ecs-event', 'on-schedule', 'on-request']) {
    const file = join(projectRoot, 'dist', 'functions', fn, 'index.js');
    const loads: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = spawnSync(process.execPath, ['-e', `const t=process.hrtime.bigint();try{require(${JSON.stringify(file)})}catch{};console.log(Number(process.hrtime.bigint()-t)/1e6)`], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
      loads.push(Number(r.stdout.trim()));
    }
    out.push(`| ${fn} | ${(statSync(file).size / 1024).toFixed(0)} | ${median(loads).toFixed(1)} |`);
  }
  return out.join('\n');
}
