import { backoffDelayMs, defaultRetryPolicy, withRetry, type RetryPolicy } from '../../cloud/retry';
import { CloudError } from '../../workflow/errors';
import { FakeClock } from './fake-clock';

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000, throttlingBaseDelayMs: 500 };
const transient = (n = 0) => new CloudError('transient', `ServiceUnavailable`, `503 #${n}`);
const throttled = (retryAfterMs?: number) =>
  new CloudError('throttling', 'Throttling.User', 'slow down', retryAfterMs === undefined ? {} : { retryAfterMs });

describe('backoffDelayMs', () => {
  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1_000], // capped by maxDelayMs
    [40, 1_000],
  ])('keeps the wait after %i failed attempt(s) below the window %i ms', (failed, window) => {
    expect(backoffDelayMs(policy, failed, transient(), () => 0)).toBe(0);
    const top = backoffDelayMs(policy, failed, transient(), () => 0.999999);
    expect(top).toBeLessThan(window);
    expect(top).toBeGreaterThanOrEqual(window - 1);
  });

  it('spreads waits over the whole window (full jitter)', () => {
    // Prepare: a deterministic spread of random values over [0, 1).
    const draws = Array.from({ length: 100 }, (_, i) => i / 100);
    // Act
    const waits = draws.map((r) => backoffDelayMs(policy, 3, transient(), () => r));
    // Assess: every wait within [0, 400), and the spread covers it rather than clustering.
    expect(Math.min(...waits)).toBe(0);
    expect(Math.max(...waits)).toBeGreaterThanOrEqual(390);
    expect(Math.max(...waits)).toBeLessThan(400);
    expect(new Set(waits).size).toBeGreaterThan(90);
  });

  it('waits longer after throttling than after a transient failure', () => {
    expect(backoffDelayMs(policy, 1, throttled(), () => 0.5)).toBe(250);
    expect(backoffDelayMs(policy, 1, transient(), () => 0.5)).toBe(50);
  });

  it("honours the server's retry-after for throttling, even above maxDelayMs", () => {
    expect(backoffDelayMs(policy, 1, throttled(3_000), () => 0)).toBe(3_000);
    expect(backoffDelayMs(policy, 3, throttled(10), () => 0.5)).toBe(500);
  });
});

describe('withRetry', () => {
  it('retries transient failures and returns the eventual result', async () => {
    // Prepare
    const clock = new FakeClock();
    let calls = 0;
    // Act
    const result = await withRetry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw transient(attempt);
        return 'ok';
      },
      { api: 'DescribeInstances', policy, clock, random: () => 0.5 },
    );
    // Assess: two waits of half their windows (100, then 200).
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(clock.sleeps).toEqual([50, 100]);
  });

  it('classifies raw SDK errors before deciding, and does not retry fatal ones', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const raw = Object.assign(new Error('x'), { statusCode: 403, code: 'EniPerInstanceLimitExceeded' });
    const outcome = withRetry(
      async () => {
        calls++;
        throw raw;
      },
      { api: 'AttachNetworkInterface', policy, clock },
    );
    await expect(outcome).rejects.toMatchObject({ name: 'CloudError', kind: 'fatal', code: 'EniPerInstanceLimitExceeded' });
    expect(calls).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('throws the last error once the attempts are spent', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const outcome = withRetry(
      async (attempt) => {
        calls++;
        throw transient(attempt);
      },
      { api: 'DescribeInstances', policy, clock, random: () => 0 },
    );
    await expect(outcome).rejects.toMatchObject({ code: 'ServiceUnavailable', message: '503 #4' });
    expect(calls).toBe(policy.maxAttempts);
  });

  it('never sleeps past the deadline: it throws the last error instead', async () => {
    // Prepare: windows 600, 1200, ...; with random 0.99 the waits are 594 then 1188.
    const clock = new FakeClock(0);
    const deadlineMs = 1_000;
    const wide: RetryPolicy = { ...policy, baseDelayMs: 600, maxDelayMs: 10_000, maxAttempts: 10 };
    let calls = 0;
    // Act
    const outcome = withRetry(
      async (attempt) => {
        calls++;
        throw transient(attempt);
      },
      { api: 'DescribeInstances', policy: wide, clock, deadlineMs, random: () => 0.99 },
    );
    // Assess: one wait fitted, the second (594 + 1188 > 1000) did not; the error is the second attempt's.
    await expect(outcome).rejects.toMatchObject({ message: '503 #2' });
    expect(calls).toBe(2);
    expect(clock.sleeps).toEqual([594]);
    expect(clock.now()).toBeLessThanOrEqual(deadlineMs);
  });

  it('makes no call once the deadline has passed', async () => {
    const clock = new FakeClock(5_000);
    let calls = 0;
    const outcome = withRetry(
      async () => {
        calls++;
        return 1;
      },
      { api: 'StartInstance', policy, clock, deadlineMs: 4_000 },
    );
    await expect(outcome).rejects.toMatchObject({ kind: 'transient', code: 'DeadlineExceeded' });
    expect(calls).toBe(0);
  });

  it('waits the server-requested time after throttling, then succeeds', async () => {
    const clock = new FakeClock();
    const result = await withRetry(
      async (attempt) => {
        if (attempt === 1) throw throttled(2_500);
        return attempt;
      },
      { api: 'DescribeNetworkInterfaces', policy: defaultRetryPolicy, clock, random: () => 0 },
    );
    expect(result).toBe(2);
    expect(clock.sleeps).toEqual([2_500]);
  });
});
