import { authorizeRequest, isDown, sourceMustBeDown } from '../authority';
import { eniLeaseId, powerHoldId } from '../ledger';
import { Step, type Plan } from '../messages';
import { EniStatus, EniType, InstanceStatus, type Eni, type Instance } from '../model';
import { failbackSuperseded, failbackTargetUnhealthy } from '../failback-target';
import { acquireEniLease } from '../operation';
import { InstanceTypesBindOnlyWhenStopped, Reason, needsRestartBeforeBind } from '../rules';
import { fail, next, refused, superseded, wait, type Operation, type StepContext, type StepResult } from '../step';

/**
 * Step 1: check every prerequisite of "Bind a secondary ENI" and decide the plan. Reads only.
 *
 * Anything that can never succeed ends here with its own reason; anything that is merely in motion
 * (Starting, Stopping, Attaching, Detaching) waits.
 */
export async function validate(op: Operation, ctx: StepContext): Promise<StepResult> {
  const planned = await decide(op, ctx);
  if (planned.kind !== 'next') return planned;
  // The ENI's lease: one live operation moves an ENI at a time; a second one waits for the first to end.
  const lease = await acquireEniLease(ctx.ledger, op.request.eniId, op.operationId, ctx.clock.now(), op.deadlineAt);
  if (!lease.ok) return wait(`operation ${lease.holder} holds ${op.request.eniId}; waiting for it to end`);
  return { ...planned, state: { ...planned.state, leaseHeld: true } };
}

/** Reads the cloud and decides the plan (or the end, or a wait). */
async function decide(op: Operation, ctx: StepContext): Promise<StepResult> {
  const { eniId, instanceId, sourceInstanceId, policy } = op.request;
  // A request that needs its source down (ECS events, reconcile) reads the source with the target: one
  // DescribeInstances for both, in the same round trip as the ENI.
  const withSource = sourceInstanceId !== undefined && sourceInstanceId !== instanceId && sourceMustBeDown(op.request);
  const [instances, eni] = await Promise.all([ctx.ecs.describeInstances(withSource ? [instanceId, sourceInstanceId] : [instanceId]), ctx.ecs.describeEni(eniId)]);
  const instance = instances.find((i) => i.instanceId === instanceId);

  if (instance === undefined) {
    return fail(Reason.InstanceNotFound, `instance ${instanceId} does not exist in ${op.request.regionId}; check the id and region`);
  }
  if (eni === undefined) {
    return fail(Reason.EniNotFound, `ENI ${eniId} does not exist in ${op.request.regionId}; check the id and region`);
  }
  if (!instance.ioOptimized) {
    return fail(Reason.InstanceNotIoOptimized, `instance ${instanceId} is not I/O optimized; secondary ENIs bind only to I/O optimized instances`);
  }
  const verdict = authorizeRequest(op.request, eni, ctx.authority);
  if (!verdict.ok) return refused(verdict);
  if (op.request.origin.kind === 'failback') {
    const why = await failbackTargetUnhealthy(instance, policy.configureGuest, ctx.ecs);
    if (why !== undefined) return failbackSuperseded(why, eniId);
  }
  if (sourceInstanceId !== undefined && eni.instanceId === sourceInstanceId && sourceMustBeDown(op.request)) {
    const source = withSource ? instances.find((i) => i.instanceId === sourceInstanceId) : await ctx.ecs.describeInstance(sourceInstanceId);
    if (!isDown(source)) {
      return { kind: 'end', outcome: 'superseded', reason: Reason.SourceRecovered, detail: `${sourceInstanceId} is ${source!.status} again; the ${op.request.origin.kind} that asked for this move is out of date, so ${eniId} stays where it is` };
    }
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
      // Superseded by rule: another operation of this workflow moved it there and succeeded (the ENI's
      // lease remembers the last one); a failover that finds its ENI already moved elsewhere stops here.
      const last = (await ctx.ledger.getLease(eniLeaseId(eniId)))?.last;
      if (last !== undefined && last.outcome === 'succeeded' && last.instanceId === owner && last.operationId !== op.operationId) {
        return superseded(`ENI ${eniId} was moved to ${owner} by operation ${last.operationId} (${new Date(last.at).toISOString()}); nothing left for this request`);
      }
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
    // ECS answers MACs in lower case; normalised anyway, the guest command refuses anything else.
    eni: { macAddress: eni.macAddress.toLowerCase(), privateIps: [...eni.privateIps] },
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

  // A target that operations of this workflow hold stopped (a sibling bind to a Stopped-only standby):
  // join that hold instead of binding past it, so the last one out starts it after this ENI is on too.
  const hold = instance.status === InstanceStatus.Stopped ? await ctx.ledger.getLease(powerHoldId(instanceId)) : undefined;
  // Stopped, but the last operation out of its power hold owes its start: it is about to run again. A plan
  // made on "Stopped" would detach the ENI and then meet a Running target (a Stopped-only type refuses the
  // attach: chaos seed 9019); look again once it runs, and plan for what it is then.
  if (hold?.startOwedBy !== undefined && hold.startOwedBy !== op.operationId && hold.holders.length === 0) {
    return wait(`instance ${instanceId} is Stopped, but operation ${hold.startOwedBy} is about to start it again (its power hold owes the start); waiting for it to run`);
  }
  const joinHold = policy.allowStop && hold !== undefined && hold.holders.some((h) => h !== op.operationId);
  const prep = joinHold ? ({ kind: 'stop' } as const) : instancePrep(instance);
  if (prep.kind === 'refuse') return fail(prep.reason, prep.detail);

  const detachFrom = owner !== undefined && owner === sourceInstanceId ? owner : undefined;
  const p = plan('attach', prep.kind === 'stop' || prep.kind === 'restart' ? prep.kind : 'none', detachFrom);
  const what = [
    detachFrom ? `detach from ${detachFrom}` : undefined,
    prep.kind === 'stop' ? (joinHold ? `join the power hold that keeps ${instanceId} Stopped` : `stop ${instanceId} (${instance.instanceType} binds only while Stopped)`) : undefined,
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
