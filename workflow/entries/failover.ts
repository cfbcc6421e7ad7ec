import { BindRequest, deriveOperationId, type Origin } from '../messages';
import { describeGroupEnis, groupsOfInstance, type FailoverGroup, type GroupsConfig } from '../groups';
import { EniStatus, type Eni, type Instance } from '../model';
import type { LeaseRecord, LedgerPort } from '../ledger';
import { operationMovingFrom } from '../operation';
import type { EcsPort } from '../ports';
import { Reason } from '../rules';
import { readSlots, reserveStandbySlot } from '../slots';
import { selectStandby, type PassedOver } from '../standby';

/**
 * What the entry points (alarm, ECS event, schedule, request) decide, before anything is sent: binds to
 * start, things deliberately left alone, and failures that end before an operation exists.
 */

/** The step name entry failures carry (no workflow step ran). */
export const EntryStep = 'select-standby' as const;

/**
 * An entry-level failure, shaped like the workflow's OperationEvent so one consumer of the events and
 * dead-letter queues reads both: `kind`, `operationId`, `outcome: failed`, `reason`, `step`, `message`.
 */
export interface EntryFailureEvent {
  readonly kind: 'eni-failover.outcome';
  readonly operationId: string;
  readonly outcome: 'failed';
  readonly reason: Reason;
  readonly step: typeof EntryStep;
  readonly message: string;
  readonly group: string;
  readonly eniId: string;
  readonly sourceInstanceId?: string;
  readonly origin: Origin;
  readonly passedOver: readonly PassedOver[];
  readonly finishedAt: number;
}

export type EntryDecision =
  /** Start an operation for `request`. */
  | { readonly kind: 'bind'; readonly group?: string; readonly request: BindRequest; readonly passedOver: readonly PassedOver[]; readonly note: string }
  /** Nothing to do for this ENI or group, and why; `operationId` when a running operation is already moving it. */
  | { readonly kind: 'skip'; readonly group?: string; readonly eniId?: string; readonly reason: string; readonly operationId?: string }
  /** Nothing can be done: published on the events and dead-letter queues. */
  | { readonly kind: 'fail'; readonly event: EntryFailureEvent };

/** What an entry point made of one trigger: ignored as a whole (with why), or decisions per ENI. */
export type EntryResult = { readonly kind: 'ignored'; readonly reason: string } | { readonly kind: 'decided'; readonly decisions: readonly EntryDecision[] };

export interface EntryDeps {
  readonly ecs: EcsPort;
  readonly groups: GroupsConfig;
  /** The region the function (or CLI) operates in; requests carry it. */
  readonly regionId: string;
  readonly now: () => number;
  /** The operation ledger: entry points read instance power holds from it (the workflow's own stops). */
  readonly ledger?: LedgerPort;
  /** Waits (ms, real time): an entry that must look again (a read that may lag an event) sleeps with it; without it, it does not. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The local cloud's faster clock (1 in production): scales the entry's waits. */
  readonly timeScale?: number;
}

/**
 * Start of the flapping window `timeMs` falls in. Repeated triggers for one instance inside a window get
 * the same origin id, hence the same operationId (deriveOperationId), so they collapse into one operation.
 */
export function windowStart(timeMs: number, windowSeconds: number): string {
  const w = windowSeconds * 1000;
  return new Date(Math.floor(timeMs / w) * w).toISOString();
}

/** Default flapping window: alarms/events for one instance within 10 minutes are one failover. */
export const DefaultFlapWindowSeconds = 600;

function failure(args: { group: FailoverGroup; eniId: string; source?: string; origin: Origin; passedOver: readonly PassedOver[]; message: string; now: number }): EntryDecision {
  return {
    kind: 'fail',
    event: {
      kind: 'eni-failover.outcome',
      // Not a bind to any instance: hashed with a target no instance id can equal.
      operationId: deriveOperationId({ origin: args.origin, eniId: args.eniId, instanceId: 'no-standby' }),
      outcome: 'failed',
      reason: Reason.NoHealthyStandby,
      step: EntryStep,
      message: args.message,
      group: args.group.name,
      eniId: args.eniId,
      ...(args.source === undefined ? {} : { sourceInstanceId: args.source }),
      origin: args.origin,
      passedOver: args.passedOver,
      finishedAt: args.now,
    },
  };
}

/**
 * Moves every group ENI the failed instance holds to the best standby of that group. Guarantees: reads
 * only; an ENI the failed instance no longer holds (already moved - a late or repeated alarm) is left
 * alone with a reason, so a second alarm never moves an ENI back; two ENIs planned onto one standby count
 * against its quota together; one decision per group ENI the failed instance holds (or one skip per
 * group holding none, or one skip when the instance is in no group).
 */
export async function failoverFrom(failedInstanceId: string, origin: Origin, entryDeps: EntryDeps, known?: readonly Instance[]): Promise<EntryDecision[]> {
  // One pass asks each standby's agent once: a choice repeated after a lost slot race (a host failure's
  // entries all reserve on the first standby) does not spend another DescribeCloudAssistantStatus of the
  // instance's small share of the budget on an answer it got milliseconds ago.
  const deps: EntryDeps = { ...entryDeps, ecs: agentsAskedOnce(entryDeps.ecs) };
  const groups = groupsOfInstance(deps.groups, failedInstanceId);
  if (groups.length === 0) return [{ kind: 'skip', reason: `${failedInstanceId} is a member of no failover group` }];
  const decisions: EntryDecision[] = [];
  for (const group of groups) {
    // The members are read alongside (one round trip, not two); only a repeated trigger that finds
    // nothing held does not need them.
    // `known`: the members as the caller read them a moment ago in this invocation (on-ecs-event reads them
    // with the failed instance), else read now.
    const have = known !== undefined && group.members.every((m) => known.some((i) => i.instanceId === m)) ? known.filter((i) => group.members.includes(i.instanceId)) : undefined;
    const [held, instances] = await Promise.all([describeGroupEnis(deps.ecs, group, failedInstanceId), have ?? deps.ecs.describeInstances(group.members)]);
    if (held.length === 0) {
      // Already moved, never held, or in flight right now (a repeated alarm while the first one's
      // operation detaches it): the last joins that operation.
      const moving = await inFlightFrom(group, failedInstanceId, deps);
      if (moving.length > 0) decisions.push(...moving);
      else decisions.push({ kind: 'skip', group: group.name, reason: `${failedInstanceId} holds no ENI of group ${group.name} (already moved, or never held): nothing to do` });
      continue;
    }
    const planned = new Map<string, number>();
    for (const eni of held) {
      if (eni.status !== EniStatus.InUse) {
        // Attaching/Detaching: an operation is moving it right now; do not fight it.
        const operationId = deps.ledger === undefined ? undefined : await operationMovingFrom(deps.ledger, eni.eniId, failedInstanceId, deps.now());
        decisions.push({ kind: 'skip', group: group.name, eniId: eni.eniId, reason: `${eni.eniId} is ${eni.status} on ${failedInstanceId}: ${operationId ? `operation ${operationId}` : 'an operation'} is already moving it`, ...(operationId ? { operationId } : {}) });
        continue;
      }
      const choice = await chooseAndReserve({ group, eni, failedInstanceId, instances, planned, origin }, deps);
      if (!choice.ok) {
        decisions.push(failure({ group, eniId: eni.eniId, source: failedInstanceId, origin, passedOver: choice.passedOver, message: choice.detail, now: deps.now() }));
        continue;
      }
      // With a ledger the reservation counts this ENI on the standby (for this pass and every other entry).
      if (deps.ledger === undefined) planned.set(choice.standby.instanceId, (planned.get(choice.standby.instanceId) ?? 0) + 1);
      decisions.push({
        kind: 'bind',
        group: group.name,
        request: choice.request,
        passedOver: choice.passedOver,
        note: `fail ${eni.eniId} over from ${failedInstanceId} to ${choice.standby.instanceId}`,
      });
    }
  }
  return decisions;
}

/** `ecs` whose cloudAssistantOnline answers each instance once (the first answer, or its failure, is kept). */
function agentsAskedOnce(ecs: EcsPort): EcsPort {
  const asked = new Map<string, Promise<boolean>>();
  return new Proxy(ecs, {
    get(target, prop, receiver) {
      if (prop === 'cloudAssistantOnline') {
        return (instanceId: string) => {
          let answer = asked.get(instanceId);
          if (answer === undefined) asked.set(instanceId, (answer = target.cloudAssistantOnline(instanceId)));
          return answer;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** How often a lost slot race makes an entry choose again before it gives up (its trigger is retried). */
const ChooseTries = 5;

/**
 * Selects the standby for `eni` and, with a ledger, reserves a slot on it for the operation the bind will
 * start (workflow/slots.ts), so entries running at once for the instances of one failed host never plan
 * more ENIs onto a standby than its type's quota. A standby that filled meanwhile is passed over as
 * EniQuotaFull on the next selection, which reads the slots again. A repeated trigger of the same origin
 * (the Stopped StateChange after the SystemFailure.Stop) chooses the same standby, hence the same
 * operation: the members before it were full and stay full (slots free only at a deadline or a bind),
 * and its own reservation is not counted against it.
 */
async function chooseAndReserve(
  args: { group: FailoverGroup; eni: Eni; failedInstanceId: string; instances: readonly Instance[]; planned: ReadonlyMap<string, number>; origin: Origin },
  deps: EntryDeps,
): Promise<({ ok: true; standby: Instance; request: BindRequest; passedOver: readonly PassedOver[] }) | { ok: false; passedOver: readonly PassedOver[]; detail: string }> {
  const { group, eni, failedInstanceId, instances, planned, origin } = args;
  const ledger = deps.ledger;
  for (let tries = 0; tries < ChooseTries; tries++) {
    const now = deps.now();
    // The slots rows selection read: the reservation starts from the chosen standby's (its compare-and-set
    // catches a row that changed since), instead of reading it a second time.
    const slotRows = new Map<string, LeaseRecord | null>();
    const reservedOn = async (id: string): Promise<string[]> => {
      const { row, reserved } = await readSlots(ledger!, id, now, eni.eniId);
      slotRows.set(id, row);
      return reserved;
    };
    const choice = await selectStandby(
      { group, eni, excludeInstanceId: failedInstanceId, instances, plannedEnis: planned, ...(ledger === undefined ? {} : { reservedOn }) },
      deps.ecs,
    );
    if (!choice.ok) return choice;
    const request = BindRequest.parse({ eniId: eni.eniId, instanceId: choice.standby.instanceId, regionId: deps.regionId, sourceInstanceId: failedInstanceId, policy: group.policy, origin });
    if (ledger === undefined) return { ...choice, request };
    const type = await deps.ecs.describeInstanceType(choice.standby.instanceType);
    if (type === undefined) return { ...choice, request };
    const slot = await reserveStandbySlot(ledger, {
      standby: choice.standby.instanceId,
      eniId: eni.eniId,
      operationId: deriveOperationId({ origin, eniId: eni.eniId, instanceId: choice.standby.instanceId }),
      until: now + request.policy.deadlineSeconds * 1000,
      now,
      boundEniIds: choice.standby.eniIds,
      quota: type.eniQuantity,
      ...(slotRows.has(choice.standby.instanceId) ? { seen: slotRows.get(choice.standby.instanceId)! } : {}),
    });
    if (slot.ok) return { ...choice, request };
  }
  throw new Error(`could not reserve a standby slot for ${eni.eniId} in ${ChooseTries} tries (the standbys' slots kept changing); the trigger is retried`);
}

/** Skips for the group ENIs a running operation of this workflow is moving away from `source` now. */
async function inFlightFrom(group: FailoverGroup, source: string, deps: EntryDeps): Promise<EntryDecision[]> {
  if (deps.ledger === undefined) return [];
  const ids = group.enis.ids ?? (await describeGroupEnis(deps.ecs, group)).map((e) => e.eniId);
  const out: EntryDecision[] = [];
  for (const eniId of ids) {
    const operationId = await operationMovingFrom(deps.ledger, eniId, source, deps.now());
    if (operationId !== undefined) out.push({ kind: 'skip', group: group.name, eniId, operationId, reason: `${eniId} is being moved off ${source} by operation ${operationId}: this trigger joins it` });
  }
  return out;
}

export { failure as entryFailure };
