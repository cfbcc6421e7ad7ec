import { Step, type OperationMessage } from '../messages';
import { EniStatus, InstanceStatus } from '../model';
import { Reason } from '../rules';
import { fail, next, superseded, wait, type StepContext, type StepResult } from '../step';

/** A failed attach (ENI back to Available) is retried this many times before the operation fails. */
export const MaxAttachRequests = 3;

/**
 * Step 4: the ENI is InUse on the target and only the target; the instance this operation stopped is
 * Running again. Then either the guest is configured or the operation has succeeded.
 */
export async function verifyBound(op: OperationMessage, ctx: StepContext): Promise<StepResult> {
  const plan = op.plan;
  if (plan === undefined) return fail(Reason.InvalidRequest, 'verify-bound got an operation without a plan');
  const { eniId, instanceId, policy } = op.request;
  const eni = await ctx.ecs.describeEni(eniId);
  if (eni === undefined) return fail(Reason.EniNotFound, `ENI ${eniId} disappeared`);

  if (eni.instanceId !== undefined && eni.instanceId !== instanceId) {
    return superseded(`ENI ${eniId} is ${eni.status} on ${eni.instanceId}, not on ${instanceId}; another operation took it`);
  }
  if (eni.status === EniStatus.Attaching) return wait(`ENI ${eniId} is Attaching to ${instanceId}`);
  if (eni.status === EniStatus.Available) {
    if (op.state.attachRequests >= MaxAttachRequests) {
      return fail(Reason.AttachFailed, `ENI ${eniId} fell back to Available after ${op.state.attachRequests} attach requests`);
    }
    return next(Step.Attach, `ENI ${eniId} fell back to Available: the attach failed; attaching again`);
  }
  if (eni.status !== EniStatus.InUse) return wait(`ENI ${eniId} is ${eni.status}`);

  // Bound. If we stopped the instance, it must run again before anything else.
  const instance = await ctx.ecs.describeInstance(instanceId);
  if (instance === undefined) return fail(Reason.InstanceNotFound, `instance ${instanceId} disappeared`);
  if (op.state.stoppedByUs && instance.status !== InstanceStatus.Running) {
    if (instance.status === InstanceStatus.Stopped && op.state.startRequestedAt === undefined) {
      await ctx.ecs.startInstance(instanceId);
      return wait(`ENI ${eniId} is InUse on ${instanceId}; asked ECS to start it again`, { startRequestedAt: ctx.clock.now() });
    }
    if (instance.status === InstanceStatus.Stopped && ctx.clock.now() - (op.state.startRequestedAt ?? 0) > 120_000 * ctx.timeScale) {
      return fail(Reason.StartFailed, `${instanceId} did not start after the bind; start it by hand`);
    }
    return wait(`ENI ${eniId} is InUse on ${instanceId}; waiting for ${instanceId} (${instance.status}) to be Running`);
  }

  const bound = `ENI ${eniId} is InUse on ${instanceId}`;
  if (plan.action === 'alreadyBound') {
    // Bound before this operation began (a repeated trigger, or a planned switch-over already done): the
    // operation that bound it configured the guest. Nothing is written.
    return { kind: 'end', outcome: 'succeeded', detail: `${bound}: already bound before this operation; nothing to do` };
  }
  const skip = guestSkipReason(policy.configureGuest, plan.osType, instance.status);
  if (skip !== undefined) return { kind: 'end', outcome: 'succeeded', detail: `${bound}; guest configuration skipped: ${skip}` };
  return next(Step.ConfigureGuestRoutes, bound);
}

/** Why the guest is not configured, or undefined when it is. */
export function guestSkipReason(configureGuest: boolean, osType: string, status: string): string | undefined {
  if (!configureGuest) return 'the request turned it off (configureGuest: false)';
  if (osType === 'windows') return 'Windows guests configure a new NIC by themselves; no script is run';
  if (status !== InstanceStatus.Running) return `the instance is ${status}; its OS will bring the NIC up at boot`;
  return undefined;
}
