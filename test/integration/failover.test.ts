import type { LocalCloud } from '../../local/cloud';
import { wakeBody } from '../../workflow/operation';
import { Realistic, cloudWith, deadLetters, eventually, eniState, instanceState, operationFor, queueBodies, runThroughQueues, scenarioFile, startThroughQueues, twoNode, waitForOutcome, writes } from './helpers';

/**
 * The whole workflow through the local cloud: the real SDKs, s.yaml's triggers and queues, the built
 * function bundles in the local Function Compute runtime, and the local ECS enforcing the seed's rules.
 */
describe('Workflow through the local cloud', () => {
  let cloud: LocalCloud | undefined;
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });

  it('fails over from a failed primary: ENI InUse on the standby, guest script run with its MAC and IPs', async () => {
    cloud = await cloudWith(scenarioFile('two-node-failover'));
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'succeeded', step: 'configure-guest-routes' });
    expect(eniState(cloud, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(writes(cloud)).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface', 'RunCommand']);
    const scripts = cloud.ecs.control.scripts();
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toMatchObject({ instanceId: 'i-standby' });
    expect(JSON.stringify(scripts[0])).toContain("ENI_MAC='00:16:3e:12:34:56'");
    expect(event.guest).toMatchObject({ ips: ['10.0.1.5', '10.0.1.6'] });
  });

  it('binds an Available ENI to a Running hot-plug type with one attach and no stop', async () => {
    cloud = await cloudWith(twoNode((s) => Object.assign(s.enis[0], { status: 'Available', instanceId: undefined })));
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby' }));
    expect(event.outcome).toBe('succeeded');
    expect(writes(cloud)).toEqual(['AttachNetworkInterface', 'RunCommand']);
  });

  it('an ENI already bound to the target moves nothing; the guest confirms it', async () => {
    cloud = await cloudWith(scenarioFile('two-node-failover'));
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-primary' }));
    expect(event.outcome).toBe('succeeded');
    expect(event.guest).toMatchObject({ device: 'eth1', mac: '00:16:3e:12:34:56' });
    expect(writes(cloud)).toEqual(['RunCommand']);
  });

  it('a Stopped-only type: refused without allowStop; with it stopped, bound, and Running again', async () => {
    cloud = await cloudWith(scenarioFile('rule-stopped-only-type'));
    const refused = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-spare', instanceId: 'i-burst' }));
    expect(refused).toMatchObject({ outcome: 'failed', reason: 'StopRequired', step: 'validate' });
    expect(writes(cloud)).toEqual([]);

    const allowed = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-spare', instanceId: 'i-burst', policy: { allowStop: true } }));
    expect(allowed.outcome).toBe('succeeded');
    expect(writes(cloud)).toEqual(['StopInstance', 'AttachNetworkInterface', 'StartInstance', 'RunCommand']);
    expect(instanceState(cloud, 'i-burst')?.status).toBe('Running');
    expect(eniState(cloud, 'eni-spare')).toMatchObject({ status: 'InUse', instanceId: 'i-burst' });
  });

  it('the 2018 rule: refused without allowStop; with it the instance is restarted before the bind', async () => {
    cloud = await cloudWith(scenarioFile('rule-pre-2018-instance'));
    const refused = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-spare', instanceId: 'i-veteran' }));
    expect(refused).toMatchObject({ outcome: 'failed', reason: 'RestartRequired' });
    const allowed = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-spare', instanceId: 'i-veteran', policy: { allowStop: true } }));
    expect(allowed.outcome).toBe('succeeded');
    expect(writes(cloud).slice(0, 2)).toEqual(['RebootInstance', 'AttachNetworkInterface']);
  });

  it.each([
    ['rule-other-zone', 'eni-zone-i', 'i-standby', 'ZoneMismatch'],
    ['rule-other-vpc', 'eni-other-vpc', 'i-standby', 'VpcMismatch'],
    ['rule-quota-full', 'eni-spare', 'i-full', 'EniQuotaExceeded'],
    ['rule-eni-bound-elsewhere', 'eni-service', 'i-standby', 'EniBoundElsewhere'],
    ['rule-not-io-optimized', 'eni-spare', 'i-legacy', 'InstanceNotIoOptimized'],
  ])('%s: fails %s... with %s and writes nothing', async (scenario, eniId, instanceId, reason) => {
    cloud = await cloudWith(scenarioFile(scenario));
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId, instanceId }));
    expect(event).toMatchObject({ outcome: 'failed', reason, step: 'validate' });
    expect(writes(cloud)).toEqual([]);
    // Failures are on the dead-letter queue too, for whoever is on call.
    const dead = await deadLetters(cloud, (d) => d.operationId === event.operationId);
    expect(dead).toMatchObject([{ outcome: 'failed', reason }]);
  });

  it('the same request started twice and its wake-up delivered twice at once: one operation, one move, one outcome', async () => {
    cloud = await cloudWith(scenarioFile('two-node-failover'));
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const request = operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' });
    const id = await startThroughQueues(cloud, request);
    expect(await startThroughQueues(cloud, request)).toBe(id);
    await cloud.mnsQueues().send(cloud.queues.validate, wakeBody(id, 'validate', 0));
    const event = await waitForOutcome(cloud, id);
    expect(event.outcome).toBe('succeeded');
    // Every queue drained: nothing is left to publish a second outcome.
    await eventually(() => (['validate', 'attach', 'verify-bound', 'configure-guest-routes'] as const).every((q) => cloud!.mns.queues.counts(cloud!.queues[q])?.total === 0));
    expect(queueBodies(cloud, cloud.queues.events).filter((e) => e.operationId === id)).toEqual([]);
    expect(writes(cloud).filter((w) => w === 'AttachNetworkInterface')).toHaveLength(1);
    expect(eniState(cloud, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });

  it('two live operations for one ENI serialize on its lease: the second waits, then finds it bound and only confirms the guest', async () => {
    cloud = await cloudWith(scenarioFile('two-node-failover'));
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const a = await startThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' }));
    const b = await startThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' }));
    const [first, second] = await Promise.all([waitForOutcome(cloud, a), waitForOutcome(cloud, b)]);
    expect([first.outcome, second.outcome]).toEqual(['succeeded', 'succeeded']);
    // One of them held the lease through the move; the other's validate could finish only after that
    // operation ended, and then found the ENI already on its target.
    const validated = (e: typeof first) => e.timeline.find((t) => t.step === 'validate')!;
    const [holder, waiter] = [first, second].sort((x, y) => validated(x).at + validated(x).ms - (validated(y).at + validated(y).ms));
    expect(validated(waiter!).at + validated(waiter!).ms).toBeGreaterThanOrEqual(holder!.finishedAt);
    // A read lagging the holder's attach (the realistic ECS) may still show the ENI on the primary: then
    // the waiter plans a detach, and its attach step finds the ENI on i-standby and sends nothing.
    expect(validated(waiter!).detail).toMatch(Realistic ? /already InUse on i-standby|detach from i-primary/ : /already InUse on i-standby/);
    expect(waiter!.message).toMatch(/guest configured/);
    expect(writes(cloud).filter((w) => w === 'DetachNetworkInterface' || w === 'AttachNetworkInterface')).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface']);
  });

  it('throttling and 5xx bursts from ECS are waited out', async () => {
    cloud = await cloudWith(scenarioFile('two-node-failover'));
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    cloud.ecs.control.injectFault({ action: 'AttachNetworkInterface', count: 3, code: 'ServiceUnavailable', status: 503 });
    // Deterministic throttling (the rate-limit windows themselves are tested in test/local-ecs).
    cloud.ecs.control.injectFault({ action: 'DescribeNetworkInterfaces', count: 4, code: 'Throttling.User', status: 400 });
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' }), 30_000);
    expect(event.outcome).toBe('succeeded');
    const calls = cloud.ecs.control.calls();
    // The injected ones (the realistic ECS, when on, adds its own throttling).
    expect(calls.filter((c) => c.code === 'ServiceUnavailable' && c.source === 'fault')).toHaveLength(3);
    expect(calls.filter((c) => c.code === 'Throttling.User' && c.source === 'fault')).toHaveLength(4);
    expect(writes(cloud).filter((w) => w === 'AttachNetworkInterface')).toHaveLength(1);
  });

  it('a detach that hangs on an unresponsive source completes after the source is fenced', async () => {
    cloud = await cloudWith(scenarioFile('two-node-failover'));
    cloud.ecs.control.setGuestResponsive({ instanceId: 'i-primary', responsive: false });
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', policy: { fenceSource: true } }));
    expect(event.outcome).toBe('succeeded');
    expect(writes(cloud)).toEqual(['DetachNetworkInterface', 'StopInstance', 'AttachNetworkInterface', 'RunCommand']);
    expect(instanceState(cloud, 'i-primary')?.status).toBe('Stopped');
  });

  it('malformed messages go to the dead-letter queue with the parse error and nothing moves', async () => {
    cloud = await cloudWith(scenarioFile('two-node-failover'));
    const mns = cloud.mnsQueues();
    await mns.send(cloud.queues.attach, '{"kind":"eni-failover.operation","version":1}');
    await mns.send(cloud.queues.validate, 'not json at all');
    await mns.send(cloud.queues.attach, wakeBody('op-0123456789abcdef', 'attach', 0));
    const dead = await deadLetters(cloud, (d) => d.kind === 'eni-failover.rejected', 3);
    expect(dead.map((d) => d.error)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^malformed wake-up: kind: Invalid literal value/),
        expect.stringMatching(/^malformed wake-up: not JSON/),
        expect.stringMatching(/^no operation op-0123456789abcdef in the ledger/),
      ]),
    );
    expect(writes(cloud)).toEqual([]);
    // The trigger deletes a message after the invocation that dead-lettered it returns.
    await eventually(() => cloud!.mns.queues.counts(cloud!.queues.validate)?.total === 0);
    expect(cloud.mns.queues.counts(cloud.queues.validate)?.total).toBe(0);
  });
});
