import type { LocalCloud } from '../../local/cloud';
import { cloudWith, instanceState, operationFor, runThroughQueues, twoNode, writes } from './helpers';

describe('Workflow through the local cloud: the deadline', () => {
  let cloud: LocalCloud | undefined;
  afterAll(() => cloud?.close());

  it('an operation that stopped its target and then passes its deadline starts the target again', async () => {
    // The standby is a Stopped-only type (the operation stops it) and the source never releases the ENI.
    cloud = await cloudWith(
      twoNode((s) => {
        s.instanceTypes.push({ instanceTypeId: 'ecs.t6-c1m1.large', eniQuantity: 2 });
        s.instances[1].instanceType = 'ecs.t6-c1m1.large';
      }),
    );
    cloud.ecs.control.setGuestResponsive({ instanceId: 'i-primary', responsive: false });
    const op = operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', policy: { allowStop: true, deadlineSeconds: 30 } });
    const event = await runThroughQueues(cloud, op, 60_000);
    expect(event).toMatchObject({ outcome: 'failed', reason: 'DeadlineExceeded', step: 'attach' });
    expect(event.restored).toMatch(/start i-standby again/);
    expect(writes(cloud)).toEqual(['StopInstance', 'DetachNetworkInterface', 'StartInstance']);
    await new Promise((r) => setTimeout(r, 300));
    expect(instanceState(cloud, 'i-standby')?.status).toBe('Running');
  }, 90_000);
});
