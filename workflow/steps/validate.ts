import { Step, type OperationMessage, type Plan } from '../messages';
import { EniStatus, EniType, InstanceStatus, type Eni, type Instance } from '../model';
import { InstanceTypesBindOnlyWhenStopped, Reason, needsRestartBeforeBind } from '../rules';
import { fail, next, wait, type StepContext, type StepResult } from '../step';

/**
 * Step 1: check every prerequisite of "Bind a secondary ENI" and decide the plan. Reads only.
 *
 * Anything that can never succeed ends here with its own reason; anything that is merely in motion
 * (Starting, Stopping, Attaching, Detaching) waits.
 */
export async function validate(op: OperationMessage, ctx: StepContext): Promise<StepResult> {
  const { eniId, instanceId, sourceInstanceId, policy } = op.request;
  const [instance, eni] = await Promise.all([ctx.ecs.describeInstance(instanceId), ctx.ecs.describeEni(eniId)]);

  if (instance === undefined) {
    return fail(Reason.InstanceNotFound, `instance ${instanceId} does not exist in ${op.request.regionId}; check the id and region`);
  }
  if (eni === undefined) {
    return fail(Reason.EniNotFound, `ENI ${eniId} does not exist in ${op.request.regionId}; check the id and region`);
  }
  if (!instance.ioOptimized) {
    return fail(Reason.InstanceNotIoOptimized, `instance ${instanceId} is not I/O optimized; secondary ENIs bind only to I/O optimized instances`);
  }
  if (eni.type === EniType.Primary) {
    return fail(Reason.EniIsPrimary, `ENI ${eniId} is the primary ENI of ${eni.instanceId ?? 'an instance'}; only secondary ENIs can move`);
  }
  if (eni.vpcId !== instance.vpcId) {
    return fail(Reason.VpcMismatch, `ENI ${eniId} is in ${eni.vpcId} but instance ${instanceId} is in ${instance.vpcId}; an ENI binds only within its VPC`);
  }
  if (eni.zoneId !== instance.zoneId) {
    return fail(Reason.ZoneMismatch, `ENI ${eniId} is in zone ${eni.zoneId} but instance ${instanceId} is in ${instance.zoneId}; choose a standby in ${eni.zoneId}`);
  }

  const owner = eni.instanceId;
  const onTarget = owner === instanceId;
  if (eni.status === EniStatus.InUse || eni.status === EniStatus.Attaching) {
    if (!onTarget && owner !== sourceInstanceId) {
      return fail(
        Reason.EniBoundElsewhere,
        `ENI ${eniId} is bound to ${owner ?? 'another instance'}, which this request did not name as its source; ` +
          `name it with sourceInstanceId to move it`,
      );
    }
  } else if (eni.status === EniStatus.Detaching) {
    if (owner !== undefined && owner !== sourceInstanceId && !onTarget) {
      return wait(`ENI ${eniId} is detaching from ${owner}; waiting for it to become Available`);
    }
  } else if (eni.status === EniStatus.Creating) {
    return wait(`ENI ${eniId} is still being created`);
  } else if (eni.status !== EniStatus.Available) {
    return fail(Reason.EniStateUnsupported, `ENI ${eniId} is ${eni.status}; it cannot be bound`);
  }

  const plan = (action: Plan['action'], instancePrep: Plan['instancePrep'], detachFrom?: string): Plan => ({
    action,
    instancePrep,
    ...(detachFrom === undefined ? {} : { detachFrom }),
    targetStatusAtValidate: instance.status,
    osType: instance.osType,
    instanceType: instance.instanceType,
    eni: { macAddress: eni.macAddress, privateIps: [...eni.privateIps] },
  });

  if (onTarget && eni.status !== EniStatus.Detaching) {
    // Already bound (or being bound) to the target: nothing to stop, nothing to write.
    return next(Step.VerifyBound, `ENI ${eniId} is already ${eni.status} on ${instanceId}`, { plan: plan('alreadyBound', 'none') });
  }

  if (instance.status === InstanceStatus.Starting || instance.status === InstanceStatus.Stopping) {
    return wait(`instance ${instanceId} is ${instance.status}; waiting for Running or Stopped`);
  }
  if (instance.status !== InstanceStatus.Running && instance.status !== InstanceStatus.Stopped) {
    return fail(Reason.InstanceStateUnsupported, `instance ${instanceId} is ${instance.status}; it must be Running or Stopped`);
  }

  const quota = await checkQuota(instance, eni, ctx);
  if (quota !== undefined) return quota;

  const prep = instancePrep(instance);
  if (prep.kind === 'refuse') return fail(prep.reason, prep.detail);

  const detachFrom = owner !== undefined && owner === sourceInstanceId ? owner : undefined;
  const p = plan('attach', prep.kind === 'stop' || prep.kind === 'restart' ? prep.kind : 'none', detachFrom);
  const what = [
    detachFrom ? `detach from ${detachFrom}` : undefined,
    prep.kind === 'stop' ? `stop ${instanceId} (${instance.instanceType} binds only while Stopped)` : undefined,
    prep.kind === 'restart' ? `restart ${instanceId} (running since ${instance.startTime}, before 2018-04-01)` : undefined,
    `attach to ${instanceId} (${instance.status})`,
  ].filter(Boolean);
  const nextStep = p.instancePrep === 'none' ? Step.Attach : Step.StopIfRequired;
  return next(nextStep, `plan: ${what.join(', then ')}`, { plan: p });

  function instancePrep(i: Instance):
    | { kind: 'none' | 'stop' | 'restart' }
    | { kind: 'refuse'; reason: Reason; detail: string } {
    if (i.status === InstanceStatus.Stopped) return { kind: 'none' };
    if (InstanceTypesBindOnlyWhenStopped.has(i.instanceType)) {
      return policy.allowStop
        ? { kind: 'stop' }
        : {
            kind: 'refuse',
            reason: Reason.StopRequired,
            detail: `${i.instanceType} accepts a secondary ENI only while Stopped and ${i.instanceId} is Running; allow the stop (allowStop) or stop it yourself`,
          };
    }
    if (needsRestartBeforeBind(i.startTime)) {
      return policy.allowStop
        ? { kind: 'restart' }
        : {
            kind: 'refuse',
            reason: Reason.RestartRequired,
            detail: `${i.instanceId} has been running since ${i.startTime}, before 2018-04-01, and must be restarted (RebootInstance) before an ENI can bind; allow it (allowStop) or restart it from the console`,
          };
    }
    return { kind: 'none' };
  }
}

async function checkQuota(instance: Instance, eni: Eni, ctx: StepContext): Promise<StepResult | undefined> {
  const type = await ctx.ecs.describeInstanceType(instance.instanceType);
  if (type === undefined) return undefined; // Unknown type: let AttachNetworkInterface be the judge.
  const attached = new Set(instance.eniIds);
  attached.delete(eni.eniId);
  if (attached.size >= type.eniQuantity) {
    return fail(
      Reason.EniQuotaExceeded,
      `instance ${instance.instanceId} (${instance.instanceType}) already has ${attached.size} of ${type.eniQuantity} ENIs (primary included); detach one or choose a larger type`,
    );
  }
  return undefined;
}
