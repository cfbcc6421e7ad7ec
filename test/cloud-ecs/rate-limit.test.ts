import { DefaultRateLimitsPerMinute, RateLimiter, RecoveryPerCall, WindowEdgeGuard } from '../../cloud/rate-limit';
import { FakeClock } from './fake-clock';

describe('RateLimiter', () => {
  it('lets a burst of one second worth of calls through, then spaces the rest', async () => {
    // Prepare: 600/min = 10 per second of burst, one token every 100 ms.
    const clock = new FakeClock(0);
    const limiter = new RateLimiter(clock, { DescribeInstances: 600 });
    const startedAt: number[] = [];
    // Act
    for (let i = 0; i < 13; i++) {
      await limiter.acquire('DescribeInstances');
      startedAt.push(clock.now());
    }
    // Assess
    expect(startedAt.slice(0, 10)).toEqual(Array(10).fill(0));
    expect(startedAt.slice(10)).toEqual([100, 200, 300]);
    expect(limiter.totalWaitMs).toBe(300);
  });

  it('serves concurrent callers in order, each at its own slot', async () => {
    const clock = new FakeClock(0);
    const limiter = new RateLimiter(clock, { StopInstance: 60 }); // capacity 1, one per second
    const order: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map(async (name) => {
        await limiter.acquire('StopInstance');
        order.push(`${name}@${clock.now()}`);
      }),
    );
    expect(clock.sleeps).toEqual([1_000, 2_000]);
    expect(order).toEqual(['a@0', 'b@1000', 'c@2000']);
  });

  it('refills while idle but never above capacity', async () => {
    const clock = new FakeClock(0);
    const limiter = new RateLimiter(clock, { RunCommand: 120 }); // capacity 2
    await limiter.acquire('RunCommand');
    await limiter.acquire('RunCommand');
    clock.advance(60_000);
    await limiter.acquire('RunCommand');
    await limiter.acquire('RunCommand');
    expect(clock.sleeps).toEqual([]);
    await limiter.acquire('RunCommand');
    expect(clock.sleeps).toEqual([500]);
  });

  it('throws a throttling error instead of waiting past the deadline, and keeps its token', async () => {
    // Prepare: empty bucket; the next token is 1000 ms away.
    const clock = new FakeClock(0);
    const limiter = new RateLimiter(clock, { StartInstance: 60 });
    await limiter.acquire('StartInstance');
    // Act + Assess: a 500 ms budget cannot cover the 1000 ms wait.
    await expect(limiter.acquire('StartInstance', 500)).rejects.toMatchObject({
      kind: 'throttling',
      code: 'Throttling.ClientSide',
      details: { retryAfterMs: 1_000 },
    });
    expect(clock.sleeps).toEqual([]);
    // The refused caller reserved nothing: the next caller still waits only 1000 ms.
    await limiter.acquire('StartInstance', 5_000);
    expect(clock.sleeps).toEqual([1_000]);
  });

  it("uses Terway's budgets by default and keeps APIs independent", async () => {
    const clock = new FakeClock(0);
    const limiter = new RateLimiter(clock);
    expect(DefaultRateLimitsPerMinute['AttachNetworkInterface']).toBe(500);
    expect(DefaultRateLimitsPerMinute['DescribeNetworkInterfaceAttribute']).toBe(2000);
    // 500/min: capacity 8, then a token every 120 ms.
    for (let i = 0; i < 8; i++) await limiter.acquire('AttachNetworkInterface');
    await limiter.acquire('DescribeNetworkInterfaces');
    expect(clock.sleeps).toEqual([]);
    await limiter.acquire('AttachNetworkInterface');
    expect(clock.sleeps).toEqual([120]);
  });

  describe('sharing the account budget (AIMD, ECS minute windows)', () => {
    it('holds a throttled API until the next window edge and halves its rate, then grows it back with every call that passes', async () => {
      // Prepare: 600/min shared by 4 (starts at 150), 25 s into a minute window.
      const clock = new FakeClock(25_000);
      const limiter = new RateLimiter(clock, { AttachNetworkInterface: 600 }, { windowMs: 60_000, share: 4 });
      await limiter.acquire('AttachNetworkInterface');
      // Act: ECS answers Throttling.
      const waitMs = limiter.throttled('AttachNetworkInterface');
      await limiter.acquire('AttachNetworkInterface');
      // Assess: no call before the next minute (plus the guard), at half the rate.
      expect(waitMs).toBe(60_000 * (1 + WindowEdgeGuard) - 25_000);
      expect(clock.now()).toBe(60_000 * (1 + WindowEdgeGuard));
      expect(limiter.currentPerWindow('AttachNetworkInterface')).toBeCloseTo(75);
      expect(limiter.throttlingAnswers).toBe(1);
      // Every call that passes adds the starting share (additive increase), never above the whole budget.
      limiter.passed('AttachNetworkInterface');
      expect(limiter.currentPerWindow('AttachNetworkInterface')).toBeCloseTo(75 + 150 * RecoveryPerCall);
      for (let i = 0; i < 100; i++) limiter.passed('AttachNetworkInterface');
      expect(limiter.currentPerWindow('AttachNetworkInterface')).toBeCloseTo(600);
    });

    it('without the window length, halves the rate but leaves the wait to the caller', async () => {
      const clock = new FakeClock(25_000);
      const limiter = new RateLimiter(clock, { AttachNetworkInterface: 600 });
      expect(limiter.throttled('AttachNetworkInterface')).toBe(0);
      await limiter.acquire('AttachNetworkInterface');
      expect(clock.now()).toBe(25_000);
      expect(limiter.currentPerWindow('AttachNetworkInterface')).toBeCloseTo(300);
    });

    it('never halves below an eighth of its share', () => {
      const limiter = new RateLimiter(new FakeClock(0), { DescribeInstances: 800 }, { share: 4 });
      for (let i = 0; i < 20; i++) limiter.throttled('DescribeInstances');
      expect(limiter.currentPerWindow('DescribeInstances')).toBeCloseTo(800 / 4 / 8);
    });

    it('starts each API at budget / share, per API with a default, in a scaled window', async () => {
      // Prepare: the local cloud at time scale 0.01 (a 600 ms minute); Attach shared by 4, the rest by 24.
      const clock = new FakeClock(0);
      const limiter = new RateLimiter(clock, { AttachNetworkInterface: 480, DescribeInstances: 2400 }, { windowMs: 600, share: { default: 24, AttachNetworkInterface: 4 } });
      expect(limiter.shareOf('AttachNetworkInterface')).toBe(4);
      expect(limiter.shareOf('DescribeInstances')).toBe(24);
      // Act: 120 attaches (a window's share).
      for (let i = 0; i < 120; i++) await limiter.acquire('AttachNetworkInterface');
      // Assess: they took about one window (a burst of 8 - a second's worth of the whole budget - then
      // one per 5 ms).
      expect(clock.now()).toBe((120 - 8) * 5);
      expect(limiter.currentPerWindow('DescribeInstances')).toBeCloseTo(100);
    });

    it('lets a lone caller poll a transition in a quick burst although its share is small', async () => {
      // Prepare: the default budgets, DescribeNetworkInterfaces shared by 24 (33 calls a minute each).
      const clock = new FakeClock(0);
      const limiter = new RateLimiter(clock, DefaultRateLimitsPerMinute, { windowMs: 60_000, share: 24 });
      // Act: a transition's looks, 100 ms apart (workflow/step.ts's wait policy near the expected end).
      const waits: number[] = [];
      for (let i = 0; i < 10; i++) {
        const before = clock.now();
        await limiter.acquire('DescribeNetworkInterfaces');
        waits.push(clock.now() - before);
        await clock.sleep(100);
      }
      // Assess: none waited (a burst of 13); the sustained rate is still the share.
      expect(waits).toEqual(new Array(10).fill(0));
      expect(limiter.currentPerWindow('DescribeNetworkInterfaces')).toBeCloseTo(800 / 24);
    });
  });
});

