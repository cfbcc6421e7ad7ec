/**
 * Integration: the production ECS port (cloud/ecs.ts) against the local ECS (local/ecs), over loopback,
 * with real V3 signatures and STS credentials minted by the keyring. Every port method, paging, not-found,
 * invalid state, injected 5xx bursts, server-side throttling and the step deadline.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createEcsPort, type EcsCallEvent, type EcsPortOptions } from '../../cloud/ecs';
import { systemClock } from '../../workflow/ports';
import { Keyring } from '../../local/credentials';
import { startLocalEcs, type LocalEcs } from '../../local/ecs';
import { FakeClock } from './fake-clock';

const scenarioFile = join(__dirname, '../../local/scenarios/two-node-failover.yaml');
const TimeScale = 0.001; // attach 3 s -> 3 ms, stop 15 s -> 15 ms, rate-limit minute -> 60 ms

let keyring: Keyring;
let ecs: LocalEcs;

beforeAll(async () => {
  ({ keyring } = Keyring.generate());
  ecs = await startLocalEcs({ scenario: scenarioFile, keyring, timeScale: TimeScale });
});
afterAll(() => ecs.close());
beforeEach(() => ecs.control.reset());

function port(extra: Partial<EcsPortOptions> = {}, server: LocalEcs = ecs) {
  const events: EcsCallEvent[] = [];
  const sts = keyring.mintSts();
  const p = createEcsPort({
    regionId: server.regionId,
    endpoint: server.endpoint,
    protocol: 'HTTP',
    credentials: sts,
    clock: new FakeClock(Date.now()),
    onCall: (e) => events.push(e),
    ...extra,
  });
  return { ecs: p, events };
}

/** Polls (a few ms apart, real time) until `ok`; the local ECS runs its transitions at TimeScale. */
async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const give = Date.now() + 3_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > give) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const callsOf = (action: string) => ecs.control.calls().filter((c) => c.action === action);

describe('ECS port against the local ECS: reads', () => {
  it('describes the bound service ENI with both IPs, MAC, tags and owner', async () => {
    const eni = await port().ecs.describeEni('eni-service');
    expect(eni).toEqual({
      eniId: 'eni-service',
      status: 'InUse',
      type: 'Secondary',
      instanceId: 'i-primary',
      vpcId: 'vpc-failover',
      vSwitchId: 'vsw-failover-h',
      zoneId: 'cn-hangzhou-h',
      macAddress: '00:16:3e:12:34:56',
      primaryIp: '10.0.1.5',
      privateIps: ['10.0.1.5', '10.0.1.6'],
      tags: { 'eni-failover/service': 'web' },
    });
  });

  it('answers undefined for an unknown ENI and an unknown instance', async () => {
    const { ecs: p } = port();
    expect(await p.describeEni('eni-doesnotexist')).toBeUndefined();
    expect(await p.describeInstance('i-doesnotexist')).toBeUndefined();
  });

  it('filters ENIs by owner instance and by tag', async () => {
    const { ecs: p } = port();
    const onPrimary = await p.describeEnis({ instanceId: 'i-primary' });
    expect(onPrimary.map((e) => [e.eniId, e.type]).sort()).toEqual([
      ['eni-primary0', 'Primary'],
      ['eni-service', 'Secondary'],
    ]);
    const tagged = await p.describeEnis({ tags: { 'eni-failover/service': 'web' } });
    expect(tagged.map((e) => e.eniId)).toEqual(['eni-service']);
    expect(await p.describeEnis({ eniIds: ['eni-service', 'eni-standby0', 'eni-nope'] })).toHaveLength(2);
  });

  it('describes instances with VPC, I/O optimisation, start time and ENIs; missing ids are absent', async () => {
    const { ecs: p } = port();
    const standby = await p.describeInstance('i-standby');
    expect(standby).toMatchObject({
      instanceId: 'i-standby',
      instanceName: 'service-standby',
      status: 'Running',
      instanceType: 'ecs.g7.large',
      regionId: 'cn-hangzhou',
      zoneId: 'cn-hangzhou-h',
      vpcId: 'vpc-failover',
      vSwitchId: 'vsw-failover-h',
      ioOptimized: true,
      osType: 'linux',
      eniIds: ['eni-standby0'],
      tags: { role: 'standby' },
    });
    expect(standby?.startTime).toMatch(/^2024-05-01T08:00/);
    const both = await p.describeInstances(['i-primary', 'i-standby', 'i-nope']);
    expect(both.map((i) => i.instanceId).sort()).toEqual(['i-primary', 'i-standby']);
  });

  it('reads an instance type once per port and answers undefined for an unknown type', async () => {
    const { ecs: p } = port();
    expect(await p.describeInstanceType('ecs.g7.large')).toEqual({ instanceTypeId: 'ecs.g7.large', eniQuantity: 3 });
    expect(await p.describeInstanceType('ecs.g7.large')).toEqual({ instanceTypeId: 'ecs.g7.large', eniQuantity: 3 });
    expect(await p.describeInstanceType('ecs.nosuch.type')).toBeUndefined();
    expect(callsOf('DescribeInstanceTypes')).toHaveLength(2);
  });

  it('treats a refused key as fatal, never as "not found"', async () => {
    const p = createEcsPort({
      regionId: ecs.regionId,
      endpoint: ecs.endpoint,
      protocol: 'HTTP',
      credentials: { accessKeyId: 'LTAIunknown', accessKeySecret: 'nope' },
      clock: new FakeClock(),
    });
    await expect(p.describeInstance('i-primary')).rejects.toMatchObject({
      kind: 'fatal',
      code: 'InvalidAccessKeyId.NotFound',
    });
  });
});

describe('ECS port against the local ECS: writes', () => {
  it('moves the service ENI: detach from the primary, attach to the standby, observed by polling', async () => {
    const { ecs: p } = port();
    await p.detachEni({ eniId: 'eni-service', instanceId: 'i-primary' });
    await until(() => p.describeEni('eni-service'), (e) => e?.status === 'Available', 'Available');
    await p.attachEni({ eniId: 'eni-service', instanceId: 'i-standby' });
    const bound = await until(() => p.describeEni('eni-service'), (e) => e?.status === 'InUse', 'InUse');
    expect(bound?.instanceId).toBe('i-standby');
    expect((await p.describeInstance('i-standby'))?.eniIds).toContain('eni-service');
  });

  it('reports attaching an ENI that is in use as invalidState, without retrying it', async () => {
    const { ecs: p, events } = port();
    await expect(p.attachEni({ eniId: 'eni-service', instanceId: 'i-standby' })).rejects.toMatchObject({
      kind: 'invalidState',
      code: 'InvalidOperation.InvalidEniState',
      details: { statusCode: 400, api: 'AttachNetworkInterface' },
    });
    expect(events).toHaveLength(1);
    expect(callsOf('AttachNetworkInterface')).toHaveLength(1);
  });

  it('reports writes on unknown resources as notFound', async () => {
    const { ecs: p } = port();
    await expect(p.attachEni({ eniId: 'eni-nope', instanceId: 'i-standby' })).rejects.toMatchObject({
      kind: 'notFound',
      code: 'InvalidEniId.NotFound',
    });
    await expect(p.startInstance('i-nope')).rejects.toMatchObject({ kind: 'notFound' });
  });

  it('stops, starts and reboots an instance; a wrong-state call is invalidState', async () => {
    const { ecs: p } = port();
    await p.stopInstance({ instanceId: 'i-standby', forceStop: true, stoppedMode: 'KeepCharging' });
    await until(() => p.describeInstance('i-standby'), (i) => i?.status === 'Stopped', 'Stopped');
    await expect(p.rebootInstance({ instanceId: 'i-standby', forceStop: false })).rejects.toMatchObject({
      kind: 'invalidState',
      code: 'IncorrectInstanceStatus',
    });
    await p.startInstance('i-standby');
    await until(() => p.describeInstance('i-standby'), (i) => i?.status === 'Running', 'Running');
    await p.rebootInstance({ instanceId: 'i-standby', forceStop: false });
    const kinds = ecs.control
      .events()
      .filter((e) => e.type === 'instance' && 'instanceId' in e && e.instanceId === 'i-standby')
      .map((e) => ('to' in e ? e.to : ''));
    expect(kinds).toContain('Stopping');
    expect(callsOf('StopInstance')[0]).toMatchObject({ status: 200 });
  });
});

describe('ECS port against the local ECS: Cloud Assistant', () => {
  it('tells whether the agent is online', async () => {
    const { ecs: p } = port();
    expect(await p.cloudAssistantOnline('i-standby')).toBe(true);
    ecs.control.setCloudAssistantOnline({ instanceId: 'i-standby', online: false });
    expect(await p.cloudAssistantOnline('i-standby')).toBe(false);
  });

  it('reports an unknown instance as notFound (404 InvalidInstance.NotFound), never as an offline agent', async () => {
    const { ecs: p } = port();
    await expect(p.cloudAssistantOnline('i-nope')).rejects.toMatchObject({
      kind: 'notFound',
      code: 'InvalidInstance.NotFound',
      details: { statusCode: 404 },
    });
  });

  it('runs a base64 shell script, repeats idempotently by ClientToken, and decodes the output', async () => {
    const { ecs: p } = port();
    const script = ["ENI_MAC='00:16:3e:12:34:56'", "ENI_IPS='10.0.1.5 10.0.1.6'", "ENI_PREFIX='24'", "ENI_GATEWAY='10.0.1.253'"].join('\n');
    const args = {
      instanceId: 'i-primary',
      scriptBase64: Buffer.from(script).toString('base64'),
      timeoutSeconds: 60,
      clientToken: 'op-1-configure',
      name: 'eni-failover-configure',
    };
    const { invokeId } = await p.runShellScript(args);
    expect((await p.runShellScript(args)).invokeId).toBe(invokeId);
    const result = await until(
      () => p.describeInvocation({ invokeId, instanceId: 'i-primary' }),
      (r) => r !== undefined && !['Pending', 'Running'].includes(r.status),
      'command finished',
    );
    expect(result).toMatchObject({ invokeId, instanceId: 'i-primary', status: 'Success', exitCode: 0, errorCode: '' });
    expect(result?.output).toContain('eni-failover-result: {"device":"eth1"');
    expect(ecs.control.scripts()[0]?.script).toBe(script);
    expect(await p.describeInvocation({ invokeId: 't-unknown', instanceId: 'i-primary' })).toBeUndefined();
  });
});

describe('ECS port against the local ECS: failures', () => {
  it('retries an injected burst of 503s to success', async () => {
    ecs.control.injectFault({ action: 'DescribeInstances', count: 3, code: 'ServiceUnavailable', status: 503 });
    const { ecs: p, events } = port();
    const instance = await p.describeInstance('i-primary');
    expect(instance?.instanceId).toBe('i-primary');
    expect(events.map((e) => e.code ?? 'ok')).toEqual(['ServiceUnavailable', 'ServiceUnavailable', 'ServiceUnavailable', 'ok']);
    expect(callsOf('DescribeInstances').map((c) => c.status)).toEqual([503, 503, 503, 200]);
  });

  it('asks the write guard before every retry of a write, and a guard that refuses stops the retry unsent', async () => {
    // Prepare: the first Detach answers 503; the guard then says another delivery took the operation over.
    ecs.control.injectFault({ action: 'DetachNetworkInterface', count: 1, code: 'ServiceUnavailable', status: 503 });
    const asked: string[] = [];
    class TakenOver extends Error {}
    const guarded = port().ecs.withWriteGuard(async () => {
      asked.push('guard');
      throw new TakenOver('record changed');
    });
    // Act
    const done = guarded.detachEni({ eniId: 'eni-service', instanceId: 'i-primary' });
    // Assess: the guard's own error, one Detach on the wire, the ENI untouched.
    await expect(done).rejects.toBeInstanceOf(TakenOver);
    expect(asked).toEqual(['guard']);
    expect(callsOf('DetachNetworkInterface').map((c) => c.status)).toEqual([503]);
    expect((await port().ecs.describeEni('eni-service'))?.status).toBe('InUse');
  });

  it('sends the retry when the guard lets it, never asks it before a first attempt or for a read', async () => {
    ecs.control.injectFault({ action: 'DescribeNetworkInterfaces', count: 1, code: 'ServiceUnavailable', status: 503 });
    ecs.control.injectFault({ action: 'DetachNetworkInterface', count: 1, code: 'ServiceUnavailable', status: 503 });
    let asked = 0;
    const guarded = port().ecs.withWriteGuard(async () => {
      asked++;
    });
    expect((await guarded.describeEni('eni-service'))?.status).toBe('InUse');
    expect(asked).toBe(0);
    await guarded.detachEni({ eniId: 'eni-service', instanceId: 'i-primary' });
    expect(asked).toBe(1);
    expect(callsOf('DetachNetworkInterface').map((c) => c.status)).toEqual([503, 200]);
    // The guard survives withDeadline (the step functions bind a deadline per invocation).
    ecs.control.injectFault({ action: 'AttachNetworkInterface', count: 1, code: 'ServiceUnavailable', status: 503 });
    await until(() => guarded.describeEni('eni-service'), (e) => e?.status === 'Available', 'the detach');
    await guarded.withDeadline(Date.now() + 10_000).attachEni({ eniId: 'eni-service', instanceId: 'i-primary' });
    expect(asked).toBe(2);
  });

  it('retries a dropped connection', async () => {
    ecs.control.dropConnections({ action: 'DescribeNetworkInterfaces', count: 1 });
    const { ecs: p, events } = port();
    expect((await p.describeEni('eni-service'))?.status).toBe('InUse');
    expect(events.map((e) => e.code ?? 'ok')).toEqual(['ECONNRESET', 'ok']);
  });

  it("waits out the server's one-minute throttling window and succeeds (one clock for server and port)", async () => {
    // Prepare: a server whose minute window runs on a clock only the port's retry sleeps advance, so
    // the three calls always land in one window however slow this machine is (the window was real time).
    const clock = new FakeClock(Date.now());
    const server = await startLocalEcs({ scenario: scenarioFile, keyring, timeScale: TimeScale, now: () => clock.now() });
    try {
      // 2 calls per (scaled) minute; the third call in the window is refused with Throttling.User.
      server.control.setRateLimit({ action: 'DescribeNetworkInterfaces', perMinute: 2 });
      const { ecs: p, events } = port({ clock, retry: { maxAttempts: 10, throttlingBaseDelayMs: 40, maxDelayMs: 120 } }, server);
      // Act
      for (let i = 0; i < 3; i++) expect((await p.describeEni('eni-service'))?.eniId).toBe('eni-service');
      // Assess
      const codes = events.map((e) => e.code ?? 'ok');
      expect(codes.slice(0, 3)).toEqual(['ok', 'ok', 'Throttling.User']);
      expect(codes[codes.length - 1]).toBe('ok');
      expect(p.stats()['DescribeNetworkInterfaces.retries']).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  });

  it('after Throttling sends the next call of that API at the next window edge, not sooner, and is told Throttling once', async () => {
    // Prepare: server and port on one virtual clock; the port knows the server's (scaled) 60 ms window.
    const clock = new FakeClock(Math.floor(Date.now() / 60) * 60 + 10);
    const server = await startLocalEcs({ scenario: scenarioFile, keyring, timeScale: TimeScale, now: () => clock.now() });
    try {
      server.control.setRateLimit({ action: 'DescribeNetworkInterfaces', perMinute: 2 });
      const { ecs: p, events } = port({ clock, rateDiscipline: { windowMs: 60 }, retry: { maxAttempts: 3 } }, server);
      const windowOf = (t: number) => Math.floor(t / 60);
      const first = windowOf(clock.now());
      // Act: five reads; the window takes two.
      for (let i = 0; i < 5; i++) expect((await p.describeEni('eni-service'))?.eniId).toBe('eni-service');
      // Assess: after each refusal nothing more in that window; the retry is the next window's first call.
      const answers = server.control.calls({ action: 'DescribeNetworkInterfaces' }).map((c) => [windowOf(c.at) - first, c.code ?? 'ok']);
      expect(answers).toEqual([[0, 'ok'], [0, 'ok'], [0, 'Throttling.User'], [1, 'ok'], [1, 'ok'], [1, 'Throttling.User'], [2, 'ok']]);
      expect(events.filter((e) => !e.ok)).toHaveLength(2);
      expect(p.stats()['DescribeNetworkInterfaces.throttled']).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('told the account budget, spaces its calls so that ECS never refuses one', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 60) * 60 + 10);
    const server = await startLocalEcs({ scenario: scenarioFile, keyring, timeScale: TimeScale, now: () => clock.now() });
    try {
      server.control.setRateLimit({ action: 'DescribeNetworkInterfaces', perMinute: 2 });
      const { ecs: p } = port({ clock, rateLimits: { DescribeNetworkInterfaces: 2 }, rateDiscipline: { windowMs: 60 } }, server);
      for (let i = 0; i < 6; i++) expect((await p.describeEni('eni-service'))?.eniId).toBe('eni-service');
      expect(server.control.calls({ action: 'DescribeNetworkInterfaces' }).map((c) => c.code ?? 'ok')).toEqual(Array(6).fill('ok'));
      expect(p.stats()['DescribeNetworkInterfaces.throttled']).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('throws the last error when retrying would pass the deadline', async () => {
    ecs.control.injectFault({ action: 'StartInstance', count: 1_000, code: 'InternalError', status: 500 });
    const clock = new FakeClock(Date.now());
    const deadlineMs = clock.now() + 2_000;
    const { ecs: p } = port({ clock, retry: { maxAttempts: 100, baseDelayMs: 500, maxDelayMs: 5_000 } });
    await expect(p.withDeadline(deadlineMs).startInstance('i-standby')).rejects.toMatchObject({
      kind: 'transient',
      code: 'InternalError',
    });
    expect(clock.now()).toBeLessThanOrEqual(deadlineMs);
    const attempts = callsOf('StartInstance').length;
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThan(100);
  });
});

describe('ECS port against the local ECS: paging', () => {
  let big: LocalEcs;
  beforeAll(async () => {
    // The default scenario plus 12 instances and 14 ENIs, so pages of 10 need more than one call.
    const scenario = parse(readFileSync(scenarioFile, 'utf8')) as {
      instances: object[];
      enis: object[];
      instanceTypes: Array<{ instanceTypeId: string; eniQuantity: number }>;
    };
    for (let i = 1; i <= 12; i++) {
      scenario.instances.push({
        instanceId: `i-extra${String(i).padStart(2, '0')}`,
        instanceType: 'ecs.g7.large',
        vSwitchId: 'vsw-failover-h',
        securityGroupIds: ['sg-failover'],
      });
    }
    for (let i = 1; i <= 14; i++) {
      scenario.enis.push({
        eniId: `eni-extra${String(i).padStart(2, '0')}`,
        vSwitchId: 'vsw-failover-h',
        securityGroupIds: ['sg-failover'],
        tags: { pool: 'spare' },
      });
    }
    big = await startLocalEcs({ scenario: scenario as never, keyring, timeScale: TimeScale });
  });
  afterAll(() => big.close());

  it('collects every ENI across NextToken pages', async () => {
    const { ecs: p } = port({ pageSize: 10 }, big);
    const spare = await p.describeEnis({ tags: { pool: 'spare' } });
    expect(spare.map((e) => e.eniId).sort()).toEqual(
      Array.from({ length: 14 }, (_, i) => `eni-extra${String(i + 1).padStart(2, '0')}`),
    );
    expect(spare.every((e) => e.status === 'Available' && e.instanceId === undefined)).toBe(true);
    expect(big.control.calls().filter((c) => c.action === 'DescribeNetworkInterfaces')).toHaveLength(2);
  });

  it('collects every instance across pages', async () => {
    const { ecs: p } = port({ pageSize: 10 }, big);
    const ids = ['i-primary', 'i-standby', ...Array.from({ length: 12 }, (_, i) => `i-extra${String(i + 1).padStart(2, '0')}`)];
    const instances = await p.describeInstances(ids);
    expect(instances.map((i) => i.instanceId).sort()).toEqual([...ids].sort());
    expect(big.control.calls().filter((c) => c.action === 'DescribeInstances')).toHaveLength(2);
  });
});
