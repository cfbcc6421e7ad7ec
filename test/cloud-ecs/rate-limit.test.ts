import { DefaultRateLimitsPerMinute, RateLimiter } from '../../cloud/rate-limit';
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
});
