import type { LocalCloud } from '../../local/cloud';
import type { InvocationRecord } from '../../local/fc';
import { startOperation } from '../../workflow/operation';
import { FourTargets, randomSecrets, receiverEnv, startNotifyReceiver, type NotifyReceiver } from '../helpers/notify-receiver';
import { cloudWith, eventually, ledgerOf, operationFor, queueBodies, scenarioFile, waitForOutcome } from './helpers';

/**
 * Notifications through the local cloud: the steps publish the outcome on the outcomes topic (s.yaml
 * vars.topics), the local MNS delivers it to the events queue and pushes it, signed, to the local FC's
 * mns_topic trigger, which runs the built notifier bundle, which sends to a receiver of every service.
 */
describe('Notifications through the local cloud (topic -> notifier -> robots)', () => {
  let cloud: LocalCloud | undefined;
  let receiver: NotifyReceiver | undefined;
  afterEach(async () => {
    await cloud?.close();
    await receiver?.close();
    cloud = receiver = undefined;
  });

  it('a failover sends one message per target; the same outcome published again sends nothing more, and the events queue got it as before', async () => {
    // Prepare
    const secrets = randomSecrets();
    receiver = await startNotifyReceiver(secrets);
    const groups = JSON.stringify({ groups: [{ name: 'web', enis: ['eni-service'], members: ['i-primary', 'i-standby'], policy: { fenceSource: true }, notify: FourTargets }] });
    cloud = await cloudWith(scenarioFile('two-node-failover'), { failoverGroups: groups, functionEnv: receiverEnv(receiver, secrets) });
    const notifierRuns: InvocationRecord[] = [];
    cloud.fc!.events.on('invocation', (r: InvocationRecord) => r.function === 'eni-failover-notifier' && notifierRuns.push(r));
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const request = operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' });
    // Act
    const { operationId } = await startOperation(request, { ledger: ledgerOf(cloud), queue: cloud.mnsQueues(), queues: cloud.queues, now: Date.now(), group: 'web' });
    const event = await waitForOutcome(cloud, operationId);
    await eventually(() => receiver!.accepted.length >= 4 && notifierRuns.length >= 1);
    // Assess: one verified message per service, about this move
    expect(event).toMatchObject({ outcome: 'succeeded', group: 'web' });
    expect(receiver.accepted.map((n) => n.service).sort()).toEqual(['dingtalk', 'lark', 'webhook', 'wecom']);
    for (const n of receiver.accepted) expect(JSON.stringify(n.body)).toContain('eni-service moved from i-primary to i-standby in');
    expect(notifierRuns).toEqual([expect.objectContaining({ triggerType: 'mns_topic', outcome: 'succeeded' })]);

    // Act: a duplicate delivery of the outcome (a republish after a lost ledger write)
    await cloud.mnsQueues().publish(cloud.queues.outcomes, JSON.stringify(event), { tag: event.outcome });
    await eventually(() => notifierRuns.length >= 2);
    // Assess: the notifier ran again and sent nothing
    expect(notifierRuns[1]).toMatchObject({ outcome: 'succeeded' });
    expect(receiver.accepted).toHaveLength(4);
    expect(receiver.requests).toHaveLength(4);
    // The events queue (SIMPLIFIED subscription) got each publish as published: waitForOutcome took the
    // first (as the CLI does), the republished copy is there, readable as before.
    expect(queueBodies(cloud, cloud.queues.events).filter((e) => e.operationId === operationId)).toEqual([expect.objectContaining({ operationId, outcome: 'succeeded' })]);
    expect(cloud.mns.topics.notifications().filter((n) => n.subscription === 'events-queue' && n.result === 'delivered').length).toBeGreaterThanOrEqual(2);
  });

  it('a robot that fails every attempt is dead-lettered with the reason, and the failover still succeeds', async () => {
    // Prepare: only a webhook target, answering 500 to everything
    const secrets = randomSecrets();
    receiver = await startNotifyReceiver(secrets);
    receiver.failNext(...Array.from({ length: 20 }, () => 500));
    const groups = JSON.stringify({ groups: [{ name: 'web', enis: ['eni-service'], members: ['i-primary', 'i-standby'], notify: [FourTargets[3]] }] });
    cloud = await cloudWith(scenarioFile('two-node-failover'), { failoverGroups: groups, functionEnv: { ...receiverEnv(receiver, secrets) } });
    const request = operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' });
    // Act
    const { operationId } = await startOperation(request, { ledger: ledgerOf(cloud), queue: cloud.mnsQueues(), queues: cloud.queues, now: Date.now(), group: 'web' });
    const event = await waitForOutcome(cloud, operationId);
    await eventually(() => queueBodies(cloud!, cloud!.queues.deadLetter).some((d) => d.kind === 'eni-failover.notify-failed'));
    // Assess
    expect(event.outcome).toBe('succeeded');
    const letter = queueBodies(cloud, cloud.queues.deadLetter).find((d) => d.kind === 'eni-failover.notify-failed');
    expect(letter).toMatchObject({ operationId, target: { type: 'webhook', url: `${receiver.base}/…` }, reason: expect.stringMatching(/^gave up after \d+ attempts: HTTP 500$/) });
    expect(receiver.accepted).toEqual([]);
    expect(JSON.stringify(letter)).not.toContain(secrets.webhook.secret);
  });
});
