import type { LocalCloud } from '../../local/cloud';
import { deriveOperationId } from '../../workflow/messages';
import { deadLetters, entryCloud, eniState, eventually, twoNode, waitForOutcome, writes } from './helpers';

/**
 * Request messages through the local cloud: a message on the requests queue (sent with the real MNS SDK)
 * reaches on-request through s.yaml's EventBridge trigger. An ENI outside every failover group is refused
 * unless the request says allowUnmanaged, so a forged or mistaken message cannot move arbitrary ENIs.
 */
describe('Entry: requests queue -> on-request', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    // A spare ENI that exists in ECS but belongs to no failover group.
    cloud = await entryCloud(twoNode((s) => s.enis.push({ eniId: 'eni-spare', vSwitchId: 'vsw-failover-h', securityGroupIds: ['sg-failover'] })));
  });
  afterAll(() => cloud.close());
  const requestsQueue = 'eni-failover-requests';
  const send = (body: unknown) => cloud.mnsQueues().send(requestsQueue, typeof body === 'string' ? body : JSON.stringify(body));

  it('refuses a request for an unmanaged ENI: dead-lettered with the reason, acknowledged, nothing written', async () => {
    // Act
    const { messageId } = await send({ kind: 'eni-failover.request', request: { eniId: 'eni-spare', instanceId: 'i-standby' } });
    // Assess
    const [rejected] = await deadLetters(cloud, (d) => d.kind === 'eni-failover.rejected' && d.messageId === messageId);
    expect(rejected).toMatchObject({
      step: 'on-request',
      error: 'refused: eni-spare is in no failover group; add it to a group (config/groups.yaml or FAILOVER_GROUPS)',
      body: expect.stringContaining('"eni-spare"'),
    });
    await eventually(() => cloud.mns.queues.counts(requestsQueue)?.total === 0);
    expect(cloud.mns.queues.counts(requestsQueue)?.total).toBe(0);
    expect(cloud.mns.queues.counts(cloud.queues.validate)?.total).toBe(0);
    expect(writes(cloud)).toEqual([]);
    expect(eniState(cloud, 'eni-spare')).toMatchObject({ status: 'Available' });
  });

  it('refuses a target outside the ENI group, and dead-letters an invalid message with the validation error', async () => {
    const outside = await send({ request: { eniId: 'eni-service', instanceId: 'i-stranger' } });
    const invalid = await send('{"request":{"eniId":"eni-service"}}');
    const dead = await deadLetters(cloud, (d) => d.kind === 'eni-failover.rejected' && [outside.messageId, invalid.messageId].includes(d.messageId), 2);
    expect(Object.fromEntries(dead.map((d) => [d.messageId, d.error]))).toEqual({
      [outside.messageId]: expect.stringMatching(/^refused: i-stranger is not a member of group web/),
      [invalid.messageId]: expect.stringMatching(/^invalid request: request\.instanceId: Required/),
    });
    expect(writes(cloud)).toEqual([]);
  });

  it.each([
    ['allowUnmanaged, which this deployment does not allow', { request: { eniId: 'eni-spare', instanceId: 'i-standby' }, allowUnmanaged: true }, /this deployment does not allow unmanaged binds/],
    ['allowStop, which the group forbids', { request: { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', policy: { allowStop: true } } }, /allowStop is off for group web; a request may only tighten/],
  ])('dead-letters a request that asks for %s, and moves nothing', async (_n, body, error) => {
    const before = cloud.ecs.control.calls().length;
    const messageId = (await send(body)).messageId;
    const [rejected] = await deadLetters(cloud, (d) => d.kind === 'eni-failover.rejected' && d.messageId === messageId);
    expect(rejected).toMatchObject({ step: 'on-request', error: expect.stringMatching(error) });
    const after = cloud.ecs.control.calls().slice(before);
    expect(after.filter((c) => !/^Describe/.test(c.action))).toEqual([]);
  });

  it('a request that claims an alarm origin runs as a request: another operationId than the alarm, origin kind request', async () => {
    const claimed = { kind: 'alarm' as const, id: 'service-down/i-primary/2026-12-01T00:00:00.000Z', time: new Date().toISOString() };
    await send({ request: { eniId: 'eni-service', instanceId: 'i-primary', origin: claimed } });
    const asRequest = deriveOperationId({ origin: { kind: 'request', id: `req/alarm/${claimed.id}`, time: claimed.time }, eniId: 'eni-service', instanceId: 'i-primary' });
    const event = await waitForOutcome(cloud, asRequest);
    expect(event.request.origin).toMatchObject({ kind: 'request', id: `req/alarm/${claimed.id}` });
    expect(asRequest).not.toBe(deriveOperationId({ origin: claimed, eniId: 'eni-service', instanceId: 'i-primary' }));
  });
});

describe('Entry: requests queue, in a deployment that allows unmanaged binds', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await entryCloud(twoNode((s) => s.enis.push({ eniId: 'eni-spare', vSwitchId: 'vsw-failover-h', securityGroupIds: ['sg-failover'] })), { vars: { allowUnmanaged: 'true' } });
  });
  afterAll(() => cloud.close());

  it('binds an unmanaged ENI when the request says allowUnmanaged and the deployment allows it', async () => {
    // Prepare: the request names its origin, so its operationId is known in advance.
    const origin = { kind: 'request' as const, id: 'ticket-4711', time: new Date().toISOString() };
    // Act
    await cloud.mnsQueues().send('eni-failover-requests', JSON.stringify({ request: { eniId: 'eni-spare', instanceId: 'i-standby', origin }, allowUnmanaged: true }));
    // Assess
    const event = await waitForOutcome(cloud, deriveOperationId({ origin: { ...origin, id: 'req/request/ticket-4711' }, eniId: 'eni-spare', instanceId: 'i-standby' }));
    expect(event.outcome).toBe('succeeded');
    expect(eniState(cloud, 'eni-spare')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(writes(cloud)).toEqual(['AttachNetworkInterface', 'RunCommand']);
  });
});
