/**
 * The chaos suite's invariants (issue 9, "A chaos suite in the project"), as pure functions over what a
 * run observed: the ledger's operation records, the outcome messages on the events and dead-letter
 * queues, the local ECS's model events, API calls and guest scripts, and the final cloud state. No I/O
 * here, so each checker is tested on its own with hand-made observations (invariants.test.ts) - a checker
 * that cannot fail would make the whole suite worthless.
 */

export const Invariants = {
  outcomes: '1 one outcome per operation',
  binding: '2 ENI bound once, detached only from a named source',
  power: '3 no instance left Stopped / serving instance not stopped',
  requests: '4 every request ends in an operation or a dead letter',
  success: '5 succeeded means bound and guest configured this boot',
  late: '6 late redelivery changes nothing; no ENI left unbound',
  settle: 'settle: the system came to rest in time',
} as const;
export type InvariantKey = keyof typeof Invariants;
export const InvariantKeys = Object.keys(Invariants) as InvariantKey[];

export interface Violation {
  readonly invariant: InvariantKey;
  readonly detail: string;
}

/** The parts of an operation record (workflow/ledger.ts OperationRecord) the checks read. */
export interface OpView {
  readonly operationId: string;
  readonly status: string;
  readonly request: { eniId: string; instanceId: string; sourceInstanceId?: string; origin: { kind: string; id: string }; policy?: { configureGuest?: boolean } };
  readonly plan?: { detachFrom?: string; osType?: string };
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly version: number;
  readonly published: boolean;
  readonly outcome?: { outcome: string; reason?: string; finishedAt: number };
}

/** An outcome message (events or dead-letter queue): OperationEvent or an entry's EntryFailureEvent. */
export interface OutcomeMessage {
  readonly operationId: string;
  readonly outcome: string;
  readonly reason?: string;
  readonly finishedAt?: number;
}

export type EcsEvent =
  | { readonly type: 'instance'; readonly instanceId: string; readonly from: string; readonly to: string; readonly at: number }
  | { readonly type: 'eni'; readonly eniId: string; readonly instanceId: string | undefined; readonly from: string; readonly to: string; readonly at: number }
  | { readonly type: 'invocation'; readonly instanceId: string; readonly from: string; readonly to: string; readonly at: number };

/** One ECS API call (local ECS `calls()`); `params`/`caller` only once the local ECS records them. */
export interface EcsCall {
  readonly action: string;
  readonly code: string | undefined;
  readonly at: number;
  readonly params?: Record<string, unknown>;
  readonly forceStop?: boolean;
}

export interface ScriptView {
  readonly instanceId: string;
  readonly script: string;
  readonly at: number;
  readonly exitCode?: number;
}

export interface FinalState {
  readonly instances: readonly { instanceId: string; status: string; guestResponsive: boolean; eniIds: string[] }[];
  readonly enis: readonly { eniId: string; status: string; instanceId: string | undefined; macAddress: string }[];
}

/** A request the run put on the requests queue: the origin id the operation gets, and the message ids it was sent as. */
export interface SentRequest {
  readonly originId: string;
  readonly messageIds: readonly string[];
}

export interface Observation {
  readonly groupEnis: readonly string[];
  readonly members: readonly string[];
  /** The instance the run made fail, and how: its own power state is the run's doing, not the workflow's. */
  readonly failed: { readonly instanceId: string; readonly mode: 'crash' | 'hang' };
  readonly ops: readonly OpView[];
  readonly events: readonly OutcomeMessage[];
  readonly deadLetters: readonly Record<string, unknown>[];
  readonly ecsEvents: readonly EcsEvent[];
  readonly calls: readonly EcsCall[];
  readonly scripts: readonly ScriptView[];
  readonly final: FinalState;
  readonly requests: readonly SentRequest[];
  /** Set when the run injected late copies after the system had settled once. */
  readonly late?: {
    readonly callsBefore: number;
    readonly opsBefore: readonly Pick<OpView, 'operationId' | 'version' | 'published'>[];
    readonly eventsBefore: number;
    readonly injected: number;
  };
  /** Undefined when the system settled; else what was still moving. */
  readonly unsettled?: string;
}

const ReadAction = /^(Describe|List)/;
const isWrite = (c: EcsCall) => !ReadAction.test(c.action);
const Terminal = new Set(['succeeded', 'failed', 'superseded']);

/** The ENI's holder over time: [at, instanceId | undefined, status]. */
function eniHistory(events: readonly EcsEvent[], eniId: string) {
  return events.filter((e): e is Extract<EcsEvent, { type: 'eni' }> => e.type === 'eni' && e.eniId === eniId);
}

/** The time an instance last became Running at or before `at` (-Infinity: it was Running from the start). */
function lastBoot(events: readonly EcsEvent[], instanceId: string, at = Infinity): number {
  let boot = -Infinity;
  for (const e of events) if (e.type === 'instance' && e.instanceId === instanceId && e.to === 'Running' && e.at <= at) boot = e.at;
  return boot;
}

export function checkOutcomes(o: Observation): Violation[] {
  const out: Violation[] = [];
  const byOp = new Map<string, Set<string>>();
  for (const e of o.events) {
    const set = byOp.get(e.operationId) ?? new Set<string>();
    set.add(`${e.outcome}${e.reason ? `/${e.reason}` : ''}`);
    byOp.set(e.operationId, set);
  }
  for (const [id, set] of byOp) if (set.size > 1) out.push({ invariant: 'outcomes', detail: `${id} published different outcomes: ${[...set].join(' and ')}` });
  for (const op of o.ops) {
    if (!Terminal.has(op.status)) {
      out.push({ invariant: 'outcomes', detail: `${op.operationId} (${op.request.eniId} -> ${op.request.instanceId}) has no outcome: status ${op.status}` });
      continue;
    }
    if (op.outcome === undefined || op.outcome.outcome !== op.status) {
      out.push({ invariant: 'outcomes', detail: `${op.operationId} is ${op.status} but records outcome ${op.outcome?.outcome ?? 'none'}` });
      continue;
    }
    const published = byOp.get(op.operationId);
    if (published === undefined) out.push({ invariant: 'outcomes', detail: `${op.operationId} ended ${op.status} but its outcome never reached the events queue` });
    else if (![...published].every((p) => p.split('/')[0] === op.status)) {
      out.push({ invariant: 'outcomes', detail: `${op.operationId} is ${op.status} in the ledger but the events queue says ${[...published].join(', ')}` });
    }
  }
  return out;
}

export function checkBinding(o: Observation): Violation[] {
  const out: Violation[] = [];
  // An ENI on two instances at once, in the final state (the model keeps one holder; the instances' lists must agree).
  for (const eni of o.final.enis) {
    const holders = o.final.instances.filter((i) => i.eniIds.includes(eni.eniId)).map((i) => i.instanceId);
    if (holders.length > 1 || (holders.length === 1 && eni.instanceId !== holders[0])) {
      out.push({ invariant: 'binding', detail: `${eni.eniId} is listed on ${holders.join(', ') || 'no instance'} but says ${eni.instanceId ?? 'none'}` });
    }
  }
  // Two operations both report success for one ENI, but at the moment each did, the ENI was somewhere else.
  for (const op of o.ops) {
    if (op.status !== 'succeeded' || op.outcome === undefined) continue;
    const history = eniHistory(o.ecsEvents, op.request.eniId).filter((e) => e.at <= op.outcome!.finishedAt);
    const last = history[history.length - 1];
    if (last === undefined || last.to !== 'InUse' || last.instanceId !== op.request.instanceId) {
      out.push({
        invariant: 'binding',
        detail: `${op.operationId} succeeded for ${op.request.eniId} -> ${op.request.instanceId} while the ENI was ${last ? `${last.to} on ${last.instanceId ?? 'nothing'}` : 'never moved'}`,
      });
    }
  }
  // Every detach is from an instance an operation of that ENI named as its source, and started before it.
  for (const e of o.ecsEvents) {
    if (e.type !== 'eni' || e.from !== 'InUse' || e.to !== 'Detaching' || e.instanceId === undefined) continue;
    const named = o.ops.filter((op) => op.request.eniId === e.eniId && (op.request.sourceInstanceId === e.instanceId || op.plan?.detachFrom === e.instanceId));
    if (named.length === 0) {
      out.push({ invariant: 'binding', detail: `${e.eniId} was detached from ${e.instanceId} at ${iso(e.at)} but no operation named ${e.instanceId} as its source` });
    } else if (!named.some((op) => op.startedAt <= e.at)) {
      out.push({ invariant: 'binding', detail: `${e.eniId} was detached from ${e.instanceId} at ${iso(e.at)} before any operation naming it started` });
    }
  }
  // With call parameters recorded (local ECS fault hooks): every DetachNetworkInterface call names an operation's source.
  for (const c of o.calls) {
    if (c.action !== 'DetachNetworkInterface' || c.params === undefined || c.code !== undefined) continue;
    const eni = String(c.params['NetworkInterfaceId'] ?? '');
    const inst = String(c.params['InstanceId'] ?? '');
    if (!o.ops.some((op) => op.request.eniId === eni && (op.request.sourceInstanceId === inst || op.plan?.detachFrom === inst))) {
      out.push({ invariant: 'binding', detail: `DetachNetworkInterface ${eni} from ${inst} at ${iso(c.at)} matches no operation's source` });
    }
  }
  return out;
}

export function checkPower(o: Observation): Violation[] {
  const out: Violation[] = [];
  const finalStatus = new Map(o.final.instances.map((i) => [i.instanceId, i.status]));
  const failedHere = o.failed.instanceId;
  // Instances the workflow stopped (a Stopping transition the run did not make). The failed instance may
  // be force-stopped (fenceSource) when hung: that one is allowed to stay stopped. With call parameters,
  // the non-force StopInstance targets are exact.
  const stopped = new Set<string>();
  const withParams = o.calls.filter((c) => c.action === 'StopInstance' && c.params !== undefined && c.code === undefined);
  if (withParams.length > 0 || o.calls.some((c) => c.params !== undefined)) {
    for (const c of withParams) {
      const force = c.forceStop ?? String(c.params!['ForceStop'] ?? 'false') === 'true';
      const id = String(c.params!['InstanceId'] ?? '');
      if (!force || id !== failedHere) stopped.add(id);
    }
  } else {
    for (const e of o.ecsEvents) if (e.type === 'instance' && e.to === 'Stopping' && e.from === 'Running' && e.instanceId !== failedHere) stopped.add(e.instanceId);
  }
  for (const id of stopped) {
    const s = finalStatus.get(id);
    if (s !== 'Running') out.push({ invariant: 'power', detail: `${id} was stopped by the workflow and is ${s ?? 'gone'} at the end` });
  }
  // An instance serving an ENI some operation bound successfully is never stopped or rebooted afterwards.
  for (const e of o.ecsEvents) {
    if (e.type !== 'instance' || e.to !== 'Stopping' || e.instanceId === failedHere) continue;
    for (const op of o.ops) {
      if (op.status !== 'succeeded' || op.outcome === undefined || op.request.instanceId !== e.instanceId || op.outcome.finishedAt > e.at) continue;
      const history = eniHistory(o.ecsEvents, op.request.eniId).filter((h) => h.at <= e.at);
      const last = history[history.length - 1];
      if (last !== undefined && last.to === 'InUse' && last.instanceId === e.instanceId) {
        out.push({ invariant: 'power', detail: `${e.instanceId} was stopped at ${iso(e.at)} while serving ${op.request.eniId}, which ${op.operationId} had bound successfully` });
      }
    }
  }
  return out;
}

export function checkRequests(o: Observation): Violation[] {
  const out: Violation[] = [];
  for (const r of o.requests) {
    const op = o.ops.find((p) => p.request.origin.kind === 'request' && p.request.origin.id === r.originId);
    if (op !== undefined) continue;
    const dead = o.deadLetters.find(
      (d) => d['kind'] === 'eni-failover.rejected' && r.messageIds.includes(String(d['messageId'])) && typeof d['error'] === 'string' && (d['error'] as string).length > 0,
    );
    const failed = o.events.find((e) => e.outcome === 'failed' && (e as unknown as { origin?: { id?: string } }).origin?.id === r.originId);
    if (dead === undefined && failed === undefined) out.push({ invariant: 'requests', detail: `request ${r.originId} (messages ${r.messageIds.join(', ')}) has neither an operation nor a dead letter` });
  }
  return out;
}

export function checkSuccess(o: Observation): Violation[] {
  const out: Violation[] = [];
  const macOf = new Map(o.final.enis.map((e) => [e.eniId, e.macAddress.toLowerCase()]));
  const holder = new Map(o.final.enis.map((e) => [e.eniId, e]));
  const succeeded = o.ops.filter((op) => op.status === 'succeeded' && op.outcome !== undefined);
  for (const op of succeeded) {
    const { eniId, instanceId } = op.request;
    const finishedAt = op.outcome!.finishedAt;
    // The guest ran the script for this ENI's MAC on the target, successfully, after the target's boot that was current at success.
    if (op.request.policy?.configureGuest !== false && op.plan?.osType !== 'windows') {
      const boot = lastBoot(o.ecsEvents, instanceId, finishedAt);
      const mac = macOf.get(eniId) ?? '';
      const ran = o.scripts.some((s) => s.instanceId === instanceId && s.exitCode === 0 && s.at >= boot && s.at <= finishedAt && s.script.toLowerCase().includes(mac));
      if (!ran) out.push({ invariant: 'success', detail: `${op.operationId} succeeded (${eniId} -> ${instanceId}) but no guest script for ${mac} succeeded on ${instanceId} after its boot at ${iso(boot)}` });
    }
    // The last success of each ENI: still there at the end, unless a later operation moved it.
    const later = succeeded.filter((p) => p.request.eniId === eniId && p.outcome!.finishedAt > finishedAt);
    if (later.length > 0) continue;
    const end = holder.get(eniId);
    if (end?.status === 'InUse' && end.instanceId === instanceId) {
      const finalBoot = lastBoot(o.ecsEvents, instanceId);
      const mac = macOf.get(eniId) ?? '';
      if (
        finalBoot > lastBoot(o.ecsEvents, instanceId, finishedAt) &&
        op.request.policy?.configureGuest !== false &&
        op.plan?.osType !== 'windows' &&
        !o.scripts.some((s) => s.instanceId === instanceId && s.exitCode === 0 && s.at >= finalBoot && s.script.toLowerCase().includes(mac))
      ) {
        out.push({ invariant: 'success', detail: `${instanceId} booted again at ${iso(finalBoot)} after ${op.operationId} and the guest was never configured for ${eniId} since` });
      }
      continue;
    }
    const movedLater = eniHistory(o.ecsEvents, eniId).some((e) => e.at > finishedAt && e.from === 'InUse' && e.to === 'Detaching');
    const laterOp = o.ops.some((p) => p.request.eniId === eniId && p.operationId !== op.operationId && p.startedAt >= op.startedAt);
    if (!(movedLater && laterOp)) {
      out.push({ invariant: 'success', detail: `${op.operationId} succeeded (${eniId} -> ${instanceId}) but at the end ${eniId} is ${end?.status ?? 'gone'} on ${end?.instanceId ?? 'nothing'}` });
    }
  }
  return out;
}

export function checkLate(o: Observation): Violation[] {
  const out: Violation[] = [];
  if (o.late !== undefined && o.late.injected > 0) {
    const after = o.calls.slice(o.late.callsBefore).filter(isWrite);
    if (after.length > 0) out.push({ invariant: 'late', detail: `${o.late.injected} late copies caused ECS writes after the settle point: ${after.map((c) => `${c.action}${c.code ? `(${c.code})` : ''}`).join(', ')}` });
    for (const before of o.late.opsBefore) {
      const now = o.ops.find((p) => p.operationId === before.operationId);
      if (now !== undefined && now.version !== before.version && before.published) {
        out.push({ invariant: 'late', detail: `${before.operationId} changed after the settle point (version ${before.version} -> ${now.version}) though it had ended and published` });
      }
    }
    const newOps = o.ops.filter((p) => !o.late!.opsBefore.some((b) => b.operationId === p.operationId));
    for (const p of newOps) out.push({ invariant: 'late', detail: `a late copy started a new operation ${p.operationId} (${p.request.eniId} -> ${p.request.instanceId}, origin ${p.request.origin.kind})` });
    const published = new Set(o.late.opsBefore.filter((b) => b.published).map((b) => b.operationId));
    const republished = o.events.slice(o.late.eventsBefore).filter((e) => published.has(e.operationId));
    if (republished.length > 0) out.push({ invariant: 'late', detail: `late copies published outcomes again: ${republished.map((e) => `${e.operationId} ${e.outcome}`).join(', ')}` });
  }
  // Liveness: no group ENI is left bound nowhere while a healthy member exists.
  const healthy = o.final.instances.filter((i) => o.members.includes(i.instanceId) && i.status === 'Running' && i.guestResponsive);
  for (const eniId of o.groupEnis) {
    const eni = o.final.enis.find((e) => e.eniId === eniId);
    if (eni !== undefined && eni.status !== 'InUse' && healthy.length > 0) {
      out.push({ invariant: 'late', detail: `${eniId} is ${eni.status} on no instance at the end while ${healthy.map((i) => i.instanceId).join(', ')} are healthy` });
    }
  }
  return out;
}

export function checkSettle(o: Observation): Violation[] {
  return o.unsettled === undefined ? [] : [{ invariant: 'settle', detail: `the system did not settle: ${o.unsettled}` }];
}

export function checkAll(o: Observation): Violation[] {
  return [...checkOutcomes(o), ...checkBinding(o), ...checkPower(o), ...checkRequests(o), ...checkSuccess(o), ...checkLate(o), ...checkSettle(o)];
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : 'start';
}
