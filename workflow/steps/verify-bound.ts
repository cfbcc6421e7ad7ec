import { StartRefusalCodes, isCloudError } from '../errors';
import { Step } from '../messages';
import { EniStatus, InstanceStatus, bootOf } from '../model';
import { powerHoldId } from '../ledger';
import { leavePowerHold, startRequested } from '../operation';
import { Reason } from '../rules';
import { Transition, fail, readMayLag, next, refused, superseded, wait, waitFor, writeOrLookAgain, type Operation, type StepContext, type StepResult } from '../step';

/** How long a start this operation asked for may take before it fails (scaled by timeScale). */
export const StartGraceMs = 120_000;

/** What an operator can do about an instance ECS will not start (the outcome says it). */
export function startRefusalAdvice(instanceId: string, code: string | undefined): string {
  const how = `start it by hand (console or StartInstance)`;
  if (code === 'OperationDenied.NoStock') return `${instanceId} is still Stopped: ECS has no stock for it in its zone now; ${how} later, or bind the ENI to another member (another zone or type)`;
  return `${instanceId} is still Stopped: ${how}`;
}

/** A failed attach (ENI back to Available) is retried this many times before the operation fails. */
export const MaxAttachRequests = 3;

/**
 * Step 4: the ENI is InUse on the target and only the target; the instance this operation stopped is
 * Running again. Then either the guest is configured or the operation has succeeded.
 */
export async function verifyBound(op: Operation, ctx: StepContext): Promise<StepResult> {
  const plan = op.plan;
  if (plan === undefined) return fail(Reason.InvalidRequest, 'verify-bound got an operation without a plan');
  const { eniId, instanceId, policy } = op.request;
  const eni = await ctx.ecs.describeEni(eniId);
  if (eni === undefined) return fail(Reason.EniNotFound, `ENI ${eniId} disappeared`);

  // ECS reads may lag the last write for a moment (DescribeNetworkInterfaces is eventually consistent): a
  // look right after this operation's attach is never taken as final.
  const justAttached = readMayLag(op.state.attachRequestedAt, ctx.clock.now(), ctx.timeScale);
  const attaching = op.state.attachRequestedAt === undefined ? undefined : { transition: Transition.Attach, since: op.state.attachRequestedAt };
  if (eni.instanceId !== undefined && eni.instanceId !== instanceId) {
    if (justAttached && eni.instanceId === op.request.sourceInstanceId) return waitFor(`ENI ${eniId} still reads ${eni.status} on ${eni.instanceId} just after the attach; looking again`, attaching!);
    return superseded(`ENI ${eniId} is ${eni.status} on ${eni.instanceId}, not on ${instanceId}; another operation took it`);
  }
  if (eni.status === EniStatus.Attaching) return attaching ? waitFor(`ENI ${eniId} is Attaching to ${instanceId}`, attaching) : wait(`ENI ${eniId} is Attaching to ${instanceId}`);
  if (eni.status === EniStatus.Available && justAttached) return waitFor(`ENI ${eniId} still reads Available just after the attach; looking again`, attaching!);
  if (eni.status === EniStatus.Available) {
    if (op.state.attachRequests >= MaxAttachRequests) {
      return fail(Reason.AttachFailed, `ENI ${eniId} fell back to Available after ${op.state.attachRequests} attach requests`);
    }
    return next(Step.Attach, `ENI ${eniId} fell back to Available: the attach failed; attaching again`);
  }
  if (eni.status !== EniStatus.InUse) return wait(`ENI ${eniId} is ${eni.status}`);

  // Bound. This operation leaves the target's power hold now; the last one out starts it again.
  const now = ctx.clock.now();
  let startOwed = op.state.startOwed;
  if (op.state.powerHold === 'joined') {
    const left = await leavePowerHold(ctx.ledger, instanceId, op.operationId, now);
    startOwed = startOwed || left.startOwed;
    await ctx.remember({ powerHold: 'left', startOwed });
  }
  const instance = await ctx.ecs.describeInstance(instanceId);
  if (instance === undefined) return fail(Reason.InstanceNotFound, `instance ${instanceId} disappeared`);
  const bound = `ENI ${eniId} is InUse on ${instanceId}`;
  if (startOwed && instance.status === InstanceStatus.Stopped) {
    if (op.state.startRequestedAt !== undefined && now - op.state.startRequestedAt > StartGraceMs * ctx.timeScale) {
      const refusal = op.state.startRefusal;
      return fail(
        Reason.StartFailed,
        `${bound}, but ${instanceId} did not start after the bind (asked at ${new Date(op.state.startRequestedAt).toISOString()}${refusal ? `; ECS kept answering ${refusal}` : ''}); ${startRefusalAdvice(instanceId, refusal)}`,
      );
    }
    const verdict = await ctx.beforeWrite({ kind: 'start', instanceId }, { eni, stoppedByThisOperation: true }, { startRequestedAt: op.state.startRequestedAt ?? now });
    if (!verdict.ok) return refused(verdict);
    try {
      const raced = await writeOrLookAgain('StartInstance', instanceId, () => ctx.ecs.startInstance(instanceId));
      if (raced) return raced;
    } catch (err) {
      if (!isCloudError(err) || !StartRefusalCodes.includes(err.code)) throw err;
      // Refused, not failed: asked again on the next looks until the start grace runs out, then the
      // outcome says the instance is still Stopped and why.
      return wait(`${bound}; ECS refused to start ${instanceId} (${err.code}); asking again`, { startRefusal: err.code });
    }
    return wait(`${bound}; asked ECS to start it again (this operation's power hold stopped it)`);
  }
  if (startOwed && instance.status === InstanceStatus.Running) {
    await startRequested(ctx.ledger, instanceId, op.operationId, now);
    await ctx.remember({ startOwed: false });
  }

  const skip = guestSkipReason(policy.configureGuest, plan.osType);
  if (skip !== undefined) return { kind: 'end', outcome: 'succeeded', detail: `${bound}; guest configuration skipped: ${skip}` };
  // Nobody will start it: this operation was in no power hold (a sibling's last-out starts what a hold
  // stopped), and no hold is open on it now.
  if (instance.status === InstanceStatus.Stopped && !startOwed && op.state.powerHold === undefined && ((await ctx.ledger.getLease(powerHoldId(instanceId)))?.holders.length ?? 0) === 0) {
    return fail(Reason.GuestNotConfigured, `${bound}, but ${instanceId} is Stopped and this workflow did not stop it, so its OS cannot be configured now; start it and run the bind again (the guest step is idempotent)`);
  }
  if (instance.status !== InstanceStatus.Running) {
    // The guest must confirm the ENI after the target's last boot, or the operation does not succeed: wait
    // for the start (ours, or a sibling's in the power hold), bounded by the deadline.
    return wait(`${bound}; waiting for ${instanceId} (${instance.status}) to run so its guest can be configured`);
  }
  // Also when the ENI was bound before this operation began: an earlier run may have died before the
  // guest was configured, and the script is idempotent (changes:0 is a confirmation).
  // The boot seen Running here is handed on: configure-guest-routes sends its command for it without reading
  // the instance again, and checks the boot once the command's result is in.
  return next(Step.ConfigureGuestRoutes, plan.action === 'alreadyBound' ? `${bound} (already before this operation); confirming the guest` : bound, {
    state: { boundSeenAt: now, boundBoot: bootOf(instance.startTime) },
  });
}

/**
 * Why the guest is not configured at all, or undefined when it is. A target that is not Running is no
 * reason: its guest is configured once it runs (success needs that confirmation).
 */
export function guestSkipReason(configureGuest: boolean, osType: string): string | undefined {
  if (!configureGuest) return 'the request turned it off (configureGuest: false)';
  if (osType === 'windows') return 'Windows guests configure a new NIC by themselves; no script is run';
  return undefined;
}
