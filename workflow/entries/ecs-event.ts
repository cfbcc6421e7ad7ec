import { powerHoldId } from '../ledger';
import { groupsPreferring, recordFailbackFailure } from '../failback';
import { InstanceStatus, type Instance } from '../model';
import { ReadLagGraceMs, readMayLag } from '../step';
import { groupsOfInstance } from '../groups';
import { DefaultFlapWindowSeconds, failoverFrom, windowStart, type EntryDeps, type EntryResult } from './failover';

/**
 * ECS events (function-compute.md, "ECS events through EventBridge"). CloudMonitor's body is
 * `{name: "Instance:StateChange", resourceId: "acs:ecs:<region>:<uid>:instance/i-...", eventTime, regionId,
 * content: {resourceId: "i-...", state: "Stopping"}}`; system events are named
 * `Instance:<EventType>:<Status>` with content `{instanceId, eventType, eventStatus}`. Through EventBridge
 * the type is `ecs:Instance:StateChange` etc.; the exact wrapper is unverified, so the body is accepted
 * bare, under a CloudEvent's `data`, and as bare content under `data`.
 */

/** The event name every failure origin id is spelled with (see normaliseEcsEvent). */
const FailureOriginName = 'Instance:StateChange';

/** Instance states that mean the instance is going away. */
export const FailingStates: ReadonlySet<string> = new Set(['Stopping', 'Stopped']);

/** Event families (the part after `Instance:`) that start a failover: the instance failed or is failing. */
export const FailingEventTypes: readonly RegExp[] = [/^InstanceFailure\.[A-Za-z]+$/, /^SystemFailure\.[A-Za-z]+$/];

/** System-event statuses after which there is nothing left to fail over from. */
export const SettledEventStatuses: ReadonlySet<string> = new Set(['Canceled', 'Cancelled', 'Executed', 'Avoided', 'Failed']);

export interface EcsEvent {
  /** `Instance:StateChange`, `Instance:SystemFailure.Reboot`, ... (status suffix removed). */
  readonly name: string;
  readonly instanceId: string | undefined;
  readonly state?: string;
  readonly eventStatus?: string;
  readonly regionId?: string;
  readonly timeMs?: number;
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined);

/**
 * Reads the fields that matter from any accepted shape. Guarantees: never throws; `undefined` when the
 * input is not an object or names no event.
 */
export function readEcsEvent(input: unknown): EcsEvent | undefined {
  if (!isObj(input)) return undefined;
  const wrapped = isObj(input.data) ? input.data : undefined;
  const body = wrapped ?? input;
  const content = isObj(body.content) ? body.content : body;
  // CloudMonitor `name`, else the CloudEvent `type` without its `ecs:` prefix.
  const rawName = str(body.name) ?? str(input.name) ?? str(input.type)?.replace(/^ecs:/, '');
  if (rawName === undefined) return undefined;
  const parts = rawName.split(':');
  // `Instance:SystemFailure.Reboot:Executing` carries the status as a third part.
  const name = parts.slice(0, 2).join(':');
  const statusFromName = parts.length > 2 ? parts.slice(2).join(':') : undefined;
  const arnId = (v: unknown) => str(v)?.match(/instance\/(i-[a-z0-9]+)$/)?.[1];
  const instanceId =
    [content.instanceId, content.resourceId, body.instanceId].map(str).find((v) => v?.startsWith('i-')) ??
    arnId(body.resourceId) ??
    arnId(input.subject) ??
    arnId(input.resourceId);
  const time = str(body.eventTime) ?? str(input.time);
  const timeMs = time === undefined ? undefined : parseEventTime(time);
  const state = str(content.state);
  const eventStatus = str(content.eventStatus) ?? statusFromName;
  const regionId = str(body.regionId) ?? str(input.aliyunregionid);
  return {
    name,
    instanceId,
    ...(state === undefined ? {} : { state }),
    ...(eventStatus === undefined ? {} : { eventStatus }),
    ...(regionId === undefined ? {} : { regionId }),
    ...(timeMs === undefined || Number.isNaN(timeMs) ? {} : { timeMs }),
  };
}

/**
 * Epoch ms of an event time: ISO 8601 (CloudEvent `time`), or CloudMonitor's compact `eventTime`
 * `20190409T121826.922+0800` (basic format: no separators, offset without a colon). NaN when neither.
 */
export function parseEventTime(text: string): number {
  const compact = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (compact === null) return Date.parse(text);
  const [, y, mo, d, h, mi, sec, frac, zone] = compact;
  const offset = zone === undefined || zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  return Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac ?? ''}${offset}`);
}

/** How often an entry looks again at an instance whose read may lag the event (ms, before timeScale). */
export const LaggingReadPollMs = 500;

/**
 * The instance as ECS describes it, read after the state change an event at `eventMs` reports. A read may lag a
 * state change (the local ECS's realistic profile models 0-2 s, local/ecs/realism.ts readLagSeconds - a
 * guess: Terraform's provider and Terway both re-read after changes). A Running (or Starting) read of an
 * instance that reported Stopping or Stopped moments ago may be older than the event: it is read again every
 * {@link LaggingReadPollMs} until it shows the instance down or the event is older than the read-lag grace
 * (ReadLagGraceMs, as the steps allow their own writes). Then Running means it is running again.
 */
async function instanceAfter(instanceId: string, eventMs: number | undefined, deps: EntryDeps, first: Instance | undefined): Promise<Instance | undefined> {
  const scale = deps.timeScale ?? 1;
  let now = first;
  const up = (i: Instance | undefined) => i !== undefined && (i.status === InstanceStatus.Running || i.status === InstanceStatus.Starting);
  // Bounded by looks too: an event stamped ahead of this clock (skew) must not hold the entry longer.
  for (let looks = 0; deps.sleep !== undefined && up(now) && readMayLag(eventMs, deps.now(), scale) && looks < ReadLagGraceMs / LaggingReadPollMs; looks++) {
    await deps.sleep(LaggingReadPollMs * scale);
    now = await deps.ecs.describeInstance(instanceId);
  }
  return now;
}

/** Why an event does not start a failover, or undefined when it does. */
export function whyIgnored(e: EcsEvent): string | undefined {
  if (!e.name.startsWith('Instance:')) return `${e.name} is not an instance event`;
  const kind = e.name.slice('Instance:'.length);
  if (kind === 'StateChange') {
    if (e.state === undefined) return 'Instance:StateChange without content.state';
    return FailingStates.has(e.state) ? undefined : `state ${e.state} is not a failure (only ${[...FailingStates].join('/')})`;
  }
  if (FailingEventTypes.some((p) => p.test(kind))) {
    return e.eventStatus !== undefined && SettledEventStatuses.has(e.eventStatus) ? `${e.name} is ${e.eventStatus}: nothing left to fail over from` : undefined;
  }
  return `${e.name} does not start a failover (only StateChange to ${[...FailingStates].join('/')}, InstanceFailure.*, SystemFailure.*)`;
}

/**
 * Turns an ECS event into binds, or ignores it with a reason. The origin is
 * `{kind: event, id: <name>/<instanceId>/<window start>}` (default window 600 s), so the Stopping and the
 * Stopped event of one stop, and redeliveries, collapse into one operation per ENI.
 */
export async function normaliseEcsEvent(input: unknown, deps: EntryDeps & { windowSeconds?: number }): Promise<EntryResult> {
  const e = readEcsEvent(input);
  if (e === undefined) return { kind: 'ignored', reason: 'not an ECS event (no name or type)' };
  const why = whyIgnored(e);
  if (why !== undefined) return { kind: 'ignored', reason: why };
  if (e.instanceId === undefined) return { kind: 'ignored', reason: `${e.name} names no instance` };
  if (e.regionId !== undefined && e.regionId !== deps.regionId) {
    return { kind: 'ignored', reason: `event from ${e.regionId}; this deployment handles ${deps.regionId}` };
  }
  // The event is a wake-up too: what the instance is now, and whether this workflow stopped it on purpose
  // (a power hold: a Stopped-only standby stopped for a bind, a pre-2018 restart), decide.
  // One DescribeInstances for the instance and its groups' members (the failover's standby choice needs
  // them), in the same round trip as the power hold.
  const members = [...new Set([e.instanceId, ...groupsOfInstance(deps.groups, e.instanceId).flatMap((g) => g.members)])];
  const [read, hold] = await Promise.all([deps.ecs.describeInstances(members), deps.ledger?.getLease(powerHoldId(e.instanceId))]);
  // Only a state change reports a state the instance has already left Running for; a failure event
  // (SystemFailure.Stop Executing) may come while it still runs, and the StateChange that follows it acts.
  const first = read.find((i) => i.instanceId === e.instanceId);
  const now = e.state !== undefined ? await instanceAfter(e.instanceId, e.timeMs, deps, first) : first;
  const ours = hold !== undefined && (hold.holders.length > 0 || hold.stoppedBy !== undefined || hold.startOwedBy !== undefined);
  const at = e.timeMs ?? deps.now();
  // A preferred member that stopped, even one Running again already, failed inside its failback hold.
  const failbackClock = ours ? undefined : recordPreferredFailure(e, e.instanceId, at, deps);
  if (now !== undefined && (now.status === InstanceStatus.Running || now.status === InstanceStatus.Starting)) {
    await failbackClock;
    return { kind: 'ignored', reason: `${e.instanceId} is ${now.status} now; the ${e.state ?? e.name} it reported is over` };
  }
  if (ours) {
    return { kind: 'ignored', reason: `${e.instanceId} is stopped by eni-failover itself (power hold of ${[...new Set([...hold.holders, hold.stoppedBy, hold.startOwedBy])].filter(Boolean).join(', ')}); not a failure` };
  }
  const window = windowStart(at, deps.windowSeconds ?? DefaultFlapWindowSeconds);
  // The id names the instance's failure, not the event that told of it: StateChange Stopping and Stopped,
  // and a host failure's SystemFailure.Stop with the Stopped it causes, are one failover (one operation
  // per ENI), so every failing event shares the StateChange spelling of the id.
  const id = `${FailureOriginName}/${e.instanceId}/${window}`;
  const origin = { kind: 'event' as const, id, time: new Date(at).toISOString() };
  const known = read.map((i) => (i.instanceId === e.instanceId && now !== undefined ? now : i));
  const [, decisions] = await Promise.all([failbackClock, failoverFrom(e.instanceId, origin, deps, known)]);
  return { kind: 'decided', decisions };
}

/** An ECS failure of a group's preferred member stops its failback clock (workflow/failback.ts). */
async function recordPreferredFailure(e: EcsEvent, instanceId: string, at: number, deps: EntryDeps): Promise<void> {
  const ledger = deps.ledger;
  if (ledger === undefined) return;
  for (const group of groupsPreferring(deps.groups.groups, instanceId)) {
    await recordFailbackFailure(group, { kind: 'failure', at, what: `ECS event ${e.name}${e.state ? ` ${e.state}` : ''}${e.eventStatus ? ` (${e.eventStatus})` : ''}` }, { ledger, now: deps.now });
  }
}
