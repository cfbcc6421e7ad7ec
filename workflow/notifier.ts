import type { GroupsConfig } from './groups';
import { noticeMarkId, type LeaseRecord, type LedgerPort } from './ledger';
import {
  buildRequest,
  DefaultNotifyRetryPolicy,
  judgeAnswer,
  maskUrl,
  parseOutcomeNotice,
  retryDelayMs,
  scrub,
  targetsFor,
  type NotifyRetryPolicy,
  type NotifyTarget,
  type OutcomeNotice,
  type SendVerdict,
} from './notify';
import type { Clock, HttpPort } from './ports';

/**
 * Delivering one outcome to its group's targets: once per (operation, target), even when the topic
 * delivers the outcome twice or to two notifier instances at once; retried with backoff; dead-lettered
 * with the reason when it cannot be sent. It reads and writes only notice rows of the ledger and the
 * dead-letter queue: nothing here can touch the failover.
 *
 *   notice/<op>-<i>:  (none) --claim v1 (sending, holder, until)--> sent | dead-lettered
 *                     sending, claim run out (its notifier died) --claim v+1--> ...
 *
 * A delivery that finds a target sending under another live claim leaves it to that delivery and reports
 * `inFlight`, so the adapter can ask the trigger for a later look.
 */

export interface NotifierDeps {
  readonly groups: GroupsConfig;
  readonly ledger: LedgerPort;
  readonly http: HttpPort;
  readonly clock: Clock;
  /** The URL and secret a target names (from the environment); an error says which variable is missing. */
  readonly resolve: (target: NotifyTarget) => { ok: true; url: string; secret?: string } | { ok: false; error: string };
  /** Sends a body to the dead-letter queue. */
  readonly deadLetter: (body: string) => Promise<void>;
  /** Identifies this delivery in its claims (the topic message id and the invocation). */
  readonly holder: string;
  readonly policy?: NotifyRetryPolicy;
  /** Per attempt (ms). */
  readonly timeoutMs?: number;
  /** How long a claim keeps other deliveries off a target (ms): longer than every attempt and wait together. */
  readonly claimMs?: number;
  readonly log?: (line: Record<string, unknown>) => void;
}

export const DefaultNoticeTimeoutMs = 10_000;

/** What became of one target. */
export type TargetReport =
  | { readonly index: number; readonly type: string; readonly kind: 'sent'; readonly attempts: number }
  | { readonly index: number; readonly type: string; readonly kind: 'dead-lettered'; readonly attempts: number; readonly why: string }
  /** Already sent or dead-lettered by an earlier delivery of the same outcome. */
  | { readonly index: number; readonly type: string; readonly kind: 'duplicate'; readonly state: string }
  /** Another delivery holds the claim now. */
  | { readonly index: number; readonly type: string; readonly kind: 'inFlight'; readonly until: number };

export type NoticeReport = { readonly kind: 'rejected'; readonly error: string } | { readonly kind: 'delivered'; readonly operationId: string; readonly targets: readonly TargetReport[] };

/**
 * Handles one outcome message from the topic. Guarantees: a message that is not an outcome is
 * dead-lettered with the reason (`rejected`), never retried; each target of the outcome's group gets at
 * most one successful send for the operation; a target that refuses, or fails every attempt, is
 * dead-lettered once with the reason (its URL masked, its secret never written). Throws only when the
 * ledger or the dead-letter queue cannot be reached (the trigger delivers again).
 */
export async function deliverNotice(body: string, deps: NotifierDeps): Promise<NoticeReport> {
  const parsed = parseOutcomeNotice(body);
  if (!parsed.ok) {
    await deps.deadLetter(JSON.stringify({ kind: 'eni-failover.notify-rejected', error: parsed.error, body: body.slice(0, 4096) }));
    deps.log?.({ notifier: 'rejected', error: parsed.error });
    return { kind: 'rejected', error: parsed.error };
  }
  const notice = parsed.notice;
  const targets: TargetReport[] = [];
  for (const { index, target } of targetsFor(deps.groups, notice)) targets.push(await deliverToTarget(notice, index, target, deps));
  return { kind: 'delivered', operationId: notice.operationId, targets };
}

async function deliverToTarget(notice: OutcomeNotice, index: number, target: NotifyTarget, deps: NotifierDeps): Promise<TargetReport> {
  const { ledger, clock } = deps;
  const id = noticeMarkId(notice.operationId, index);
  const label = `${target.type}#${index}`;
  const mark = await ledger.getLease(id);
  const state = mark?.notice?.state;
  if (mark !== undefined && state !== 'sending') {
    deps.log?.({ notifier: 'duplicate', operationId: notice.operationId, target: label, state });
    return { index, type: target.type, kind: 'duplicate', state: state ?? 'unknown' };
  }
  const now = clock.now();
  if (mark !== undefined && mark.until > now && mark.operationId !== deps.holder) return { index, type: target.type, kind: 'inFlight', until: mark.until };

  const claimMs = deps.claimMs ?? claimLength(deps.policy ?? DefaultNotifyRetryPolicy, deps.timeoutMs ?? DefaultNoticeTimeoutMs);
  const claim: LeaseRecord = {
    resourceId: id,
    version: (mark?.version ?? 0) + 1,
    operationId: deps.holder.slice(0, 128),
    until: now + claimMs,
    holders: [],
    updatedAt: now,
    notice: { state: 'sending', target: label, attempts: mark?.notice?.attempts ?? 0 },
  };
  if (!(await ledger.putLease(claim))) {
    const other = await ledger.getLease(id);
    if (other?.notice?.state !== 'sending') return { index, type: target.type, kind: 'duplicate', state: other?.notice?.state ?? 'unknown' };
    return { index, type: target.type, kind: 'inFlight', until: other.until };
  }

  const result = await sendWithRetries(notice, target, deps);
  const attempts = (claim.notice?.attempts ?? 0) + result.attempts;
  if (result.verdict.kind !== 'delivered') {
    await deps.deadLetter(
      JSON.stringify({
        kind: 'eni-failover.notify-failed',
        operationId: notice.operationId,
        outcome: notice.outcome,
        group: notice.group,
        target: { index, type: target.type, urlEnv: target.urlEnv, url: result.maskedUrl },
        attempts,
        reason: result.verdict.why,
        what: 'the failover itself is unaffected; fix the target (URL, secret, keyword or IP settings of the robot) and resend from this message if needed',
      }),
    );
  }
  const finalState = result.verdict.kind === 'delivered' ? 'sent' : 'dead-lettered';
  const done: LeaseRecord = {
    ...claim,
    version: claim.version + 1,
    operationId: '',
    until: 0,
    updatedAt: clock.now(),
    notice: { state: finalState, target: label, attempts, ...(result.verdict.kind === 'delivered' ? {} : { why: result.verdict.why.slice(0, 512) }) },
  };
  // A lost write here leaves the claim to run out; a later delivery would send again only after that,
  // and the claim outlasts every attempt this delivery makes.
  if (!(await ledger.putLease(done))) deps.log?.({ notifier: 'mark-lost', operationId: notice.operationId, target: label });
  deps.log?.({ notifier: finalState, operationId: notice.operationId, outcome: notice.outcome, target: label, attempts, ...(result.verdict.kind === 'delivered' ? {} : { why: result.verdict.why }) });
  return result.verdict.kind === 'delivered' ? { index, type: target.type, kind: 'sent', attempts } : { index, type: target.type, kind: 'dead-lettered', attempts, why: result.verdict.why };
}

/** A claim lasts every attempt at its timeout plus every wait, doubled. */
function claimLength(policy: NotifyRetryPolicy, timeoutMs: number): number {
  let total = policy.attempts * timeoutMs;
  for (let a = 1; a < policy.attempts; a++) total += retryDelayMs(policy, a);
  return 2 * total;
}

async function sendWithRetries(notice: OutcomeNotice, target: NotifyTarget, deps: NotifierDeps): Promise<{ verdict: SendVerdict; attempts: number; maskedUrl: string }> {
  const resolved = deps.resolve(target);
  if (!resolved.ok) return { verdict: { kind: 'refused', why: resolved.error }, attempts: 0, maskedUrl: '(not configured)' };
  const policy = deps.policy ?? DefaultNotifyRetryPolicy;
  const maskedUrl = maskUrl(resolved.url);
  // The URL, its query (DingTalk's access_token, WeCom's key) and any long path segment (Lark's hook token).
  const parts = new URL(resolved.url);
  const secrets = [resolved.url, resolved.secret, parts.search.slice(1) || undefined, ...parts.pathname.split('/').filter((p) => p.length >= 16)];
  let verdict: SendVerdict = { kind: 'retry', why: 'not tried' };
  let attempt = 0;
  while (attempt < policy.attempts) {
    attempt++;
    const request = buildRequest(target, resolved, notice, deps.clock.now());
    try {
      const answer = await deps.http.post(request.url, request.headers, request.body, { timeoutMs: deps.timeoutMs ?? DefaultNoticeTimeoutMs });
      verdict = judgeAnswer(target.type, answer.status, answer.body);
    } catch (err) {
      verdict = { kind: 'retry', why: `no answer from ${maskedUrl}: ${(err as Error).message}` };
    }
    if (verdict.kind !== 'retry') break;
    deps.log?.({ notifier: 'retrying', operationId: notice.operationId, target: `${target.type}`, attempt, why: verdict.why });
    if (attempt < policy.attempts) await deps.clock.sleep(retryDelayMs(policy, attempt));
  }
  if (verdict.kind === 'delivered') return { verdict, attempts: attempt, maskedUrl };
  // Whatever a service or the network said may quote the URL, its token or the secret: scrubbed here, once.
  const why = scrub(verdict.kind === 'retry' ? `gave up after ${attempt} attempts: ${verdict.why}` : verdict.why, secrets);
  return { verdict: { kind: 'refused', why }, attempts: attempt, maskedUrl };
}
