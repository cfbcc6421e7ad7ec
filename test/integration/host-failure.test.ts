import type { LocalCloud } from '../../local/cloud';
import type { OperationRecord } from '../../workflow/ledger';
import { hostFailureScenario, FailingHost } from '../helpers/host-failure';
import { entryCloud, ledgerOf } from './helpers';

/**
 * A physical host fails with five instances on it, each holding one service ENI; two standbys of
 * different types have five secondary slots between them (2 + 3). The local ECS stops the five at once
 * and publishes their StateChange and SystemFailure.Stop events: ten wake-ups of on-ecs-event, running
 * concurrently, each choosing standbys from the same group. Without a shared view of the slots, each
 * would see the first standby with room and plan onto it.
 */
describe('Host failure: five instances, two standbys', () => {
  let cloud: LocalCloud | undefined;
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });

  it('every ENI ends on a standby with a free slot, none over quota, one operation and one outcome per ENI', async () => {
    // Prepare: standby 0 takes 2 secondaries (EniQuantity 3), standby 1 takes 3 (EniQuantity 4).
    const layout = hostFailureScenario({ sources: 5, enisPerSource: 1, standbys: [{ count: 1, eniQuantity: 3 }, { count: 1, eniQuantity: 4 }] });
    cloud = await entryCloud(layout.scenario, { ecsEvents: true, failoverGroups: layout.groups });
    const ledger = ledgerOf(cloud);

    // Act: the host fails.
    const { stopped } = cloud.ecs.control.failHost({ hostId: FailingHost });
    const ended = await operationsEnded(ledger, layout.eniIds.length);

    // Assess: the five instances stopped at once, each with its system event.
    expect(stopped.sort()).toEqual([...layout.sourceIds].sort());
    const systemEvents = cloud.ecs.control.events().filter((e) => e.type === 'system');
    expect(systemEvents.map((e) => e.type === 'system' && e.eventType)).toEqual(Array(5).fill('SystemFailure.Stop'));
    // One operation per ENI (the StateChange and the SystemFailure event of one instance are one failover), each succeeded.
    expect(ended.map((r) => r.request.eniId).sort()).toEqual([...layout.eniIds].sort());
    expect(ended.map((r) => r.status)).toEqual(Array(5).fill('succeeded'));
    // Every ENI InUse on a standby, no standby past its free slots, and together they hold all five.
    const state = cloud.ecs.control.state();
    for (const eniId of layout.eniIds) {
      const eni = state.enis.find((e) => e.eniId === eniId)!;
      expect([eniId, eni.status, layout.standbyIds.includes(eni.instanceId ?? '')]).toEqual([eniId, 'InUse', true]);
    }
    for (const standby of layout.standbyIds) {
      const secondaries = state.enis.filter((e) => e.instanceId === standby && e.type === 'Secondary').length;
      expect([standby, secondaries]).toEqual([standby, layout.freeSlots.get(standby)]);
    }
    // No attach was refused for the quota: the entries never planned past it.
    expect(cloud.ecs.control.calls({ action: 'AttachNetworkInterface' }).filter((c) => c.code === 'EniPerInstanceLimitExceeded')).toEqual([]);
    // One outcome per operation on the events queue.
    const outcomes = await outcomesOf(cloud, ended.map((r) => r.operationId));
    expect([...outcomes.values()].map((list) => list.length)).toEqual(Array(5).fill(1));
  });
});

/** Waits (bounded) until `count` operations exist and none is running; answers them. */
async function operationsEnded(ledger: ReturnType<typeof ledgerOf>, count: number): Promise<OperationRecord[]> {
  const until = Date.now() + 30_000;
  for (;;) {
    const ops = await ledger.list({});
    const done = ops.length >= count && ops.every((o) => o.status !== 'running' && o.published);
    if (done || Date.now() > until) return ops;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The outcomes published on the events queue, by operation (read without consuming). */
async function outcomesOf(cloud: LocalCloud, operationIds: readonly string[]): Promise<Map<string, string[]>> {
  const bodies = cloud.mns.queues.peekBodies(cloud.queues.events).map((b) => JSON.parse(Buffer.from(b, 'base64').toString()) as { operationId?: string; outcome?: string });
  return new Map(operationIds.map((id) => [id, bodies.filter((b) => b.operationId === id).map((b) => b.outcome ?? '')]));
}
