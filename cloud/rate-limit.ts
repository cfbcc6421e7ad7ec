import type { Clock } from '../workflow/ports';
import { CloudError, CloudErrorKind } from '../workflow/errors';

/**
 * Client-side budgets in calls per minute per API. ECS limits per account, region and API in one-minute
 * windows and a caller throttled in minute T stays blocked until T+1 (ecs-api.md), so it pays to stay
 * under the limit rather than to be told. The first five are Terway's budgets (ecs-api.md); the others
 * are our choice: reads generous, instance power operations and RunCommand modest.
 * Note: this limits one process (one FC instance). Many concurrent instances share the account's quota,
 * which is why the port still retries Throttling answers from the server.
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

interface Bucket {
  /** May go negative: each waiting caller has reserved a future token. */
  tokens: number;
  updatedAt: number;
  readonly perMs: number;
  readonly capacity: number;
}

/**
 * A token bucket per API. Capacity is one second's worth of calls (at least 1), refilled continuously at
 * `perMinute / 60000` tokens per ms: short bursts pass at once, sustained load is spaced evenly.
 * Guarantees: `acquire` resolves when the caller may call; callers are served in arrival order; it never
 * sleeps past `deadlineMs` - when the wait would end after it, it throws a throttling CloudError
 * (`Throttling.ClientSide`) at once, without taking a token.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private waitedMs = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limitsPerMinute: Readonly<Partial<Record<string, number>>> = DefaultRateLimitsPerMinute,
  ) {}

  /** Total ms callers were made to wait; for stats. */
  get totalWaitMs(): number {
    return this.waitedMs;
  }

  async acquire(api: string, deadlineMs?: number): Promise<void> {
    const bucket = this.bucket(api);
    const now = this.clock.now();
    bucket.tokens = Math.min(bucket.capacity, bucket.tokens + (now - bucket.updatedAt) * bucket.perMs);
    bucket.updatedAt = now;
    const waitMs = bucket.tokens >= 1 ? 0 : Math.ceil((1 - bucket.tokens) / bucket.perMs);
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

  private perMinute(api: string): number {
    const configured = this.limitsPerMinute[api] ?? DefaultRateLimitsPerMinute[api] ?? FallbackRateLimitPerMinute;
    return configured > 0 ? configured : FallbackRateLimitPerMinute;
  }

  private bucket(api: string): Bucket {
    let bucket = this.buckets.get(api);
    if (bucket === undefined) {
      const perMinute = this.perMinute(api);
      const capacity = Math.max(1, Math.floor(perMinute / 60));
      bucket = { tokens: capacity, updatedAt: this.clock.now(), perMs: perMinute / 60_000, capacity };
      this.buckets.set(api, bucket);
    }
    return bucket;
  }
}
