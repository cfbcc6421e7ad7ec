import type { LocalCloud } from '../../local/cloud';
import { ManualClock, type InvocationRecord, type InvocationResult } from '../../local/fc';
import { entryCloud, eniState, scenarioFile, twoNode, waitForOutcome, writes } from './helpers';

/**
 * Scheduled jobs through the local cloud: s.yaml's timer triggers on on-schedule, run by the local FC
 * runtime on a manual clock, so a cron time comes exactly when the test moves the clock there.
 */
describe('Entry: timers -> on-schedule', () => {
  let cloud: LocalCloud | undefined;
  let fired: { trigger: string; time: string; body: any }[];
  const start = async (scenario: unknown, clock: ManualClock, vars?: Record<string, unknown>) => {
    cloud = await entryCloud(scenario, { clock, ...(vars ? { vars } : {}) });
    fired = [];
    cloud.fc!.events.on('invocation', (record: InvocationRecord, result: InvocationResult) => {
      if (record.function === 'eni-failover-on-schedule') fired.push({ trigger: record.trigger, time: new Date(clock.now()).toISOString(), body: JSON.parse(result.body.toString()) });
    });
    return cloud;
  };
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });

  it('a planned switch-over runs at its cron time, not before, and moves the ENI from its holder', async () => {
    // Prepare: every day at 03:00 UTC, move the service ENI to the standby; the clock stands at 02:59:30.
    const clock = new ManualClock(Date.parse('2026-03-01T02:59:30Z'));
    const c = await start(scenarioFile('two-node-failover'), clock, {
      plannedSwitchOver: { enable: true, cronExpression: '0 0 3 * * *', payload: '[{"eniId":"eni-service","instanceId":"i-standby"}]' },
    });
    // Act 1: up to 02:59:59 nothing is due.
    await clock.advance(29_000);
    // Assess 1
    expect(fired).toEqual([]);
    expect(c.mns.queues.counts(c.queues.validate)?.total).toBe(0);
    // Act 2: 03:00:00 - the reconcile timer (every 5 minutes) and the switch-over are both due.
    await clock.advance(1_000);
    // Assess 2
    expect(fired.map((f) => [f.trigger, f.time])).toEqual([
      ['reconcile', '2026-03-01T03:00:00.000Z'],
      ['planned-switch-over', '2026-03-01T03:00:00.000Z'],
    ]);
    expect(fired[0]!.body).toMatchObject({ mode: 'reconcile', enqueued: [], skipped: [{ eniId: 'eni-service', reason: expect.stringMatching(/^healthy/) }] });
    const [planned] = fired[1]!.body.enqueued;
    expect(planned).toMatchObject({ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' });
    const event = await waitForOutcome(c, planned.operationId);
    expect(event).toMatchObject({ outcome: 'succeeded', request: { origin: { kind: 'schedule', id: 'planned-switch-over/switch-over@2026-03-01T03:00:00.000Z' } } });
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(writes(c)).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface', 'RunCommand']);
  });

  it('reconcile binds an unbound group ENI to the first healthy member', async () => {
    // Prepare: the service ENI is Available (someone detached it); the clock stands just before 00:05.
    const clock = new ManualClock(Date.parse('2026-03-01T00:04:50Z'));
    const c = await start(
      twoNode((s) => Object.assign(s.enis[0], { status: 'Available', instanceId: undefined })),
      clock,
    );
    // Act
    await clock.advance(10_000);
    // Assess
    expect(fired.map((f) => f.trigger)).toEqual(['reconcile']);
    const [repair] = fired[0]!.body.enqueued;
    expect(repair).toMatchObject({ eniId: 'eni-service', instanceId: 'i-primary', note: expect.stringMatching(/^repair: eni-service is unbound/) });
    expect((await waitForOutcome(c, repair.operationId)).outcome).toBe('succeeded');
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-primary' });
    expect(writes(c)).toEqual(['AttachNetworkInterface', 'RunCommand']);
  });

  it('reconcile on a healthy setup reports what it found and changes nothing', async () => {
    // Prepare
    const clock = new ManualClock(Date.parse('2026-03-01T00:04:50Z'));
    const c = await start(scenarioFile('two-node-failover'), clock);
    // Act: two passes, 00:05 and 00:10.
    await clock.advance(5 * 60_000 + 10_000);
    // Assess
    expect(fired.map((f) => [f.trigger, f.time])).toEqual([
      ['reconcile', '2026-03-01T00:05:00.000Z'],
      ['reconcile', '2026-03-01T00:10:00.000Z'],
    ]);
    for (const f of fired) expect(f.body).toEqual({ mode: 'reconcile', enqueued: [], failed: [], skipped: [{ group: 'web', eniId: 'eni-service', reason: 'healthy: eni-service is on i-primary (Running)' }] });
    expect(writes(c)).toEqual([]);
    expect(c.ecs.control.calls().length).toBeGreaterThan(0); // it did look
    expect(c.mns.queues.counts(c.queues.validate)?.total).toBe(0);
    expect(c.mns.queues.counts(c.queues.events)?.total).toBe(0);
  });
});
