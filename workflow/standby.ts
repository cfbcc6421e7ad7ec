import type { FailoverGroup } from './groups';
import { InstanceStatus, type Eni, type Instance } from './model';
import type { EcsPort } from './ports';

/**
 * Choosing the instance an ENI fails over to. Members are tried in the group's priority order; the first
 * that can take the ENI now wins, and every member tried before it says why it was passed over (that
 * list goes to the log, and into the failure when nobody can take the ENI).
 */

/** Why a member was not chosen, as data (alerts and runbooks key on the code). */
export const PassOver = {
  /** It is the instance that failed (or the one the ENI is leaving). */
  IsSource: 'IsSource',
  NotFound: 'NotFound',
  /** Starting, Stopping, Pending: not a state to hand a service to. */
  NotReady: 'NotReady',
  /** Stopped, and the group's policy does not allow binding to (or stopping) instances. */
  StoppedNotAllowed: 'StoppedNotAllowed',
  OtherVpc: 'OtherVpc',
  OtherZone: 'OtherZone',
  EniQuotaFull: 'EniQuotaFull',
  /** configureGuest is on and Cloud Assistant is not online on it (Stopped instances never are). */
  GuestAgentOffline: 'GuestAgentOffline',
} as const;
export type PassOver = (typeof PassOver)[keyof typeof PassOver];

export interface PassedOver {
  readonly instanceId: string;
  readonly code: PassOver;
  readonly detail: string;
}

export type StandbyChoice =
  | { readonly ok: true; readonly standby: Instance; readonly passedOver: readonly PassedOver[] }
  | { readonly ok: false; readonly passedOver: readonly PassedOver[]; readonly detail: string };

export interface SelectStandbyInput {
  readonly group: FailoverGroup;
  readonly eni: Pick<Eni, 'eniId' | 'vpcId' | 'zoneId'>;
  /** The failed instance (or current holder) that must not be chosen. */
  readonly excludeInstanceId?: string;
  /** Members not to choose either, with why (e.g. the target that just refused this ENI). */
  readonly alsoExclude?: readonly { readonly instanceId: string; readonly detail: string }[];
  /** Members already described (saves a DescribeInstances call when the caller has them). */
  readonly instances?: readonly Instance[];
  /** ENIs this run already planned to bind to an instance, by instance id: they count against its quota. */
  readonly plannedEnis?: ReadonlyMap<string, number>;
  /**
   * ENIs other operations in flight are bringing to an instance (the ledger's standby slots,
   * workflow/slots.ts): they count against its quota once, with the ENIs bound to it. Asked only for
   * members that pass every other check, in priority order.
   */
  readonly reservedOn?: (instanceId: string) => Promise<readonly string[]>;
}

/**
 * Picks the first member, in priority order, that is not the excluded one, is Running (or Stopped when
 * `policy.allowStop`), is in the ENI's VPC and zone, has an ENI slot free (DescribeInstanceTypes
 * EniQuantity counts the primary ENI), and - when `policy.configureGuest` - has Cloud Assistant online.
 * Guarantees: reads only; members after the chosen one are not examined; on `ok: false` every member
 * is in `passedOver` with its reason.
 */
export async function selectStandby(input: SelectStandbyInput, ecs: EcsPort): Promise<StandbyChoice> {
  const { group, eni } = input;
  const policy = group.policy;
  const also = new Map((input.alsoExclude ?? []).map((x) => [x.instanceId, x.detail]));
  const candidates = group.members.filter((m) => m !== input.excludeInstanceId && !also.has(m));
  const passedOver: PassedOver[] = [];
  if (input.excludeInstanceId !== undefined && group.members.includes(input.excludeInstanceId)) {
    passedOver.push({ instanceId: input.excludeInstanceId, code: PassOver.IsSource, detail: 'it is the instance the ENI is leaving' });
  }
  for (const [instanceId, detail] of also) if (group.members.includes(instanceId) && instanceId !== input.excludeInstanceId) passedOver.push({ instanceId, code: PassOver.IsSource, detail });
  const known = new Map((input.instances ?? []).map((i) => [i.instanceId, i]));
  const missing = candidates.filter((id) => !known.has(id));
  if (missing.length > 0) for (const i of await ecs.describeInstances(missing)) known.set(i.instanceId, i);

  for (const id of candidates) {
    const pass = (code: PassOver, detail: string) => passedOver.push({ instanceId: id, code, detail });
    const instance = known.get(id);
    if (instance === undefined) {
      pass(PassOver.NotFound, `${id} does not exist in this region`);
      continue;
    }
    if (instance.status === InstanceStatus.Stopped) {
      if (!policy.allowStop) {
        pass(PassOver.StoppedNotAllowed, `${id} is Stopped and the group's policy does not allow stopped instances (allowStop)`);
        continue;
      }
    } else if (instance.status !== InstanceStatus.Running) {
      pass(PassOver.NotReady, `${id} is ${instance.status}`);
      continue;
    }
    if (instance.vpcId !== eni.vpcId) {
      pass(PassOver.OtherVpc, `${id} is in ${instance.vpcId}, the ENI in ${eni.vpcId}`);
      continue;
    }
    if (instance.zoneId !== eni.zoneId) {
      pass(PassOver.OtherZone, `${id} is in zone ${instance.zoneId}, the ENI in ${eni.zoneId}`);
      continue;
    }
    // The type's quota and the slots in flight are independent reads: one round trip.
    const [type, reservedIds] = await Promise.all([ecs.describeInstanceType(instance.instanceType), input.reservedOn?.(id) ?? []]);
    if (type !== undefined) {
      const bound = instance.eniIds.filter((e) => e !== eni.eniId);
      const reserved = reservedIds.filter((e) => e !== eni.eniId && !bound.includes(e));
      const used = bound.length + reserved.length + (input.plannedEnis?.get(id) ?? 0);
      if (used >= type.eniQuantity) {
        const inFlight = reserved.length > 0 ? ` and ${reserved.length} on their way (operations in flight)` : '';
        pass(PassOver.EniQuotaFull, `${id} (${instance.instanceType}) has ${used - reserved.length} of ${type.eniQuantity} ENIs, primary included${inFlight}`);
        continue;
      }
    }
    if (policy.configureGuest) {
      const online = instance.status === InstanceStatus.Running && (await ecs.cloudAssistantOnline(id));
      if (!online) {
        pass(PassOver.GuestAgentOffline, `Cloud Assistant is not online on ${id} (${instance.status}) and the policy configures the guest`);
        continue;
      }
    }
    return { ok: true, standby: instance, passedOver };
  }
  return {
    ok: false,
    passedOver,
    detail: `no member of group ${group.name} can take ${eni.eniId}: ${passedOver.map((p) => `${p.instanceId} ${p.code} (${p.detail})`).join('; ') || 'the group has no other member'}`,
  };
}
