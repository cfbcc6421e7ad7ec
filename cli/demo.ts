import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { OperationRecord } from '../workflow/ledger';
import { TablestoreLedger } from '../cloud/ledger';
import { DefaultLocalFile } from './connection';
import { drawOperation, knownSplit, type KnownLatency, type LoggedCall } from './timeline';
import { parseGroups } from '../workflow/groups';
import { Step, type OperationEvent } from '../workflow/messages';
import { EniStatus } from '../workflow/model';
import { DetachHangsAfterMs } from '../workflow/steps/attach';
import guestScript from '../guest/configure-eni.sh';
import { waitForOutcome as waitForOperationOutcome } from './app';
import { maskAlarmToken } from './local-up';
import { systemClock } from '../workflow/ports';
import { defaultScenarioPath, startLocalCloud, type LocalCloud } from '../local/cloud';
import { loadScenario, parseScenario, type Scenario } from '../local/ecs';
import { ManualClock } from '../local/fc';
import { NetnsExecutor } from '../local/guest/netns-executor';
import { NetnsTopology } from '../local/guest/netns-topology';
import { EmulatedUdev } from '../local/guest/udev';
import { spawn, type ChildProcess } from 'node:child_process';
import { hopTable, postAlarm, watchHops } from './hops';

/**
 * `npm start`: a real failover on the local cloud, started the way production starts one. The primary
 * fails; CloudMonitor's alarm callback (an HTTP POST, form-urlencoded, with the secret token in the URL)
 * reaches on-alarm through s.yaml's HTTP trigger; on-alarm picks the standby from the failover group and
 * enqueues the failover; the five step functions of s.yaml - built bundles, run by the local Function
 * Compute runtime, chained through the local MNS, calling the local ECS through the real SDKs - move the
 * service ENI to the standby and configure its guest. Prints a live timeline, then the numbers.
 */

interface StepLine {
  operationId?: string;
  step?: string;
  outcome?: string;
  detail?: string;
  durationMs?: number;
  apiCalls?: Record<string, number>;
  /** The step the operation goes to next. */
  to?: string;
  /** What the delivery waited for before it moved on (runner: distinct, with counts). */
  waits?: string[];
}

const usage = `usage: npm start -- [--scenario FILE] [--time-scale X] [--failure stopped|unresponsive] [--real-guests] [--realistic] [--cold]
  --realistic         the local ECS as rough as the real one (local/ecs/README.md, "realistic profile")
  --scenario FILE     a scenario with a primary (tag role=primary), a standby (role=standby) and a service ENI
                      bound to the primary (default: local/scenarios/two-node-failover.yaml); the failover
                      group on-alarm uses is made from these three
  --time-scale X      multiply every emulated cloud latency (default 1: real time)
  --real-guests       (root) instances are network namespaces, the guest script runs for real, and a client
                      measures the downtime of the service IP
  --failure MODE      how the primary fails: 'stopped' (its host went down; default) or 'unresponsive'
                      (the OS hangs, ECS still says Running: the detach hangs until the source is fenced)
  --cold              no warm instances (s.yaml vars.warmInstances 0): every function starts on its first
                      event, as after weeks of idle without them`;

/** The demo's three actors, found by their tags in the scenario. */
interface Cast {
  readonly primary: string;
  readonly standby: string;
  readonly eniId: string;
}

function castOf(scenario: Scenario): Cast {
  const primary = scenario.instances.find((i) => i.tags['role'] === 'primary');
  const standby = scenario.instances.find((i) => i.tags['role'] === 'standby');
  const eni = scenario.enis.find((e) => e.status === EniStatus.InUse && e.instanceId === primary?.instanceId);
  if (!primary || !standby || !eni) {
    throw new UsageError('the scenario needs an instance tagged role=primary, one tagged role=standby, and a secondary ENI bound (InUse) to the primary');
  }
  return { primary: primary.instanceId, standby: standby.instanceId, eniId: eni.eniId };
}

/**
 * The failover group on-alarm uses (s.yaml vars.failoverGroups): the scenario's ENI, primary first. With
 * `preparedEniId` (--real-guests), a second group of the same members whose standby is prepared.
 */
function groupsFor(cast: Cast, preparedEniId?: string): string {
  const policy = { fenceSource: true, configureGuest: true, deadlineSeconds: 600 };
  const members = [cast.primary, cast.standby];
  const text = JSON.stringify({
    version: 1,
    groups: [
      { name: 'demo', enis: [cast.eniId], members, policy },
      ...(preparedEniId ? [{ name: 'demo-prepared', enis: [preparedEniId], members, policy, prepare: true }] : []),
    ],
  });
  try {
    parseGroups(text, 'the demo group');
  } catch (err) {
    throw new UsageError(`the scenario's ids cannot form a failover group: ${(err as Error).message}`);
  }
  return text;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseDemoArgs>;
  try {
    parsed = parseDemoArgs();
  } catch (err) {
    // parseArgs throws a TypeError for an unknown option or a missing value: bad usage, not a crash.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values } = parsed;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const timeScale = Number(values['time-scale']);
  if (!(timeScale > 0 && timeScale <= 1)) throw new UsageError(`--time-scale must be a number in (0, 1], got ${values['time-scale']}`);
  if (values.failure !== 'stopped' && values.failure !== 'unresponsive') throw new UsageError(`--failure must be stopped or unresponsive`);
  if (values.scenario !== undefined && /^rule-/.test(basename(values.scenario))) {
    throw new UsageError(
      `${values.scenario} is a fixture of one binding rule of the seed document (the integration tests run it to see the workflow refuse); it has no primary/standby pair to fail over. npm start runs local/scenarios/two-node-failover.yaml (default), two-node-failover-realistic.yaml, or a scenario of yours with instances tagged role=primary and role=standby`,
    );
  }
  return run(values, timeScale);
}

function parseDemoArgs() {
  return parseArgs({
    options: {
      scenario: { type: 'string' },
      'time-scale': { type: 'string', default: '1' },
      failure: { type: 'string', default: 'stopped' },
      'real-guests': { type: 'boolean', default: false },
      realistic: { type: 'boolean', default: false },
      cold: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}

async function run(values: ReturnType<typeof parseDemoArgs>['values'], timeScale: number): Promise<number> {
  const scenarioPath = values.scenario ? resolve(values.scenario) : defaultScenarioPath;
  let scenario: Scenario;
  try {
    scenario = loadScenario(scenarioPath);
    // The local ECS as rough as the real one (local/ecs/realism.ts): lagging reads, transient codes, a NIC
    // and an agent that come after the API says so, refused starts, throttling, failed invocations.
    if (values.realistic) scenario = parseScenario({ ...scenario, realism: 'realistic' }, scenarioPath);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const cast = castOf(scenario);
  // --real-guests measures a prepared standby beside a plain one in the same failover: a second ENI on the
  // primary, in a group with prepare: true.
  if (values['real-guests']) scenario = withPreparedEni(scenario, cast);

  const guests = values['real-guests'] ? await RealGuests.create() : undefined;
  const cloud = await startLocalCloud({
    scenario,
    timeScale,
    failoverGroups: groupsFor(cast, guests ? PreparedEniId : undefined),
    // The demo shows the alarm path alone: no reconcile pass at a 5-minute boundary, and no ECS event
    // starting a second failover of its own (both would race the alarm's operation for the same ENI).
    timerClock: new ManualClock(),
    ecsEvents: false,
    ...(values.cold ? { vars: { warmInstances: 0 } } : {}),
    ...(guests ? { guestExecutor: guests.executor } : {}),
  });
  try {
    if (guests) await guests.setUp(cloud);
    const code = await failover(cloud, cast, values.failure as 'stopped' | 'unresponsive', timeScale, values.cold, guests);
    if (guests) await guests.report(cloud);
    return code;
  } finally {
    await cloud.close();
    await guests?.destroy();
  }
}

async function failover(cloud: LocalCloud, cast: Cast, failure: 'stopped' | 'unresponsive', timeScale: number, cold: boolean, guests?: RealGuests): Promise<number> {
  const { ecs, fc } = cloud;
  if (!fc || cloud.info.alarmUrl === '') throw new Error('the local cloud runs no on-alarm function (s.yaml)');
  const state = ecs.control.state();
  const eni = state.enis.find((e) => e.eniId === cast.eniId)!;
  const latency = ecs.model.scenario.latency;
  console.log(`local cloud up: ECS ${cloud.info.ecsEndpoint}, MNS ${cloud.info.mnsEndpoint}, FC ${cloud.info.fcEndpoint} (${fc.functions.length} functions from s.yaml)`);
  console.log(`service ENI ${eni.eniId} (${eni.privateIps.join(', ')}) is ${eni.status} on ${cast.primary}; standby ${cast.standby}; failover group "demo": [${cast.primary}, ${cast.standby}]`);
  console.log(`CloudMonitor alarm callback: ${maskAlarmToken(cloud.info.alarmUrl)}`);
  console.log(`emulated latencies: detach ${latency.detachSeconds} s, attach ${latency.attachSeconds} s, stop ${latency.stopSeconds} s, command ${latency.commandSeconds} s` + (timeScale === 1 ? '' : ` (x${timeScale})`));

  // Step lines may arrive before on-alarm's HTTP answer names the operation: keep them until it does.
  let operationId: string | undefined;
  const early: StepLine[] = [];
  // Warm functions prime their ECS client at deploy (one DescribeInstances each): not the failover's calls.
  const deployCalls = ecs.control.calls().length;
  const t0 = Date.now();
  const hops = watchHops(cloud, t0);
  const stamp = () => `+${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s`;
  const printed: StepLine[] = [];
  const printStep = (entry: StepLine) => {
    const calls = Object.values(entry.apiCalls ?? {}).reduce((a, b) => a + b, 0);
    console.log(`${stamp()}  ${String(entry.step).padEnd(22)} ${String(entry.outcome).padEnd(10)} ${entry.detail ?? ''}  [${entry.durationMs ?? 0} ms, ${calls} ECS calls]`);
    for (const w of entry.waits ?? []) console.log(`${' '.repeat(42)}waited: ${w}`);
    printed.push(entry);
    // validate sends the operation past stop-if-required when nothing needs stopping: say so.
    if (entry.step === Step.Validate && entry.outcome === 'next' && entry.to !== undefined && entry.to !== Step.StopIfRequired) {
      console.log(`${stamp()}  ${Step.StopIfRequired.padEnd(22)} ${'skipped'.padEnd(10)} nothing to stop or restart (the plan goes straight to ${entry.to})`);
    }
  };
  fc.events.on('log', ({ line }: { line: string }) => {
    const entry = parseJournal(line);
    if (!entry?.step || !entry.operationId) return;
    if (operationId === undefined) early.push(entry);
    else if (entry.operationId === operationId) printStep(entry);
  });
  let onAlarmMs: number | undefined;
  fc.events.on('invocation', (record: { function: string; triggerType: string; durationMs: number }) => {
    if (record.triggerType === 'http' && record.function.endsWith('on-alarm')) onAlarmMs = record.durationMs;
  });

  await guests?.fail(cast.primary, t0);
  if (failure === 'stopped') {
    ecs.control.setInstanceStatus({ instanceId: cast.primary, status: 'Stopped' });
    console.log(`${stamp()}  ${cast.primary} FAILED: its host went down, ECS reports it Stopped; the service stops answering`);
  } else {
    ecs.control.setGuestResponsive({ instanceId: cast.primary, responsive: false });
    console.log(`${stamp()}  ${cast.primary} FAILED: the OS hangs, the service stops answering; ECS still reports Running`);
  }

  console.log(`${stamp()}  CloudMonitor alarm "service-down" is ALARM for ${cast.primary}: POST callback (application/x-www-form-urlencoded)`);
  hops.httpSent(Date.now());
  const res = await postAlarm(cloud, cast.primary);
  const answer = res.answer;
  if (res.status !== 202 || !answer.operationIds?.[0]) {
    console.log(`${stamp()}  on-alarm answered HTTP ${res.status}: ${JSON.stringify(answer)}`);
    return 1;
  }
  operationId = answer.operationIds[0];
  guests?.follow(answer.operationIds);
  console.log(`${stamp()}  ${'on-alarm'.padEnd(22)} ${'enqueued'.padEnd(10)} HTTP ${res.status}: ${answer.enqueued?.[0]?.note ?? ''} (operation ${operationId})  [${onAlarmMs ?? '?'} ms]`);
  for (const entry of early.splice(0)) if (entry.operationId === operationId) printStep(entry);

  const event = await waitForOutcome(cloud, operationId, 600_000);
  const total = Date.now() - t0;
  // The last step publishes the outcome before it writes its journal line: let the line arrive first.
  for (const until = Date.now() + 2000; Date.now() < until && !printed.some((p) => p.step === event.step && p.outcome === event.outcome); ) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const after = ecs.control.state().enis.find((e) => e.eniId === eni.eniId);
  const calls = ecs.control.calls().slice(deployCalls);
  // One split for the text and the picture (cli/timeline/model.ts): the known latency of each transition
  // the operation went through, the policy's wait for a hung detach, and the rest is overhead.
  const record = await operationRecord(cloud, operationId);
  const known = { seconds: latency, timeScale };
  const split = knownSplit(total, record, known);
  const inherent = split.cloudMs;
  const policyWait = split.policyMs;
  console.log('');
  console.log(`outcome: ${event.outcome.toUpperCase()}${event.reason ? ` (${event.reason})` : ''} - ${event.message}`);
  console.log(`ENI ${eni.eniId} is ${after?.status} on ${after?.instanceId ?? 'nothing'}`);
  if (event.guest !== undefined) console.log(`guest command result: ${JSON.stringify(event.guest)}`);
  console.log(`total time:        ${(total / 1000).toFixed(2)} s (from the failure, through the alarm callback, to the guest configured; CloudMonitor's own detection delay not included)`);
  console.log(`inherent cloud time on the critical path (${inherentParts(record)}): ${(inherent / 1000).toFixed(2)} s`);
  // A hung source: the workflow waits DetachHangsAfterMs by policy before it fences (force-stops) the source,
  // and the forced stop takes the stop latency. Both are the policy's and the cloud's time, not overhead.
  // The threshold runs from the detach request, so the detach's own latency (in `inherent`) is inside it.
  if (policyWait > 0) console.log(`policy wait:       ${(policyWait / 1000).toFixed(2)} s (the detach-hang threshold before the fence, ${DetachHangsAfterMs / 1000} s from the detach request, then the forced stop, ${latency.stopSeconds} s)`);
  const overhead = split.overheadMs;
  console.log(`overhead:          ${(overhead / 1000).toFixed(2)} s (${((overhead / inherent) * 100).toFixed(1)}%)`);
  console.log(`ECS API calls:     ${calls.length} (${summarise(calls.map((c) => c.action))})${deployCalls > 0 ? `; ${deployCalls} more at deploy (the warm functions' initializers priming their ECS client)` : ''}`);
  // The same split `npm run bench` takes medians of ("Deployed shape: cold vs warm, per hop"); the last
  // step's invocation ends after it published the outcome.
  for (const until = Date.now() + 2000; !hops.split().hops.some((h) => h.function === event.step) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
  const hopSplit = hops.split();
  hops.stop();
  const ratio = (total - policyWait) / inherent;
  console.log('');
  console.log(`deployed shape, ${cold ? 'cold (no warm instances: each function starts on its first event)' : 'warm (s.yaml minimum instances, started and initialized at deploy)'}: end-to-end / inherent = ${ratio.toFixed(2)}`);
  for (const line of hopTable(hopSplit)) console.log(line);
  // What the workflow rode out: refusals the port retried (throttling, transient codes) never reach a step's line.
  const refused = calls.filter((c) => c.code !== undefined);
  if (refused.length > 0) console.log(`ECS refusals met:  ${refused.length} (${summarise(refused.map((c) => `${c.action} ${c.code}`))}), each retried or looked at again`);
  const picture = writeTimelinePicture(record, known, calls);
  console.log(`timeline picture:  ${picture} (the operation's ${((record.outcome?.durationMs ?? 0) / 1000).toFixed(2)} s from its record to its outcome, step by step; open it in a browser)`);
  const ok = event.outcome === 'succeeded' && after?.status === EniStatus.InUse && after.instanceId === cast.standby;
  return ok ? 0 : 1;
}

/** The operation as the ledger (the local Tablestore) recorded it: what `eni-failover timeline` reads. */
async function operationRecord(cloud: LocalCloud, operationId: string): Promise<OperationRecord> {
  const { accessKeyId, accessKeySecret, tablestoreEndpoint, tablestoreInstance } = cloud.info;
  const ledger = new TablestoreLedger({ endpoint: tablestoreEndpoint, instanceName: tablestoreInstance, credentials: { accessKeyId, accessKeySecret } });
  const record = await ledger.get(operationId);
  if (record === undefined) throw new Error(`the ledger has no record of ${operationId}`);
  return record;
}

/** What the critical path's inherent time is made of, for the text line. */
function inherentParts(record: OperationRecord): string {
  const s = record.state;
  return [
    ...(s.stopRequestedAt !== undefined ? ['stop'] : []),
    ...(s.detachSentAt !== undefined || s.detachRequestedAt !== undefined ? ['detach'] : []),
    ...(s.attachRequests > 1 ? [`${s.attachRequests} attaches`] : s.attachRequestedAt !== undefined ? ['attach'] : []),
    ...(s.guestRuns > 1 ? [`${s.guestRuns} guest commands`] : s.guestRuns === 1 ? ['guest command'] : []),
  ].join(' + ');
}

/** Draws the operation (cli/timeline) into .local-cloud/ (git-ignored), with the local ECS's call log as ticks. */
function writeTimelinePicture(record: OperationRecord, known: KnownLatency, calls: readonly LoggedCall[]): string {
  const { svg } = drawOperation({ record, known, calls });
  const file = join(LocalDir, `timeline-${record.operationId}.svg`);
  mkdirSync(resolve(LocalDir), { recursive: true });
  writeFileSync(resolve(file), svg);
  return file;
}

/** Reads outcomes from the events queue until the one for `operationId` arrives (the CLI's `submit --wait`). */
async function waitForOutcome(cloud: LocalCloud, operationId: string, timeoutMs: number): Promise<OperationEvent> {
  const event = await waitForOperationOutcome(cloud.mnsQueues(), cloud.queues.events, operationId, Date.now() + timeoutMs, systemClock);
  if (event === undefined) throw new Error(`no outcome for ${operationId} within ${timeoutMs / 1000} s`);
  return event;
}

function parseJournal(line: string): StepLine | undefined {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(line.slice(start)) as StepLine;
  } catch {
    return undefined;
  }
}

function summarise(actions: string[]): string {
  const counts = new Map<string, number>();
  for (const a of actions) counts.set(a, (counts.get(a) ?? 0) + 1);
  return [...counts].map(([a, n]) => `${a} ${n}`).join(', ');
}

class UsageError extends Error {}

/** The second ENI of --real-guests, in the group with prepare: true. */
const PreparedEniId = 'eni-prepared';

/** The scenario with a second secondary ENI on the primary (first free IPs of the same vSwitch). */
function withPreparedEni(scenario: Scenario, cast: Cast): Scenario {
  const service = scenario.enis.find((e) => e.eniId === cast.eniId)!;
  if (scenario.enis.some((e) => e.eniId === PreparedEniId)) return scenario;
  const { privateIps: _ips, macAddress: _mac, ...rest } = service;
  const prepared = { ...rest, eniId: PreparedEniId, name: 'prepared-eni', macAddress: '00:16:3e:12:34:57', status: EniStatus.InUse, instanceId: cast.primary };
  return parseScenario({ ...scenario, enis: [...scenario.enis, prepared] }, 'the scenario with the prepared ENI');
}

// The client's prober, run inside the client namespace: every 10 ms one HTTP GET per target URL (each on
// its own connection, 250 ms timeout), one JSON line per answer or failure with the time it was sent.
const PROBER = String.raw`
const http = require('node:http');
const targets = process.argv.slice(1);
const out = (i, sent, body) => process.stdout.write(JSON.stringify({ i, sent, body }) + '\n');
setInterval(() => {
  targets.forEach((url, i) => {
    const sent = Date.now();
    const req = http.get(url, { timeout: 250, agent: false }, (res) => {
      let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => out(i, sent, body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => out(i, sent, null));
  });
}, 10);
process.on('SIGTERM', () => process.exit(0));
`;

/** One service IP the client probes: an ENI, and when it went InUse on the standby. */
interface ProbedEni {
  readonly eniId: string;
  readonly mac: string;
  readonly ip: string;
  readonly prepared: boolean;
  inUseAt?: number;
}

/** Where the local cloud's files go (git-ignored): beside `local up`'s cloud.json. */
const LocalDir = dirname(DefaultLocalFile);

/**
 * `--real-guests` (root): every instance is a network namespace, each ENI a veth that moves between them
 * when the local ECS says it attached, Cloud Assistant runs guest/configure-eni.sh for real inside the
 * namespace, and a client on another subnet probes both service IPs every 10 ms, so the downtime is
 * measured from the client's side - for the plain ENI (configured by the RunCommand of
 * configure-guest-routes) and the prepared one (configured by the standby's hot-plug hook, installed by
 * the prepare pass, when the NIC appears; udev emulated: local/guest/udev.ts) - side by side.
 */
class RealGuests {
  private probes: { i: number; sent: number; body: string | null }[] = [];
  private prober: ChildProcess | undefined;
  private failedAt = 0;
  private primaryService: { close(): Promise<void> } | undefined;
  private enis: ProbedEni[] = [];
  private standby = '';
  private operationIds: readonly string[] = [];
  private readonly guestLines = new Map<string, string>();
  private constructor(
    private readonly topo: NetnsTopology,
    readonly executor: NetnsExecutor,
    private readonly udev: EmulatedUdev,
  ) {}

  static async create(): Promise<RealGuests> {
    if (process.getuid?.() !== 0) throw new UsageError('--real-guests builds network namespaces and needs root');
    const topo = await NetnsTopology.create();
    // Each instance's files (the hook, its rules and state) live in its own sandbox root (ENI_ROOT).
    const executor = new NetnsExecutor((id) => topo.namespaceOf(id), { rootOf: (id) => (topo.namespaceOf(id) ? topo.guestRoot(id) : undefined) });
    return new RealGuests(topo, executor, new EmulatedUdev(topo, (id) => topo.guestRoot(id)));
  }

  async setUp(cloud: LocalCloud): Promise<void> {
    const state = cloud.ecs.control.state();
    const vsw = cloud.ecs.model.scenario.vSwitches[0];
    if (!vsw) throw new UsageError('the scenario has no vSwitch');
    const cidr = vsw.cidrBlock;
    for (const inst of state.instances) {
      const primaryEni = state.enis.find((e) => e.instanceId === inst.instanceId && e.type === 'Primary');
      if (!primaryEni) continue;
      await this.topo.addInstance({ instanceId: inst.instanceId, cidr, ip: primaryEni.privateIps[0]!, mac: primaryEni.macAddress });
      await this.topo.startMetadata(inst.instanceId);
    }
    await this.topo.addInstance({ instanceId: 'client', cidr: '192.168.77.0/24', ip: '192.168.77.10', mac: '00:16:3e:77:00:10' });
    const secondaries = state.enis.filter((e) => e.type === 'Secondary' && e.status === 'InUse' && e.instanceId !== undefined);
    const holder = secondaries[0]?.instanceId;
    if (!holder || !secondaries.some((e) => e.eniId === PreparedEniId)) throw new UsageError('the scenario needs a secondary ENI InUse');
    this.standby = state.instances.find((i) => i.instanceId !== holder)?.instanceId ?? '';
    const { buildGuestCommand } = await import('../workflow/guest-command');
    for (const eni of secondaries) {
      await this.topo.createEni({ eniId: eni.eniId, mac: eni.macAddress, cidr, ips: eni.privateIps });
      await this.topo.attachEni(eni.macAddress, holder);
      // The primary is already serving: configure its guest as an earlier bind would have.
      const script = buildGuestCommand({ mac: eni.macAddress, ips: eni.privateIps, persist: false }, guestScript);
      const r = await this.executor.run({ instanceId: holder, commandType: 'RunShellScript', script, timeoutSeconds: 60 });
      if (r.exitCode !== 0) throw new Error(`configuring the primary guest failed: ${r.output}`);
      this.enis.push({ eniId: eni.eniId, mac: eni.macAddress, ip: eni.privateIps[0]!, prepared: eni.eniId === PreparedEniId });
    }
    this.primaryService = await this.topo.startService(holder, '0.0.0.0', 8080, `served by ${holder}`);
    for (const inst of state.instances) {
      if (inst.instanceId !== holder) await this.topo.startService(inst.instanceId, '0.0.0.0', 8080, `served by ${inst.instanceId}`);
    }
    // Each ENI follows the API: it leaves a namespace when the detach completes, enters when InUse.
    cloud.ecs.model.subscribe((e) => {
      const eni = e.type === 'eni' ? this.enis.find((x) => x.eniId === e.eniId) : undefined;
      if (e.type !== 'eni' || eni === undefined) return;
      if (e.to === 'Available') void this.topo.detachEni(eni.mac);
      if (e.to === 'InUse' && e.instanceId) {
        if (e.instanceId === this.standby) eni.inUseAt = Date.now();
        void this.topo.attachEni(eni.mac, e.instanceId);
      }
    });
    cloud.fc?.events.on('log', ({ line }: { line: string }) => this.keepGuestLine(line));
    await this.prepareStandby(cloud);
    this.startProber();
    await this.untilAnswered();
    console.log(`real guests: namespaces up; ${this.enis.map((e) => `http://${e.ip}:8080/`).join(' and ')} answer "served by ${holder}" to a client on 192.168.77.0/24`);
  }

  /** The prepare pass, as on-schedule runs it ({"mode":"prepare"}): the standby gets the hot-plug hook. */
  private async prepareStandby(cloud: LocalCloud): Promise<void> {
    const fn = cloud.fc?.functions.find((f) => f.endsWith('on-schedule'));
    if (!cloud.fc || !fn) throw new Error('the local cloud runs no on-schedule function (s.yaml)');
    const t = Date.now();
    const r = await cloud.fc.invoke(fn, { triggerTime: new Date().toISOString(), triggerName: 'prepare', payload: '{"mode":"prepare"}' });
    const out = JSON.parse(r.body.toString() || '{}') as { prepared?: { instanceId: string; action: string; detail: string }[] };
    const mine = out.prepared?.find((p) => p.instanceId === this.standby);
    if (!r.ok || mine === undefined || (mine.action !== 'installed' && mine.action !== 'current')) {
      throw new Error(`the prepare pass did not prepare ${this.standby}: ${r.body.toString() || r.error?.errorMessage}`);
    }
    console.log(`prepare pass (on-schedule {"mode":"prepare"}, ${((Date.now() - t) / 1000).toFixed(2)} s): ${this.standby} ${mine.detail}`);
  }

  private startProber(): void {
    const urls = this.enis.map((e) => `http://${e.ip}:8080/`);
    const child = spawn('ip', ['netns', 'exec', this.topo.instance('client').namespace, process.execPath, '-e', PROBER, ...urls], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.probes.push(JSON.parse(buf.slice(0, nl)) as { i: number; sent: number; body: string | null });
        buf = buf.slice(nl + 1);
      }
    });
    this.prober = child;
  }

  private async untilAnswered(): Promise<void> {
    for (const until = Date.now() + 10_000; Date.now() < until; ) {
      if (this.enis.every((_, i) => this.probes.some((p) => p.i === i && p.body !== null))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the client gets no answer from the service IPs before the failure');
  }

  /** The primary dies: its service stops answering. */
  async fail(_instanceId: string, at: number): Promise<void> {
    this.failedAt = at;
    await this.primaryService?.close();
  }

  /** The operations on-alarm started (one per ENI, in group order: the plain one, then the prepared one). */
  follow(operationIds: readonly string[]): void {
    this.operationIds = operationIds;
  }

  private keepGuestLine(line: string): void {
    const entry = parseJournal(line);
    if (entry?.step === Step.ConfigureGuestRoutes && entry.operationId && entry.outcome !== 'wait' && entry.outcome !== 'next') this.guestLines.set(entry.operationId, `${entry.outcome}: ${entry.detail ?? ''}`);
  }

  /** Waits for the prepared operation's end too, then prints both downtimes side by side. */
  async report(cloud: LocalCloud): Promise<void> {
    for (const until = Date.now() + 60_000; Date.now() < until && this.operationIds.some((id) => !this.guestLines.has(id)); ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // A last answer from each IP after its operation ended, so "first answer" is never cut short.
    await new Promise((r) => setTimeout(r, 300));
    await this.udev.settle();
    const rows = this.enis.map((eni, i) => this.downtimeOf(eni, i));
    const col = (s: string) => s.padEnd(44);
    const line = (label: string, f: (r: (typeof rows)[number]) => string) => console.log(`  ${label.padEnd(26)}${rows.map((r) => col(f(r))).join('')}`);
    console.log('');
    console.log(`client-side downtime of the service IPs (a client on 192.168.77.0/24 probes each every 10 ms; from the failure, when the primary stops answering, to the standby's first answer):`);
    line('standby', (r) => (r.eni.prepared ? 'prepared (group prepare: true)' : 'not prepared'));
    line('ENI, IP probed', (r) => `${r.eni.eniId}, ${r.eni.ip}`);
    line('downtime', (r) => (r.back === undefined ? 'did not answer again' : `${(r.downtimeMs / 1000).toFixed(2)} s`));
    line('InUse on the standby at', (r) => (r.eni.inUseAt === undefined ? '-' : `+${((r.eni.inUseAt - this.failedAt) / 1000).toFixed(2)} s`));
    line('answering after InUse', (r) => (r.back === undefined || r.eni.inUseAt === undefined ? '-' : `+${((r.back - r.eni.inUseAt) / 1000).toFixed(2)} s`));
    line('hot-plug hook ran for', (r) => (r.hookMs === undefined ? '-' : `${(r.hookMs / 1000).toFixed(2)} s (udev RUN, from the NIC's add)`));
    line('failed probes', (r) => String(r.failed));
    line('configured by', (r) => r.by);
    console.log(`  (the emulated guest command takes ${cloud.ecs.model.scenario.latency.commandSeconds} s per RunCommand, scaled; the prepared IP answers before configure-guest-routes runs, which only verifies)`);
  }

  private downtimeOf(eni: ProbedEni, i: number) {
    const mine = this.probes.filter((p) => p.i === i);
    const from = this.failedAt;
    const back = mine.find((p) => p.sent > from && p.body === `served by ${this.standby}`)?.sent;
    const failed = mine.filter((p) => p.sent > from && (back === undefined || p.sent < back) && p.body !== `served by ${this.standby}`).length;
    const opId = this.operationIds[i];
    const guest = opId === undefined ? undefined : this.guestLines.get(opId);
    const by =
      guest === undefined
        ? 'unknown (no outcome yet)'
        : /hot-plug hook when the NIC appeared/.test(guest)
          ? 'the hook (udev); the command verified'
          : /configured by the command/.test(guest)
            ? 'the RunCommand (the hook had not)'
            : /guest configured/.test(guest)
              ? 'the RunCommand'
              : guest.slice(0, 42);
    const hook = this.udev.runs.find((u) => u.mac === eni.mac && u.instanceId === this.standby);
    return { eni, back, downtimeMs: back === undefined ? 0 : back - from, failed, by, hookMs: hook === undefined ? undefined : hook.endedAt - hook.startedAt };
  }

  async destroy(): Promise<void> {
    this.prober?.kill('SIGTERM');
    await this.udev.settle();
    await this.topo.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof UsageError ? `npm start: ${err.message}\n${usage}` : `npm start failed: ${(err as Error).stack ?? err}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
