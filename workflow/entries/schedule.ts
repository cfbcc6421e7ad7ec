import { Reason } from '../rules';
import { eniLeaseId } from '../ledger';
import { z } from 'zod';
import { BindRequest, Policy, type Origin, type ParseResult } from '../messages';
import { describeGroupEnis, formatPath, groupOfEni, type FailoverGroup } from '../groups';
import { EniStatus, InstanceStatus, type Instance } from '../model';
import { evaluateFailback, failbackDecisions } from '../failback';
import { selectStandby } from '../standby';
import { entryFailure, type EntryDecision, type EntryDeps, type EntryResult } from './failover';

/**
 * Timer-triggered jobs. The timer's payload (a string in s.yaml) is either
 *  - a JSON list of planned switch-overs: `[{"eniId": "eni-..", "instanceId": "i-..", "sourceInstanceId"?: "i-..", "policy"?: {...}}]`
 *  - `{"mode": "reconcile"}`: repair drift in every group (see reconcile), then prepare the standbys of
 *    the groups with `prepare: true` (entries/prepare.ts)
 *  - `{"mode": "prepare"}`: only the prepare pass (e.g. invoked once right after a deploy changed a group)
 */

const PlannedBind = z
  .object({
    eniId: z.string().regex(/^eni-[a-z0-9]{1,40}$/, 'must look like eni-xxxx'),
    instanceId: z.string().regex(/^i-[a-z0-9]{1,40}$/, 'must look like i-xxxx'),
    sourceInstanceId: z.string().regex(/^i-[a-z0-9]{1,40}$/, 'must look like i-xxxx').optional(),
    /** Overrides of the ENI's group policy (or of the defaults for an ENI in no group). */
    policy: Policy.partial().strict().optional(),
  })
  .strict();

const SwitchOverList = z.array(PlannedBind).min(1, 'a switch-over list needs at least one bind');
const ReconcileMode = z.object({ mode: z.enum(['reconcile', 'prepare']) }).strict();
export const SchedulePayload = z.union([SwitchOverList, ReconcileMode]);
export type SchedulePayload = z.infer<typeof SchedulePayload>;

export interface TimerEventLike {
  readonly triggerTime?: string;
  readonly triggerName?: string;
  readonly payload?: string;
}

/** Parses the timer payload text. Guarantees: ok:false names the bad field. */
export function parseSchedulePayload(payload: string): ParseResult<SchedulePayload> {
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch (err) {
    return { ok: false, error: `payload is not JSON (expected a list of binds, {"mode":"reconcile"} or {"mode":"prepare"}): ${(err as Error).message}` };
  }
  const parsed = SchedulePayload.safeParse(data);
  if (parsed.success) return { ok: true, value: parsed.data };
  // A union reports both branches; name the one the payload was meant to be.
  const branch = Array.isArray(data) ? SwitchOverList : ReconcileMode;
  const detail = branch.safeParse(data);
  const issues = detail.success ? parsed.error.issues : detail.error.issues;
  return { ok: false, error: issues.map((i) => `payload${formatPath(i.path) === '(root)' ? '' : formatPath(i.path).replace(/^(?!\[)/, '.')}: ${i.message}`).join('; ') };
}

function originOf(timer: TimerEventLike, now: number, what: string): Origin {
  const time = timer.triggerTime !== undefined && !Number.isNaN(Date.parse(timer.triggerTime)) ? new Date(Date.parse(timer.triggerTime)).toISOString() : new Date(now).toISOString();
  // One fire of one trigger is one origin: FC redelivering the same fire makes the same operations.
  return { kind: 'schedule', id: `${timer.triggerName ?? 'timer'}/${what}@${time}`.slice(0, 256), time };
}

/** Runs a parsed payload: planned switch-overs or a reconcile pass. */
export async function normaliseSchedule(timer: TimerEventLike, payload: SchedulePayload, deps: EntryDeps): Promise<EntryResult> {
  if (!Array.isArray(payload)) {
    // The prepare pass binds nothing; the adapter runs it (it waits for Cloud Assistant).
    if (payload.mode === 'prepare') return { kind: 'decided', decisions: [] };
    const origin = originOf(timer, deps.now(), 'reconcile');
    const repairs = await reconcile(origin, deps);
    return { kind: 'decided', decisions: [...repairs, ...(await failbackPass(Date.parse(origin.time), repairs, deps))] };
  }
  const origin = originOf(timer, deps.now(), 'switch-over');
  const decisions: EntryDecision[] = [];
  // One read for all of them (the port asks 100 ids per call): a switch-over of 1000 binds costs 10
  // DescribeNetworkInterfaces, not 1000, at the rate-limit floor of a maintenance window.
  const enis = new Map((await deps.ecs.describeEnis({ eniIds: payload.map((b) => b.eniId) })).map((e) => [e.eniId, e]));
  for (const bind of payload) {
    const eni = enis.get(bind.eniId);
    const group = eni === undefined ? undefined : groupOfEni(deps.groups, eni);
    // A planned switch-over moves the ENI from wherever it is: name the current holder as the source,
    // unless the payload named one (validate refuses a holder nobody named).
    const holder = eni !== undefined && eni.status !== EniStatus.Available && eni.instanceId !== bind.instanceId ? eni.instanceId : undefined;
    const source = bind.sourceInstanceId ?? holder;
    const parsed = BindRequest.safeParse({
      eniId: bind.eniId,
      instanceId: bind.instanceId,
      regionId: deps.regionId,
      ...(source === undefined ? {} : { sourceInstanceId: source }),
      policy: { ...(group?.policy ?? {}), ...(bind.policy ?? {}) },
      origin,
    });
    if (!parsed.success) {
      decisions.push({ kind: 'skip', eniId: bind.eniId, reason: `invalid switch-over: ${parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}` });
      continue;
    }
    decisions.push({
      kind: 'bind',
      ...(group === undefined ? {} : { group: group.name }),
      request: parsed.data,
      passedOver: [],
      note: `planned switch-over of ${bind.eniId} to ${bind.instanceId}${source === undefined ? '' : ` from ${source}`}`,
    });
  }
  return { kind: 'decided', decisions };
}

/**
 * One reconcile pass. For every group ENI: unbound (Available) -> bind to the best member; bound to a
 * member that is Stopped or no longer exists -> bind to the best other member, from that holder.
 * Guarantees: reads only; an ENI bound to a Running member (or to any Starting/Stopping/Pending one) is
 * left alone; an ENI in motion (Attaching, Detaching, Creating, Deleting) is skipped - an operation owns
 * it; an ENI bound to an instance outside the group is never taken; every ENI gets exactly one decision
 * saying what was found.
 */
/** Failures after the bind that leave the guest unconfigured: reconcile configures it later. */
const GuestUnconfirmed = new Set<string>([Reason.GuestConfigFailed, Reason.GuestAgentOffline, Reason.GuestNotConfigured, Reason.DeadlineExceeded]);

export async function reconcile(origin: Origin, deps: EntryDeps): Promise<EntryDecision[]> {
  const decisions: EntryDecision[] = [];
  for (const group of deps.groups.groups) {
    const enis = await describeGroupEnis(deps.ecs, group);
    if (enis.length === 0) {
      decisions.push({ kind: 'skip', group: group.name, reason: `group ${group.name} has no ENI in ECS (check its ids or tag)` });
      continue;
    }
    const instances = await deps.ecs.describeInstances(group.members);
    const byId = new Map(instances.map((i) => [i.instanceId, i]));
    const planned = new Map<string, number>();
    for (const eni of enis) {
      const skip = (reason: string) => decisions.push({ kind: 'skip', group: group.name, eniId: eni.eniId, reason });
      if (eni.status !== EniStatus.Available && eni.status !== EniStatus.InUse) {
        skip(`${eni.eniId} is ${eni.status}: an operation is in progress, not touching it`);
        continue;
      }
      let source: string | undefined;
      if (eni.status === EniStatus.InUse) {
        const holder = eni.instanceId!;
        if (!group.members.includes(holder)) {
          skip(`${eni.eniId} is bound to ${holder}, which is not a member of ${group.name}: left alone`);
          continue;
        }
        const h = byId.get(holder) ?? (await deps.ecs.describeInstance(holder));
        if (h !== undefined && h.status !== InstanceStatus.Stopped) {
          // Bound, but the last operation that bound it there ended before its guest confirmed the ENI:
          // bind it to its holder again, which moves nothing and configures the guest (idempotent).
          const last = (await deps.ledger?.getLease(eniLeaseId(eni.eniId)))?.last;
          if (h.status === InstanceStatus.Running && last !== undefined && last.instanceId === holder && last.outcome === 'failed' && GuestUnconfirmed.has(last.reason ?? '') && (last.step === 'configure-guest-routes' || last.step === 'verify-bound')) {
            decisions.push({
              kind: 'bind',
              group: group.name,
              request: BindRequest.parse({ eniId: eni.eniId, instanceId: holder, regionId: deps.regionId, policy: group.policy, origin }),
              passedOver: [],
              note: `repair: ${eni.eniId} is on ${holder}, but operation ${last.operationId} ended ${last.reason} before its guest confirmed it; configure the guest`,
            });
            continue;
          }
          skip(`healthy: ${eni.eniId} is on ${holder} (${h.status})`);
          continue;
        }
        source = holder;
      }
      const decision = await repair(group, eni, source, instances, planned, origin, deps);
      decisions.push(decision);
    }
  }
  return decisions;
}

async function repair(
  group: FailoverGroup,
  eni: Parameters<typeof selectStandby>[0]['eni'],
  source: string | undefined,
  instances: readonly Instance[],
  planned: Map<string, number>,
  origin: Origin,
  deps: EntryDeps,
): Promise<EntryDecision> {
  const choice = await selectStandby({ group, eni, ...(source === undefined ? {} : { excludeInstanceId: source }), instances, plannedEnis: planned }, deps.ecs);
  const found = source === undefined ? `${eni.eniId} is unbound` : `${eni.eniId} is on ${source}, which is Stopped or gone`;
  if (!choice.ok) {
    return entryFailure({ group, eniId: eni.eniId, ...(source === undefined ? {} : { source }), origin, passedOver: choice.passedOver, message: `${found}; ${choice.detail}`, now: deps.now() });
  }
  planned.set(choice.standby.instanceId, (planned.get(choice.standby.instanceId) ?? 0) + 1);
  return {
    kind: 'bind',
    group: group.name,
    request: BindRequest.parse({
      eniId: eni.eniId,
      instanceId: choice.standby.instanceId,
      regionId: deps.regionId,
      ...(source === undefined ? {} : { sourceInstanceId: source }),
      policy: group.policy,
      origin,
    }),
    passedOver: choice.passedOver,
    note: `repair: ${found}; bind to ${choice.standby.instanceId}`,
  };
}

/**
 * The reconcile pass also looks at every group's failback clock (workflow/failback.ts) at the timer's fire
 * time: a healthy preferred member starts (or keeps) its hold, an unhealthy one resets it, and a group
 * with `failback: auto` whose hold has passed gets its failback. A group this pass repairs is left to the
 * repair; a clock that cannot be written is reported and looked at again by the next pass, never in the
 * way of the repairs.
 */
async function failbackPass(at: number, repairs: readonly EntryDecision[], deps: EntryDeps): Promise<EntryDecision[]> {
  const ledger = deps.ledger;
  if (ledger === undefined) return [];
  const repairing = new Set(repairs.flatMap((d) => (d.kind === 'bind' || d.kind === 'fail' ? [d.kind === 'bind' ? d.group : d.event.group] : [])));
  const out: EntryDecision[] = [];
  for (const group of deps.groups.groups) {
    if (repairing.has(group.name)) continue;
    try {
      out.push(...failbackDecisions(await evaluateFailback(group, { kind: 'look', at }, { kind: 'observe' }, { ecs: deps.ecs, ledger, regionId: deps.regionId, now: deps.now })));
    } catch (err) {
      out.push({ kind: 'skip', group: group.name, reason: `failback clock not updated this pass: ${(err as Error).message}` });
    }
  }
  return out;
}
