import type { TimerClock } from './clock';
import { formatTriggerTime } from './cron';
import type { TimerTrigger } from './syaml';

/** The event FC hands a function for a timer trigger (function-compute.md, "Timer trigger"). */
export interface TimerEvent {
  readonly triggerTime: string;
  readonly triggerName: string;
  readonly payload: string;
}

export function timerEvent(trigger: TimerTrigger, atMs: number): TimerEvent {
  return { triggerTime: formatTriggerTime(atMs), triggerName: trigger.triggerName, payload: trigger.payload };
}

/**
 * Fires one enabled timer trigger on its schedule. Each fire re-arms for the next time after the one
 * that fired, so a slow invocation does not shift the schedule; fires that overlap are not skipped
 * (FC does not skip them either).
 */
export class TimerSchedule {
  private handle: unknown;
  private stopped = false;
  private readonly startMs: number;

  constructor(
    private readonly trigger: TimerTrigger,
    private readonly clock: TimerClock,
    private readonly fire: (event: TimerEvent) => Promise<unknown>,
  ) {
    this.startMs = clock.now();
    if (trigger.enabled) this.arm(this.startMs);
  }

  private nextAfter(ms: number): number {
    return this.trigger.schedule.next(ms, this.startMs);
  }

  private arm(afterMs: number): void {
    if (this.stopped) return;
    const at = this.nextAfter(afterMs);
    this.handle = this.clock.setTimer(() => {
      // A real timer can fire a little early (or be capped); fire only once the time has come.
      if (this.clock.now() + 5 < at) {
        this.arm(afterMs);
        return undefined;
      }
      this.arm(at);
      return this.fire(timerEvent(this.trigger, at));
    }, at - this.clock.now());
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) this.clock.clearTimer(this.handle);
  }
}
