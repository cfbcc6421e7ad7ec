import type { OperationRecord } from '../../workflow/ledger';
import { Step, type TimelineEntry } from '../../workflow/messages';
import { DetachHangsAfterMs } from '../../workflow/steps/attach';

/**
 * Where one operation's time went, read from its ledger record: one bar per step invocation (a timeline
 * entry is one delivery), the cloud's own transitions (stop, detach, attach, start, guest command) as the
 * record's timestamps bracket them, and the split of the total into cloud time, the policy's waits and the
 * workflow's overhead. Pure: no I/O; cli/timeline/svg.ts draws it.
 */

/** The transition times the cloud is known to take (the local cloud's scenario `latency`, unscaled seconds). */
export interface KnownLatency {
  readonly seconds: { readonly detachSeconds: number; readonly attachSeconds: number; readonly stopSeconds: number; readonly commandSeconds: number };
  /** The local cloud's time scale: every latency, and the workflow's own thresholds, run this much faster. */
  readonly timeScale: number;
}

/** One ECS call as the cloud logged it (the local ECS keeps this log; a real account's would be ActionTrail). */
export interface LoggedCall {
  readonly at: number;
  readonly action: string;
  /** The error code ECS answered; the port retried or the step looked again. */
  readonly code?: string | undefined;
}

export interface TimelineInput {
  readonly record: OperationRecord;
  readonly known?: KnownLatency;
  /** The ECS calls of this operation, when the cloud's log is at hand; drawn as ticks. */
  readonly calls?: readonly LoggedCall[];
}

/** One step invocation (one delivery of a wake-up), in ms from the operation's start. */
export interface InvocationBar {
  readonly step: string;
  /** 0 for the first delivery of a step, n for its n-th look again (a requeued wake-up). */
  readonly retry: number;
  readonly outcome: string;
  readonly detail: string;
  readonly startMs: number;
  readonly ms: number;
  readonly calls: number;
  readonly callsByApi: Readonly<Record<string, number>>;
  readonly waits: readonly string[];
}

export const WindowKind = { Stop: 'stop', Detach: 'detach', DetachHang: 'detach-hang', Fenced: 'fenced', Attach: 'attach', Start: 'start', Guest: 'guest' } as const;
export type WindowKind = (typeof WindowKind)[keyof typeof WindowKind];

/** A cloud transition as the record brackets it: from the request to the moment the workflow saw it done. */
export interface CloudWindow {
  readonly kind: WindowKind;
  readonly label: string;
  readonly startMs: number;
  /** Observed: request to noticed-done (includes polling overshoot). */
  readonly ms: number;
  /** What the cloud is known to take for it (only with {@link KnownLatency}); the rest of `ms` is the workflow noticing late. */
  readonly ownMs?: number;
  /** The policy's time (the detach-hang threshold, then the forced stop it orders), not the cloud's own transition. */
  readonly policy: boolean;
}

/** The total split three ways; cloudMs + policyMs + overheadMs = totalMs. */
export interface TimeSplit {
  readonly totalMs: number;
  readonly cloudMs: number;
  readonly policyMs: number;
  readonly overheadMs: number;
  /** The cloud's part, transition by transition (they add up to cloudMs). */
  readonly cloudParts: readonly { readonly label: string; readonly ms: number }[];
  /** 'known': the cloud's part is its known latencies; 'observed': the record's request-to-noticed windows. */
  readonly basis: 'known' | 'observed';
}

export interface TimelineModel {
  readonly operationId: string;
  readonly request: OperationRecord['request'];
  readonly group?: string;
  readonly status: OperationRecord['status'];
  /** Where a running operation is now. */
  readonly at: { readonly step: string; readonly attempt: number };
  readonly startedAt: number;
  readonly totalMs: number;
  readonly outcome?: { readonly outcome: string; readonly reason?: string; readonly message: string; readonly durationMs: number; readonly apiCalls: number };
  readonly apiCalls: number;
  readonly bars: readonly InvocationBar[];
  readonly windows: readonly CloudWindow[];
  readonly split: TimeSplit;
  /** Time between step invocations (and before the first) that no cloud transition covers: queue hops, function starts. */
  readonly hopsMs: number;
  readonly calls: readonly (LoggedCall & { readonly atMs: number })[];
  /** Deliveries the record no longer keeps (TimelineKeep). */
  readonly droppedEntries: number;
  /** Steps the plan went past without invoking them. */
  readonly skipped: readonly string[];
}

/** Builds the model. A running operation is drawn up to its last update. */
export function timelineModel(input: TimelineInput): TimelineModel {
  const { record } = input;
  const outcome = record.outcome;
  const totalMs = outcome ? outcome.durationMs : Math.max(0, record.updatedAt - record.startedAt);
  const bars = invocationBars(record.timeline, record.startedAt);
  const windows = cloudWindows(record, bars, input.known);
  const apiCalls = outcome ? outcome.apiCalls : Object.values(record.calls).reduce((a, b) => a + b, 0);
  return {
    operationId: record.operationId,
    request: record.request,
    ...(record.group === undefined ? {} : { group: record.group }),
    status: record.status,
    at: { step: record.step, attempt: record.attempt },
    startedAt: record.startedAt,
    totalMs,
    ...(outcome
      ? { outcome: { outcome: outcome.outcome, ...(outcome.reason ? { reason: outcome.reason } : {}), message: outcome.message, durationMs: outcome.durationMs, apiCalls: outcome.apiCalls } }
      : {}),
    apiCalls,
    bars,
    windows,
    split: input.known ? knownSplit(totalMs, record, input.known) : observedSplit(totalMs, windows),
    hopsMs: uncovered(gaps(bars, totalMs, record.timelineDropped > 0), windows),
    calls: (input.calls ?? []).map((c) => ({ ...c, atMs: c.at - record.startedAt })).filter((c) => c.atMs >= 0 && c.atMs <= totalMs),
    droppedEntries: record.timelineDropped,
    skipped: skippedSteps(record.timeline),
  };
}

function invocationBars(timeline: readonly TimelineEntry[], startedAt: number): InvocationBar[] {
  const looks = new Map<string, number>();
  return timeline.map((t) => {
    const retry = looks.get(t.step) ?? 0;
    looks.set(t.step, retry + 1);
    return {
      step: t.step,
      retry,
      outcome: t.outcome,
      detail: t.detail,
      startMs: t.at - startedAt,
      ms: t.ms,
      calls: Object.values(t.calls).reduce((a, b) => a + b, 0),
      callsByApi: t.calls,
      waits: t.waits ?? [],
    };
  });
}

/**
 * The spans with no invocation running: before the first (unless the record dropped the first entries),
 * between two, after the last until the outcome.
 */
function gaps(bars: readonly InvocationBar[], totalMs: number, dropped: boolean): [number, number][] {
  const out: [number, number][] = [];
  const sorted = [...bars].sort((a, c) => a.startMs - c.startMs);
  let end = dropped ? (sorted[0]?.startMs ?? 0) : 0;
  for (const b of sorted) {
    if (b.startMs > end) out.push([end, b.startMs]);
    end = Math.max(end, b.startMs + b.ms);
  }
  if (totalMs > end) out.push([end, totalMs]);
  return out;
}

/** How much of `spans` no window covers (windows may overlap: a stop and a detach). */
function uncovered(spans: readonly [number, number][], windows: readonly CloudWindow[]): number {
  let total = 0;
  for (const [a, b] of spans) {
    const inside = windows.map((w) => ({ ...w, startMs: Math.max(a, w.startMs), ms: Math.min(b, w.startMs + w.ms) - Math.max(a, w.startMs) })).filter((w) => w.ms > 0);
    total += b - a - coveredShares(inside).reduce((sum, x) => sum + x.ms, 0);
  }
  return total;
}

/** validate may hand straight to attach: stop-if-required was not needed. */
function skippedSteps(timeline: readonly TimelineEntry[]): string[] {
  const ran = new Set(timeline.map((t) => t.step));
  return ran.has(Step.Validate) && ran.has(Step.Attach) && !ran.has(Step.StopIfRequired) ? [Step.StopIfRequired] : [];
}

/** The end of the last invocation of `step` (ms from the start), or undefined when it never ran. */
function lastEnd(bars: readonly InvocationBar[], step: string): number | undefined {
  const mine = bars.filter((b) => b.step === step);
  const last = mine[mine.length - 1];
  return last === undefined ? undefined : last.startMs + last.ms;
}

function cloudWindows(record: OperationRecord, bars: readonly InvocationBar[], known?: KnownLatency): CloudWindow[] {
  const s = record.state;
  const rel = (at: number | undefined) => (at === undefined ? undefined : at - record.startedAt);
  const scaled = (seconds: number) => (known ? seconds * 1000 * known.timeScale : undefined);
  const out: CloudWindow[] = [];
  const add = (kind: WindowKind, label: string, start: number | undefined, end: number | undefined, own: number | undefined, policy = false) => {
    if (start === undefined || end === undefined || end < start) return;
    out.push({ kind, label, startMs: start, ms: end - start, ...(own === undefined ? {} : { ownMs: Math.min(own, end - start) }), policy });
  };
  add(WindowKind.Stop, 'instance Stopping', rel(s.stopRequestedAt), lastEnd(bars, Step.StopIfRequired), scaled(known?.seconds.stopSeconds ?? 0));
  const detachStart = rel(s.detachSentAt ?? s.detachRequestedAt);
  // The attach is asked for the moment the workflow sees the ENI Available: that is where the detach ended.
  const detachEnd = rel(s.attachRequestedAt) ?? lastEnd(bars, Step.Attach);
  // The policy waits DetachHangsAfterMs from the detach request, then fences; a fence retried later moves
  // sourceFencedAt, so the threshold (not the last fence) is where the policy's wait ends.
  const hangEnd = rel(s.detachRequestedAt === undefined ? undefined : s.detachRequestedAt + DetachHangsAfterMs * (known?.timeScale ?? 1));
  const fenced = rel(s.sourceFencedAt);
  if (fenced !== undefined && detachStart !== undefined && fenced >= detachStart) {
    const policyEnd = Math.min(fenced, hangEnd ?? fenced);
    add(WindowKind.DetachHang, 'detach hangs (policy)', detachStart, policyEnd, undefined, true);
    add(WindowKind.Fenced, 'forced stop + detach', policyEnd, detachEnd, scaled(known?.seconds.stopSeconds ?? 0), true);
  } else {
    add(WindowKind.Detach, 'ENI Detaching', detachStart, detachEnd, scaled(known?.seconds.detachSeconds ?? 0));
  }
  const attachStart = rel(s.attachRequestedAt);
  add(WindowKind.Attach, lastOf('ENI Attaching', s.attachRequests), attachStart, rel(s.boundSeenAt) ?? lastEnd(bars, Step.VerifyBound) ?? lastEnd(bars, Step.Attach), scaled(known?.seconds.attachSeconds ?? 0));
  add(WindowKind.Start, 'instance Starting', rel(s.startRequestedAt), lastEnd(bars, Step.VerifyBound), undefined);
  add(WindowKind.Guest, lastOf('guest command', s.guestRuns), rel(s.guestSentAt), lastEnd(bars, Step.ConfigureGuestRoutes), scaled(known?.seconds.commandSeconds ?? 0));
  return out;
}

/** The record keeps the times of the last attach and guest run only: a row says which it shows. */
const lastOf = (label: string, runs: number) => (runs > 1 ? `${label} (last of ${runs})` : label);

/**
 * The split `npm start` prints (cli/demo.ts): the cloud's part is the known latency of each transition the
 * operation went through; a fenced source adds the policy's wait - the detach-hang threshold, which runs
 * from the detach request (so the detach's own latency is inside it), then the forced stop.
 */
export function knownSplit(totalMs: number, record: Pick<OperationRecord, 'state'>, known: KnownLatency): TimeSplit {
  const s = record.state;
  const l = known.seconds;
  const ms = (seconds: number) => seconds * 1000 * known.timeScale;
  const attaches = Math.max(s.attachRequests, s.attachRequestedAt === undefined ? 0 : 1);
  const cloudParts = [
    { label: 'Stopping', ms: s.stopRequestedAt === undefined ? 0 : ms(l.stopSeconds) },
    { label: 'Detaching', ms: s.detachSentAt === undefined && s.detachRequestedAt === undefined ? 0 : ms(l.detachSeconds) },
    { label: attaches > 1 ? `Attaching x${attaches}` : 'Attaching', ms: ms(attaches * l.attachSeconds) },
    { label: s.guestRuns > 1 ? `guest command x${s.guestRuns}` : 'guest command', ms: ms(s.guestRuns * l.commandSeconds) },
  ].filter((p) => p.ms > 0);
  const cloudMs = cloudParts.reduce((a, p) => a + p.ms, 0);
  const policyMs = s.sourceFencedAt !== undefined ? ms(DetachHangsAfterMs / 1000 - l.detachSeconds + l.stopSeconds) : 0;
  return { totalMs, cloudMs, policyMs, overheadMs: totalMs - cloudMs - policyMs, cloudParts, basis: 'known' };
}

/** Without known latencies: the cloud's part is the union of the observed windows; the hang and the fence are policy. */
function observedSplit(totalMs: number, windows: readonly CloudWindow[]): TimeSplit {
  const shares = coveredShares(windows);
  const policyMs = shares.filter((x) => x.window.policy).reduce((a, x) => a + x.ms, 0);
  const cloudParts = shares.filter((x) => !x.window.policy && x.ms > 0).map((x) => ({ label: x.window.label.replace(/^(ENI|instance) /, ''), ms: x.ms }));
  const cloudMs = cloudParts.reduce((a, p) => a + p.ms, 0);
  return { totalMs, cloudMs, policyMs, overheadMs: totalMs - cloudMs - policyMs, cloudParts, basis: 'observed' };
}

/** What each window adds to the union of all of them, earliest first (a stop may overlap a detach: counted once). */
function coveredShares(windows: readonly CloudWindow[]): { window: CloudWindow; ms: number }[] {
  let end = -Infinity;
  return [...windows]
    .sort((a, b) => a.startMs - b.startMs)
    .map((window) => {
      const to = window.startMs + window.ms;
      const ms = Math.max(0, to - Math.max(window.startMs, end));
      end = Math.max(end, to);
      return { window, ms };
    });
}
