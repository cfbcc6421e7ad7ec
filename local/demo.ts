import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { newOperation, parseBindRequest, type OperationEvent } from '../workflow/messages';
import { EniStatus } from '../workflow/model';
import { defaultScenarioPath, startLocalCloud, type LocalCloud } from './cloud';

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
  --failure MODE      how the primary fails: 'stopped' (its host went down; default) or 'unresponsive'
                      (the OS hangs, ECS still says Running: the detach hangs until the source is fenced)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      'time-scale': { type: 'string', default: '1' },
      failure: { type: 'string', default: 'stopped' },
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

  const cloud = await startLocalCloud({ scenario: scenarioPath, timeScale });
  try {
    return await failover(cloud, values.failure, timeScale);
  } finally {
    await cloud.close();
  }
}

async function failover(cloud: LocalCloud, failure: 'stopped' | 'unresponsive', timeScale: number): Promise<number> {
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

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof UsageError ? `npm start: ${err.message}\n${usage}` : `npm start failed: ${(err as Error).stack ?? err}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
