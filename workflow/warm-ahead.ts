import { Step } from './messages';
import type { QueuePort } from './ports';

/**
 * Warm-ahead: a step function that keeps no instance running (s.yaml vars.warmInstances: 0) starts cold
 * on its first event, and a failover after a quiet spell would pay one cold start per step, one after the
 * other. A step that is about to wait on the cloud (attach on the detach, verify-bound on the attach,
 * stop-if-required on the stop) first sends its successor one of these messages: the successor's instance
 * starts (module load, initializer) while the wait runs, on a CPU that would idle anyway, and the
 * operation's wake-up finds it started. It wakes nothing: a step answers it without reading the ledger or
 * the cloud, so a forged one costs an invocation and nothing else. Validate warms nobody: its successor's
 * wake-up follows at once and would meet an instance still starting (one instance serves one event at a
 * time, so it would start a second one). The entries warm attach (EntryWarmsAhead).
 */
export const WarmAheadKind = 'eni-failover.warm-ahead';

/** The successor each waiting step warms (a pipeline edge: workflow/pipeline.ts). */
export const WarmAheadOf: Readonly<Partial<Record<Step, Step>>> = {
  [Step.StopIfRequired]: Step.Attach,
  [Step.Attach]: Step.VerifyBound,
  [Step.VerifyBound]: Step.ConfigureGuestRoutes,
};

/**
 * The step an entry warms when it is about to start operations: attach, whose wake-up comes after
 * validate's start and run (a cold start's time and more) - validate's own comes at once and would meet an
 * instance still starting. Later steps are warmed by the steps before them.
 */
export const EntryWarmsAhead: Step = Step.Attach;

/** At most one warm-ahead message per step instance this often (ms, before timeScale): FC keeps idle instances for minutes. */
export const WarmAheadEveryMs = 60_000;

export function warmAheadBody(from: string): string {
  return JSON.stringify({ kind: WarmAheadKind, from });
}

/** Whether a queue message is a warm-ahead message: exactly `{kind, from}`, `from` a step's name. */
export function isWarmAhead(body: string): boolean {
  if (body.length > 200) return false;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return false;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const fields = value as Record<string, unknown>;
  return Object.keys(fields).length === 2 && fields.kind === WarmAheadKind && typeof fields.from === 'string' && /^[a-z][a-z-]{0,31}$/.test(fields.from);
}

/**
 * The sender's side: `due(now)` answers true at most once per `everyMs`, so a storm of operations sends
 * one message per step instance, not one per operation.
 */
export interface WarmAheadGate {
  due(now: number): boolean;
}

export function warmAheadGate(everyMs: number): WarmAheadGate {
  let last: number | undefined;
  return {
    due(now) {
      if (last !== undefined && now - last < everyMs) return false;
      last = now;
      return true;
    },
  };
}

/**
 * Sends `from`'s warm-ahead to `queueName` when `gate` says one is due. Never throws: a lost one only
 * means a cold start. Answers what to journal (`lost` with the reason), or undefined when none was due.
 */
export async function sendWarmAhead(gate: WarmAheadGate, now: number, queue: QueuePort, queueName: string, from: string): Promise<{ lost?: string } | undefined> {
  if (!gate.due(now)) return undefined;
  return queue.send(queueName, warmAheadBody(from)).then(
    () => ({}),
    (err: unknown) => ({ lost: (err as Error).message }),
  );
}
