import type { LocalCloud } from '../../local/cloud';
import { wakeBody } from '../../workflow/operation';
import { alarmFields, deadLetters, entryCloud, eniState, eventually, instanceState, ledgerOf, operationFor, postAlarm, scenarioFile, startThroughQueues, twoNode, waitForOutcome } from './helpers';

/**
 * The deployed shape attacked as a sender with mns:SendMessage (and anyone who can reach on-alarm's URL)
 * would: forged and replayed step messages, requests that try to widen the group's policy, oversized and
 * misdated callbacks. Each must move nothing in ECS and leave a reason where an operator looks.
 */
const Writes = /^(Attach|Detach|Stop|Start|Reboot|Run)/;

describe('Attacks through the local cloud: nothing moves, a reason is left', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    // An outsider: an instance and an ENI in no failover group, the ENI bound to the outsider.
    cloud = await entryCloud(
      twoNode((s) => {
        s.instances.push({ ...s.instances[1], instanceId: 'i-outsider', instanceName: 'outsider', primaryEni: { eniId: 'eni-outsider0', macAddress: '00:16:3e:00:00:09', privateIp: '10.0.1.19' }, tags: {} });
        s.enis.push({ eniId: 'eni-outsider', vSwitchId: 'vsw-failover-h', securityGroupIds: ['sg-failover'], instanceId: 'i-outsider', status: 'InUse' });
      }),
    );
  });
  afterAll(() => cloud.close());
  const writes = () => cloud.ecs.control.calls().filter((c) => Writes.test(c.action));

  /** What the step queues carried before the ledger: a whole operation, trusted field by field. */
  const forgedOperation = (step: string, over: Record<string, unknown> = {}) => ({
    kind: 'eni-failover.operation',
    version: 1,
    operationId: 'op-00000000000000ff',
    request: { eniId: 'eni-outsider', instanceId: 'i-standby', sourceInstanceId: 'i-outsider', regionId: cloud.regionId, policy: { allowStop: true, fenceSource: true }, origin: { kind: 'alarm', id: 'x', time: new Date().toISOString() } },
    step,
    attempt: 0,
    startedAt: Date.now(),
    deadlineAt: Date.now() + 10 * 365 * 86_400_000,
    plan: { action: 'attach', detachFrom: 'i-outsider', instancePrep: 'stop', targetStatusAtValidate: 'Running', osType: 'linux', instanceType: 'ecs.g7.large', eni: { macAddress: '00:16:3e:00:00:99', privateIps: ['10.0.1.99'] } },
    state: { stoppedByUs: true },
    timeline: [],
    ...over,
  });

  it.each(['validate', 'stop-if-required', 'attach', 'configure-guest-routes'] as const)('a forged operation on the %s queue (outsider ENI, stoppedByUs, a deadline in ten years) is dead-lettered unread', async (step) => {
    const { messageId } = await cloud.mnsQueues().send(cloud.queues[step], JSON.stringify(forgedOperation(step)));
    const [dead] = await deadLetters(cloud, (d) => d.kind === 'eni-failover.rejected' && d.messageId === messageId);
    expect(dead).toMatchObject({ step, error: expect.stringMatching(/^malformed wake-up: /) });
    expect(writes()).toEqual([]);
  });

  it.each(['validate', 'attach', 'verify-bound'] as const)('a forged wake-up on the %s queue for an operation the ledger does not know is dead-lettered with the reason', async (step) => {
    const { messageId } = await cloud.mnsQueues().send(cloud.queues[step], wakeBody('op-0000000000000bad', step, 0));
    const [dead] = await deadLetters(cloud, (d) => d.kind === 'eni-failover.rejected' && d.messageId === messageId);
    expect(dead).toMatchObject({ step, error: expect.stringMatching(/^no operation op-0000000000000bad in the ledger/) });
    expect(writes()).toEqual([]);
  });

  it('a request for the outsider ENI or to the outsider instance, or with a deadline far away, is dead-lettered with its reason', async () => {
    const send = async (body: unknown) => (await cloud.mnsQueues().send('eni-failover-requests', JSON.stringify(body))).messageId;
    const ids = {
      outsiderEni: await send({ request: { eniId: 'eni-outsider', instanceId: 'i-standby', sourceInstanceId: 'i-outsider' }, allowUnmanaged: true }),
      outsiderTarget: await send({ request: { eniId: 'eni-service', instanceId: 'i-outsider', sourceInstanceId: 'i-primary' } }),
      farDeadline: await send({ request: { eniId: 'eni-service', instanceId: 'i-standby', policy: { deadlineSeconds: 10 * 365 * 86_400 } } }),
    };
    const dead = await deadLetters(cloud, (d) => d.kind === 'eni-failover.rejected' && Object.values(ids).includes(d.messageId), 3);
    const reason = (id: string) => dead.find((d) => d.messageId === id)?.error;
    expect(reason(ids.outsiderEni)).toMatch(/does not allow unmanaged binds/);
    expect(reason(ids.outsiderTarget)).toMatch(/i-outsider is not a member of group web/);
    expect(reason(ids.farDeadline)).toMatch(/policy\.deadlineSeconds/);
    expect(writes()).toEqual([]);
    expect(eniState(cloud, 'eni-outsider')).toMatchObject({ status: 'InUse', instanceId: 'i-outsider' });
    expect(instanceState(cloud, 'i-outsider')?.status).toBe('Running');
  });

  it('a 10 MB callback answers 413 and a year-10000 timestamp 400; neither reads or writes ECS', async () => {
    const before = cloud.ecs.control.calls().length;
    const huge = await fetch(cloud.info.alarmUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `alertName=x&padding=${'a'.repeat(10 * 1024 * 1024)}` });
    expect(huge.status).toBe(413);
    const future = await postAlarm(cloud, alarmFields({ timestamp: String(Date.parse('+010000-01-01T00:00:00Z')) }));
    expect(future).toMatchObject({ status: 400, body: { error: expect.stringMatching(/more than a day from now/) } });
    await eventually(() => cloud.mns.queues.counts(cloud.queues.validate)?.total === 0);
    expect(cloud.ecs.control.calls().length).toBe(before);
  });
});

describe('Attacks: a late copy of a real wake-up changes nothing', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await entryCloud(scenarioFile('two-node-failover'));
  });
  afterAll(() => cloud.close());

  it('every wake-up of a finished failover sent again makes no ECS write and publishes nothing', async () => {
    // Prepare: a failover through the alarm path, to its end.
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const res = await postAlarm(cloud, alarmFields());
    const operationId = res.body.operationIds[0] as string;
    await eventually(() => cloud.mns.queues.peekBodies(cloud.queues.events).some((b) => Buffer.from(b, 'base64').toString().includes(operationId)));
    const writesBefore = cloud.ecs.control.calls().filter((c) => Writes.test(c.action)).length;
    const eventsBefore = cloud.mns.queues.counts(cloud.queues.events)?.total;
    // Act: the late copies MNS may deliver after a lost DeleteMessage, and an attacker's replays.
    for (const step of ['validate', 'attach', 'verify-bound', 'configure-guest-routes'] as const) {
      for (const attempt of [0, 1]) await cloud.mnsQueues().send(cloud.queues[step], wakeBody(operationId, step, attempt));
    }
    await eventually(() => (['validate', 'attach', 'verify-bound', 'configure-guest-routes'] as const).every((q) => cloud.mns.queues.counts(cloud.queues[q])?.total === 0));
    // Assess
    expect(cloud.ecs.control.calls().filter((c) => Writes.test(c.action))).toHaveLength(writesBefore);
    expect(cloud.mns.queues.counts(cloud.queues.events)?.total).toBe(eventsBefore);
    expect(eniState(cloud, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });
});

describe('Attacks: a copy of every step\'s wake-up delivered at once changes nothing', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await entryCloud(scenarioFile('two-node-failover'));
  });
  afterAll(() => cloud.close());

  it('each (step, attempt) the ledger reaches gets a duplicate wake-up right away; the ECS writes are those of one failover', async () => {
    // Prepare
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const ledger = ledgerOf(cloud);
    const id = await startThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' }));
    // Act: watch the record; whenever it reaches a new (step, attempt), send a second wake-up for it.
    const seen = new Set<string>();
    let done = false;
    const outcome = waitForOutcome(cloud, id).finally(() => (done = true));
    while (!done) {
      const r = await ledger.get(id);
      const key = r ? `${r.step}#${r.attempt}` : '';
      if (r && r.status === 'running' && !seen.has(key)) {
        seen.add(key);
        await cloud.mnsQueues().send(cloud.queues[r.step], wakeBody(id, r.step, r.attempt));
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const event = await outcome;
    await eventually(() => (['validate', 'attach', 'verify-bound', 'configure-guest-routes'] as const).every((q) => cloud.mns.queues.counts(cloud.queues[q])?.total === 0));
    // Assess
    expect(event.outcome).toBe('succeeded');
    expect([...seen].map((k) => k.split('#')[0])).toEqual(expect.arrayContaining(['validate', 'attach', 'verify-bound', 'configure-guest-routes']));
    const writes = cloud.ecs.control.calls().filter((c) => Writes.test(c.action) && c.code === undefined).map((c) => c.action);
    expect(writes).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface', 'RunCommand']);
    expect(cloud.mns.queues.peekBodies(cloud.queues.events).map((b) => JSON.parse(Buffer.from(b, 'base64').toString())).filter((e) => e.operationId === id)).toEqual([]);
  });
});
