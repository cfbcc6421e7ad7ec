/**
 * Minimum instances (s.yaml scalingConfig.minInstances, provisionConfig.defaultTarget): the local FC starts
 * them at deploy time, initializer included, so no event pays their start; an on-demand instance's first
 * invocation carries what its cold start cost.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '../../local/credentials';
import { startLocalMns, type LocalMns } from '../../local/mns';
import { loadSYaml, startLocalFc, SYamlError, type InvocationRecord, type LocalFc } from '../../local/fc';
import { accountId, fixtureDir, regionId } from './helpers';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** An s.yaml with two functions on the fixture's `web` code (its initializer counts its runs): `warm` with `scaling`, `cold` without. */
function sYaml(scaling: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-fc-warm-'));
  dirs.push(dir);
  const fn = (name: string, extra: string) => `  ${name}:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: ${name}
      runtime: nodejs20
      code: ${join(fixtureDir, 'web')}
      handler: index.handler
      instanceLifecycleConfig:
        initializer:
          handler: index.initialize
          timeout: 3
${extra}`;
  writeFileSync(join(dir, 's.yaml'), `edition: 3.0.0\nname: t\nresources:\n${fn('warm', scaling)}\n${fn('cold', '')}\n`);
  return join(dir, 's.yaml');
}

async function start(file: string): Promise<{ fc: LocalFc; mns: LocalMns; logs: string[]; records: InvocationRecord[] }> {
  const { keyring, root } = Keyring.generate();
  const mns = await startLocalMns({ keyring, accountId, regionId });
  const logs: string[] = [];
  const records: InvocationRecord[] = [];
  const fc = await startLocalFc({ sYamlPath: file, keyring, accountId, regionId, mns: { endpoint: mns.endpoint, credentials: root }, queues: [], logSink: () => undefined, functionLogSink: (l) => logs.push(l) });
  fc.events.on('invocation', (r: InvocationRecord) => records.push(r));
  return { fc, mns, logs, records };
}

describe('Local FC: minimum instances', () => {
  let env: Awaited<ReturnType<typeof start>> | undefined;
  afterEach(async () => {
    await env?.fc.close();
    await env?.mns.close();
    env = undefined;
  });

  it('starts scalingConfig.minInstances instances at deploy, initialized, and no invocation pays their start', async () => {
    // Prepare
    env = await start(sYaml('      scalingConfig:\n        minInstances: 2'));
    // Assess: before any event, two warm instances exist and both ran the initializer; the on-demand function has none.
    expect(env.fc.instanceCount('warm')).toBe(2);
    expect(env.fc.instanceCount('cold')).toBe(0);
    expect(env.logs.filter((l) => l.includes('initialized for warm'))).toHaveLength(2);
    expect(env.fc.instanceStartups('warm')).toEqual([
      { provisioned: true, startup: expect.objectContaining({ moduleLoadMs: expect.any(Number), initializerMs: expect.any(Number) }) },
      { provisioned: true, startup: expect.objectContaining({ moduleLoadMs: expect.any(Number), initializerMs: expect.any(Number) }) },
    ]);
    // Act
    const warm = await env.fc.invoke('warm', { rawPath: '/', requestContext: { http: { method: 'GET' } } });
    const cold = await env.fc.invoke('cold', { rawPath: '/', requestContext: { http: { method: 'GET' } } });
    const coldAgain = await env.fc.invoke('cold', { rawPath: '/', requestContext: { http: { method: 'GET' } } });
    // Assess: the warm invocation ran on a started instance (no new one); the first on-demand one started its instance.
    expect(warm.ok).toBe(true);
    expect(warm.coldStart).toBeUndefined();
    expect(env.fc.instanceCount('warm')).toBe(2);
    expect(cold.coldStart).toEqual({ instanceStartMs: expect.any(Number), moduleLoadMs: expect.any(Number), initializerMs: expect.any(Number) });
    expect(coldAgain.coldStart).toBeUndefined();
    expect(env.records.map((r) => [r.function, r.coldStart === undefined])).toEqual([
      ['warm', true],
      ['cold', false],
      ['cold', true],
    ]);
  });

  it('takes provisionConfig.defaultTarget as well, the larger of the two', async () => {
    env = await start(sYaml('      scalingConfig:\n        minInstances: 1\n      provisionConfig:\n        defaultTarget: 3'));
    expect(env.fc.instanceCount('warm')).toBe(3);
  });

  it('replaces a warm instance that died, ahead of events', async () => {
    // Prepare
    env = await start(sYaml('      scalingConfig:\n        minInstances: 1'));
    env.fc.control.failNextInvocation({ functionName: 'warm', phase: 'after' });
    // Act: the instance "dies" after its handler ran (the runtime recycles it)
    const crashed = await env.fc.invoke('warm', { rawPath: '/', requestContext: { http: { method: 'GET' } } });
    // Wait for the replacement to have started (its startup is recorded on the initializer's answer, which
    // comes after the initializer's log line: waiting on the log alone raced that answer under load).
    const replaced = (): boolean => env!.fc.instanceStartups('warm').some((s) => s.startup !== undefined);
    for (const until = Date.now() + 5000; !replaced() && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
    // Assess: a new warm instance was started and initialized before any further event
    expect(crashed.outcome).toBe('crashed');
    expect(env.fc.instanceCount('warm')).toBe(1);
    expect(env.logs.filter((l) => l.includes('initialized for warm'))).toHaveLength(2);
    expect(env.fc.instanceStartups('warm')).toEqual([{ provisioned: true, startup: expect.any(Object) }]);
  });

  it.each([
    ['scalingConfig:\n        minInstances: -1', 'resources.warm.props.scalingConfig.minInstances'],
    ['scalingConfig:\n        minInstances: 1.5', 'resources.warm.props.scalingConfig.minInstances'],
    ['provisionConfig:\n        defaultTarget: many', 'resources.warm.props.provisionConfig.defaultTarget'],
    ['scalingConfig: 3', 'resources.warm.props.scalingConfig'],
  ])('refuses %s, naming the field', async (yaml, at) => {
    const err = await loadSYaml(sYaml(`      ${yaml}`), {}, { checkExports: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SYamlError);
    expect((err as SYamlError).at).toBe(at);
  });
});
