import type { Clock } from '../workflow/ports';
import { CloudError, CloudErrorKind } from '../workflow/errors';
import { classifyError } from './errors';

/** How hard a port retries one call. Attempts count the first call. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  /** Cap of the first backoff window for transient failures; doubles per attempt. */
  readonly baseDelayMs: number;
  /** No single wait is longer than this (before `retryAfterMs`, which the server may set higher). */
  readonly maxDelayMs: number;
  /**
   * Cap of the first backoff window after throttling. ECS counts calls in one-minute windows, so a
   * throttled caller gains nothing from hammering: it starts from a longer window (ecs-api.md).
   */
  readonly throttlingBaseDelayMs: number;
}

/** Defaults sized for a step with a budget of tens of seconds. */
export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  throttlingBaseDelayMs: 1_000,
};

/**
 * The wait before the next attempt, "full jitter" (uniform in [0, min(max, base * 2^(n-1))]), so that
 * many functions failing together do not retry in lockstep. `failedAttempts` is how many attempts have
 * failed so far (>= 1). A throttling error waits at least the server's `retryAfterMs`.
 */
export function backoffDelayMs(
  policy: RetryPolicy,
  failedAttempts: number,
  err: CloudError,
  random: () => number = Math.random,
): number {
  const throttled = err.kind === CloudErrorKind.Throttling;
  const base = throttled ? policy.throttlingBaseDelayMs : policy.baseDelayMs;
  const exponent = Math.max(0, failedAttempts - 1);
  const window = Math.min(policy.maxDelayMs, base * 2 ** Math.min(exponent, 30));
  const jittered = Math.floor(random() * window);
  if (throttled) return Math.max(err.details.retryAfterMs ?? 0, jittered);
  return jittered;
}

export interface RetryOptions {
  /** API name, for classification and messages. */
  readonly api: string;
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  /** Absolute epoch ms after which no attempt starts and no sleep ends. */
  readonly deadlineMs?: number;
  readonly random?: () => number;
  /** Called after every failed attempt with the classified error and the chosen wait (undefined: giving up). */
  readonly onFailure?: (err: CloudError, attempt: number, waitMs: number | undefined) => void;
  /**
   * Runs before every attempt after the first, after the backoff: a retry may be sent long after its
   * caller last checked that it may make the call. Whatever it throws is thrown as-is, and the retry is
   * not sent.
   */
  readonly beforeRetry?: (attempt: number) => Promise<void>;
  /**
   * The wait before retrying after `err`, when the caller knows it better than the backoff (a Throttling
   * answer: until the server's next counting window); undefined: the policy's backoff.
   */
  readonly delayFor?: (err: CloudError) => number | undefined;
}

/**
 * Runs `call` until it succeeds, a non-retryable error occurs, the attempts are spent, or the next wait
 * would end past the deadline. Guarantees: every rejection is a classified {@link CloudError}; the last
 * error is thrown as-is (not wrapped) when giving up; no sleep ends after `deadlineMs`; if the deadline has
 * passed before the first attempt, nothing is called and a transient `DeadlineExceeded` is thrown.
 */
export async function withRetry<T>(call: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { api, policy, clock, deadlineMs, random, onFailure, beforeRetry, delayFor } = options;
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  for (let attempt = 1; ; attempt++) {
    if (deadlineMs !== undefined && clock.now() >= deadlineMs) {
      throw new CloudError(
        CloudErrorKind.Transient,
        'DeadlineExceeded',
        `${api} was not called: the step's time budget ended at ${new Date(deadlineMs).toISOString()}; send the operation on again later`,
        { api },
      );
    }
    if (attempt > 1 && beforeRetry !== undefined) await beforeRetry(attempt);
    try {
      return await call(attempt);
    } catch (raw) {
      const err = classifyError(raw, api);
      if (!err.retryable || attempt >= maxAttempts) {
        onFailure?.(err, attempt, undefined);
        throw err;
      }
      const waitMs = delayFor?.(err) ?? backoffDelayMs(policy, attempt, err, random);
      if (deadlineMs !== undefined && clock.now() + waitMs >= deadlineMs) {
        onFailure?.(err, attempt, undefined);
        throw err;
      }
      onFailure?.(err, attempt, waitMs);
      await clock.sleep(waitMs);
    }
  }
}
