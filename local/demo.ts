import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { newOperation, parseBindRequest, type OperationEvent } from '../workflow/messages';
import { EniStatus } from '../workflow/model';
import guestScript from '../guest/configure-eni.sh';
import { defaultScenarioPath, startLocalCloud, type LocalCloud } from './cloud';
import { NetnsExecutor } from './guest/netns-executor';
import { NetnsTopology } from './guest/netns-topology';

/**
 * `npm start`: a real failover on the local cloud. The primary fails, a failover request goes to the
 * validate queue, and the five functions of s.yaml - built bundles, run by the local Function Compute
 * runtime, chained through the local MNS, calling the local ECS through the real SDKs - move the service
 * ENI to the standby and configure its guest. Prints a live timeline, then the numbers.
 */

interface StepLine {
  operationId?: string;
  step?: string;
  outcome?: string;
  detail?: string;
  durationMs?: number;
  apiCalls?: Record<string, number>;
}

const usage = `usage: npm start -- [--scenario FILE] [--time-scale X] [--failure stopped|unresponsive] [--json]
  --scenario FILE     a scenario with a primary (tag role=primary), a standby (role=standby) and a service ENI
                      bound to the primary (default: local/scenarios/two-node-failover.yaml)
  --time-scale X      multiply every emulated cloud latency (default 1: real time)
  --real-guests       (root) instances are network namespaces, the guest script runs for real, and a client
                      measures the downtime of the service IP
  --failure MODE      how the primary fails: 'stopped' (its host went down; default) or 'unresponsive'
                      (the OS hangs, ECS still says Running: the detach hangs until the source is fenced)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      'time-scale': { type: 'string', default: '1' },
      failure: { type: 'string', default: 'stopped' },
      'real-guests': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const timeScale = Number(values['time-scale']);
  if (!(timeScale > 0 && timeScale <= 1)) throw new UsageError(`--time-scale must be a number in (0, 1], got ${values['time-scale']}`);
  if (values.failure !== 'stopped' && values.failure !== 'unresponsive') throw new UsageError(`--failure must be stopped or unresponsive`);
  const scenarioPath = values.scenario ? resolve(values.scenario) : defaultScenarioPath;

  const guests = values['real-guests'] ? await RealGuests.create() : undefined;
  const cloud = await startLocalCloud({ scenario: scenarioPath, timeScale, ...(guests ? { guestExecutor: guests.executor } : {}) });
  try {
    if (guests) await guests.setUp(cloud);
    const code = await failover(cloud, values.failure, timeScale, guests);
    if (guests) guests.report();
    return code;
  } finally {
    await cloud.close();
    await guests?.destroy();
  }
}

async function failover(cloud: LocalCloud, failure: 'stopped' | 'unresponsive', timeScale: number, guests?: RealGuests): Promise<number> {
  const { ecs, fc } = cloud;
  const state = ecs.control.state();
  const primary = state.instances.find((i) => i.tags['role'] === 'primary');
  const standby = state.instances.find((i) => i.tags['role'] === 'standby');
  const eni = state.enis.find((e) => e.type === 'Secondary' && e.instanceId === primary?.instanceId);
  if (!primary || !standby || !eni) {
    throw new UsageError('the scenario needs an instance tagged role=primary, one tagged role=standby, and a secondary ENI bound to the primary');
  }
  const latency = ecs.model.scenario.latency;
  console.log(`local cloud up: ECS ${cloud.info.ecsEndpoint}, MNS ${cloud.info.mnsEndpoint}, FC ${cloud.info.fcEndpoint} (${fc?.functions.length ?? 0} functions from s.yaml)`);
  console.log(`service ENI ${eni.eniId} (${eni.privateIps.join(', ')}) is ${eni.status} on ${primary.instanceId}; standby ${standby.instanceId} is ${standby.status}`);
  console.log(`emulated latencies: detach ${latency.detachSeconds} s, attach ${latency.attachSeconds} s, stop ${latency.stopSeconds} s, command ${latency.commandSeconds} s` + (timeScale === 1 ? '' : ` (x${timeScale})`));

  const t0 = Date.now();
  await guests?.fail(primary.instanceId, t0);
  const stamp = () => `+${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s`;
  if (failure === 'stopped') {
    ecs.control.setInstanceStatus({ instanceId: primary.instanceId, status: 'Stopped' });
    console.log(`${stamp()}  ${primary.instanceId} FAILED: its host went down, ECS reports it Stopped`);
  } else {
    ecs.control.setGuestResponsive({ instanceId: primary.instanceId, responsive: false });
    console.log(`${stamp()}  ${primary.instanceId} FAILED: the OS hangs; ECS still reports Running`);
  }

  const parsed = parseBindRequest({
    eniId: eni.eniId,
    instanceId: standby.instanceId,
    sourceInstanceId: primary.instanceId,
    regionId: cloud.regionId,
    policy: { fenceSource: failure === 'unresponsive', deadlineSeconds: 600 },
    origin: { kind: 'request', id: `demo-${t0}`, time: new Date(t0).toISOString() },
  });
  if (!parsed.ok) throw new Error(parsed.error);
  const operation = newOperation(parsed.value, Date.now());
  const mns = cloud.mnsQueues();
  fc?.events.on('log', ({ line }: { line: string }) => {
    const entry = parseJournal(line);
    if (entry?.operationId !== operation.operationId || !entry.step) return;
    const calls = Object.values(entry.apiCalls ?? {}).reduce((a, b) => a + b, 0);
    console.log(`${stamp()}  ${entry.step.padEnd(22)} ${String(entry.outcome).padEnd(10)} ${entry.detail ?? ''}  [${entry.durationMs ?? 0} ms, ${calls} ECS calls]`);
  });
  await mns.send(cloud.queues.validate, JSON.stringify(operation));
  console.log(`${stamp()}  failover request ${operation.operationId} sent to ${cloud.queues.validate}: move ${eni.eniId} ${primary.instanceId} -> ${standby.instanceId}`);

  const event = await waitForOutcome(cloud, operation.operationId, 600_000);
  const total = Date.now() - t0;
  const after = ecs.control.state().enis.find((e) => e.eniId === eni.eniId);
  const calls = ecs.control.calls();
  const inherent = (latency.detachSeconds + latency.attachSeconds + latency.commandSeconds) * 1000 * timeScale;
  console.log('');
  console.log(`outcome: ${event.outcome.toUpperCase()}${event.reason ? ` (${event.reason})` : ''} - ${event.message}`);
  console.log(`ENI ${eni.eniId} is ${after?.status} on ${after?.instanceId ?? 'nothing'}`);
  if (event.guest !== undefined) console.log(`guest command result: ${JSON.stringify(event.guest)}`);
  console.log(`total time:        ${(total / 1000).toFixed(2)} s (alarm-free: from the failure to the guest configured)`);
  console.log(`inherent cloud time on the critical path (detach + attach + guest command): ${(inherent / 1000).toFixed(2)} s`);
  console.log(`overhead:          ${((total - inherent) / 1000).toFixed(2)} s (${(((total - inherent) / inherent) * 100).toFixed(1)}%)`);
  console.log(`ECS API calls:     ${calls.length} (${summarise(calls.map((c) => c.action))})`);
  const ok = event.outcome === 'succeeded' && after?.status === EniStatus.InUse && after.instanceId === standby.instanceId;
  void mns;
  return ok ? 0 : 1;
}

/** Reads outcomes from the events queue until the one for `operationId` arrives. */
async function waitForOutcome(cloud: LocalCloud, operationId: string, timeoutMs: number): Promise<OperationEvent> {
  const mns = cloud.mnsQueues();
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    for (const m of await mns.receive(cloud.queues.events, { waitSeconds: 1, max: 16 })) {
      await mns.delete(cloud.queues.events, m.receiptHandle);
      const event = JSON.parse(m.body) as OperationEvent;
      if (event.operationId === operationId) return event;
    }
  }
  throw new Error(`no outcome for ${operationId} within ${timeoutMs / 1000} s`);
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

/**
 * `--real-guests` (root): every instance is a network namespace, the ENI a veth that moves between them
 * when the local ECS says it attached, Cloud Assistant runs guest/configure-eni.sh for real inside the
 * namespace, and a client on another subnet keeps asking the service IP, so the downtime is measured from
 * the client's side.
 */
class RealGuests {
  private probes: { at: number; body: string | undefined }[] = [];
  private stopProbe = false;
  private probing: Promise<void> | undefined;
  private failedAt = 0;
  private primaryService: { close(): Promise<void> } | undefined;
  private serviceUrl = '';
  private constructor(
    private readonly topo: NetnsTopology,
    readonly executor: NetnsExecutor,
  ) {}

  static async create(): Promise<RealGuests> {
    if (process.getuid?.() !== 0) throw new UsageError('--real-guests builds network namespaces and needs root');
    const topo = await NetnsTopology.create();
    return new RealGuests(topo, new NetnsExecutor((id) => topo.namespaceOf(id)));
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
    const eni = state.enis.find((e) => e.type === 'Secondary' && e.status === 'InUse');
    if (!eni?.instanceId) throw new UsageError('the scenario needs a secondary ENI InUse');
    await this.topo.createEni({ eniId: eni.eniId, mac: eni.macAddress, cidr, ips: eni.privateIps });
    await this.topo.attachEni(eni.macAddress, eni.instanceId);
    // The primary is already serving: configure its guest as an earlier bind would have.
    const { buildGuestCommand } = await import('../workflow/guest-command');
    const script = buildGuestCommand({ mac: eni.macAddress, ips: eni.privateIps, persist: false }, guestScript);
    const r = await this.executor.run({ instanceId: eni.instanceId, commandType: 'RunShellScript', script, timeoutSeconds: 60 });
    if (r.exitCode !== 0) throw new Error(`configuring the primary guest failed: ${r.output}`);
    this.serviceUrl = `http://${eni.privateIps[0]}:8080/`;
    this.primaryService = await this.topo.startService(eni.instanceId, '0.0.0.0', 8080, `served by ${eni.instanceId}`);
    for (const inst of state.instances) {
      if (inst.instanceId !== eni.instanceId) await this.topo.startService(inst.instanceId, '0.0.0.0', 8080, `served by ${inst.instanceId}`);
    }
    // The ENI follows the API: it leaves a namespace when the detach completes, enters when InUse.
    cloud.ecs.model.subscribe((e) => {
      if (e.type !== 'eni' || e.eniId !== eni.eniId) return;
      if (e.to === 'Available') void this.topo.detachEni(eni.macAddress);
      if (e.to === 'InUse' && e.instanceId) void this.topo.attachEni(eni.macAddress, e.instanceId);
    });
    this.probing = this.probe();
    await new Promise((r) => setTimeout(r, 500));
    console.log(`real guests: namespaces up, ${this.serviceUrl} answers "${this.probes.at(-1)?.body ?? 'nothing'}" to a client on 192.168.77.0/24`);
  }

  /** The primary dies: its service stops answering. */
  async fail(_instanceId: string, at: number): Promise<void> {
    this.failedAt = at;
    await this.primaryService?.close();
  }

  private async probe(): Promise<void> {
    while (!this.stopProbe) {
      const at = Date.now();
      this.probes.push({ at, body: await this.topo.httpGet('client', this.serviceUrl, 300) });
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  report(): void {
    const back = this.probes.find((p) => p.at > this.failedAt && p.body !== undefined);
    const failed = this.probes.filter((p) => p.at > this.failedAt && p.body === undefined).length;
    console.log(
      back
        ? `client-side downtime: ${((back.at - this.failedAt) / 1000).toFixed(2)} s (${failed} failed requests), then "${back.body}"`
        : `client-side: the service IP did not answer again (${failed} failed requests)`,
    );
  }

  async destroy(): Promise<void> {
    this.stopProbe = true;
    await this.probing;
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
