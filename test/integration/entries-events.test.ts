import type { LocalCloud } from '../../local/cloud';
import type { InvocationRecord, InvocationResult } from '../../local/fc';
import { entryCloud, eniState, eventually, scenarioFile, waitForOutcome, writes } from './helpers';

/**
 * ECS events through the local cloud: an instance state change in the local ECS is published on
 * EventBridge's default bus as ECS publishes it (`ecs:Instance:StateChange`, CloudMonitor's body as
 * `data`), s.yaml's rule on on-ecs-event matches it, and the failover it enqueues runs through the steps.
 */
describe('Entry: ECS StateChange event -> default bus -> on-ecs-event -> failover', () => {
  let cloud: LocalCloud | undefined;
  let delivered: { record: InvocationRecord; body: unknown }[];
  const start = async () => {
    cloud = await entryCloud(scenarioFile('two-node-failover'), { ecsEvents: true });
    delivered = [];
    cloud.fc!.events.on('invocation', (record: InvocationRecord, result: InvocationResult) => {
      if (record.trigger === 'ecs-instance-events') delivered.push({ record, body: JSON.parse(result.body.toString() || 'null') });
    });
    return cloud;
  };
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });

  it('the primary stopping fails the service ENI over to the standby', async () => {
    // Prepare
    const c = await start();
    // Act: the host goes down; ECS reports Stopped, and publishes the state change.
    c.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    await eventually(() => delivered.length > 0);
    // Assess: on-ecs-event ran from its EventBridge rule and enqueued one failover with the event as origin.
    expect(delivered[0]!.record).toMatchObject({ function: 'eni-failover-on-ecs-event', triggerType: 'eventbridge', outcome: 'succeeded', attempt: 1 });
    const [summary] = delivered[0]!.body as { enqueued: { operationId: string; eniId: string; instanceId: string; sourceInstanceId: string }[] }[];
    expect(summary!.enqueued).toEqual([expect.objectContaining({ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' })]);
    const event = await waitForOutcome(c, summary!.enqueued[0]!.operationId);
    expect(event).toMatchObject({ outcome: 'succeeded', request: { origin: { kind: 'event', id: expect.stringMatching(/^Instance:StateChange\/i-primary\//) } } });
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(writes(c)).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface', 'RunCommand']);
  });

  it('a soft stop publishes Stopping then Stopped: both collapse into one operation and the ENI moves once', async () => {
    // Prepare: a stop through the ECS API takes stopSeconds (scaled), passing through Stopping.
    const c = await start();
    // Act
    await c.ecsPort().stopInstance({ instanceId: 'i-primary', forceStop: false, stoppedMode: 'KeepCharging' });
    await eventually(() => delivered.length >= 2);
    // Assess
    const ids = delivered.flatMap((d) => (d.body as { enqueued?: { operationId: string }[] }[]).flatMap((s) => s.enqueued ?? []).map((e) => e.operationId));
    expect(new Set(ids).size).toBe(1);
    const event = await waitForOutcome(c, ids[0]!);
    expect(event.outcome).toBe('succeeded');
    await eventually(() => c.mns.queues.counts(c.queues.validate)?.total === 0 && c.mns.queues.counts(c.queues['configure-guest-routes'])?.total === 0);
    expect(writes(c).filter((w) => w === 'AttachNetworkInterface')).toHaveLength(1);
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });

  it('the standby stopping moves nothing: it holds no ENI of the group', async () => {
    // Prepare
    const c = await start();
    // Act
    c.ecs.control.setInstanceStatus({ instanceId: 'i-standby', status: 'Stopped' });
    await eventually(() => delivered.length > 0);
    // Assess
    expect(delivered[0]!.body).toEqual([{ enqueued: [], failed: [], skipped: [{ group: 'web', reason: expect.stringMatching(/i-standby holds no ENI of group web/) }] }]);
    expect(c.mns.queues.counts(c.queues.validate)?.total).toBe(0);
    expect(writes(c)).toEqual([]);
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-primary' });
  });
});
