import { Step, type OperationMessage } from '../messages';
import { InstanceStatus } from '../model';
import { Reason, needsRestartBeforeBind } from '../rules';
import { fail, next, wait, type StepContext, type StepResult } from '../step';

/**
 * Step 2: stop the target (a type that binds only while Stopped) or restart it (the 2018-04-01 rule), when
 * the plan says so and the policy allows it; then wait until it is ready for the bind.
 *
 * The operation records `stoppedByUs` before it asks for the stop, so that a crash right after the call
 * still leaves a message that knows to start the instance again.
 */
export async function stopIfRequired(op: OperationMessage, ctx: StepContext): Promise<StepResult> {
  const plan = op.plan;
  if (plan === undefined) return fail(Reason.InvalidRequest, 'stop-if-required got an operation without a plan');
  const { instanceId, policy } = op.request;
  if (plan.instancePrep === 'none') return next(Step.Attach, 'nothing to stop');
  if (!policy.allowStop) {
    return fail(plan.instancePrep === 'stop' ? Reason.StopRequired : Reason.RestartRequired, `the plan needs a ${plan.instancePrep} of ${instanceId} but the policy does not allow it (allowStop)`);
  }

  const instance = await ctx.ecs.describeInstance(instanceId);
  if (instance === undefined) return fail(Reason.InstanceNotFound, `instance ${instanceId} disappeared`);

  if (plan.instancePrep === 'stop') {
    switch (instance.status) {
      case InstanceStatus.Stopped:
        // Stopped by us (a duplicate delivery, or our earlier call) or by someone else since validate: either
        // way it was Running when the operation decided, so it is ours to start again.
        return next(Step.Attach, `${instanceId} is Stopped`, { state: { stoppedByUs: plan.targetStatusAtValidate === InstanceStatus.Running } });
      case InstanceStatus.Stopping:
        return wait(`${instanceId} is Stopping`, { stoppedByUs: plan.targetStatusAtValidate === InstanceStatus.Running });
      case InstanceStatus.Running:
        await ctx.ecs.stopInstance({ instanceId, forceStop: false, stoppedMode: policy.stoppedMode });
        return wait(`asked ECS to stop ${instanceId} (${policy.stoppedMode})`, { stoppedByUs: true });
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
    await ctx.ecs.rebootInstance({ instanceId, forceStop: false });
    return wait(`asked ECS to restart ${instanceId} (running since ${instance.startTime})`, { rebootRequestedAt: ctx.clock.now() });
  }
  return wait(`${instanceId} is ${instance.status} after the restart request`);
}
