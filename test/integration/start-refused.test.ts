import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import type { LocalCloud } from '../../local/cloud';
import { cloudWith, instanceState, operationFor, runThroughQueues, scenarioFile, eniState } from './helpers';

/**
 * StartInstance refused for a while (issue 11: OperationDenied.NoStock, likely after StopCharging released
 * the instance's resources; InstanceNotReady): the realistic ECS's `startRefusals`, set to always refuse.
 */
function stoppedOnly(refusalSeconds: number): unknown {
  const s = parse(readFileSync(scenarioFile('rule-stopped-only-type'), 'utf8'));
  s.realism = { startRefusals: { probability: 1, forSeconds: { min: refusalSeconds, max: refusalSeconds }, codes: ['OperationDenied.NoStock'] } };
  return s;
}

describe('Workflow through the local cloud: StartInstance refused with OperationDenied.NoStock', () => {
  let cloud: LocalCloud | undefined;
  afterEach(() => cloud?.close());

  it('a refusal shorter than the start grace is retried, and the bind succeeds with the target Running', async () => {
    // Prepare: every start is refused for 20 s (0.2 s at this time scale), then stock is back.
    cloud = await cloudWith(stoppedOnly(20));
    // Act
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-spare', instanceId: 'i-burst', policy: { allowStop: true } }));
    // Assess
    expect(event.outcome).toBe('succeeded');
    const starts = cloud.ecs.control.calls({ action: 'StartInstance' });
    expect(starts.filter((c) => c.code === 'OperationDenied.NoStock').length).toBeGreaterThanOrEqual(1);
    expect(starts[starts.length - 1]!.code).toBeUndefined();
    expect(instanceState(cloud, 'i-burst')?.status).toBe('Running');
  });

  it('past the grace: failed StartFailed, saying ECS answered NoStock and the instance is still Stopped, and what to do', async () => {
    // Prepare: no stock for far longer than the start grace (120 s, 1.2 s here).
    cloud = await cloudWith(stoppedOnly(100_000));
    // Act
    const event = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-spare', instanceId: 'i-burst', policy: { allowStop: true } }), 60_000);
    // Assess: the outcome tells the operator the state and the next move; the ENI stays bound.
    expect(event).toMatchObject({ outcome: 'failed', reason: 'StartFailed', step: 'verify-bound' });
    expect(event.message).toMatch(/OperationDenied\.NoStock/);
    expect(event.message).toMatch(/still Stopped/);
    expect(event.message).toMatch(/ECS kept answering OperationDenied\.NoStock.*start it by hand .* later, or bind the ENI to another member/);
    // The end tried the start once more and recorded the refusal instead of waiting out its budget.
    expect(event.restored).toMatch(/ECS refused to start i-burst again \(OperationDenied\.NoStock\)/);
    expect(instanceState(cloud, 'i-burst')?.status).toBe('Stopped');
    expect(eniState(cloud, 'eni-spare')).toMatchObject({ status: 'InUse', instanceId: 'i-burst' });
  }, 90_000);
});
