import { managedEnisServing } from '../authority';
import { eniLeaseId, powerHoldId } from '../ledger';
import { Step } from '../messages';
import { EniStatus, InstanceStatus } from '../model';
import { changePowerHold, joinPowerHold } from '../operation';
import { Reason, needsRestartBeforeBind } from '../rules';
import { fail, readMayLag, next, refused, wait, writeOrLookAgain, type Operation, type StepContext, type StepResult } from '../step';

/**
 * Step 2: stop the target (a type that binds only while Stopped) or restart it (the 2018-04-01 rule), when
 * the plan says so and the policy allows it; then wait until it is ready for the bind.
 *
 * Operations that need one instance stopped share its power hold (workflow/operation.ts): each joins it
 * first; the first to find it Running records itself as the one that stops it (in the hold and in its
 * own record) before it calls StopInstance; the last one out starts it again (verify-bound, or the
 * runner's restore on failure). A restart joins the hold too, so the ECS events it causes are known as
 * the workflow's own and never start a failover.
 */
export async function stopIfRequired(op: Operation, ctx: StepContext): Promise<StepResult> {
  const plan = op.plan;
  if (plan === undefined) return fail(Reason.InvalidRequest, 'stop-if-required got an operation without a plan');
  const { instanceId, eniId, policy } = op.request;
  if (plan.instancePrep === 'none') return next(Step.Attach, 'nothing to stop');
  if (!policy.allowStop) {
    return fail(plan.instancePrep === 'stop' ? Reason.StopRequired : Reason.RestartRequired, `the plan needs a ${plan.instancePrep} of ${instanceId} but the policy does not allow it (allowStop)`);
  }

  const instance = await ctx.ecs.describeInstance(instanceId);
  if (instance === undefined) return fail(Reason.InstanceNotFound, `instance ${instanceId} disappeared`);
  const now = ctx.clock.now();
  // The plan was made from a read that may lag (ecs-realism.md): an ENI an operation of this workflow bound
  // to the target a moment ago may still read as elsewhere. The ledger is consistent; trust it first, and
  // never stop or restart an instance for an ENI that is already there.
  const current = await ctx.ecs.describeEni(eniId);
  if (current?.instanceId === instanceId && (current.status === EniStatus.InUse || current.status === EniStatus.Attaching)) {
    return next(Step.Attach, `ENI ${eniId} is already ${current.status} on ${instanceId}: nothing to ${plan.instancePrep}`);
  }
  const last = (await ctx.ledger.getLease(eniLeaseId(eniId)))?.last;
  if (last !== undefined && last.outcome === 'succeeded' && last.instanceId === instanceId && last.operationId !== op.operationId && readMayLag(last.at, now, ctx.timeScale)) {
    return wait(`operation ${last.operationId} bound ${eniId} to ${instanceId} ${now - last.at} ms ago (ledger) but it reads ${current?.status ?? 'missing'} on ${current?.instanceId ?? 'nothing'} (reads lag writes): looking again before any ${plan.instancePrep}`);
  }
  if (op.state.powerHold !== 'joined') {
    await joinPowerHold(ctx.ledger, instanceId, op.operationId, now);
    await ctx.remember({ powerHold: 'joined' });
  }

  const authorizePowerWrite = async (kind: 'stop' | 'restart', intent: Parameters<StepContext['remember']>[0]) => {
    const [eni, onTarget] = await Promise.all([ctx.ecs.describeEni(eniId), ctx.ecs.describeEnis({ instanceId })]);
    if (eni === undefined) return { ok: false as const, reason: Reason.EniNotFound, detail: `ENI ${eniId} disappeared` };
    return ctx.beforeWrite({ kind, instanceId }, { eni, servingEnis: managedEnisServing(onTarget, instanceId, eniId, ctx.authority.groups) }, intent);
  };

  if (plan.instancePrep === 'stop') {
    switch (instance.status) {
      case InstanceStatus.Stopped:
        return next(Step.Attach, `${instanceId} is Stopped`);
      case InstanceStatus.Stopping:
        return wait(`${instanceId} is Stopping`);
      case InstanceStatus.Running: {
        const hold = await ctx.ledger.getLease(powerHoldId(instanceId));
        if (hold?.stoppedBy !== undefined && hold.stoppedBy !== op.operationId) {
          return wait(`${instanceId} is Running; operation ${hold.stoppedBy} of its power hold is stopping it`);
        }
        const verdict = await authorizePowerWrite('stop', { stopRequestedAt: op.state.stopRequestedAt ?? now });
        if (!verdict.ok) return refused(verdict);
        await changePowerHold(ctx.ledger, instanceId, now, (h) => (h.stoppedBy === undefined ? { ...h, stoppedBy: op.operationId } : undefined));
        const after = await ctx.ledger.getLease(powerHoldId(instanceId));
        if (after?.stoppedBy !== op.operationId) return wait(`${instanceId} is Running; operation ${after?.stoppedBy ?? '?'} is stopping it`);
        const raced = await writeOrLookAgain('StopInstance', instanceId, () => ctx.ecs.stopInstance({ instanceId, forceStop: false, stoppedMode: policy.stoppedMode }));
        if (raced) return raced;
        return wait(`asked ECS to stop ${instanceId} (${policy.stoppedMode})`);
      }
      default:
        return wait(`${instanceId} is ${instance.status}; waiting for Running or Stopped`);
    }
  }

  // The 2018-04-01 rule: a restart (RebootInstance) renews StartTime.
  if (instance.status === InstanceStatus.Running && !needsRestartBeforeBind(instance.startTime)) {
    return next(Step.Attach, `${instanceId} restarted at ${instance.startTime}`);
  }
  if (instance.status === InstanceStatus.Stopped) {
    // Binding to a Stopped instance is allowed, and the next start renews StartTime.
    return next(Step.Attach, `${instanceId} is Stopped; the bind does not need a restart`);
  }
  if (instance.status === InstanceStatus.Running && op.state.rebootRequestedAt === undefined) {
    const verdict = await authorizePowerWrite('restart', { rebootRequestedAt: now });
    if (!verdict.ok) return refused(verdict);
    const raced = await writeOrLookAgain('RebootInstance', instanceId, () => ctx.ecs.rebootInstance({ instanceId, forceStop: false }));
    if (raced) return raced;
    return wait(`asked ECS to restart ${instanceId} (running since ${instance.startTime})`);
  }
  return wait(`${instanceId} is ${instance.status} after the restart request`);
}
