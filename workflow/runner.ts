import { randomUUID } from 'node:crypto';
import { authorizeWrite, type Authority } from './authority';
import { CloudError, CloudErrorKind, StartRefusalCodes, isCloudError } from './errors';
import { LedgerUnavailable, appendTimeline, type LedgerPort, type OperationRecord } from './ledger';
import { BindRequest, Outcome, type OperationEvent, type OperationState, type Step, type TimelineEntry } from './messages';
import { groupOfEni } from './groups';
import { EniStatus, InstanceStatus } from './model';
import { holdsEniLease, leavePowerHold, releaseEniLease, startOperation, startRequested, wakeBody, type WakeMessage } from './operation';
import { selectStandby } from './standby';
import { Pipeline, type QueueNames } from './pipeline';
import type { Clock, EcsPort, QueuePort, TopicPort } from './ports';
import { Reason } from './rules';
import { LostClaim, Transition, type Awaiting, type Operation, type StepContext, type StepResult } from './step';
import { startRefusalAdvice } from './steps/verify-bound';

/** How a step waits for the cloud: poll with backoff inside one invocation, then a delayed wake-up. */
export interface WaitPolicy {
  /** Look again after this long (ms, before timeScale) ... */
  readonly initialMs: number;
  /** ... for this long into the wait (ms, before timeScale): ENI and instance transitions take seconds, */
  readonly steadyForMs: number;
  /** ... then back off by this factor up to maxMs, so a long wait (a stop, a hung detach) costs few calls. */
  readonly factor: number;
  readonly maxMs: number;
  /** One invocation polls at most this long (ms, real time): keep it well inside the function timeout. */
  readonly budgetMs: number;
  /**
   * How long each transition of ours is expected to take (ms, before timeScale). When a step says which
   * one it waits for, looks before `expectMs - denseMs` are skipped (they could only see it in motion),
   * looks come every `denseMs` until `denseForMs` past the expected end, then back off by `factor`.
   * Without it (the peers' schedules), the steady polling above applies all along.
   */
  readonly expectMs?: Readonly<Record<Transition, number>>;
  readonly denseMs?: number;
  readonly denseForMs?: number;
}

/**
 * Every poll overshoots the moment the cloud finished by half an interval on average, and a failover waits
 * three times (detach, attach, guest command). Polling every 200 ms all along kept that near 0.3 s but cost
 * 27 describes for two ENI transitions; looking every 100 ms only around the expected end keeps the
 * overshoot near 50 ms per transition for two or three describes each. ECS publishes no latency for these
 * (shared/reference/ecs-api.md: Terway's first check is at 3 s); the figures are those the local ECS models
 * (local/ecs/README.md: detach 2 s, attach 3 s, command 1 s). A slower cloud only costs the back-off after
 * the dense window; a faster one up to the difference in overshoot. Bulk work is paced by the port's rate limiter.
 */
export const DefaultWaitPolicy: WaitPolicy = {
  initialMs: 200,
  steadyForMs: 6000,
  factor: 1.5,
  maxMs: 2000,
  budgetMs: 40_000,
  expectMs: { [Transition.Detach]: 2000, [Transition.Attach]: 3000, [Transition.Command]: 1000 },
  denseMs: 100,
  denseForMs: 500,
};

/** A claim outlives the invocation's polling budget by this much (ms): time to hand on after the last look. */
export const ClaimGraceMs = 15_000;
/** A write is not started with less than this left of the claim (ms): another delivery may take over after it. */
export const ClaimSafetyMs = 5_000;
/** An ended operation whose outcome is not confirmed published is published again only this long after it ended (ms). */
export const PublishGraceMs = 3_000;
/** Distinct waits one delivery records in its timeline entry and journal line. */
export const MaxWaitsRecorded = 6;
/** Looks in a row that meet an invalid-state answer before the operation gives up (a writer it cannot outwait). */
export const MaxInvalidStateStreak = 12;

export interface RunnerDeps {
  readonly ecs: EcsPort;
  readonly queue: QueuePort;
  /** Where outcomes are published (queues.outcomes); the events queue and the notifier subscribe to it. */
  readonly topic: TopicPort;
  readonly clock: Clock;
  readonly queues: QueueNames;
  readonly guestScript: string;
  readonly ledger: LedgerPort;
  readonly authority: Authority;
  readonly timeScale?: number;
  readonly wait?: WaitPolicy;
  /** One structured line per delivery (the operation journal). */
  readonly log?: (line: Record<string, unknown>) => void;
  /**
   * What identifies this message across its redeliveries (the MNS message id). A redelivery of the very
   * message that holds the claim - its invocation died after claiming - takes the claim back at once
   * instead of waiting it out; every write stays fenced by the record's version either way.
   */
  readonly deliveryId?: string;
}

/** What one delivery of a wake-up did. */
export type RunReport =
  | { readonly kind: 'forwarded'; readonly to: Step }
  | { readonly kind: 'requeued'; readonly delaySeconds: number }
  | { readonly kind: 'ended'; readonly event: OperationEvent }
  /** Nothing to do: a duplicate, a late copy, or an operation another delivery is running. */
  | { readonly kind: 'ignored'; readonly why: string }
  /** The operation had ended but its outcome was not confirmed published: published (again). */
  | { readonly kind: 'republished'; readonly event: OperationEvent }
  /** A lost hand-on repaired: the wake-up the record asks for was sent (again). */
  | { readonly kind: 'rewoken'; readonly step: Step; readonly attempt: number }
  /** The ledger knows no such operation: a forged or foreign wake-up (the adapter dead-letters it). */
  | { readonly kind: 'unknown'; readonly error: string };

/**
 * Runs one delivery of a wake-up. Guarantees:
 * - the ledger decides: an unknown operation is `unknown`; an ended one only gets its recorded outcome
 *   published if that was not confirmed; a wake-up for another (step, attempt) than the record's writes
 *   nothing (it re-sends the record's own wake-up only when it is the delivery that handed on to it);
 * - one delivery acts at a time: it claims the record (compare-and-set) first, and every state change and
 *   every cloud write after that is fenced by the claim; a delivery that loses it stops writing;
 * - the outcome is recorded once, then published; the ENI's lease is released and an instance a power
 *   hold stopped is started by the last operation out, whatever the outcome.
 * Throws when it could not hand the operation on (queue or ledger failure), so the trigger redelivers.
 */
export async function runDelivery(wake: WakeMessage, deps: RunnerDeps): Promise<RunReport> {
  const { clock, queues, ledger } = deps;
  const timeScale = deps.timeScale ?? 1;
  const policy = deps.wait ?? DefaultWaitPolicy;
  const started = clock.now();
  const calls: Record<string, number> = {};
  let polls = 0;
  const waits = new Map<string, { detail: string; count: number }>();

  const found = await ledger.get(wake.operationId);
  const about = found === undefined ? {} : { eniId: found.request.eniId, instanceId: found.request.instanceId };
  if (found === undefined) return say({ kind: 'unknown', error: `no operation ${wake.operationId} in the ledger: a wake-up for an operation that was never started here` });
  let rec: OperationRecord = found;
  /** The record's next version: `patch` on top, updatedAt now unless the patch says; the claim dropped when the delivery hands on or ends. */
  const changed = (patch: Partial<OperationRecord>, opts: { release?: boolean } = {}): OperationRecord => {
    const { claim: _released, ...unclaimed } = rec;
    return { ...(opts.release ? unclaimed : rec), version: rec.version + 1, updatedAt: clock.now(), ...patch };
  };

  if (rec.status !== 'running') {
    if (rec.published || rec.outcome === undefined) return say({ kind: 'ignored', why: `the operation ended ${rec.status}; a late copy changes nothing` });
    if (started - rec.updatedAt < PublishGraceMs) {
      // The delivery that ended it is most likely publishing right now: look again in a moment rather
      // than publish a second copy; if it died, this copy publishes then.
      await deps.queue.send(queues[wake.step], wakeBody(wake.operationId, wake.step, wake.attempt), { delaySeconds: Math.ceil(PublishGraceMs / 1000) });
      return say({ kind: 'ignored', why: `the operation just ended ${rec.status}; checking in ${Math.ceil(PublishGraceMs / 1000)} s that its outcome was published` });
    }
    await publish(rec.outcome);
    return say({ kind: 'republished', event: rec.outcome });
  }
  if (wake.step !== rec.step || wake.attempt !== rec.attempt) {
    const h = rec.handoff;
    if (h !== undefined && h.from.step === wake.step && h.from.attempt === wake.attempt && rec.claim === undefined) {
      await deps.queue.send(queues[rec.step], wakeBody(rec.operationId, rec.step, rec.attempt), h.delaySeconds > 0 ? { delaySeconds: h.delaySeconds } : undefined);
      return say({ kind: 'rewoken', step: rec.step, attempt: rec.attempt });
    }
    return say({ kind: 'ignored', why: `stale wake-up ${wake.step}#${wake.attempt}; the operation is at ${rec.step}#${rec.attempt}` });
  }
  const ours = deps.deliveryId !== undefined && rec.claim?.token === deps.deliveryId;
  if (rec.claim !== undefined && rec.claim.step === rec.step && rec.claim.attempt === rec.attempt && rec.claim.until > started && !ours) {
    // Another delivery is running this step. Look again once its claim has run out: if it crashed, this
    // copy takes over then; if it finished, the copy is stale by then.
    const delaySeconds = Math.min(60, Math.max(1, Math.ceil((rec.claim.until - started) / 1000)));
    await deps.queue.send(queues[rec.step], wakeBody(rec.operationId, rec.step, rec.attempt), { delaySeconds });
    return say({ kind: 'ignored', why: `another delivery holds ${rec.step}#${rec.attempt} until ${new Date(rec.claim.until).toISOString()}; looking again in ${delaySeconds} s` });
  }

  const claimUntil = started + policy.budgetMs + ClaimGraceMs;
  const claimed: OperationRecord = { ...rec, version: rec.version + 1, claim: { step: rec.step, attempt: rec.attempt, token: (deps.deliveryId ?? randomUUID()).slice(0, 64), until: claimUntil }, updatedAt: started };
  if (!(await ledger.update(claimed))) return say({ kind: 'ignored', why: 'another delivery claimed the operation first' });
  rec = claimed;

  const write = async (next: OperationRecord): Promise<void> => {
    if (!(await ledger.update(next))) throw new LostClaim(`${rec.operationId}: another delivery changed the record (version ${rec.version})`);
    rec = next;
  };
  // A port retry of a write is sent only while this delivery still holds the record as it last wrote it:
  // the first attempt follows beforeWrite's fresh write, a retry may follow a takeover by another copy.
  /** No write starts with less than ClaimSafetyMs of the claim left: another delivery may take over after it. */
  const claimMustLast = (then: string): void => {
    if (clock.now() > claimUntil - ClaimSafetyMs) throw new LostClaim(`${rec.operationId}: the claim runs out; ${then}`);
  };
  const fence = async (): Promise<void> => {
    claimMustLast('a retried write is not sent');
    const current = await ledger.get(rec.operationId);
    if (current?.version !== rec.version) throw new LostClaim(`${rec.operationId}: another delivery changed the record (version ${rec.version} -> ${current?.version ?? 'gone'}) while a write waited to be retried; the retry is not sent`);
  };
  const ctx: StepContext = {
    ecs: countingEcs(deps.ecs.withWriteGuard?.(fence) ?? deps.ecs, calls),
    clock,
    guestScript: deps.guestScript,
    timeScale,
    authority: deps.authority,
    ledger,
    async remember(patch) {
      claimMustLast('leaving the rest to the next delivery');
      await write(changed({ state: { ...rec.state, ...patch } }));
    },
    async beforeWrite(w, facts, intent) {
      const verdict = authorizeWrite(w, rec.request, facts, deps.authority);
      if (!verdict.ok) return verdict;
      if (rec.state.leaseHeld && !(await holdsEniLease(ledger, rec.request.eniId, rec.operationId, clock.now()))) {
        return { ok: false, reason: Reason.NotAuthorized, detail: `this operation no longer holds the lease of ${rec.request.eniId}` };
      }
      await ctx.remember(intent ?? {});
      return verdict;
    },
  };

  try {
    let delay = policy.initialMs * timeScale;
    let result: StepResult;
    // A step that starts while a transition of ours is in motion (verify-bound after attach) looks first
    // when it may be done, if that is inside this invocation's budget.
    const first = untilExpected(Pipeline[rec.step].awaits?.(view(rec)), policy, timeScale, clock.now());
    if (first > 0 && clock.now() + first < Math.min(started + policy.budgetMs, rec.deadlineAt)) {
      polls++;
      await clock.sleep(first);
    }
    for (;;) {
      if (clock.now() > rec.deadlineAt) {
        result = { kind: 'end', outcome: 'failed', reason: Reason.DeadlineExceeded, detail: `the operation passed its deadline of ${rec.request.policy.deadlineSeconds} s during ${rec.step}` };
        break;
      }
      result = await look(view(rec), ctx);
      if (result.state) rec = { ...rec, state: { ...rec.state, ...result.state } };
      if (result.kind !== 'wait') break;
      metWait(result.detail);
      const now = clock.now();
      const schedule = nextLook(result.awaiting, policy, timeScale, now, delay);
      const sleep = schedule.sleep;
      if (now + sleep > started + policy.budgetMs || now + sleep > rec.deadlineAt) return await requeue(result.detail, sleep);
      polls++;
      await clock.sleep(sleep);
      if (schedule.backOff || clock.now() - started > policy.steadyForMs * timeScale) delay = Math.min(delay * policy.factor, policy.maxMs * timeScale);
    }

    if (result.kind === 'next') {
      if (!Pipeline[rec.step].mayGoTo.includes(result.step)) throw new Error(`pipeline: ${rec.step} may not go to ${result.step}`);
      const from = { step: rec.step, attempt: rec.attempt };
      await write(
        changed(
          {
            step: result.step,
            attempt: 0,
            ...(result.plan ? { plan: result.plan } : {}),
            handoff: { from, delaySeconds: 0 },
            ...appendTimeline(rec, entry('next', result.detail)),
            calls: addCalls(rec.calls, calls),
          },
          { release: true },
        ),
      );
      await deps.queue.send(queues[result.step], wakeBody(rec.operationId, result.step, 0));
      journal('next', result.detail, { to: result.step });
      return { kind: 'forwarded', to: result.step };
    }
    return await end(result);
  } catch (err) {
    if (err instanceof LostClaim) return say({ kind: 'ignored', why: err.message });
    throw err;
  }

  async function requeue(detail: string, delay: number): Promise<RunReport> {
    const delaySeconds = Math.min(60, Math.max(1, Math.ceil(delay / 1000)));
    const from = { step: rec.step, attempt: rec.attempt };
    await write(changed({ attempt: rec.attempt + 1, handoff: { from, delaySeconds }, ...appendTimeline(rec, entry('wait', detail)), calls: addCalls(rec.calls, calls) }, { release: true }));
    await deps.queue.send(queues[rec.step], wakeBody(rec.operationId, rec.step, rec.attempt), { delaySeconds });
    journal('requeued', detail, { delaySeconds });
    return { kind: 'requeued', delaySeconds };
  }

  async function end(result: Extract<StepResult, { kind: 'end' }>): Promise<RunReport> {
    const restored = await restorePower(rec, ctx, started + policy.budgetMs);
    const rescue = result.outcome === Outcome.Succeeded ? undefined : await rescueDetachedEni(rec, result.reason, ctx, { ...deps, now: clock.now() });
    const finishedAt = clock.now();
    const bounded = appendTimeline(rec, entry(result.outcome, result.detail));
    const total = addCalls(rec.calls, calls);
    const event: OperationEvent = {
      kind: 'eni-failover.outcome',
      operationId: rec.operationId,
      outcome: result.outcome,
      ...(result.reason ? { reason: result.reason } : {}),
      step: rec.step,
      message: result.detail,
      ...(rec.group === undefined ? {} : { group: rec.group }),
      request: rec.request,
      startedAt: rec.startedAt,
      finishedAt,
      durationMs: finishedAt - rec.startedAt,
      apiCalls: Object.values(total).reduce((a, b) => a + b, 0),
      timeline: bounded.timeline,
      ...(result.guest === undefined ? {} : { guest: result.guest }),
      ...(restored === undefined ? {} : { restored }),
      ...(rescue === undefined ? {} : { rescue }),
    };
    await write(changed({ status: result.outcome, outcome: event, published: false, ...bounded, calls: total, updatedAt: finishedAt }, { release: true }));
    await publish(event);
    // durationMs stays this delivery's; the operation's own duration is operationMs.
    journal(result.outcome, result.detail, { reason: result.reason, restored, operationMs: event.durationMs });
    return { kind: 'ended', event };
  }

  /**
   * Frees the ENI's lease and publishes the outcome on the outcomes topic (tagged with the outcome, for
   * subscriptions that filter; failures also go to the dead-letter queue), then records that it did.
   */
  async function publish(event: OperationEvent): Promise<void> {
    const body = JSON.stringify(event);
    // The outcome is recorded already; freeing the lease and telling the subscribers are independent. A
    // next operation on the ENI that a subscriber starts at once finds the lease a moment later (validate waits).
    await Promise.all([
      releaseEniLease(ledger, rec.request.eniId, rec.operationId, { outcome: event.outcome, instanceId: rec.request.instanceId, ...(event.reason ? { reason: event.reason } : {}), step: event.step }, clock.now()),
      (async () => {
        await deps.topic.publish(queues.outcomes, body, { tag: event.outcome });
        if (event.outcome === Outcome.Failed) await deps.queue.send(queues.deadLetter, body);
      })(),
    ]);
    // Best effort: if this write is lost, a later copy publishes the same event again (same operationId).
    const done = changed({ published: true });
    if (await ledger.update(done)) rec = done;
  }

  function entry(outcome: string, detail: string): TimelineEntry {
    return { step: rec.step, outcome, detail, at: started, ms: clock.now() - started, calls: { ...calls }, ...(waits.size > 0 ? { waits: waitsMet() } : {}) };
  }

  /** The waits this delivery met, once each (numbers ignored: "300 ms after" and "500 ms after" are one), with a count. */
  function metWait(detail: string): void {
    const key = detail.replace(/\d+/g, '#');
    const seen = waits.get(key);
    if (seen) seen.count++;
    else if (waits.size < MaxWaitsRecorded) waits.set(key, { detail, count: 1 });
  }
  function waitsMet(): string[] {
    return [...waits.values()].map((w) => (w.count > 1 ? `${w.detail} (x${w.count})` : w.detail));
  }

  function say<T extends RunReport>(report: T): T {
    const detail = report.kind === 'ignored' ? report.why : report.kind === 'unknown' ? report.error : report.kind;
    journal(report.kind, detail, {});
    return report;
  }

  function journal(outcome: string, detail: string, extra: Record<string, unknown>): void {
    deps.log?.({
      operationId: wake.operationId,
      step: wake.step,
      attempt: wake.attempt,
      outcome,
      detail,
      ...about,
      durationMs: clock.now() - started,
      polls,
      apiCalls: calls,
      ...(waits.size > 0 ? { waits: waitsMet() } : {}),
      ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined)),
    });
  }
}

/** ms until the dense looks around `awaiting`'s expected end begin (0: now, or nothing is expected). */
function untilExpected(awaiting: Awaiting | undefined, policy: WaitPolicy, timeScale: number, now: number): number {
  const expected = awaiting === undefined ? undefined : policy.expectMs?.[awaiting.transition];
  if (awaiting === undefined || expected === undefined) return 0;
  return Math.max(0, awaiting.since + (expected - (policy.denseMs ?? policy.initialMs)) * timeScale - now);
}

/**
 * When to look next. A transition of ours with an expected duration: skip to just before its expected end,
 * then look every denseMs for denseForMs past it, then back off (it is late: looks get sparser). Otherwise
 * (nothing expected, or a policy without expectations) the steady delay.
 */
function nextLook(awaiting: Awaiting | undefined, policy: WaitPolicy, timeScale: number, now: number, delay: number): { sleep: number; backOff: boolean } {
  const expected = awaiting === undefined ? undefined : policy.expectMs?.[awaiting.transition];
  if (awaiting === undefined || expected === undefined) return { sleep: delay, backOff: false };
  const skip = untilExpected(awaiting, policy, timeScale, now);
  if (skip > 0) return { sleep: skip, backOff: false };
  const dense = (policy.denseMs ?? policy.initialMs) * timeScale;
  if (now < awaiting.since + (expected + (policy.denseForMs ?? 0)) * timeScale) return { sleep: dense, backOff: false };
  return { sleep: Math.max(delay, dense), backOff: true };
}

const view = (r: OperationRecord): Operation => ({
  operationId: r.operationId,
  request: r.request,
  ...(r.group === undefined ? {} : { group: r.group }),
  step: r.step,
  attempt: r.attempt,
  startedAt: r.startedAt,
  deadlineAt: r.deadlineAt,
  ...(r.plan === undefined ? {} : { plan: r.plan }),
  state: r.state,
});

function addCalls(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * One look; cloud errors become data: retryable ones a wait; an invalid-state answer (another writer got
 * there first, or the resource is between states) a wait and a fresh look, bounded; others the end.
 */
async function look(op: Operation, ctx: StepContext): Promise<StepResult> {
  try {
    const result = await Pipeline[op.step].run(op, ctx);
    // A look that got through (and did not count a refusal itself) ends a streak of invalid-state answers.
    const counted = result.state?.invalidStateStreak !== undefined;
    return op.state.invalidStateStreak > 0 && result.kind !== 'end' && !counted ? { ...result, state: { ...result.state, invalidStateStreak: 0 } } : result;
  } catch (err) {
    if (err instanceof LostClaim || err instanceof LedgerUnavailable) throw err;
    if (!isCloudError(err)) {
      // Not a cloud answer (a value the guest command builder refused, a bug): end the operation with the
      // reason instead of letting a raw exception dead-letter the wake-up; the end restores power.
      return { kind: 'end', outcome: 'failed', reason: Reason.InvalidRequest, detail: `${op.step} could not proceed: ${(err as Error).message}` };
    }
    if (err.retryable) return { kind: 'wait', detail: `${err.details.api ?? 'ECS'} answered ${err.code}; retrying` };
    if (err.kind === CloudErrorKind.InvalidState && op.state.invalidStateStreak < MaxInvalidStateStreak) {
      return { kind: 'wait', detail: `${err.details.api ?? 'ECS'} answered ${err.code}; looking at the resources again`, state: { invalidStateStreak: op.state.invalidStateStreak + 1 } };
    }
    return { kind: 'end', outcome: 'failed', reason: Reason.CloudApiError, detail: `${err.details.api ?? 'ECS'} failed with ${err.code}: ${err.message}` };
  }
}

/** Origins of rescue operations start with this; a rescue that fails is left to reconcile (no chain). */
export const RescueOriginPrefix = 'rescue/';

/**
 * An operation that took the ENI from its source and then failed must not leave it bound nowhere while a
 * healthy member exists: it starts an operation that binds it to the best member (the failed target
 * excluded), as reconcile would, only sooner. Answers what it did, or why not; undefined when there is
 * nothing to rescue (the ENI was never detached by this operation, or is bound somewhere).
 */
/** Failures about the source, not the target (a refused fence, a source that moved or recovered): the rescue may still choose the target. */
const SourceFailures = new Set<string>([Reason.NotAuthorized, Reason.SourceMismatch, Reason.SourceRecovered, Reason.SourceNotMember, Reason.DetachHung]);

async function rescueDetachedEni(rec: OperationRecord, reason: string | undefined, ctx: StepContext, deps: RunnerDeps & { now: number }): Promise<string | undefined> {
  const { eniId, instanceId, sourceInstanceId, regionId } = rec.request;
  if (rec.state.detachRequestedAt === undefined || rec.request.origin.id.startsWith(RescueOriginPrefix)) return undefined;
  const eni = await ctx.ecs.describeEni(eniId);
  // Detaching after this operation's own detach is bound nowhere in a moment (or already: a read may lag
  // the change, local/ecs/realism.ts): rescued as Available is; the rescue's attach waits for it.
  const leaving = eni?.status === EniStatus.Detaching && rec.state.detachSentAt !== undefined;
  if (eni === undefined || (eni.status !== EniStatus.Available && !leaving)) return undefined;
  const group = groupOfEni(deps.authority.groups, eni);
  if (group === undefined) return `${eniId} is bound nowhere and in no group: bind it by hand`;
  const targetFailed = reason === undefined || !SourceFailures.has(reason);
  const notThere = { instanceId, detail: `operation ${rec.operationId} could not bind it there (${reason ?? 'superseded'})` };
  // A failback's source is the healthy standby it was taking the ENI from: the rescue gives it back there
  // (the best member without the failback's target), not to a third member.
  const exclusion =
    rec.request.origin.kind === 'failback'
      ? { excludeInstanceId: instanceId }
      : { ...(sourceInstanceId ? { excludeInstanceId: sourceInstanceId } : {}), ...(targetFailed ? { alsoExclude: [notThere] } : {}) };
  const choice = await selectStandby({ group, eni, ...exclusion }, ctx.ecs);
  if (!choice.ok) return `${eniId} is bound nowhere and no member can take it now (${choice.detail}); reconcile will retry`;
  const request = BindRequest.parse({
    eniId,
    instanceId: choice.standby.instanceId,
    regionId,
    policy: group.policy,
    origin: { kind: 'schedule', id: `${RescueOriginPrefix}${rec.operationId}`, time: new Date(deps.now).toISOString() },
  });
  const started = await startOperation(request, { ledger: deps.ledger, queue: deps.queue, queues: deps.queues, now: deps.now, group: group.name });
  return `${eniId} was left bound nowhere; operation ${started.operationId} binds it to ${choice.standby.instanceId}`;
}

/**
 * Whatever the outcome, an operation leaves the target's power hold; the last one out of a hold whose
 * instance a holder stopped starts it again. Success already did this (verify-bound), so this acts on
 * superseded and failed operations. Bounded by the invocation's budget: past it, it throws, the trigger
 * delivers the wake-up again and this repeats.
 */
async function restorePower(rec: OperationRecord, ctx: StepContext, until: number): Promise<string | undefined> {
  const { instanceId } = rec.request;
  let owed = rec.state.startOwed;
  if (rec.state.powerHold === 'joined') {
    const left = await leavePowerHold(ctx.ledger, instanceId, rec.operationId, ctx.clock.now());
    owed = owed || left.startOwed;
    await ctx.remember({ powerHold: 'left', startOwed: owed });
    if (!owed && left.others.length > 0) return `${instanceId} stays stopped for ${left.others.join(', ')}; the last of them starts it`;
  }
  if (!owed) return undefined;
  while (ctx.clock.now() < until) {
    const instance = await ctx.ecs.describeInstance(instanceId);
    if (instance === undefined) return `${instanceId} no longer exists`;
    if (instance.status === InstanceStatus.Running || instance.status === InstanceStatus.Starting) {
      await startRequested(ctx.ledger, instanceId, rec.operationId, ctx.clock.now());
      await ctx.remember({ startOwed: false });
      return `${instanceId} is ${instance.status}`;
    }
    if (instance.status === InstanceStatus.Stopped) {
      try {
        await ctx.ecs.startInstance(instanceId);
      } catch (err) {
        if (isCloudError(err) && StartRefusalCodes.includes(err.code)) {
          // ECS will not start it for minutes (the port already retried): waiting out the budget here would
          // only keep the outcome from being recorded. Say it, loudly, in the outcome.
          await ctx.remember({ startOwed: false, startRefusal: err.code });
          return `ECS refused to start ${instanceId} again (${err.code}); ${startRefusalAdvice(instanceId, err.code)}`;
        }
        if (isCloudError(err) && (err.retryable || err.kind === CloudErrorKind.InvalidState)) {
          await ctx.clock.sleep(500 * ctx.timeScale);
          continue;
        }
        throw err;
      }
      await startRequested(ctx.ledger, instanceId, rec.operationId, ctx.clock.now());
      await ctx.remember({ startOwed: false, startRequestedAt: ctx.clock.now() });
      return `asked ECS to start ${instanceId} again (this operation's power hold had stopped it)`;
    }
    await ctx.clock.sleep(500 * ctx.timeScale);
  }
  throw new CloudError('transient', 'RestoreTimeout', `${instanceId} did not reach Stopped within the budget; cannot start it again yet`);
}

/** Counts port calls by method, for the journal and the outcome's API-call total. */
function countingEcs(ecs: EcsPort, calls: Record<string, number>): EcsPort {
  return new Proxy(ecs, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
