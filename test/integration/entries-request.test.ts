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
      error: 'refused: eni-spare is in no failover group; add it to a group, or send allowUnmanaged: true to bind it anyway',
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

  it('binds the same unmanaged ENI when the request says allowUnmanaged', async () => {
    // Prepare: the request names its origin, so its operationId is known in advance.
    const origin = { kind: 'request' as const, id: 'ticket-4711', time: new Date().toISOString() };
    // Act
    await send({ request: { eniId: 'eni-spare', instanceId: 'i-standby', origin }, allowUnmanaged: true });
    // Assess
    const event = await waitForOutcome(cloud, deriveOperationId({ origin, eniId: 'eni-spare', instanceId: 'i-standby' }));
    expect(event.outcome).toBe('succeeded');
    expect(eniState(cloud, 'eni-spare')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(writes(cloud)).toEqual(['AttachNetworkInterface', 'RunCommand']);
  });
});
