import { waitForOutcome as waitForOperationOutcome } from '../../cli/app';
import { systemClock } from '../../workflow/ports';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../local/cloud';
import { ManualClock } from '../../local/fc';
import { TablestoreLedger } from '../../cloud/ledger';
import { parseBindRequest, type BindRequest, type BindRequestInput, type OperationEvent } from '../../workflow/messages';
import { startOperation } from '../../workflow/operation';

export const TimeScale = 0.01;
export const scenarioFile = (name: string) => join(__dirname, '..', '..', 'local', 'scenarios', `${name}.yaml`);

/** The default two-node scenario, changed by `patch` (a plain object: the scenario format). */
export function twoNode(patch: (s: any) => void = () => {}): unknown {
  const s = parse(readFileSync(scenarioFile('two-node-failover'), 'utf8'));
  patch(s);
  return s;
}

/**
 * `ENI_FAILOVER_REALISM=realistic` (how `npm test` runs the integration suite a second time) puts the
 * realistic ECS (local/ecs/realism.ts) under every cloud of the suite that does not choose its own
 * roughness; `ENI_FAILOVER_REALISM_SEED` picks its draws (default 1).
 */
export const Realistic = process.env.ENI_FAILOVER_REALISM === 'realistic';

function underRealism(scenario: string | unknown): string | unknown {
  if (!Realistic) return scenario;
  const s = (typeof scenario === 'string' ? parse(readFileSync(scenario, 'utf8')) : structuredClone(scenario)) as Record<string, unknown>;
  if (s.realism === undefined) s.realism = { extends: 'realistic', seed: Number(process.env.ENI_FAILOVER_REALISM_SEED ?? 1) };
  return s;
}

/**
 * A local cloud running the built functions of s.yaml (npm test builds before jest runs). Its timers run
 * on a clock nobody advances: the reconcile timer never fires in the middle of a test.
 */
export function cloudWith(scenario: string | unknown, options: Omit<LocalCloudOptions, 'scenario'> = {}): Promise<LocalCloud> {
  return startLocalCloud({ scenario: underRealism(scenario) as string, timeScale: TimeScale, timerClock: new ManualClock(), failoverGroups: scenarioGroups(scenario), ...options });
}

/**
 * One failover group per secondary ENI of the scenario, every instance a member: the steps authorise every
 * write by the groups, so a test of the seed's rules must put its ENIs and instances in one.
 */
export function scenarioGroups(scenario: string | unknown): string {
  const s = (typeof scenario === 'string' ? parse(readFileSync(scenario, 'utf8')) : scenario) as { instances?: { instanceId: string }[]; enis?: { eniId: string }[] };
  const members = (s.instances ?? []).map((i) => i.instanceId);
  const groups = (s.enis ?? []).map((e, n) => ({ name: `g${n}`, enis: [e.eniId], members, policy: { fenceSource: true } }));
  return JSON.stringify({ version: 1, groups });
}

/** The operation ledger of a local cloud, through the production adapter (cloud/ledger.ts). */
export function ledgerOf(cloud: LocalCloud): TablestoreLedger {
  return new TablestoreLedger({ endpoint: cloud.info.tablestoreEndpoint, instanceName: cloud.info.tablestoreInstance, credentials: cloud.root });
}

/**
 * A local cloud for the entry points: timers on `clock` (fired only by `clock.advance`), and the other
 * options as given (`ecsEvents`, `vars`, `failoverGroups`, ...).
 */
export function entryCloud(scenario: string | unknown, options: Omit<LocalCloudOptions, 'scenario'> & { clock?: ManualClock } = {}): Promise<LocalCloud> {
  const { clock, ...rest } = options;
  return startLocalCloud({ scenario: underRealism(scenario) as string, timeScale: TimeScale, timerClock: clock ?? new ManualClock(), ...rest });
}

/** A CloudMonitor threshold-alarm callback's fields (function-compute.md), for the default scenario's primary. */
export function alarmFields(fields: Record<string, string> = {}): Record<string, string> {
  return {
    userId: '1000000000000001',
    alertName: 'service-down',
    timestamp: String(Date.now()),
    alertState: 'ALARM',
    dimensions: '{userId=1000000000000001, instanceId=i-primary}',
    expression: '$Maximum<1',
    curValue: '0',
    metricName: 'vm.ProcessCount',
    metricProject: 'acs_ecs_dashboard',
    instanceName: 'service-primary',
    ...fields,
  };
}

/**
 * POSTs a callback to on-alarm's HTTP trigger the way CloudMonitor does (application/x-www-form-urlencoded)
 * at `url` (default: the cloud's alarm URL, token included). Answers the HTTP status and the parsed body.
 */
export async function postAlarm(cloud: LocalCloud, fields: Record<string, string>, url = cloud.info.alarmUrl): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8', 'user-agent': 'CloudMonitor' },
    body: new URLSearchParams(fields).toString(),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

/** Every message body now on `queue` (visible or not), decoded. */
export function queueBodies(cloud: LocalCloud, queue: string): any[] {
  return cloud.mns.queues.peekBodies(queue).map((b) => JSON.parse(Buffer.from(b, 'base64').toString()));
}

export function operationFor(cloud: LocalCloud, input: Partial<BindRequestInput> & { eniId: string; instanceId: string }): BindRequest {
  const parsed = parseBindRequest({
    regionId: cloud.regionId,
    origin: { kind: 'request', id: `test-${Math.random()}`, time: new Date().toISOString() },
    ...input,
  });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

/** Records the operation in the ledger and wakes validate, as every entry point does; answers its id. */
export async function startThroughQueues(cloud: LocalCloud, request: BindRequest): Promise<string> {
  const started = await startOperation(request, { ledger: ledgerOf(cloud), queue: cloud.mnsQueues(), queues: cloud.queues, now: Date.now() });
  return started.operationId;
}

/** Starts the operation through the queues and waits for its outcome. */
export async function runThroughQueues(cloud: LocalCloud, request: BindRequest, timeoutMs = 20_000): Promise<OperationEvent> {
  return waitForOutcome(cloud, await startThroughQueues(cloud, request), timeoutMs);
}

export async function waitForOutcome(cloud: LocalCloud, operationId: string, timeoutMs = 20_000): Promise<OperationEvent> {
  const event = await waitForOperationOutcome(cloud.mnsQueues(), cloud.queues.events, operationId, Date.now() + timeoutMs, systemClock);
  if (event === undefined) throw new Error(`no outcome for ${operationId} within ${timeoutMs} ms`);

  return event;
}

/**
 * The ECS write actions the local ECS served, in order. Under the realistic ECS two writes are legitimately
 * sent again at once, and a run of them counts once here: a Detach, when a read lagging it still shows the
 * ENI InUse (ECS accepts a Detach of a Detaching ENI and changes nothing), and a RunCommand, after an
 * invocation that failed by itself or met an agent not online yet. Every other repeat stays visible.
 */
export function writes(cloud: LocalCloud): string[] {
  const reads = /^Describe|^List/;
  const served = cloud.ecs.control.calls().filter((c) => !reads.test(c.action) && c.code === undefined).map((c) => c.action);
  if (!Realistic) return served;
  return served.filter((w, i) => !(w === served[i - 1] && (w === 'DetachNetworkInterface' || w === 'RunCommand')));
}

export const eniState = (cloud: LocalCloud, eniId: string) => cloud.ecs.control.state().enis.find((e) => e.eniId === eniId);
export const instanceState = (cloud: LocalCloud, id: string) => cloud.ecs.control.state().instances.find((i) => i.instanceId === id);

/** Dead letters matching `match`, waiting (bounded) until `count` are there: outcomes land there just after the events queue. */
export async function deadLetters(cloud: LocalCloud, match: (d: any) => boolean, count = 1): Promise<any[]> {
  const until = Date.now() + 10_000;
  for (;;) {
    const dead = cloud.mns.queues.peekBodies(cloud.queues.deadLetter).map((b) => JSON.parse(Buffer.from(b, 'base64').toString())).filter(match);
    if (dead.length >= count || Date.now() > until) return dead;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits (bounded, 10 s) until `condition` holds; the caller asserts afterwards, so a timeout fails there. */
export async function eventually(condition: () => boolean): Promise<void> {
  const until = Date.now() + 10_000;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}
