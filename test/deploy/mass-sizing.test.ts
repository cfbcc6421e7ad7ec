import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSYaml } from '../../local/fc/syaml';

const repo = join(__dirname, '../..');

/** The ECS APIs a function's RAM policy allows (deploy/ram/<function>.json, derived from its code). */
function ecsApisOf(functionName: string): string[] {
  const file = join(repo, 'deploy/ram', `${functionName.replace(/^eni-failover-/, '')}.json`);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { Statement: { Action: string | string[] }[] };
  return doc.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).filter((a) => a.startsWith('ecs:')).map((a) => a.slice(4));
}

describe('Mass failover sizing in s.yaml', () => {
  it('gives every ECS API the share of callers the reserved concurrency and the RAM policies allow', async () => {
    // Prepare: the deployment as the local FC reads it.
    const model = await loadSYaml(join(repo, 's.yaml'));
    const share = JSON.parse(String(model.vars['ecsRateShare'])) as Record<string, number>;
    // Act: per API, the instances that may call it at once (a function without a cap counted once).
    const callers: Record<string, number> = {};
    for (const fn of model.functions) {
      const instances = fn.reservedConcurrency === undefined ? 1 : Math.ceil(fn.reservedConcurrency / fn.instanceConcurrency);
      for (const api of new Set(ecsApisOf(fn.functionName))) callers[api] = (callers[api] ?? 0) + instances;
    }
    // Assess: the share each instance divides its budget by is exactly that number.
    const declared = Object.fromEntries(Object.keys(callers).map((api) => [api, share[api] ?? share['default']]));
    expect(declared).toEqual(callers);
    expect(callers['AttachNetworkInterface']).toBe(Number(model.vars['stepMaxInstances']));
  });

  it('caps every step function (the ones a mass failover scales out) and passes the share to every ECS caller', async () => {
    const model = await loadSYaml(join(repo, 's.yaml'));
    const steps = model.functions.filter((f) => f.environmentVariables['STEP_BUDGET_MS'] !== undefined);
    expect(steps).toHaveLength(5);
    for (const fn of steps) expect(fn.reservedConcurrency).toBe(Number(model.vars['stepMaxInstances']));
    for (const fn of model.functions.filter((f) => ecsApisOf(f.functionName).length > 0)) {
      expect([fn.functionName, fn.environmentVariables['ECS_RATE_SHARE']]).toEqual([fn.functionName, model.vars['ecsRateShare']]);
    }
  });
});
