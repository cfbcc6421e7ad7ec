/**
 * Control hooks of the local FC runtime (issue 15): holding invocations to force an interleaving, and
 * failing one before or after its handler ran, through the runtime (direct invokes and MNS queue triggers).
 */
import type { InvocationResult, MnsCloudEvent } from '../../local/fc';
import { recordedEvents, startTestCloud, type TestCloud } from './helpers';

let cloud: TestCloud;
beforeAll(async () => {
  cloud = await startTestCloud();
});
afterEach(() => cloud.fc.control.reset());
afterAll(() => cloud.close());

/** The `n` field of the events the recorder handled, in the order its handler ran. */
function handledOrder(): string[] {
  return recordedEvents(cloud)
    .map((e) => JSON.parse(e.event) as { n?: string; data?: { messageBody?: string } })
    .map((e) => e.n ?? e.data?.messageBody ?? '?');
}

const bodyOf = (event: unknown): string | undefined => (event as Partial<MnsCloudEvent>).data?.messageBody;

describe('Control: hold', () => {
  it('runs a held invocation only after release, after one that started later', async () => {
    // Prepare
    const hold = cloud.fc.control.hold({ functionName: 'recorder', match: (e) => (e as { n?: string }).n === 'held-A' });
    const before = handledOrder().length;
    // Act
    const a = cloud.fc.invoke('recorder', { n: 'held-A' });
    await hold.whenWaiting(1);
    const b = await cloud.fc.invoke('recorder', { n: 'free-B' });
    const orderWhileHeld = handledOrder().slice(before);
    hold.release();
    const aResult = await a;
    // Assess
    expect(orderWhileHeld).toEqual(['free-B']);
    expect(b.ok).toBe(true);
    expect(aResult.ok).toBe(true);
    expect(handledOrder().slice(before)).toEqual(['free-B', 'held-A']);
    expect(hold.caught()).toBe(1);
    expect(hold.waiting()).toBe(0);
  });

  it('releaseOne lets the oldest held invocation go first and keeps catching', async () => {
    // Prepare
    const hold = cloud.fc.control.hold({ functionName: 'recorder', match: (e) => String((e as { n?: string }).n).startsWith('fifo') });
    const before = handledOrder().length;
    const first = cloud.fc.invoke('recorder', { n: 'fifo-1' });
    await hold.whenWaiting(1);
    const second = cloud.fc.invoke('recorder', { n: 'fifo-2' });
    await hold.whenWaiting(2);
    // Act
    const waitingEvents = hold.waitingEvents();
    expect(hold.releaseOne()).toBe(true);
    await first;
    const third = cloud.fc.invoke('recorder', { n: 'fifo-3' });
    await hold.whenWaiting(2);
    hold.releaseOne();
    await second;
    hold.releaseOne();
    await third;
    // Assess
    expect(waitingEvents).toEqual([{ n: 'fifo-1' }, { n: 'fifo-2' }]);
    expect(handledOrder().slice(before)).toEqual(['fifo-1', 'fifo-2', 'fifo-3']);
    expect(hold.releaseOne()).toBe(false);
  });

  it('with count, catches only that many; later matches run at once', async () => {
    // Prepare
    const hold = cloud.fc.control.hold({ functionName: 'recorder', count: 1 });
    // Act
    const caught = cloud.fc.invoke('recorder', { n: 'counted-1' });
    await hold.whenWaiting(1);
    const passed = await cloud.fc.invoke('recorder', { n: 'counted-2' });
    hold.release();
    // Assess
    expect(passed.ok).toBe(true);
    expect((await caught).ok).toBe(true);
    expect(hold.caught()).toBe(1);
  });

  it('whenWaiting rejects, saying how many wait, when not enough invocations arrive in time', async () => {
    // Prepare
    const hold = cloud.fc.control.hold({ functionName: 'recorder' });
    // Act
    const err = await hold.whenWaiting(1, 50).then(() => undefined, (e: Error) => e);
    // Assess
    expect(err?.name).toBe('LocalFcError');
    expect(err?.message).toMatch(/waited 50 ms for 1 held invocation\(s\), 0 waiting/);
  });

  it('holds a queue-triggered invocation before its handler: the message stays in flight, a later one overtakes it', async () => {
    // Prepare
    const hold = cloud.fc.control.hold({ functionName: 'recorder', match: (e) => bodyOf(e) === 'queued-first' });
    const before = handledOrder().length;
    // Act
    const { messageId } = await cloud.queues.send('fc-events', 'queued-first');
    await hold.whenWaiting(1);
    const second = await cloud.queues.send('fc-events', 'queued-second');
    await cloud.waitForInvocations((r) => r.trigger === 'events' && r.outcome === 'succeeded' && handledOrder().includes('queued-second'), 1);
    // The trigger deletes a message after its invocation is recorded: wait for that delete (bounded), or a
    // loaded run reads the second message still in flight.
    for (const until = Date.now() + 5000; cloud.mns.control.inFlight('fc-events').some((m) => m.messageId === second.messageId) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
    const inFlightWhileHeld = cloud.mns.control.inFlight('fc-events').map((m) => m.messageId);
    hold.release();
    await cloud.waitForInvocations((r) => r.trigger === 'events' && (r.messageIds ?? []).includes(messageId) && r.outcome === 'succeeded', 1);
    // Assess
    expect(inFlightWhileHeld).toEqual([messageId]);
    expect(handledOrder().slice(before)).toEqual(['queued-second', 'queued-first']);
  });
});

describe('Control: failNextInvocation', () => {
  it("phase 'before': fails as crashed without running the handler; the next invocation runs", async () => {
    // Prepare
    const failure = cloud.fc.control.failNextInvocation({ functionName: 'recorder', phase: 'before' });
    const before = handledOrder().length;
    // Act
    const failed = await cloud.fc.invoke('recorder', { n: 'never-ran' });
    const next = await cloud.fc.invoke('recorder', { n: 'ran' });
    // Assess
    expect(failed).toMatchObject({ ok: false, outcome: 'crashed', error: { errorType: 'InjectedCrash' } });
    expect(failed.logs).toEqual([]);
    expect(next.ok).toBe(true);
    expect(handledOrder().slice(before)).toEqual(['ran']);
    expect({ fired: failure.fired, remaining: failure.remaining }).toEqual({ fired: 1, remaining: 0 });
  });

  it("phase 'after': the handler ran to the end, the invocation is reported crashed and its instance recycled", async () => {
    // Prepare
    await cloud.fc.invoke('recorder', { n: 'warm' });
    const instances = cloud.fc.instanceCount('recorder');
    cloud.fc.control.failNextInvocation({ functionName: 'recorder', phase: 'after', match: (e) => (e as { n?: string }).n === 'wrote-then-crashed' });
    // Act
    const result: InvocationResult = await cloud.fc.invoke('recorder', { n: 'wrote-then-crashed' });
    // Assess
    expect(result).toMatchObject({ ok: false, outcome: 'crashed', error: { errorType: 'InjectedCrash' } });
    expect(result.error?.errorMessage).toMatch(/phase after: the handler ran to completion/);
    expect(result.logs.some((l) => l.includes('wrote-then-crashed'))).toBe(true);
    expect(cloud.fc.instanceCount('recorder')).toBe(instances - 1);
  });

  it("phase 'after' on a queue trigger: EventBridge redelivers, so the handler runs twice for one message", async () => {
    // Prepare
    cloud.fc.control.failNextInvocation({ functionName: 'recorder', phase: 'after', match: (e) => bodyOf(e) === 'crash-after-writes' });
    // Act
    const { messageId } = await cloud.queues.send('fc-events', 'crash-after-writes');
    const done = await cloud.waitForInvocations((r) => (r.messageIds ?? []).includes(messageId), 2);
    // Assess
    expect(done.map((d) => [d.record.attempt, d.record.outcome])).toEqual([
      [1, 'crashed'],
      [2, 'succeeded'],
    ]);
    expect(handledOrder().filter((n) => n === 'crash-after-writes')).toHaveLength(2);
  });

  it("phase 'before' on a queue trigger: the retry is the first run of the handler", async () => {
    // Prepare
    cloud.fc.control.failNextInvocation({ functionName: 'recorder', phase: 'before', match: (e) => bodyOf(e) === 'crash-before' });
    // Act
    const { messageId } = await cloud.queues.send('fc-events', 'crash-before');
    const done = await cloud.waitForInvocations((r) => (r.messageIds ?? []).includes(messageId), 2);
    // Assess
    expect(done.map((d) => d.record.outcome)).toEqual(['crashed', 'succeeded']);
    expect(handledOrder().filter((n) => n === 'crash-before')).toHaveLength(1);
  });

  it('refuses a hook for a function s.yaml does not declare', () => {
    // Act / Assess
    expect(() => cloud.fc.control.hold({ functionName: 'nope' })).toThrow(/no function "nope"/);
    expect(() => cloud.fc.control.failNextInvocation({ functionName: 'nope', phase: 'after' })).toThrow(/no function "nope"/);
  });
});
