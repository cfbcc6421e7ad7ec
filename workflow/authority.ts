import { groupHasEni, groupOfEni, type FailoverGroup, type GroupsConfig } from './groups';
import type { BindRequest, Policy } from './messages';
import { EniStatus, InstanceStatus, type Eni, type Instance } from './model';
import { Reason } from './rules';

/**
 * Authority: what the workflow may do comes from the failover groups and the cloud's state at the moment
 * of the write, never from a message. A request names what it wants; these checks say whether the
 * deployment lets it happen. validate checks the request, and every step checks its write again just
 * before making it (groups change while an operation waits).
 */
export interface Authority {
  readonly groups: GroupsConfig;
  /** The deployment (never a message) lets requests bind ENIs that are in no group. Off by default. */
  readonly allowUnmanaged: boolean;
}

export type Verdict = { readonly ok: true; readonly group: FailoverGroup | undefined } | { readonly ok: false; readonly reason: Reason; readonly detail: string };

const refuse = (reason: Reason, detail: string): Verdict => ({ ok: false, reason, detail });

/**
 * The request is within the groups: the ENI belongs to a group (or the deployment allows unmanaged ENIs),
 * the target is a member of it, and a named source is a member too.
 */
export function authorizeRequest(request: Pick<BindRequest, 'eniId' | 'instanceId' | 'sourceInstanceId'>, eni: Pick<Eni, 'eniId' | 'tags'>, authority: Authority): Verdict {
  const group = groupOfEni(authority.groups, eni);
  if (group === undefined) {
    return authority.allowUnmanaged
      ? { ok: true, group: undefined }
      : refuse(Reason.EniNotManaged, `${request.eniId} belongs to no failover group; add it to a group (config/groups.yaml or FAILOVER_GROUPS) or enable unmanaged binds in the deployment (ALLOW_UNMANAGED)`);
  }
  if (!group.members.includes(request.instanceId)) {
    return refuse(Reason.TargetNotMember, `${request.instanceId} is not a member of group ${group.name} (${group.members.join(', ')}); only members may receive its ENIs`);
  }
  if (request.sourceInstanceId !== undefined && !group.members.includes(request.sourceInstanceId)) {
    return refuse(Reason.SourceNotMember, `${request.sourceInstanceId} is not a member of group ${group.name}; the workflow takes ENIs only from members`);
  }
  return { ok: true, group };
}

/**
 * The policy an operation runs with: the group's, tightened by the request. A request may turn off what
 * the group allows, never turn on what it forbids; a bind in no group runs with the safe defaults
 * (the request may tighten those too).
 */
export function effectivePolicy(group: Pick<FailoverGroup, 'policy'> | undefined, requested: Partial<Policy> | undefined, defaults: Policy): Policy {
  const base = group?.policy ?? defaults;
  const r = requested ?? {};
  return {
    allowStop: base.allowStop && (r.allowStop ?? true),
    fenceSource: base.fenceSource && (r.fenceSource ?? true),
    persistGuest: base.persistGuest && (r.persistGuest ?? true),
    // Either way is the request's to choose: off makes no RunCommand (a write fewer), on only adds the
    // guest's confirmation to what success means.
    configureGuest: r.configureGuest ?? base.configureGuest,
    stoppedMode: base.stoppedMode === 'StopCharging' ? (r.stoppedMode ?? 'StopCharging') : 'KeepCharging',
    deadlineSeconds: Math.min(base.deadlineSeconds, r.deadlineSeconds ?? base.deadlineSeconds),
  };
}

/** A write the workflow is about to make, with the resource it touches. */
export type Write =
  | { readonly kind: 'detach'; readonly instanceId: string }
  | { readonly kind: 'fence'; readonly instanceId: string }
  | { readonly kind: 'attach'; readonly instanceId: string }
  | { readonly kind: 'stop' | 'restart'; readonly instanceId: string }
  | { readonly kind: 'start'; readonly instanceId: string }
  | { readonly kind: 'run-command'; readonly instanceId: string };

export interface WriteFacts {
  /** The ENI as ECS describes it now. */
  readonly eni: Eni;
  /** For stop/restart/fence: the managed ENIs InUse on the instance now, other than this operation's. */
  readonly servingEnis?: readonly Eni[];
  /** For start: whether the ledger records this operation (or its power hold) as the one that stopped it. */
  readonly stoppedByThisOperation?: boolean;
  /** For detach/fence: the source instance as ECS describes it now. */
  readonly source?: Instance;
  /** For detach/fence: operations of this workflow hold the source's power (it is stopped on purpose). */
  readonly sourceInPowerHold?: boolean;
  /** For a failback's detach: the target (the preferred member) as ECS describes it now. */
  readonly target?: Instance;
}

/**
 * Whether one write may be made now. Guarantees (each a refusal with its own reason otherwise): the ENI is
 * in the request's group (or unmanaged binds are on) and the request is still within it; detach and fence
 * touch only the named source while it holds the ENI; stop and restart touch only the target and never an
 * instance that serves another managed ENI; start only what this operation stopped; run-command only the
 * target while the ENI is on it.
 */
export function authorizeWrite(write: Write, request: BindRequest, facts: WriteFacts, authority: Authority): Verdict {
  const base = authorizeRequest(request, facts.eni, authority);
  if (!base.ok) return base;
  const { eni } = facts;
  switch (write.kind) {
    case 'detach':
    case 'fence':
      if (write.instanceId !== request.sourceInstanceId) return refuse(Reason.NotAuthorized, `${write.kind} of ${write.instanceId}: only the named source ${request.sourceInstanceId ?? '(none)'} may be touched`);
      if (eni.instanceId !== write.instanceId) return refuse(Reason.SourceMismatch, `${eni.eniId} is no longer on ${write.instanceId} (${eni.status}${eni.instanceId ? ` on ${eni.instanceId}` : ''}); nothing to take from it`);
      if (facts.sourceInPowerHold === true) return refuse(Reason.NotAuthorized, `${write.instanceId} is stopped by this workflow for another bind; it has not failed`);
      if (sourceMustBeDown(request) && facts.source !== undefined && !isDown(facts.source)) {
        return refuse(Reason.SourceRecovered, `${write.instanceId} is ${facts.source.status} now; a ${request.origin.kind} may take the ENI only from a source that is down`);
      }
      if (request.origin.kind === 'failback') {
        // The source of a failback is the standby that serves the ENI: never fence it, and take the ENI
        // from it only while the preferred member that is to receive it is Running.
        if (write.kind === 'fence') return refuse(Reason.NotAuthorized, `a failback never fences ${write.instanceId}: it is the standby serving ${eni.eniId}`);
        if (facts.target?.status !== InstanceStatus.Running) {
          return refuse(Reason.FailbackTargetUnhealthy, `${request.instanceId} is ${facts.target?.status ?? 'not described'} now; ${eni.eniId} stays on ${write.instanceId}`);
        }
      }
      if (write.kind === 'fence' && (facts.servingEnis?.length ?? 0) > 0) {
        return refuse(Reason.NotAuthorized, `fencing ${write.instanceId} would stop the service of ${facts.servingEnis!.map((e) => e.eniId).join(', ')}`);
      }
      return base;
    case 'attach':
      if (write.instanceId !== request.instanceId) return refuse(Reason.NotAuthorized, `attach to ${write.instanceId}: only the target ${request.instanceId} may receive the ENI`);
      return base;
    case 'stop':
    case 'restart':
      if (write.instanceId !== request.instanceId) return refuse(Reason.NotAuthorized, `${write.kind} of ${write.instanceId}: only the target ${request.instanceId} may be stopped or restarted`);
      if ((facts.servingEnis?.length ?? 0) > 0) {
        return refuse(Reason.StandbyServing, `${write.instanceId} serves ${facts.servingEnis!.map((e) => e.eniId).join(', ')}; stopping it would take that service down`);
      }
      return base;
    case 'start':
      if (write.instanceId !== request.instanceId) return refuse(Reason.NotAuthorized, `start of ${write.instanceId}: only the target may be started`);
      if (facts.stoppedByThisOperation !== true) return refuse(Reason.NotAuthorized, `${write.instanceId} was not stopped by this operation; it is left as it is`);
      return base;
    case 'run-command':
      if (write.instanceId !== request.instanceId) return refuse(Reason.NotAuthorized, `guest command on ${write.instanceId}: only the target may be configured`);
      if (eni.instanceId !== request.instanceId || eni.status !== EniStatus.InUse) return refuse(Reason.NotAuthorized, `${eni.eniId} is not InUse on ${request.instanceId}; its guest is not configured`);
      return base;
  }
}

/**
 * Whether the source must be down at the moment of the detach. An alarm (authenticated, and the only
 * witness of a hung but Running instance), an operator's request and a planned switch-over may take the ENI
 * from a Running source; an ECS event or a reconcile pass only from a source that is not Running now - so
 * the workflow's own stop of an instance, or a source that came back, never starts a move.
 */
export function sourceMustBeDown(request: Pick<BindRequest, 'origin'>): boolean {
  const { kind, id } = request.origin;
  // A failback takes the ENI from a healthy standby on purpose; its guard is the target's health instead.
  if (kind === 'alarm' || kind === 'request' || kind === 'cli' || kind === 'failback') return false;
  if (kind === 'schedule' && id.includes('/switch-over@')) return false;
  return true;
}

/** Whether an instance counts as failed now (it cannot serve): not Running. */
export const isDown = (instance: Instance | undefined): boolean => instance === undefined || instance.status !== InstanceStatus.Running;

/** The managed ENIs (in any group) InUse on `instanceId`, other than `exceptEniId`. */
export function managedEnisServing(enis: readonly Eni[], instanceId: string, exceptEniId: string, groups: GroupsConfig): Eni[] {
  return enis.filter((e) => e.instanceId === instanceId && e.eniId !== exceptEniId && e.status === EniStatus.InUse && groups.groups.some((g) => groupHasEni(g, e)));
}
