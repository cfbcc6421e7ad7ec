import type { ParseResult } from '../messages';
import { evaluateFailback, failbackDecisions, groupsPreferring, recordFailbackFailure } from '../failback';
import { DefaultFlapWindowSeconds, failoverFrom, windowStart, type EntryDecision, type EntryDeps, type EntryResult } from './failover';

/**
 * CloudMonitor threshold-alarm callbacks (function-compute.md, "CloudMonitor threshold alarm callback"):
 * an HTTP POST, application/x-www-form-urlencoded, with userId, alertName, timestamp, alertState and
 * dimensions. Only ALARM starts a failover (an old doc calls it ALERT); OK and INSUFFICIENT_DATA do not. About
 * a group's preferred member, ALARM also stops its failback clock and OK may start it (workflow/failback.ts).
 */

export const AlarmState = { Ok: 'OK', Alarm: 'ALARM', InsufficientData: 'INSUFFICIENT_DATA', AlertLegacy: 'ALERT' } as const;
export type AlarmState = (typeof AlarmState)[keyof typeof AlarmState];

/** States that mean "the instance is failing". */
const Triggering: ReadonlySet<string> = new Set([AlarmState.Alarm, AlarmState.AlertLegacy]);

export interface AlarmCallback {
  readonly alertName: string;
  readonly alertState: AlarmState;
  readonly instanceId: string;
  /** Epoch ms of the alarm (CloudMonitor sends ms; seconds are accepted too). */
  readonly timestampMs: number | undefined;
  readonly userId?: string;
  readonly metricName?: string;
}

const instanceIdPattern = /^i-[a-z0-9]{1,40}$/;

/**
 * `dimensions` as CloudMonitor sends it: a string like `{userId=12****, instanceId=i-12****}`, or (older
 * docs) JSON - an object, an array of objects, or an array of `{name|key, value}` pairs.
 */
export function instanceIdFromDimensions(dimensions: string): string | undefined {
  const text = dimensions.trim();
  if (text.startsWith('[') || text.startsWith('{"') || text.startsWith('{ "')) {
    try {
      const found = fromJson(JSON.parse(text));
      if (found !== undefined) return found;
    } catch {
      // Not JSON after all: fall through to the key=value form.
    }
  }
  return /(?:^|[{,\s"])instanceId"?\s*[=:]\s*"?([^,}\s"]+)/.exec(text)?.[1];
}

function fromJson(data: unknown): string | undefined {
  const items = Array.isArray(data) ? data : [data];
  for (const item of items) {
    if (typeof item !== 'object' || item === null) continue;
    const o = item as Record<string, unknown>;
    if (typeof o.instanceId === 'string') return o.instanceId;
    const name = o.name ?? o.key;
    if (name === 'instanceId' && typeof o.value === 'string') return o.value;
  }
  return undefined;
}

/**
 * Parses a callback body (the urlencoded text, or its fields). Guarantees: `ok: false` names the missing
 * or bad field (the HTTP answer is 400); an instance id is extracted from either dimensions form.
 */
/** A callback whose timestamp is further than this from now is refused (a replay, or a clock far off). */
export const AlarmTimestampSkewMs = 86_400_000;

export function parseAlarmCallback(body: string | Readonly<Record<string, string>>, now?: number): ParseResult<AlarmCallback> {
  const fields: Record<string, string> = typeof body === 'string' ? Object.fromEntries(new URLSearchParams(body)) : { ...body };
  const alertName = fields.alertName?.trim();
  if (!alertName) return { ok: false, error: 'alertName: is required' };
  const state = fields.alertState?.trim().toUpperCase();
  if (!state) return { ok: false, error: 'alertState: is required' };
  if (!(Object.values(AlarmState) as string[]).includes(state)) {
    return { ok: false, error: `alertState: "${state}" is not one of ${Object.values(AlarmState).join(', ')}` };
  }
  const dimensions = fields.dimensions;
  if (dimensions === undefined || dimensions.trim() === '') return { ok: false, error: 'dimensions: is required (it names the instance)' };
  const instanceId = instanceIdFromDimensions(dimensions);
  if (instanceId === undefined) return { ok: false, error: `dimensions: no instanceId in ${JSON.stringify(dimensions.slice(0, 200))}` };
  if (!instanceIdPattern.test(instanceId)) return { ok: false, error: `dimensions: instanceId "${instanceId.slice(0, 60)}" does not look like i-xxxx` };
  let timestampMs: number | undefined;
  if (fields.timestamp !== undefined && fields.timestamp.trim() !== '') {
    const n = Number(fields.timestamp);
    if (!Number.isFinite(n) || n <= 0) return { ok: false, error: `timestamp: "${fields.timestamp.slice(0, 40)}" is not epoch milliseconds` };
    timestampMs = n < 1e12 ? n * 1000 : n;
    if (now !== undefined && Math.abs(timestampMs - now) > AlarmTimestampSkewMs) {
      return { ok: false, error: `timestamp: ${fields.timestamp.slice(0, 40)} is more than a day from now (${new Date(now).toISOString()}); a replayed or misdated callback is not acted on` };
    }
  }
  return {
    ok: true,
    value: {
      alertName,
      alertState: state as AlarmState,
      instanceId,
      timestampMs,
      ...(fields.userId ? { userId: fields.userId } : {}),
      ...(fields.metricName ? { metricName: fields.metricName } : {}),
    },
  };
}

/**
 * Turns an alarm into binds. Not ALARM: ignored with the state as the reason. ALARM: fails the alarmed
 * instance's group ENIs over (see failoverFrom). The origin id is `<alertName>/<instanceId>/<window start>`
 * with a window of `windowSeconds` (default 600): CloudMonitor's retries and repeated alarms inside one
 * window give the same operationIds, and a later alarm after the ENI moved finds nothing to move.
 */
export async function normaliseAlarm(alarm: AlarmCallback, deps: EntryDeps & { windowSeconds?: number }): Promise<EntryResult> {
  const at = alarm.timestampMs ?? deps.now();
  if (alarm.alertState === AlarmState.Ok) return alarmBackToOk(alarm, at, deps);
  if (!Triggering.has(alarm.alertState)) return { kind: 'ignored', reason: `${alarm.alertState} state` };
  const origin = {
    kind: 'alarm' as const,
    id: `${alarm.alertName}/${alarm.instanceId}/${windowStart(at, deps.windowSeconds ?? DefaultFlapWindowSeconds)}`.slice(0, 256),
    time: new Date(at).toISOString(),
  };
  // Independent: the failback clock's reset (a ledger row per group) and the failover's own reads. Both
  // are done before the entry answers; either failing fails the callback, which CloudMonitor repeats.
  const [, decisions] = await Promise.all([recordPreferredFailure(alarm, at, deps), failoverFrom(alarm.instanceId, origin, deps)]);
  return { kind: 'decided', decisions };
}

/**
 * An ALARM about a group's preferred member stops its failback clock (workflow/failback.ts): until this
 * rule says OK again the member is not healthy, even when ECS shows it Running.
 */
async function recordPreferredFailure(alarm: AlarmCallback, at: number, deps: EntryDeps): Promise<void> {
  const ledger = deps.ledger;
  if (ledger === undefined) return;
  for (const group of groupsPreferring(deps.groups.groups, alarm.instanceId)) {
    await recordFailbackFailure(group, { kind: 'failure', at, what: `alarm ${alarm.alertName} is ${alarm.alertState}`, alarm: alarm.alertName }, { ledger, now: deps.now });
  }
}

/**
 * OK: no failover, but the preferred member's failback clock may start (or, with a hold of 0, a failback
 * of `failback: auto`). Ignored, as before, when it is no group's preferred member or nothing is away.
 */
async function alarmBackToOk(alarm: AlarmCallback, at: number, deps: EntryDeps): Promise<EntryResult> {
  const ledger = deps.ledger;
  const groups = groupsPreferring(deps.groups.groups, alarm.instanceId);
  if (ledger === undefined || groups.length === 0) return { kind: 'ignored', reason: `${alarm.alertState} state` };
  const decisions: EntryDecision[] = [];
  for (const group of groups) {
    const report = await evaluateFailback(group, { kind: 'alarm-ok', at, alarm: alarm.alertName }, { kind: 'observe' }, { ecs: deps.ecs, ledger, regionId: deps.regionId, now: deps.now });
    decisions.push(...failbackDecisions(report));
  }
  if (!decisions.some((d) => d.kind === 'bind')) {
    const notes = decisions.map((d) => (d.kind === 'skip' ? d.reason : '')).filter(Boolean);
    return { kind: 'ignored', reason: [`${alarm.alertState} state`, ...notes].join('; ') };
  }
  return { kind: 'decided', decisions };
}
