import { LocalFcError } from './errors';
import type { FunctionErrorBody } from './function-runtime';

/**
 * Control hooks of the local FC runtime for fault campaigns and interleaving tests (local/fc/README.md,
 * "Control hooks"). Test devices: Function Compute has nothing like them. They act on every invocation of
 * a function, whatever started it (invoke API, HTTP, timer, queue trigger, bus rule, topic).
 */

/**
 * Picks invocations by their event: the event JSON-parsed when it is JSON (a CloudEvent, an array of them in
 * event-streaming mode, a timer or HTTP event), else its UTF-8 text; `raw` is the bytes the handler gets.
 */
export type InvocationMatcher = (event: unknown, raw: Buffer) => boolean;

export interface HoldSpec {
  readonly functionName: string;
  /** Default: every invocation of the function. */
  readonly match?: InvocationMatcher;
  /** Catch at most this many invocations (later ones run); default: every match until `release()`. */
  readonly count?: number;
}

/**
 * Invocations caught before their handler runs, waiting for the test to let them go. A held invocation
 * has no instance yet and its timeout has not started; a queue message it carries stays in flight.
 */
export interface Hold {
  readonly functionName: string;
  /** Invocations waiting now. */
  waiting(): number;
  /** Invocations caught so far (waiting or released). */
  caught(): number;
  /** The events of the invocations waiting now, oldest first (as {@link InvocationMatcher} sees them). */
  waitingEvents(): unknown[];
  /** Resolves when at least `n` (default 1) invocations wait at once; rejects after `timeoutMs` (default 10 s). */
  whenWaiting(n?: number, timeoutMs?: number): Promise<void>;
  /** Lets the oldest waiting invocation run; false when none waits. The hold keeps catching. */
  releaseOne(): boolean;
  /** Lets every waiting invocation run, oldest first, and stops catching. */
  release(): void;
}

export const InjectedFailurePhase = {
  /** The invocation fails before its handler runs: nothing it would have written is written. */
  Before: 'before',
  /**
   * The handler runs to the end (its cloud writes happen), then the invocation is reported as crashed and
   * its instance is recycled, like an instance that died after its writes and before it answered.
   */
  After: 'after',
} as const;
export type InjectedFailurePhase = (typeof InjectedFailurePhase)[keyof typeof InjectedFailurePhase];

export interface FailSpec {
  readonly functionName: string;
  readonly phase: InjectedFailurePhase;
  readonly match?: InvocationMatcher;
  /** How many matching invocations fail (default 1). */
  readonly count?: number;
}

export interface InjectedFailure {
  /** Invocations failed so far. */
  readonly fired: number;
  /** Failures left. */
  readonly remaining: number;
  cancel(): void;
}

/** `fc.control`: holds and injected failures. */
export interface LocalFcControl {
  /** Holds matching invocations of `functionName` before their handler runs, until released. */
  hold(spec: HoldSpec): Hold;
  /** Fails the next `count` (default 1) matching invocations, before or after their handler ran. */
  failNextInvocation(spec: FailSpec): InjectedFailure;
  /** Releases every hold and cancels every injected failure (close() does it first). */
  reset(): void;
}

/** The error body of an injected failure: a crash, as FC's Node.js runtime reports one. */
export function injectedFailureError(phase: InjectedFailurePhase): FunctionErrorBody {
  return phase === InjectedFailurePhase.Before
    ? { errorMessage: 'Process exited unexpectedly before completing request (injected by failNextInvocation, phase before: the handler did not run)', errorType: 'InjectedCrash' }
    : { errorMessage: 'Process exited unexpectedly before completing request (injected by failNextInvocation, phase after: the handler ran to completion)', errorType: 'InjectedCrash' };
}

interface Waiter {
  readonly event: unknown;
  readonly resume: () => void;
}

class ActiveHold implements Hold {
  private readonly queue: Waiter[] = [];
  private readonly watchers = new Set<() => void>();
  private caughtCount = 0;
  armed = true;

  constructor(
    readonly functionName: string,
    private readonly spec: HoldSpec,
    private readonly onDisarm: (hold: ActiveHold) => void,
  ) {}

  /** Whether this invocation is to be held (and counts it). */
  catches(event: unknown, raw: Buffer): boolean {
    if (!this.armed) return false;
    if (this.spec.match !== undefined && !this.spec.match(event, raw)) return false;
    this.caughtCount += 1;
    if (this.spec.count !== undefined && this.caughtCount >= this.spec.count) {
      // Caught its last one: later invocations pass, the caught ones still wait for release.
      this.armed = false;
    }
    return true;
  }

  wait(event: unknown): Promise<void> {
    return new Promise<void>((resume) => {
      this.queue.push({ event, resume });
      for (const w of [...this.watchers]) w();
    });
  }

  waiting(): number {
    return this.queue.length;
  }

  caught(): number {
    return this.caughtCount;
  }

  waitingEvents(): unknown[] {
    return this.queue.map((w) => w.event);
  }

  whenWaiting(n = 1, timeoutMs = 10_000): Promise<void> {
    if (this.queue.length >= n) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.queue.length < n) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new LocalFcError(`hold on ${this.functionName}: waited ${timeoutMs} ms for ${n} held invocation(s), ${this.queue.length} waiting (${this.caughtCount} caught)`));
      }, timeoutMs);
      this.watchers.add(check);
    });
  }

  releaseOne(): boolean {
    const next = this.queue.shift();
    next?.resume();
    return next !== undefined;
  }

  release(): void {
    this.armed = false;
    for (const w of this.queue.splice(0)) w.resume();
    this.onDisarm(this);
  }
}

interface ActiveFailure {
  readonly spec: FailSpec;
  fired: number;
  cancelled: boolean;
}

/** The holds and failures of one runtime; {@link intercept} is called by every invocation before it runs. */
export class InvocationControl implements LocalFcControl {
  private readonly holds = new Set<ActiveHold>();
  private readonly failures: ActiveFailure[] = [];

  constructor(private readonly knows: (functionName: string) => boolean) {}

  private check(functionName: string): void {
    if (!this.knows(functionName)) throw new LocalFcError(`control: no function "${functionName}"`);
  }

  hold(spec: HoldSpec): Hold {
    this.check(spec.functionName);
    if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count >= 1)) {
      throw new LocalFcError(`control.hold: count must be a positive integer, got ${String(spec.count)}`);
    }
    const hold = new ActiveHold(spec.functionName, spec, (h) => this.holds.delete(h));
    this.holds.add(hold);
    return hold;
  }

  failNextInvocation(spec: FailSpec): InjectedFailure {
    this.check(spec.functionName);
    if (spec.phase !== InjectedFailurePhase.Before && spec.phase !== InjectedFailurePhase.After) {
      throw new LocalFcError(`control.failNextInvocation: phase must be 'before' or 'after', got ${String(spec.phase)}`);
    }
    const count = spec.count ?? 1;
    if (!(Number.isInteger(count) && count >= 1)) throw new LocalFcError(`control.failNextInvocation: count must be a positive integer, got ${String(spec.count)}`);
    const failure: ActiveFailure = { spec: { ...spec, count }, fired: 0, cancelled: false };
    this.failures.push(failure);
    return {
      get fired() {
        return failure.fired;
      },
      get remaining() {
        return failure.cancelled ? 0 : count - failure.fired;
      },
      cancel: () => {
        failure.cancelled = true;
        const at = this.failures.indexOf(failure);
        if (at >= 0) this.failures.splice(at, 1);
      },
    };
  }

  reset(): void {
    for (const h of [...this.holds]) h.release();
    for (const f of this.failures.splice(0)) f.cancelled = true;
  }

  /**
   * Called before an invocation of `functionName` gets an instance: waits while a hold has it, then says
   * whether it is to fail (and when). Costs nothing when no hook is set for the function.
   */
  async intercept(functionName: string, raw: Buffer): Promise<InjectedFailurePhase | undefined> {
    const holds = [...this.holds].filter((h) => h.functionName === functionName);
    const failures = this.failures.filter((f) => f.spec.functionName === functionName);
    if (holds.length === 0 && failures.length === 0) return undefined;
    const event = parseEvent(raw);
    const hold = holds.find((h) => h.catches(event, raw));
    if (hold !== undefined) await hold.wait(event);
    // Decided after the hold: a failure set while an invocation waited applies to it when it runs.
    for (const f of this.failures) {
      if (f.spec.functionName !== functionName || f.cancelled) continue;
      if (f.spec.match !== undefined && !f.spec.match(event, raw)) continue;
      f.fired += 1;
      if (f.fired >= (f.spec.count ?? 1)) {
        f.cancelled = true;
        this.failures.splice(this.failures.indexOf(f), 1);
      }
      return f.spec.phase;
    }
    return undefined;
  }
}

function parseEvent(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
