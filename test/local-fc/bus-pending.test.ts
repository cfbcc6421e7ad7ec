import { join } from 'node:path';
import { startLocalCloud } from '../../local/cloud';
import { ManualClock } from '../../local/fc';

describe('Local FC: events still to be delivered on the default bus', () => {
  it('counts an ECS event while on-ecs-event handles it, and none once it was delivered', async () => {
    // Prepare: the ECS state changes go to the default bus, on-ecs-event's rule picks them up.
    const cloud = await startLocalCloud({ scenario: join(__dirname, '../../local/scenarios/two-node-failover.yaml'), timeScale: 0.01, timerClock: new ManualClock(), ecsEvents: true });
    try {
      const hold = cloud.fc!.control.hold({ functionName: 'eni-failover-on-ecs-event' });
      // Act: the standby stops (nothing to fail over), and its event is held in on-ecs-event.
      cloud.ecs.control.setInstanceStatus({ instanceId: 'i-standby', status: 'Stopped' });
      await hold.whenWaiting(1, 10_000);
      // Assess
      expect(cloud.fc!.pendingBusEvents()).toBeGreaterThanOrEqual(1);
      // An invocation held (or in a long backoff) is still running: what the chaos settle waits on.
      expect(cloud.fc!.invocationsInProgress()).toBeGreaterThanOrEqual(1);
      hold.release();
      const until = Date.now() + 10_000;
      while (cloud.fc!.pendingBusEvents() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(cloud.fc!.pendingBusEvents()).toBe(0);
      expect(cloud.fc!.invocationsInProgress()).toBe(0);
    } finally {
      await cloud.close();
    }
  });
});
