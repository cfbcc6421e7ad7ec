import { describeGroupEnis, type FailoverGroup } from './groups';
import { failbackClockId, eniLeaseId, type FailbackClock, type LeaseRecord, type LedgerPort } from './ledger';
import { BindRequest, deriveOperationId } from './messages';
import { EniStatus, InstanceStatus, type Eni } from './model';
import type { EcsPort } from './ports';
import type { EntryDecision } from './entries/failover';

/**
 * Failback with hysteresis: once a standby holds a group's ENIs, they go back to the preferred member (the
 * group's first) only after it has been healthy for `holdSeconds` and the ENIs have stayed on the standby
 * `minDwellSeconds`; `failback: auto` then moves them through the ordinary workflow (origin `failback`),
 * `manual` only reports "failback possible" until an operator asks (`eni-failover failback --group G`).
 *
 * The clock is a row of the ledger (`failback/<group>`, {@link FailbackClock}) changed only by
 * compare-and-set, so concurrent observers (reconcile passes, alarm callbacks, ECS events) agree on it and
 * exactly one of them starts a given failback:
 *
 *   preferred fails ---- ENI on standby ---------------------------------------------------------->
 *        |  (failure: clock cleared)   OK / healthy look: healthySince = t
 *        |                                 |<------------- holdSeconds ------------->| failback starts
 *        |                                 |   a failure inside: cleared, starts again at the next healthy look
 *
 * Healthy: Running, its Cloud Assistant agent online (when the group configures guests), and no alarm rule
 * whose last callback about it was ALARM. Failures: an ALARM callback, an ECS stop/failure event that is not
 * the workflow's own stop, a look that finds it unhealthy, and a failback that did not succeed. At most one
 * failback per group per hold: the next may start no sooner than holdSeconds after the last one started.
 *
 * Times are the observations' own (an alarm's timestamp, an event's time, a timer's fire time) and the
 * clock's present is the latest of them and now, so one timeline holds even when the observers' clocks
 * differ (in production they agree to the second; a manual test clock drives the timers and the alarms).
 */

/** What an entry saw, besides what the evaluation reads of the cloud itself. */
export type FailbackObservation =
  /** The preferred member failed: an ALARM callback (with its rule's name) or an ECS event. */
  | { readonly kind: 'failure'; readonly at: number; readonly what: string; readonly alarm?: string }
  /** A CloudMonitor rule about the preferred member is back to OK. */
  | { readonly kind: 'alarm-ok'; readonly at: number; readonly alarm: string }
  /** A reconcile pass (or an operator's request) looks at the group. */
  | { readonly kind: 'look'; readonly at: number };

type LookOrOk = Exclude<FailbackObservation, { kind: 'failure' }>;

/**
 * An observation dated further ahead of this function's clock than this is taken as of now + this: the
 * clock's present only moves forward, and a callback dated hours ahead (a wrong clock, a forged timestamp
 * the alarm entry's one-day window lets through) must not count a hold as passed.
 */
export const MaxObservationAheadMs = 60_000;
const notAhead = (at: number, now: number): number => Math.min(at, now + MaxObservationAheadMs);

/** Where a group stands. `possible`: the conditions hold and the group's mode (manual) waits for an operator. */
export type FailbackState = 'none' | 'waiting' | 'possible' | 'started' | 'in-progress';

export interface FailbackReport {
  readonly group: string;
  readonly mode: FailoverGroup['failback'];
  readonly state: FailbackState;
  readonly detail: string;
  /** When the conditions will hold, if only time is missing. */
  readonly dueAt?: number;
  /** The binds this evaluation started (or started again after a crash lost them): send them. */
  readonly binds: readonly BindRequest[];
}

export interface FailbackDeps {
  readonly ecs: EcsPort;
  readonly ledger: LedgerPort;
  readonly regionId: string;
  readonly now: () => number;
}

/**
 * How an evaluation may act: `observe` updates the clock and starts a failback only for `failback: auto`;
 * `operator` also starts it in manual mode (an operator asked; `requestId` names the failback); `read`
 * only reports (writes nothing: `eni-failover status`).
 */
export type FailbackTrigger = { readonly kind: 'observe' } | { readonly kind: 'operator'; readonly requestId: string } | { readonly kind: 'read' };

/** The preferred member: the group's first. */
export const preferredOf = (group: FailoverGroup): string => group.members[0]!;

/**
 * Records a failure of the preferred member (an ALARM callback, an ECS event). Guarantees: the clock's
 * healthySince is cleared and the failure recorded (an ALARM also marks its rule), whatever else is
 * happening; reads nothing from ECS; throws only when the ledger cannot be written.
 */
export async function recordFailbackFailure(group: FailoverGroup, observed: Extract<FailbackObservation, { kind: 'failure' }>, deps: Pick<FailbackDeps, 'ledger' | 'now'>): Promise<void> {
  const observation = { ...observed, at: notAhead(observed.at, deps.now()) };
  await changeClock(deps.ledger, group, deps.now(), (clock) => {
    const { healthySince: _cleared, ...rest } = clock;
    return {
      ...rest,
      lastFailureAt: Math.max(clock.lastFailureAt ?? 0, observation.at),
      lastFailure: observation.what.slice(0, 512),
      observedAt: Math.max(clock.observedAt ?? 0, observation.at),
      ...(observation.alarm === undefined ? {} : { alarms: { ...clock.alarms, [observation.alarm]: 'ALARM' as const } }),
    };
  });
}

/**
 * Looks at one group: settles the failback in flight, brings the clock up to date with what the cloud
 * shows (the preferred member's health, which member holds each ENI), and decides. Guarantees: every
 * change is one compare-and-set of the group's row (retried on a lost race), so of concurrent evaluations
 * exactly one starts a failback - a bind per ENI away, origin `failback`, from the standby holding it to the
 * preferred member - and only once the member has been healthy holdSeconds, the ENIs have dwelt
 * minDwellSeconds, and holdSeconds have passed since the last failback started; a failback that ended
 * otherwise than succeeded resets the clock. `read` writes nothing.
 */
export async function evaluateFailback(group: FailoverGroup, observed: LookOrOk, trigger: FailbackTrigger, deps: FailbackDeps): Promise<FailbackReport> {
  const observation = { ...observed, at: notAhead(observed.at, deps.now()) };
  const preferred = preferredOf(group);
  const enis = await describeGroupEnis(deps.ecs, group);
  // The common case - every ENI home, nothing remembered - costs no more reads and no write.
  if (!enis.some((e) => isAway(e, group)) && (await deps.ledger.getLease(failbackClockId(group.name))) === undefined) {
    return { ...judge({ preferred, away: {}, alarms: {} }, group, observation.at, false), binds: [] };
  }
  const health = await preferredHealth(group, deps.ecs);
  for (let tries = 0; tries < 5; tries++) {
    const row = await deps.ledger.getLease(failbackClockId(group.name));
    const before = currentClock(row, preferred);
    const t = Math.max(observation.at, before.observedAt ?? 0);
    const settled = await settleFailback(before, t, deps.ledger);
    let clock = await advance(settled.clock, { observation, health, enis, group, t }, deps.ledger);
    let report = judge(clock, group, t, settled.inFlight);
    // A failback recorded here whose operations never were (the starter died before sending them) is sent
    // again by a later look: the same operation ids, so a copy is the same operation, never a second one.
    let binds: BindRequest[] = settled.inFlight && settled.lost && t > clock.failback!.at ? failbackBinds(clock, group, deps.regionId) : [];
    const starts = report.state === 'possible' && trigger.kind !== 'read' && (group.failback === 'auto' || trigger.kind === 'operator');
    if (starts) {
      const originId = failbackOriginId(group.name, trigger.kind === 'operator' ? { requestId: trigger.requestId } : { at: t });
      const away = Object.entries(clock.away);
      clock = {
        ...clock,
        lastFailbackAt: t,
        failback: { originId, at: t, operations: away.map(([eniId, a]) => ({ operationId: failbackOperationId(originId, eniId, preferred), eniId, from: a.instanceId })) },
      };
      binds = failbackBinds(clock, group, deps.regionId);
      report = { ...report, state: 'started', detail: `failback started: ${away.map(([e, a]) => `${e} from ${a.instanceId}`).join(', ')} back to ${preferred} (${report.detail})` };
    }
    if (trigger.kind === 'read' || !worthStoring(row, clock, before)) return { ...report, binds };
    if (await deps.ledger.putLease(clockRow(row, group, clock, deps.now()))) return { ...report, binds };
  }
  throw new Error(`the failback clock of group ${group.name} changed five times in a row; try again`);
}

// ---- what the entries call ---------------------------------------------------------------------------------

/** The groups whose preferred member is `instanceId` (only its health runs a failback clock). */
export const groupsPreferring = (groups: readonly FailoverGroup[], instanceId: string): FailoverGroup[] => groups.filter((g) => preferredOf(g) === instanceId);

/**
 * An evaluation's report as entry decisions: its binds (origin failback), and a skip saying where the
 * group stands - none when there is nothing to fail back, so a healthy group's reports stay as they were.
 */
export function failbackDecisions(report: FailbackReport): EntryDecision[] {
  const binds: EntryDecision[] = report.binds.map((request) => ({
    kind: 'bind',
    group: report.group,
    request,
    passedOver: [],
    note: `failback: ${request.eniId} from ${request.sourceInstanceId} back to ${request.instanceId} (${report.detail})`,
  }));
  if (report.state === 'none' || binds.length > 0) return binds;
  return [{ kind: 'skip', group: report.group, reason: `failback (${report.mode}): ${report.detail}` }];
}

// ---- the clock's rules (pure) ------------------------------------------------------------------------------

interface Health {
  readonly ok: boolean;
  readonly why: string;
}

/** Whether the preferred member is Running with its agent online (when guests are configured). */
async function preferredHealth(group: FailoverGroup, ecs: EcsPort): Promise<Health> {
  const id = preferredOf(group);
  const instance = await ecs.describeInstance(id);
  if (instance === undefined) return { ok: false, why: `${id} does not exist` };
  if (instance.status !== InstanceStatus.Running) return { ok: false, why: `${id} is ${instance.status}` };
  if (group.policy.configureGuest && !(await ecs.cloudAssistantOnline(id))) return { ok: false, why: `the Cloud Assistant agent of ${id} is offline` };
  return { ok: true, why: `${id} is Running, agent online` };
}

function currentClock(row: LeaseRecord | undefined, preferred: string): FailbackClock {
  const clock = row?.failback;
  // A changed member order makes another member preferred: its history starts afresh.
  if (clock === undefined || clock.preferred !== preferred) return { preferred, away: {}, alarms: {} };
  return clock;
}

/**
 * The failback in flight, if any: running (or not recorded yet: its start was lost, `lost`), or ended -
 * succeeded clears it; anything else clears it and resets the clock (the hold starts again).
 */
async function settleFailback(clock: FailbackClock, t: number, ledger: LedgerPort): Promise<{ clock: FailbackClock; inFlight: boolean; lost: boolean }> {
  const flight = clock.failback;
  if (flight === undefined) return { clock, inFlight: false, lost: false };
  const records = await Promise.all(flight.operations.map((o) => ledger.get(o.operationId)));
  const lost = records.some((r) => r === undefined);
  if (lost || records.some((r) => r?.status === 'running')) return { clock, inFlight: true, lost };
  const failed = records.find((r) => r!.status !== 'succeeded');
  const { failback: _ended, ...rest } = clock;
  if (failed === undefined) return { clock: { ...rest, lastOutcome: { originId: flight.originId, outcome: 'succeeded', at: t } }, inFlight: false, lost: false };
  const reason = failed.outcome?.reason;
  const { healthySince: _reset, ...unheld } = rest;
  return {
    clock: {
      ...unheld,
      lastOutcome: { originId: flight.originId, outcome: failed.status, ...(reason ? { reason } : {}), at: t },
      lastFailureAt: t,
      lastFailure: `failback operation ${failed.operationId} ended ${failed.status}${reason ? ` (${reason})` : ''}`,
    },
    inFlight: false,
    lost: false,
  };
}

/** The clock after this observation: alarm states, the preferred member's health, where each ENI is. */
async function advance(
  clock: FailbackClock,
  facts: { observation: LookOrOk; health: Health; enis: readonly Eni[]; group: FailoverGroup; t: number },
  ledger: LedgerPort,
): Promise<FailbackClock> {
  const { observation, health, group, t } = facts;
  let next: FailbackClock = { ...clock, observedAt: t };
  if (observation.kind === 'alarm-ok') next = { ...next, alarms: { ...next.alarms, [observation.alarm]: 'OK' } };
  const alarming = Object.entries(next.alarms).filter(([, s]) => s === 'ALARM').map(([name]) => name);
  const healthy = health.ok && alarming.length === 0;
  if (!healthy) {
    const was = next.healthySince !== undefined;
    const { healthySince: _cleared, ...rest } = next;
    next = rest;
    // A failure is recorded when health ends (not on every look while it stays down).
    if (was && !health.ok) next = { ...next, lastFailureAt: t, lastFailure: `a look found it unhealthy: ${health.why}` };
    if (was && health.ok && alarming.length > 0) next = { ...next, lastFailureAt: t, lastFailure: `alarm ${alarming.join(', ')} is ALARM` };
  } else if (next.healthySince === undefined) {
    next = { ...next, healthySince: t };
  }
  next = { ...next, away: await awayNow(next.away, facts.enis, group, t, ledger) };
  return next;
}

/** Whether a group ENI is bound (InUse) to a member other than the preferred one. */
const isAway = (eni: Eni, group: FailoverGroup): boolean =>
  eni.status === EniStatus.InUse && eni.instanceId !== undefined && eni.instanceId !== preferredOf(group) && group.members.includes(eni.instanceId);

/** The group's ENIs bound to a member other than the preferred one, each with when it got there. */
async function awayNow(before: FailbackClock['away'], enis: readonly Eni[], group: FailoverGroup, t: number, ledger: LedgerPort): Promise<FailbackClock['away']> {
  const away: FailbackClock['away'] = {};
  for (const eni of enis) {
    const holder = eni.instanceId;
    if (!isAway(eni, group) || holder === undefined) continue;
    const known = before[eni.eniId];
    if (known !== undefined && known.instanceId === holder) {
      away[eni.eniId] = known;
      continue;
    }
    // The operation that put it there knows when (the ENI's lease); the dwell never starts after this look.
    const last = (await ledger.getLease(eniLeaseId(eni.eniId)))?.last;
    const arrived = last !== undefined && last.outcome === 'succeeded' && last.instanceId === holder ? Math.min(last.at, t) : t;
    away[eni.eniId] = { instanceId: holder, since: arrived };
  }
  return away;
}

/** Where the group stands at `t` (before any start this evaluation makes). */
function judge(clock: FailbackClock, group: FailoverGroup, t: number, inFlight: boolean): Omit<FailbackReport, 'binds'> {
  const base = { group: group.name, mode: group.failback };
  const preferred = preferredOf(group);
  if (inFlight) return { ...base, state: 'in-progress', detail: `failback ${clock.failback!.originId} is moving ${clock.failback!.operations.map((o) => o.eniId).join(', ')} back to ${preferred}` };
  const away = Object.entries(clock.away);
  if (away.length === 0) return { ...base, state: 'none', detail: `every ENI of group ${group.name} is on ${preferred} (or unbound): nothing to fail back` };
  const where = away.map(([e, a]) => `${e} on ${a.instanceId}`).join(', ');
  if (clock.healthySince === undefined) {
    const alarming = Object.entries(clock.alarms).filter(([, s]) => s === 'ALARM').map(([n]) => n);
    const why = alarming.length > 0 ? `alarm ${alarming.join(', ')} is ALARM` : (clock.lastFailure ?? 'not seen healthy yet');
    return { ...base, state: 'waiting', detail: `${where}; ${preferred} is not healthy (${why})` };
  }
  const held = clock.healthySince + group.holdSeconds * 1000;
  const dwelt = Math.max(...away.map(([, a]) => a.since)) + group.minDwellSeconds * 1000;
  const window = clock.lastFailbackAt === undefined ? -Infinity : clock.lastFailbackAt + group.holdSeconds * 1000;
  const dueAt = Math.max(held, dwelt, window);
  const since = `${preferred} healthy since ${new Date(clock.healthySince).toISOString()}`;
  if (t < dueAt) {
    const what = dueAt === held ? `the hold of ${group.holdSeconds} s` : dueAt === dwelt ? `the dwell of ${group.minDwellSeconds} s` : `one failback per ${group.holdSeconds} s`;
    return { ...base, state: 'waiting', dueAt, detail: `${where}; ${since}; failback in ${Math.ceil((dueAt - t) / 1000)} s (${what})` };
  }
  return { ...base, state: 'possible', detail: `failback possible: ${where}; ${since} (held ${group.holdSeconds} s)` };
}

/** One bind per ENI of the failback in flight: from the standby holding it back to the preferred member, never fencing it. */
function failbackBinds(clock: FailbackClock, group: FailoverGroup, regionId: string): BindRequest[] {
  const flight = clock.failback;
  if (flight === undefined) return [];
  return flight.operations.map((o) =>
    BindRequest.parse({
      eniId: o.eniId,
      instanceId: clock.preferred,
      regionId,
      sourceInstanceId: o.from,
      policy: { ...group.policy, fenceSource: false },
      origin: { kind: 'failback', id: flight.originId, time: new Date(flight.at).toISOString() },
    }),
  );
}

/**
 * The origin id of a failback: `failback/<group>/<start time>` when the clock started it, or
 * `failback/<group>/req/<id>` for an operator's request (so the CLI knows which operations to follow).
 */
export const failbackOriginId = (group: string, by: { at: number } | { requestId: string }): string =>
  `failback/${group}/${'requestId' in by ? `req/${by.requestId}` : new Date(by.at).toISOString()}`.slice(0, 256);

/** The operation that fails `eniId` back to `preferred` for the failback `originId`. */
export const failbackOperationId = (originId: string, eniId: string, preferred: string): string =>
  deriveOperationId({ origin: { kind: 'failback', id: originId, time: new Date(0).toISOString() }, eniId, instanceId: preferred });

/**
 * A row is written when the clock changed, or when only its present moved on while ENIs are away (a manual
 * failback is judged against it); no row is created for a group that has nothing to remember.
 */
function worthStoring(row: LeaseRecord | undefined, clock: FailbackClock, before: FailbackClock): boolean {
  const { observedAt: _a, ...now } = clock;
  const { observedAt: _b, ...was } = before;
  const changed = JSON.stringify(sortKeys(now)) !== JSON.stringify(sortKeys(was));
  if (row === undefined) return changed && (Object.keys(clock.away).length > 0 || clock.lastFailureAt !== undefined || clock.failback !== undefined);
  return changed || (Object.keys(clock.away).length > 0 && (clock.observedAt ?? 0) > (before.observedAt ?? 0));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
}

function clockRow(row: LeaseRecord | undefined, group: FailoverGroup, clock: FailbackClock, now: number): LeaseRecord {
  return { resourceId: failbackClockId(group.name), version: (row?.version ?? 0) + 1, operationId: '', until: 0, holders: [], failback: clock, updatedAt: now };
}

/** Compare-and-set of the group's clock with `change`, retried on a lost race. */
async function changeClock(ledger: LedgerPort, group: FailoverGroup, now: number, change: (clock: FailbackClock) => FailbackClock): Promise<void> {
  for (let tries = 0; tries < 5; tries++) {
    const row = await ledger.getLease(failbackClockId(group.name));
    const next = change(currentClock(row, preferredOf(group)));
    if (await ledger.putLease(clockRow(row, group, next, now))) return;
  }
  throw new Error(`the failback clock of group ${group.name} changed five times in a row; try again`);
}
