import type { Clock } from '../../workflow/ports';

/**
 * Virtual time for tests. `sleep(ms)` queues a timer; timers fire one at a time in order of their end
 * (each on its own macrotask, so the woken caller runs before the next timer fires), moving `now` to the
 * timer's end. No test waits for real time.
 */
export class FakeClock implements Clock {
  /** Every requested sleep, in call order. */
  readonly sleeps: number[] = [];
  private readonly timers: Array<{ end: number; seq: number; resolve: () => void }> = [];
  private seq = 0;
  private scheduled = false;

  constructor(private t = 1_700_000_000_000) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    return new Promise((resolve) => {
      this.timers.push({ end: this.t + Math.max(0, ms), seq: this.seq++, resolve });
      this.schedule();
    });
  }

  advance(ms: number): void {
    this.t += ms;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.timers.sort((a, b) => a.end - b.end || a.seq - b.seq);
      const next = this.timers.shift();
      if (next === undefined) return;
      this.t = Math.max(this.t, next.end);
      next.resolve();
      if (this.timers.length > 0) this.schedule();
    });
  }
}
