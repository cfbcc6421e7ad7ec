/**
 * The clock the timer triggers run on. The system clock uses real timers; {@link ManualClock} lets a test
 * jump to a cron time without waiting for it.
 */
export interface TimerClock {
  now(): number;
  /** Calls `fn` once after `ms`; what `fn` returns (an invocation) is awaited by a manual clock's advance. */
  setTimer(fn: () => unknown, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemTimerClock: TimerClock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    // setTimeout caps at 2^31-1 ms (~24.8 days); a later cron time re-arms when this fires early.
    const t = setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    t.unref();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * A clock that moves only when told. `advance(ms)`/`advanceTo(t)` fire every timer due on the way in time
 * order, each at its own due time, and resolve when what they started (the timer invocations) finished.
 */
export class ManualClock implements TimerClock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => unknown }>();

  constructor(startMs: number = Date.parse('2024-01-01T00:00:00Z')) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => unknown, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): Promise<void> {
    return this.advanceTo(this.current + ms);
  }

  async advanceTo(targetMs: number): Promise<void> {
    for (;;) {
      let nextId: number | undefined;
      let next: { at: number; fn: () => unknown } | undefined;
      for (const [id, t] of this.timers) {
        if (t.at <= targetMs && (next === undefined || t.at < next.at)) {
          next = t;
          nextId = id;
        }
      }
      if (next === undefined || nextId === undefined) break;
      this.timers.delete(nextId);
      this.current = Math.max(this.current, next.at);
      await next.fn();
    }
    this.current = Math.max(this.current, targetMs);
  }
}

/**
 * Real-time sleeps that a stopping trigger can cut short: after `wakeAll()` every pending sleep resolves at
 * once and new ones resolve immediately, so `close()` never waits out a retry interval.
 */
export class WakeableSleeps {
  private readonly pending = new Set<() => void>();
  private woken = false;

  sleep(ms: number): Promise<void> {
    if (this.woken || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pending.add(done);
    });
  }

  wakeAll(): void {
    this.woken = true;
    for (const wake of this.pending) wake();
  }
}
