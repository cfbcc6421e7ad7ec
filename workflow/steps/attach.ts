import { managedEnisServing } from '../authority';
import { CloudErrorKind, isCloudError } from '../errors';
import { eniLeaseId, powerHoldId, type LeaseRecord } from '../ledger';
import { Step } from '../messages';
import { EniStatus, InstanceStatus, type Eni, type Instance } from '../model';
import { failbackSuperseded, failbackTargetUnhealthy } from '../failback-target';
import { Reason } from '../rules';
import { Transition, fail, readMayLag, next, refused, superseded, wait, waitFor, writeOrLookAgain, type Operation, type StepContext, type StepResult } from '../step';

/** Refusals of AttachNetworkInterface with a state code looked at again before the attach counts as failed. */
export const MaxAttachRefusals = 4;
/** A fence whose source is still not stopping this long after it was sent is sent again (ms, scaled). */
export const FenceRetryAfterMs = 10_000;
/** How long a detach may stay in Detaching before the source is considered hung (scaled by timeScale). */
export const DetachHangsAfterMs = 20_000;

/**
 * Step 3: take the ENI from the named source if needed, then AttachNetworkInterface.
 *
 * The ENI's own state is the lock. This step detaches only from the source the request named, and when
 * the attach loses a race it re-reads: bound to our target is success, bound elsewhere is `superseded`.
 *
 *   InUse@source --Detach--> Detaching --(guest releases)--> Available --Attach--> Attaching -> InUse@target
 *                               |  hangs > DetachHangsAfterMs and fenceSource: ForceStop source
 */
export async function attach(op: Operation, ctx: StepContext): Promise<StepResult> {
  const plan = op.plan;
  if (plan === undefined) return fail(Reason.InvalidRequest, 'attach got an operation without a plan');
  const { eniId, instanceId, sourceInstanceId, policy } = op.request;
  // Before the detach, one read of the source's ENIs shows this ENI too (it is on the source in the plan),
  // and it is the read the detach's authority needs: the ENI is read once, not twice.
  // The source's instance and power hold, which the detach's authority reads next, are read alongside.
  const first = plan.detachFrom !== undefined && op.state.detachSentAt === undefined;
  const [onSource, prefetched] = first
    ? await Promise.all([ctx.ecs.describeEnis({ instanceId: plan.detachFrom! }), Promise.all([ctx.ecs.describeInstance(plan.detachFrom!), ctx.ledger.getLease(powerHoldId(plan.detachFrom!))])])
    : [undefined, undefined];
  const described = onSource?.find((e) => e.eniId === eniId) ?? (await ctx.ecs.describeEni(eniId));
  if (described === undefined) return fail(Reason.EniNotFound, `ENI ${eniId} disappeared`);
  const eni: Eni = described;
  const owner = eni.instanceId;
  const now = ctx.clock.now();
  // A failback moves the ENI off a healthy standby: only while its target, the preferred member, is healthy.
  const failback = op.request.origin.kind === 'failback';

  switch (eni.status) {
    case EniStatus.InUse:
    case EniStatus.Attaching:
      if (owner === instanceId) return next(Step.VerifyBound, `ENI ${eniId} is ${eni.status} on ${instanceId}`);
      if (owner !== undefined && owner === sourceInstanceId) {
        const sent = op.state.detachSentAt;
        if (readMayLag(sent, now, ctx.timeScale)) {
          return waitFor(`ENI ${eniId} still reads InUse on ${owner} ${now - sent} ms after ECS accepted its detach (reads lag writes); looking again`, { transition: Transition.Detach, since: sent });
        }
        const facts = await sourceFacts(eni, owner, owner === plan.detachFrom ? onSource : undefined, owner === plan.detachFrom ? prefetched : undefined);
        if (failback) {
          const why = await failbackTargetUnhealthy(facts.target, policy.configureGuest, ctx.ecs);
          if (why !== undefined) return failbackSuperseded(why, eniId);
        }
        const verdict = await ctx.beforeWrite({ kind: 'detach', instanceId: owner }, facts, { detachRequestedAt: op.state.detachRequestedAt ?? now });
        if (!verdict.ok) return refused(verdict);
        // Another writer may have moved it first (a racing copy, a concurrent detach): look again, do not fail.
        const raced = await writeOrLookAgain('DetachNetworkInterface', eniId, () => ctx.ecs.detachEni({ eniId, instanceId: owner }));
        if (raced) return raced;
        const sentAt = ctx.clock.now();
        return waitFor(`asked ECS to detach ${eniId} from ${owner}`, { transition: Transition.Detach, since: sentAt }, { detachRequestedAt: op.state.detachRequestedAt ?? now, detachSentAt: sentAt });
      }
      return superseded(`ENI ${eniId} is now ${eni.status} on ${owner ?? 'another instance'}; another operation took it`);

    case EniStatus.Detaching: {
      const since = op.state.detachRequestedAt ?? now;
      const hung = now - since > DetachHangsAfterMs * ctx.timeScale;
      // The fence is recorded before its StopInstance is sent: if that call failed (throttled, dropped), the
      // source is still Running and the fence is sent again after a while (chaos seed 344).
      const fenceDue = op.state.sourceFencedAt === undefined || now - op.state.sourceFencedAt > FenceRetryAfterMs * ctx.timeScale;
      if (hung && owner !== undefined && owner === sourceInstanceId && policy.fenceSource && fenceDue) {
        return fenceSource(owner);
      }
      const note = hung && !policy.fenceSource ? ' (hung: the source does not release it; fenceSource would force-stop it)' : '';
      return waitFor(`ENI ${eniId} is Detaching from ${owner ?? 'its instance'}${note}`, { transition: Transition.Detach, since: op.state.detachSentAt ?? since }, { detachRequestedAt: since });
    }

    case EniStatus.Available:
      return attachNow();

    default:
      return fail(Reason.EniStateUnsupported, `ENI ${eniId} is ${eni.status}; it cannot be bound`);
  }

  /** The cloud's facts about the source at the moment of a detach or fence (`enisOnSource`, `read`: read by this look already). */
  async function sourceFacts(current: Eni, source: string, enisOnSource?: Eni[], read?: readonly [Instance | undefined, LeaseRecord | undefined]) {
    const [instance, hold, onSourceNow, target] = await Promise.all([
      read ? read[0] : ctx.ecs.describeInstance(source),
      read ? read[1] : ctx.ledger.getLease(powerHoldId(source)),
      enisOnSource ?? ctx.ecs.describeEnis({ instanceId: source }),
      failback ? ctx.ecs.describeInstance(instanceId) : Promise.resolve(undefined),
    ]);
    return {
      eni: current,
      ...(instance === undefined ? {} : { source: instance }),
      ...(target === undefined ? {} : { target }),
      sourceInPowerHold: (hold?.holders.length ?? 0) > 0,
      servingEnis: await movedOntoSince(managedEnisServing(onSourceNow, source, eniId, ctx.authority.groups), source),
    };
  }

  /**
   * Of the other group ENIs on the source, those it serves as someone's new home: bound there by an
   * operation that succeeded after this one started. The ones it held when it failed are failing over with
   * it, and an operation still binding one there (not succeeded) will fail on a hung source as well: neither
   * protects it from the fence.
   */
  async function movedOntoSince(others: Eni[], source: string): Promise<Eni[]> {
    const serving: Eni[] = [];
    for (const other of others) {
      const last = (await ctx.ledger.getLease(eniLeaseId(other.eniId)))?.last;
      if (last !== undefined && last.outcome === 'succeeded' && last.instanceId === source && last.at > op.startedAt) serving.push(other);
    }
    return serving;
  }

  async function fenceSource(source: string): Promise<StepResult> {
    const current = await ctx.ecs.describeEni(eniId);
    if (current === undefined) return fail(Reason.EniNotFound, `ENI ${eniId} disappeared`);
    // The detach may have completed since the last look: then there is nothing left to fence.
    if (current.instanceId !== source) return wait(`ENI ${eniId} is ${current.status} now, no longer on ${source}; no fence needed`);
    const facts = await sourceFacts(current, source);
    const verdict = await ctx.beforeWrite({ kind: 'fence', instanceId: source }, facts, { sourceFencedAt: now });
    if (!verdict.ok) return refused(verdict);
    const instance = facts.source;
    if (instance !== undefined && instance.status !== InstanceStatus.Stopped && instance.status !== InstanceStatus.Stopping) {
      await ctx.ecs.stopInstance({ instanceId: source, forceStop: true, stoppedMode: 'KeepCharging' });
    }
    return wait(`detach of ${eniId} hung; fencing: force-stopping the source ${source}`, { sourceFencedAt: now });
  }

  async function attachNow(): Promise<StepResult> {
    if (failback) {
      // The preferred member may have failed again while the ENI left the standby: then it is not bound
      // there; the operation ends superseded and its rescue binds the ENI to the standby again.
      const why = await failbackTargetUnhealthy(await ctx.ecs.describeInstance(instanceId), policy.configureGuest, ctx.ecs);
      if (why !== undefined) return failbackSuperseded(why, eniId);
    }
    const verdict = await ctx.beforeWrite({ kind: 'attach', instanceId }, { eni }, { attachRequestedAt: now });
    if (!verdict.ok) return refused(verdict);
    try {
      await ctx.ecs.attachEni({ eniId, instanceId });
    } catch (err) {
      if (!isCloudError(err) || err.kind !== CloudErrorKind.InvalidState) throw err;
      // Lost a race, or the target is changing state: look again before deciding.
      const again = await ctx.ecs.describeEni(eniId);
      if (again?.instanceId === instanceId && (again.status === EniStatus.InUse || again.status === EniStatus.Attaching)) {
        return next(Step.VerifyBound, `ENI ${eniId} is ${again.status} on ${instanceId} (attach raced with another delivery)`);
      }
      if (again?.instanceId !== undefined && again.instanceId !== instanceId && again.instanceId !== sourceInstanceId) {
        return superseded(`ENI ${eniId} was taken by ${again.instanceId} while this operation attached it`);
      }
      const target = await ctx.ecs.describeInstance(instanceId);
      if (target && (target.status === InstanceStatus.Starting || target.status === InstanceStatus.Stopping)) {
        return wait(`instance ${instanceId} is ${target.status}; attach waits`);
      }
      // The refusal may come from a state this read does not show yet (reads lag writes, and the realistic
      // profile answers transient state codes): look again a few times before calling it final.
      if (op.state.invalidStateStreak < MaxAttachRefusals) {
        return wait(`AttachNetworkInterface answered ${err.code}; looking at ${eniId} and ${instanceId} again`, { invalidStateStreak: op.state.invalidStateStreak + 1 });
      }
      return fail(Reason.AttachFailed, `AttachNetworkInterface refused ${MaxAttachRefusals + 1} times: ${err.code}: ${err.message}`);
    }
    // From when ECS accepted it: verify-bound times its looks (and the read-lag grace) from here.
    return next(Step.VerifyBound, `asked ECS to attach ${eniId} to ${instanceId}`, {
      state: { attachRequests: op.state.attachRequests + 1, attachRequestedAt: ctx.clock.now() },
    });
  }
}
