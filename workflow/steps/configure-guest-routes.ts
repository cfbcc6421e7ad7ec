import { buildGuestCommand, parseGuestResult, type GuestResult } from '../guest-command';
import { groupOfEni } from '../groups';
import { hookVersion } from '../prepare';
import { powerHoldId } from '../ledger';
import { EniStatus, InstanceStatus, bootOf, type Instance } from '../model';
import { Reason } from '../rules';
import { Transition, fail, readMayLag, refused, wait, waitFor, type Operation, type StepContext, type StepResult } from '../step';
import { guestSkipReason } from './verify-bound';


/** Cloud Assistant may come online some time after a start; this long, scaled, before we give up. */
export const GuestAgentGraceMs = 120_000;
/** The guest script's own time limit (RunCommand Timeout, seconds). */
export const GuestCommandTimeoutSeconds = 120;
/**
 * While the guest command is in flight its result is polled alone; past this long (ms, scaled) each look
 * reads the instance too, so a target stopped or restarted under the command is noticed before the
 * command's own timeout.
 */
export const GuestStallCheckMs = 5_000;
/** How many times the guest script is run for one operation before a retryable failure is final. */
export const MaxGuestRuns = 3;
/** The guest script's exit when no NIC has the ENI's MAC (guest/README.md). */
const MacNotFoundExit = 10;
/** How long after the ENI was seen InUse its NIC may still be on its way to the guest (ms, scaled). */
export const GuestNicGraceMs = 60_000;
/** Runs of the script while waiting for the NIC, at most (each run is a RunCommand). */
export const MaxNicWaitRuns = 8;
/** Guest script exits worth another run (guest/README.md): 10 mac-not-found (hot-plug lag), 12 gateway-unreachable (no ARP answer yet). */
const RetryableGuestExits = new Set([10, 12]);
/**
 * Invocation states where the command may not have run at all (DescribeInvocationResults; the realistic
 * profile of the local ECS produces them): the agent lost it, or it never reached the instance.
 */
const RetryableInvocationStates = new Set(['Error', 'Invalid', 'Cancelled', 'Terminated', 'DeliveryTimeout']);
/**
 * ErrorCodes of an invocation that ended before the command reached a working agent (DescribeInvocationResults,
 * ecs-api.md): the agent not running or not answering yet (it comes online some time after a start), or the
 * delivery timing out. The status is then Aborted (or Failed); the command did not run, so it is run again.
 */
const RetryableInvocationErrors = new Set(['ClientNotRunning', 'ClientNotResponse', 'DeliveryTimeout']);
/** Per-instance invocation states that are final (DescribeInvocationResults). */
const FinalInvocationStates = new Set(['Success', 'Failed', 'Error', 'Timeout', 'Cancelled', 'Terminated', 'Aborted', 'Invalid', 'DeliveryTimeout']);

/**
 * Step 5: run the guest script through Cloud Assistant so the ENI's IPs answer (policy routing, rp_filter),
 * and believe it only on exit code 0 and the script's own result line.
 */
export async function configureGuestRoutes(op: Operation, ctx: StepContext): Promise<StepResult> {
  const plan = op.plan;
  if (plan === undefined) return fail(Reason.InvalidRequest, 'configure-guest-routes got an operation without a plan');
  const { instanceId, eniId, policy } = op.request;
  const now = ctx.clock.now();

  // A command in flight: its result first, alone while it is young (see GuestStallCheckMs).
  const result = op.state.invokeId === undefined ? undefined : await ctx.ecs.describeInvocation({ invokeId: op.state.invokeId, instanceId });
  const final = result !== undefined && FinalInvocationStates.has(result.status);
  const sentAt = op.state.guestSentAt;
  const inFlight = (what: string) => (sentAt === undefined ? wait(what) : waitFor(what, { transition: Transition.Command, since: sentAt }));
  if (op.state.invokeId !== undefined && !final && sentAt !== undefined && now - sentAt < GuestStallCheckMs * ctx.timeScale) {
    return inFlight(`guest script ${op.state.invokeId} is ${result?.status ?? 'not visible yet'}`);
  }

  const instance = await targetNow(op, ctx, now);
  if (instance === undefined) return fail(Reason.InstanceNotFound, `instance ${instanceId} disappeared`);
  const boot = bootOf(instance.startTime);
  const settled = !readMayLag(op.state.boundSeenAt, now, ctx.timeScale);
  if (instance.status === InstanceStatus.Stopped && settled && !op.state.startOwed && ((await ctx.ledger.getLease(powerHoldId(instanceId)))?.holders.length ?? 0) === 0) {
    // Stopped under the command (a fence, a human) and nobody of this workflow will start it: the command
    // cannot finish and waiting for a start would hold the ENI's lease until the deadline.
    return fail(Reason.GuestNotConfigured, `ENI ${eniId} is bound, but ${instanceId} stopped before its guest was configured and this workflow will not start it; start it and run the bind again (the guest step is idempotent)`);
  }
  if (op.state.invokeId !== undefined && op.state.guestBoot !== boot) {
    // The target restarted since the command was sent: its result speaks of a boot that is gone.
    return wait(`${instanceId} restarted since guest command ${op.state.invokeId}; configuring the new boot`, { invokeId: undefined, guestBoot: undefined });
  }
  if (op.state.invokeId === undefined) {
    const skip = guestSkipReason(policy.configureGuest, instance.osType);
    if (skip !== undefined) return { kind: 'end', outcome: 'succeeded', detail: `ENI ${eniId} bound; guest configuration skipped: ${skip}` };
    if (instance.status !== InstanceStatus.Running) return wait(`${instanceId} is ${instance.status}; its guest is configured once it runs`);
    // The agent's state and the ENI's are independent reads: one round trip.
    const [online, eni] = await Promise.all([ctx.ecs.cloudAssistantOnline(instanceId), ctx.ecs.describeEni(eniId)]);
    if (!online) {
      // The agent comes online some time after its instance runs (ecs-realism.md): the grace runs from the
      // latest of the operation's start, this operation's StartInstance and the boot ECS reports (StartTime
      // has minute precision, so it can only make the grace shorter by under a minute, never longer).
      const bootMs = instance.startTime === undefined ? NaN : Date.parse(instance.startTime);
      const waited = now - Math.max(op.startedAt, op.state.startRequestedAt ?? 0, Number.isFinite(bootMs) ? bootMs : 0);
      if (instance.status === InstanceStatus.Running && waited > GuestAgentGraceMs * ctx.timeScale) {
        return fail(Reason.GuestAgentOffline, `ENI ${eniId} is bound, but Cloud Assistant on ${instanceId} is offline, so its OS was not configured; start the agent and run guest/configure-eni.sh by hand`);
      }
      return wait(`Cloud Assistant on ${instanceId} is not online yet`);
    }
    if (eni === undefined) return fail(Reason.EniNotFound, `ENI ${eniId} disappeared`);
    const seen = op.state.boundSeenAt;
    if ((eni.status !== EniStatus.InUse || eni.instanceId !== instanceId) && readMayLag(seen, now, ctx.timeScale)) {
      // verify-bound saw it InUse on the target a moment ago: a read showing an older state lags (ecs-realism.md).
      return wait(`ENI ${eniId} reads ${eni.status} on ${eni.instanceId ?? 'nothing'} ${now - seen} ms after it was seen InUse on ${instanceId} (reads lag writes); looking again`);
    }
    const verdict = await ctx.beforeWrite({ kind: 'run-command', instanceId }, { eni }, { guestRuns: op.state.guestRuns + 1 });
    if (!verdict.ok) return refused(verdict);
    // A prepared target (its group's `prepare: true`): the hot-plug hook has likely configured the NIC
    // already; the command verifies that, and configures only when the hook did not.
    const prepared = groupOfEni(ctx.authority.groups, eni)?.prepare === true;
    const command = buildGuestCommand(
      { mac: plan.eni.macAddress, ips: plan.eni.privateIps, persist: policy.persistGuest, ...(prepared ? { verifyHook: hookVersion(ctx.guestScript) } : {}) },
      ctx.guestScript,
    );
    const runs = op.state.guestRuns + 1;
    // The token names the operation, the run and the boot: a repeated delivery gets the same invocation,
    // a restarted instance gets a new one (an old invocation says nothing of the new boot).
    const { invokeId } = await ctx.ecs.runShellScript({
      instanceId,
      scriptBase64: Buffer.from(command, 'utf8').toString('base64'),
      timeoutSeconds: GuestCommandTimeoutSeconds,
      // The same operation and run always gets the same invocation, however often this message is delivered.
      clientToken: `${op.operationId}-g${runs}-${boot}`,
      name: `eni-failover-${eniId}`,
    });
    const sent = ctx.clock.now();
    return waitFor(`running the guest script on ${instanceId} (${invokeId})`, { transition: Transition.Command, since: sent }, { invokeId, guestRuns: runs, guestBoot: boot, guestSentAt: sent });
  }

  if (result === undefined || !final) return inFlight(`guest script ${op.state.invokeId} is ${result?.status ?? 'not visible yet'}`);
  const parsed = parseGuestResult(result.output);
  if (result.status === 'Success' && result.exitCode === 0 && parsed.ok) {
    const r = parsed.result;
    return {
      kind: 'end',
      outcome: 'succeeded',
      detail: `${guestVerdict(r)}: ${r.device} up with ${r.ips.join(', ')}/${r.prefix}, table ${r.table}, rule priority ${r.priority}, persisted by ${r.persisted}`,
      guest: r,
    };
  }
  const why = parsed.ok
    ? `exit code ${result.exitCode ?? '?'} (${result.status}${result.errorCode ? `, ${result.errorCode}` : ''})`
    : `${parsed.code}: ${parsed.message} (${result.status}, exit code ${result.exitCode ?? '?'}${result.errorCode ? `, ${result.errorCode}` : ''})`;
  // A NIC not visible in the guest yet (hot-plug lag: "InUse" precedes the link), no ARP answer yet, or
  // Cloud Assistant not delivering the command are worth another run; the script is idempotent.
  const retryable =
    (!parsed.ok && RetryableGuestExits.has(parsed.code)) || RetryableInvocationStates.has(result.status) || (result.errorCode !== undefined && RetryableInvocationErrors.has(result.errorCode));
  // A hot-plugged NIC reaches the guest seconds after ECS says InUse (ecs-realism.md; Terway waits for the
  // MAC): mac-not-found is run again while the NIC may still be on its way, not only MaxGuestRuns times.
  const nicOnItsWay = !parsed.ok && parsed.code === MacNotFoundExit && now - (op.state.boundSeenAt ?? op.startedAt) < GuestNicGraceMs * ctx.timeScale && op.state.guestRuns < MaxNicWaitRuns;
  if (nicOnItsWay) {
    return wait(`guest script ${op.state.invokeId} ended ${why}; the NIC may not have reached the guest yet: running it again (run ${op.state.guestRuns + 1} of at most ${MaxNicWaitRuns})`, { invokeId: undefined, guestBoot: undefined });
  }
  // Runs that only waited for the NIC do not use up the retries of other failures: a late NIC then a lost
  // command is not final. A NIC still missing past its wait counts every run, as before.
  const macNotFound = !parsed.ok && parsed.code === MacNotFoundExit;
  const retriesLeft = macNotFound ? op.state.guestRuns < MaxGuestRuns : op.state.guestRetries < MaxGuestRuns - 1;
  if (retryable && retriesLeft) {
    return wait(`guest script ${op.state.invokeId} ended ${why}; running it again (retry ${op.state.guestRetries + 1} of ${MaxGuestRuns - 1})`, { invokeId: undefined, guestBoot: undefined, guestRetries: op.state.guestRetries + 1 });
  }
  return fail(Reason.GuestConfigFailed, `ENI ${eniId} is bound but the guest script failed on ${instanceId}${op.state.guestRuns > 1 ? ` (${op.state.guestRuns} runs)` : ''}: ${why}`);
}

/** Who configured the guest, as the outcome says it: the hot-plug hook (verified) or the command. */
function guestVerdict(r: GuestResult): string {
  if (r.by === 'hook') return 'guest verified (configured by the hot-plug hook when the NIC appeared)';
  if (r.by === 'command') return `guest configured by the command (the hot-plug hook had not: ${r.hook ?? 'unknown'})`;
  return 'guest configured';
}

/**
 * The target as this look needs it. Right after verify-bound saw it Running with the ENI bound (inside the
 * read-lag grace), that look is used instead of a second read: its boot is checked again once the
 * command's result is in, and every later look reads the instance.
 */
async function targetNow(op: Operation, ctx: StepContext, now: number): Promise<Pick<Instance, 'status' | 'osType' | 'startTime'> | undefined> {
  const boot = op.state.boundBoot;
  if (op.state.invokeId === undefined && op.state.guestRuns === 0 && boot !== undefined && readMayLag(op.state.boundSeenAt, now, ctx.timeScale) && op.plan !== undefined) {
    return { status: InstanceStatus.Running, osType: op.plan.osType, startTime: boot === '0' ? undefined : new Date(Number(boot) * 1000).toISOString() };
  }
  return ctx.ecs.describeInstance(op.request.instanceId);
}
