import type { LocalCloud } from '../../local/cloud';
import { Steps } from '../../workflow/messages';
import { alarmFields, deadLetters, entryCloud, eniState, eventually, postAlarm, scenarioFile, twoNode, waitForOutcome, writes } from './helpers';

/**
 * Alarm-triggered failover through the local cloud: a CloudMonitor callback, posted over HTTP as
 * CloudMonitor posts it (form-urlencoded), reaches on-alarm through s.yaml's HTTP trigger, which checks
 * the token, picks the standby and enqueues the failover; the five step functions then move the ENI.
 */

/** Until every step queue is empty: every copy of every operation finished. */
async function settled(cloud: LocalCloud): Promise<void> {
  const steps = Steps.map((step) => cloud.queues[step]);
  await eventually(() => steps.every((q) => cloud.mns.queues.counts(q)?.total === 0));
}

describe('Entry: CloudMonitor alarm -> on-alarm (HTTP) -> failover', () => {
  let cloud: LocalCloud | undefined;
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });

  it('a callback with dimensions as {userId=..., instanceId=i-...} fails the service ENI over to the standby', async () => {
    // Prepare: the primary's host went down.
    cloud = await entryCloud(scenarioFile('two-node-failover'));
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    // Act
    const res = await postAlarm(cloud, alarmFields());
    // Assess
    expect(res).toMatchObject({ status: 202, body: { operationIds: [expect.stringMatching(/^op-/)], enqueued: [{ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', group: 'web' }] } });
    const event = await waitForOutcome(cloud, res.body.operationIds[0]);
    expect(event).toMatchObject({ outcome: 'succeeded', step: 'configure-guest-routes', request: { origin: { kind: 'alarm' }, sourceInstanceId: 'i-primary' } });
    expect(eniState(cloud, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(writes(cloud)).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface', 'RunCommand']);
  });

  it('a callback with dimensions as JSON fails over from a hung primary, fencing it', async () => {
    // Prepare: the OS hangs; ECS still says Running (the group's policy fences the source).
    cloud = await entryCloud(scenarioFile('two-node-failover'));
    cloud.ecs.control.setGuestResponsive({ instanceId: 'i-primary', responsive: false });
    // Act
    const res = await postAlarm(cloud, alarmFields({ dimensions: JSON.stringify({ userId: '1000000000000001', instanceId: 'i-primary' }) }));
    // Assess
    expect(res.status).toBe(202);
    const event = await waitForOutcome(cloud, res.body.operationIds[0]);
    expect(event.outcome).toBe('succeeded');
    expect(eniState(cloud, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(writes(cloud)).toEqual(['DetachNetworkInterface', 'StopInstance', 'AttachNetworkInterface', 'RunCommand']);
  });

  it('flapping: callbacks in a row while the failover runs, and one after it ended, move the ENI once', async () => {
    // Prepare: CloudMonitor keeps alarming on the same instance inside one flapping window.
    cloud = await entryCloud(scenarioFile('two-node-failover'));
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const windowStart = Math.floor(Date.now() / 600_000) * 600_000;
    const at = (s: number) => alarmFields({ timestamp: String(windowStart + s * 1000) });
    // The failover is held before it moves the ENI until every repeat is answered: the repeats' on-alarm
    // instances may start cold while the warm steps could otherwise finish the whole failover first.
    const attachHeld = cloud.fc!.control.hold({ functionName: 'eni-failover-attach' });
    // Act
    const first = await postAlarm(cloud, at(1));
    const repeats = await Promise.all([postAlarm(cloud, at(61)), postAlarm(cloud, at(121)), postAlarm(cloud, at(181))]);
    attachHeld.release();
    const opId = first.body.operationIds[0];
    const event = await waitForOutcome(cloud, opId);
    await settled(cloud);
    const writesBefore = writes(cloud).length;
    const after = await postAlarm(cloud, alarmFields());
    // Assess: every repeat collapsed into the running operation (same id); the late one found nothing to move.
    expect(repeats.map((r) => [r.status, r.body.operationIds])).toEqual([
      [202, [opId]],
      [202, [opId]],
      [202, [opId]],
    ]);
    expect(event.outcome).toBe('succeeded');
    expect(after).toMatchObject({ status: 200, body: { ignored: 'nothing to move', skipped: [{ reason: expect.stringMatching(/i-primary holds no ENI of group web/) }] } });
    expect(writes(cloud).filter((w) => w === 'AttachNetworkInterface')).toHaveLength(1);
    expect(writes(cloud).filter((w) => w === 'DetachNetworkInterface')).toHaveLength(1);
    expect(writes(cloud)).toHaveLength(writesBefore);
    expect(eniState(cloud, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });

  it('no healthy standby: a failed outcome that says why for every member, and nothing moves', async () => {
    // Prepare: four members; the standby Stopped (no allowStop), the third without Cloud Assistant, the fourth gone.
    cloud = await entryCloud(
      twoNode((s) => s.instances.push({ ...s.instances[1], instanceId: 'i-third', instanceName: 'third', primaryEni: undefined, cloudAssistant: { online: false }, tags: {} })),
      { failoverGroups: JSON.stringify({ groups: [{ name: 'web', enis: ['eni-service'], members: ['i-primary', 'i-standby', 'i-third', 'i-gone'] }] }) },
    );
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-standby', status: 'Stopped' });
    // Act
    const res = await postAlarm(cloud, alarmFields());
    // Assess
    expect(res).toMatchObject({ status: 200, body: { ignored: 'no healthy standby', enqueued: [] } });
    const opId = res.body.failed[0].operationId;
    const event = await waitForOutcome(cloud, opId);
    expect(event).toMatchObject({ outcome: 'failed', reason: 'NoHealthyStandby', step: 'select-standby', eniId: 'eni-service' });
    expect((event as unknown as { passedOver: unknown[] }).passedOver).toEqual([
      { instanceId: 'i-primary', code: 'IsSource', detail: expect.any(String) },
      { instanceId: 'i-standby', code: 'StoppedNotAllowed', detail: expect.stringMatching(/Stopped/) },
      { instanceId: 'i-third', code: 'GuestAgentOffline', detail: expect.stringMatching(/Cloud Assistant/) },
      { instanceId: 'i-gone', code: 'NotFound', detail: expect.stringMatching(/does not exist/) },
    ]);
    expect(await deadLetters(cloud, (d) => d.operationId === opId)).toMatchObject([{ reason: 'NoHealthyStandby' }]);
    expect(writes(cloud)).toEqual([]);
    expect(eniState(cloud, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-primary' });
  });
});

describe('Entry: on-alarm refuses what is not an alarm to act on', () => {
  let cloud: LocalCloud;
  const logLines: string[] = [];
  beforeAll(async () => {
    cloud = await entryCloud(scenarioFile('two-node-failover'), { alarmToken: 'a-given/token+with=specials-long-enough-to-pass', logSink: (l) => logLines.push(l), functionLogSink: (l) => logLines.push(l) });
  });
  afterAll(() => cloud.close());
  beforeEach(() => cloud.ecs.control.reset());
  const nothingEnqueued = () => {
    expect(cloud.mns.queues.counts(cloud.queues.validate)?.total).toBe(0);
    expect(cloud.mns.queues.counts(cloud.queues.events)?.total).toBe(0);
  };

  it.each([
    ['a wrong token', (url: string) => url.replace(/token=[^&]+/, 'token=guessed')],
    ['no token', (url: string) => url.replace(/\?token=[^&]+/, '')],
  ])('answers 401 to %s, reads no ECS and enqueues nothing', async (_name, mangle) => {
    // Prepare
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    // Act
    const res = await postAlarm(cloud, alarmFields(), mangle(cloud.info.alarmUrl));
    // Assess
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain(cloud.alarmToken);
    expect(cloud.ecs.control.calls()).toEqual([]);
    nothingEnqueued();
  });

  it.each(['OK', 'INSUFFICIENT_DATA'])('ignores the %s state: 200, no ECS write, nothing enqueued', async (alertState) => {
    const res = await postAlarm(cloud, alarmFields({ alertState }));
    expect(res).toEqual({ status: 200, body: { ignored: `${alertState} state` } });
    expect(writes(cloud)).toEqual([]);
    nothingEnqueued();
  });

  it('answers 400, naming the field, to a body that is not a callback', async () => {
    const res = await postAlarm(cloud, alarmFields({ dimensions: '{userId=1000000000000001}' }));
    expect(res).toMatchObject({ status: 400, body: { error: expect.stringMatching(/dimensions: no instanceId/) } });
    nothingEnqueued();
  });

  it('the alarm URL is on-alarm\'s HTTP trigger with the given token, URL-encoded, which on-alarm accepts', async () => {
    expect(cloud.info.alarmUrl).toBe(`${cloud.info.httpTriggers['eni-failover-on-alarm']}?token=a-given%2Ftoken%2Bwith%3Dspecials-long-enough-to-pass`);
    expect((await postAlarm(cloud, alarmFields({ alertState: 'OK' }))).status).toBe(200);
  });

  it('never writes the token to a log line, whatever the callback', async () => {
    await postAlarm(cloud, alarmFields({ alertState: 'OK' }));
    await postAlarm(cloud, alarmFields(), cloud.info.alarmUrl.replace(/token=[^&]+/, 'token=x'));
    expect(logLines.filter((l) => l.includes('eni-failover-on-alarm')).length).toBeGreaterThan(0);
    expect(logLines.filter((l) => l.includes(cloud.alarmToken))).toEqual([]);
  });
});
