import { request as httpRequest } from 'node:http';
import type { LocalCloud } from '../local/cloud';
import type { InvocationRecord } from '../local/fc';

/**
 * A failover through the deployed shape (CloudMonitor's callback -> on-alarm -> the step functions, chained
 * through MNS), split hop by hop from what the local cloud saw: per function invocation the trigger's
 * pickup, the instance start, module load and initializer (only on a cold start: an instance FC keeps warm
 * paid them at deploy time), and the handler; per ECS transition the poll overshoot (from the transition's
 * end to the first describe that could see it). `npm start` prints it and `npm run bench` takes medians.
 */

export interface Hop {
  readonly function: string;
  /** When the invocation started, ms after t0. */
  readonly startMs: number;
  /** From the message's enqueue (for HTTP: the POST being sent) to the invocation. */
  readonly pickupMs: number;
  readonly instanceStartMs: number;
  readonly moduleLoadMs: number;
  readonly initializerMs: number;
  readonly handlerMs: number;
  readonly cold: boolean;
}

/** Whether a step function's answer says it only took warm-ahead messages. */
function answeredWarmed(body: Buffer | undefined): boolean {
  if (body === undefined || body.length > 4096) return false;
  try {
    const reports = JSON.parse(body.toString('utf8')) as unknown;
    return Array.isArray(reports) && reports.length > 0 && reports.every((r) => (r as { kind?: unknown })?.kind === 'warmed');
  } catch {
    return false;
  }
}

export const TransitionName = { Detach: 'detach', Attach: 'attach', Command: 'guest command' } as const;
export type TransitionName = (typeof TransitionName)[keyof typeof TransitionName];

export interface Overshoot {
  readonly transition: TransitionName;
  /** From the transition's end in the ECS model to the first describe after it. */
  readonly ms: number;
}

export interface HopSplit {
  readonly hops: readonly Hop[];
  readonly overshoots: readonly Overshoot[];
  /** Functions whose instance a warm-ahead message started (those invocations are not hops). */
  readonly warmed: readonly string[];
}

/** What the demo and the bench need of the local cloud. */
type Cloud = Pick<LocalCloud, 'ecs' | 'fc'>;

/**
 * Starts watching `cloud` (its FC invocations, ECS model events and ECS calls). `split()` answers the hops
 * of every invocation since; `httpSentAt` (ms epoch) times the pickup of HTTP-triggered invocations.
 */
export function watchHops(cloud: Cloud, t0: number): { split(): HopSplit; httpSent(at: number): void; stop(): void } {
  const fc = cloud.fc;
  if (fc === undefined) throw new Error('the local cloud runs no functions');
  const hops: Hop[] = [];
  const warmed: string[] = [];
  let httpSentAt: number | undefined;
  const ends: { transition: TransitionName; at: number; action: string }[] = [];
  const onInvocation = (record: InvocationRecord, result?: { body?: Buffer }): void => {
    // A warm-ahead (workflow/warm-ahead.ts) is not a hop of the operation: it started the instance the hop runs on.
    if (answeredWarmed(result?.body)) {
      warmed.push(record.function.replace(/^eni-failover-/, ''));
      return;
    }
    const end = Date.now();
    const start = end - record.durationMs;
    const cold = record.coldStart;
    const pickup = record.pickupMs ?? (record.triggerType === 'http' && httpSentAt !== undefined ? Math.max(0, start - httpSentAt) : 0);
    hops.push({
      function: record.function.replace(/^eni-failover-/, ''),
      startMs: start - t0,
      pickupMs: pickup,
      instanceStartMs: cold?.instanceStartMs ?? 0,
      moduleLoadMs: cold?.moduleLoadMs ?? 0,
      initializerMs: cold?.initializerMs ?? 0,
      handlerMs: record.handlerMs,
      cold: cold !== undefined,
    });
  };
  fc.events.on('invocation', onInvocation);
  const unsubscribe = cloud.ecs.model.subscribe((e) => {
    if (e.type === 'eni' && e.from === 'Detaching' && e.to === 'Available') ends.push({ transition: TransitionName.Detach, at: e.at, action: 'DescribeNetworkInterfaces' });
    if (e.type === 'eni' && e.from === 'Attaching' && e.to === 'InUse') ends.push({ transition: TransitionName.Attach, at: e.at, action: 'DescribeNetworkInterfaces' });
    if (e.type === 'invocation' && e.to !== 'Pending' && e.to !== 'Running') ends.push({ transition: TransitionName.Command, at: e.at, action: 'DescribeInvocationResults' });
  });
  return {
    httpSent(at) {
      httpSentAt = at;
    },
    split() {
      const calls = cloud.ecs.control.calls();
      const overshoots = ends.flatMap((end) => {
        const seen = calls.find((c) => c.action === end.action && c.at >= end.at);
        return seen === undefined ? [] : [{ transition: end.transition, ms: seen.at - end.at }];
      });
      return { hops: [...hops].sort((a, b) => a.startMs - b.startMs), overshoots, warmed: [...warmed] };
    },
    stop() {
      fc.events.off('invocation', onInvocation);
      unsubscribe();
    },
  };
}

/** The split as a markdown table, one row per hop, then the overshoot of each transition. */
export function hopTable(split: HopSplit): string[] {
  const f = (ms: number) => ms.toFixed(0);
  const lines = [
    '| hop | trigger pickup ms | instance start ms | module load ms | initializer ms | handler ms |',
    '|---|---:|---:|---:|---:|---:|',
    ...split.hops.map((h) => `| ${h.function}${h.cold ? ' (cold)' : ''} | ${f(h.pickupMs)} | ${f(h.instanceStartMs)} | ${f(h.moduleLoadMs)} | ${f(h.initializerMs)} | ${f(h.handlerMs)} |`),
  ];
  if (split.overshoots.length > 0) lines.push('', `poll overshoot: ${split.overshoots.map((o) => `${o.transition} ${f(o.ms)} ms`).join(', ')}`);
  if (split.warmed.length > 0) lines.push(`warmed ahead (started by a warm-ahead message while the previous step waited on the cloud): ${[...new Set(split.warmed)].join(', ')}`);
  return lines;
}

/**
 * CloudMonitor's alarm callback as it sends it (function-compute.md): an HTTP POST, form-urlencoded, the
 * dimensions as a string, the secret token in the URL. Answers on-alarm's status and JSON body.
 */
export async function postAlarm(cloud: Pick<LocalCloud, 'accountId' | 'info'>, instanceId: string): Promise<{ status: number; answer: { operationIds?: string[]; enqueued?: { note: string }[]; error?: string; ignored?: string } }> {
  const fields = {
    userId: cloud.accountId,
    alertName: 'service-down',
    timestamp: String(Date.now()),
    alertState: 'ALARM',
    dimensions: `{userId=${cloud.accountId}, instanceId=${instanceId}}`,
    expression: '$Maximum<1',
    curValue: '0',
    metricName: 'vm.ProcessCount',
    metricProject: 'acs_ecs_dashboard',
    instanceName: instanceId,
  };
  // node:http, not fetch: a process's first fetch loads and starts undici (about 15 ms here), which is
  // this stand-in for CloudMonitor's own cost, not the failover's.
  const body = new URLSearchParams(fields).toString();
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(cloud.info.alarmUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8', 'user-agent': 'CloudMonitor', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  let answer: unknown = {};
  try {
    answer = JSON.parse(text);
  } catch {
    // Not JSON: the caller reports the status.
  }
  return { status, answer: answer as never };
}
