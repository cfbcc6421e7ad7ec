import type { Clock } from '../workflow/ports';
import { CloudError, CloudErrorKind } from '../workflow/errors';

/**
 * Client-side budgets in calls per minute per API. ECS limits per account, region and API in one-minute
 * windows and a caller throttled in minute T stays blocked until T+1 (ecs-api.md), so it pays to stay
 * under the limit rather than to be told. The first five are Terway's budgets (ecs-api.md); the others
 * are our choice: reads generous, instance power operations and RunCommand modest.
 * They are the account's budgets: every function instance that calls ECS shares them (see
 * {@link RateDiscipline}: each instance starts at its share and adapts).
 */
export const DefaultRateLimitsPerMinute: Readonly<Record<string, number>> = {
  AttachNetworkInterface: 500,
  DetachNetworkInterface: 400,
  DescribeNetworkInterfaces: 800,
  DescribeNetworkInterfaceAttribute: 2000,
  DescribeInstanceTypes: 400,
  DescribeInstances: 800,
  StopInstance: 300,
  StartInstance: 300,
  RebootInstance: 300,
  DescribeCloudAssistantStatus: 600,
  RunCommand: 300,
  DescribeInvocationResults: 1000,
};

/** Budget for an API missing from the table. */
export const FallbackRateLimitPerMinute = 300;

/**
 * How one process shares the account's budgets with every other caller (README, "Mass failover").
 * ECS counts each API's calls per account in fixed one-minute windows and refuses every call past the
 * budget until the next window begins (ecs-api.md). So a process that is told Throttling stops calling
 * that API until the next window edge (calling sooner can only be refused again), and - additive
 * increase, multiplicative decrease, as TCP shares a link - halves its own rate, then wins it back a
 * little with every call that passes. It starts at `budget / share`: the share of a deployment whose
 * ECS callers run at most `share` instances at once never meets Throttling, and a process alone grows
 * to the whole budget.
 */
export interface RateDiscipline {
  /**
   * The length of the server's counting window (ECS: one minute; the local cloud scales it). Only when it
   * is given does a Throttling answer hold the API until the next window edge (the functions give it);
   * without it the caller's backoff decides, as for a CLI that cannot know the window of the ECS it
   * talks to.
   */
  readonly windowMs?: number;
  /**
   * At most this many processes call an API at once (s.yaml: the instances of the functions that call
   * it): one number for every API, or per API with `default` for the rest. Default 1.
   */
  readonly share?: number | Readonly<Record<string, number>>;
}

/** ECS's counting window. */
export const EcsRateWindowMs = 60_000;
/** Throttled: the rate is multiplied by this (multiplicative decrease). */
export const ThrottledRateFactor = 0.5;
/**
 * Every call that passes adds this fraction of the starting share to the rate (additive increase): a busy
 * process wins the whole budget back after `share` calls, an idle one does not grow.
 */
export const RecoveryPerCall = 1;
/** The rate never drops below this fraction of the starting share (a process always makes progress). */
export const MinimumRateFraction = 0.125;
/**
 * After a Throttling answer the next call waits for the next window edge plus this fraction of a
 * window: clocks of client and ECS differ a little, and a call sent just before ECS's edge is refused again.
 */
export const WindowEdgeGuard = 0.02;

interface Bucket {
  /** May go negative: each waiting caller has reserved a future token. */
  tokens: number;
  updatedAt: number;
  /** Current rate (tokens per ms), between `minPerMs` and `maxPerMs`. */
  perMs: number;
  readonly startPerMs: number;
  readonly minPerMs: number;
  readonly maxPerMs: number;
  readonly capacity: number;
  /** No call starts before this (epoch ms): ECS refuses this API until its next window. */
  blockedUntil: number;
}

/**
 * A token bucket per API with adaptive rate. Capacity is one second's worth of the whole budget (at least 1);
 * the rate starts at `budget / share` per window, halves on every Throttling answer (not below an eighth
 * of the start) and grows by the start with every call that passes (not above the whole budget). Guarantees: `acquire` resolves when the caller may call; callers are served in arrival order;
 * after {@link throttled} no call of that API starts before the server's next window; it never sleeps
 * past `deadlineMs` - when the wait would end after it, it throws a throttling CloudError
 * (`Throttling.ClientSide`) at once, without taking a token.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private waitedMs = 0;
  private throttledCount = 0;
  private readonly windowMs: number;
  private readonly share: number | Readonly<Record<string, number>>;
  /** Whether a Throttling answer holds the API until the next window edge (RateDiscipline.windowMs given). */
  readonly holdsToWindowEdge: boolean;

  constructor(
    private readonly clock: Clock,
    private readonly limitsPerMinute: Readonly<Partial<Record<string, number>>> = DefaultRateLimitsPerMinute,
    discipline: RateDiscipline = {},
  ) {
    this.windowMs = Math.max(1, discipline.windowMs ?? EcsRateWindowMs);
    this.share = discipline.share ?? 1;
    this.holdsToWindowEdge = discipline.windowMs !== undefined;
  }

  /** The number of processes sharing `api`'s budget (at least 1). */
  shareOf(api: string): number {
    const share = typeof this.share === 'number' ? this.share : (this.share[api] ?? this.share['default'] ?? 1);
    return Math.max(1, Math.floor(share));
  }

  /** Total ms callers were made to wait; for stats. */
  get totalWaitMs(): number {
    return this.waitedMs;
  }

  /** Throttling answers reported by the server; for stats. */
  get throttlingAnswers(): number {
    return this.throttledCount;
  }

  /** The current budget of `api` in calls per window (for stats and tests). */
  currentPerWindow(api: string): number {
    return this.bucket(api).perMs * this.windowMs;
  }

  async acquire(api: string, deadlineMs?: number): Promise<void> {
    const bucket = this.bucket(api);
    const now = this.clock.now();
    bucket.tokens = Math.min(bucket.capacity, bucket.tokens + (Math.max(now, bucket.updatedAt) - bucket.updatedAt) * bucket.perMs);
    bucket.updatedAt = Math.max(now, bucket.updatedAt);
    const tokenWaitMs = bucket.tokens >= 1 ? 0 : Math.ceil((1 - bucket.tokens) / bucket.perMs);
    const waitMs = Math.max(tokenWaitMs, bucket.blockedUntil - now);
    if (deadlineMs !== undefined && waitMs > 0 && now + waitMs >= deadlineMs) {
      throw new CloudError(
        CloudErrorKind.Throttling,
        'Throttling.ClientSide',
        `${api} not called: the client-side budget of ${this.perMinute(api)} calls/minute would need a ${waitMs} ms wait, past the step's deadline`,
        { api, retryAfterMs: waitMs },
      );
    }
    bucket.tokens -= 1;
    if (waitMs > 0) {
      this.waitedMs += waitMs;
      await this.clock.sleep(waitMs);
    }
  }

  /** A call of `api` passed: the rate grows back a little (additive increase). */
  passed(api: string): void {
    const bucket = this.bucket(api);
    bucket.perMs = Math.min(bucket.maxPerMs, bucket.perMs + bucket.startPerMs * RecoveryPerCall);
  }

  /**
   * ECS answered Throttling for `api`: halve the rate and hold every call of it until the next window
   * edge. Answers how long from now that is.
   */
  throttled(api: string): number {
    const bucket = this.bucket(api);
    this.throttledCount++;
    bucket.perMs = Math.max(bucket.minPerMs, bucket.perMs * ThrottledRateFactor);
    const now = this.clock.now();
    if (!this.holdsToWindowEdge) return 0;
    const edge = (Math.floor(now / this.windowMs) + 1 + WindowEdgeGuard) * this.windowMs;
    bucket.blockedUntil = Math.max(bucket.blockedUntil, Math.ceil(edge));
    // The calls reserved before the answer are sent after the edge at the lower rate, not in a burst.
    bucket.tokens = Math.min(bucket.tokens, 1);
    bucket.updatedAt = Math.max(bucket.updatedAt, bucket.blockedUntil);
    return bucket.blockedUntil - now;
  }

  /** How long from now until `api` may be called again (0 when it is not held). */
  waitBeforeNextCall(api: string): number {
    return Math.max(0, this.bucket(api).blockedUntil - this.clock.now());
  }

  private perMinute(api: string): number {
    const configured = this.limitsPerMinute[api] ?? DefaultRateLimitsPerMinute[api] ?? FallbackRateLimitPerMinute;
    return configured > 0 ? configured : FallbackRateLimitPerMinute;
  }

  private bucket(api: string): Bucket {
    let bucket = this.buckets.get(api);
    if (bucket === undefined) {
      const perWindow = this.perMinute(api);
      const maxPerMs = perWindow / this.windowMs;
      const startPerMs = maxPerMs / this.shareOf(api);
      // The burst is a sixtieth of the whole budget's window (ECS's minute: one second's worth of the
      // account's budget), whatever the share: a lone failover polls a transition a few times in quick
      // succession, and a burst of one token at budget/share paced those looks ~2 s apart (33/min for
      // DescribeNetworkInterfaces at share 24). Even if every sharer bursts at once, the bursts take
      // share/60 of the window (24 sharers: 40%); the sustained rate stays budget/share, and Throttling
      // still halves it.
      const capacity = Math.max(1, Math.floor(perWindow / 60));
      bucket = { tokens: capacity, updatedAt: this.clock.now(), perMs: startPerMs, startPerMs, minPerMs: startPerMs * MinimumRateFraction, maxPerMs, capacity, blockedUntil: 0 };
      this.buckets.set(api, bucket);
    }
    return bucket;
  }
}
