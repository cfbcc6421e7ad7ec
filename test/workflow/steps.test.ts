import { CloudError } from '../../workflow/errors';
import type { Authority } from '../../workflow/authority';
import { parseGroups } from '../../workflow/groups';
import { readOnlyContext, runInProcess } from '../../workflow/in-process';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { parseBindRequest, type BindRequestInput } from '../../workflow/messages';
import { newRecord, parseWake, startOperation, type WakeMessage } from '../../workflow/operation';
import { Reason } from '../../workflow/rules';
import type { StepContext } from '../../workflow/step';
import { validate } from '../../workflow/steps/validate';
import { FakeClock, FakeEcs } from '../helpers/fake-ecs';
import { topicDeliveringTo } from '../../workflow/ports';

const GUEST_SCRIPT = 'echo configuring\n';

function request(overrides: Partial<BindRequestInput> = {}) {
  const parsed = parseBindRequest({
    eniId: 'eni-service',
    instanceId: 'i-standby',
    regionId: 'cn-hangzhou',
    origin: { kind: 'cli', id: 'test', time: '2026-11-26T03:00:00Z' },
    ...overrides,
  });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

/** Two Running g7 instances in one zone; the service ENI on the primary. */
function twoNodes() {
  const clock = new FakeClock();
  const ecs = new FakeEcs(clock)
    .addType('ecs.g7.large', 3)
    .addType('ecs.t6-c1m1.large', 2)
    .addInstance({ instanceId: 'i-primary' })
    .addInstance({ instanceId: 'i-standby' })
    .addEni({ eniId: 'eni-service', instanceId: 'i-primary', macAddress: '00:16:3e:aa:bb:cc', privateIps: ['10.0.1.100', '10.0.1.101'] });
  return { clock, ecs };
}

/** The service ENI's group; the other ENIs of these tests are unmanaged, which the deployment allows here. */
const authority: Authority = {
  groups: parseGroups('groups: [{name: web, enis: [eni-service], members: [i-primary, i-standby, i-other]}]', 'test'),
  allowUnmanaged: true,
};

function run(ecs: FakeEcs, clock: FakeClock, req = request(), ledger = new MemoryLedger()) {
  return runInProcess(req, { ecs, clock, guestScript: GUEST_SCRIPT, authority, ledger });
}

describe('Step: validate', () => {
  const ctx = (ecs: FakeEcs, clock: FakeClock): StepContext => readOnlyContext({ ecs, clock, guestScript: GUEST_SCRIPT, authority });
  const cases: { name: string; setup: (ecs: FakeEcs) => void; req?: Partial<BindRequestInput>; expect: { kind: string; reason?: string; step?: string; detail?: RegExp } }[] = [
    { name: 'a missing instance fails InstanceNotFound', setup: () => {}, req: { instanceId: 'i-nope' }, expect: { kind: 'end', reason: Reason.InstanceNotFound } },
    { name: 'a missing ENI fails EniNotFound', setup: () => {}, req: { eniId: 'eni-nope' }, expect: { kind: 'end', reason: Reason.EniNotFound } },
    { name: 'a non-I/O-optimized target fails', setup: (e) => void (e.instances.get('i-standby')!.ioOptimized = false), expect: { kind: 'end', reason: Reason.InstanceNotIoOptimized } },
    { name: 'a primary ENI cannot move', setup: () => {}, req: { eniId: 'eni-pprimary', sourceInstanceId: 'i-primary' }, expect: { kind: 'end', reason: Reason.EniIsPrimary } },
    { name: 'another VPC fails VpcMismatch', setup: (e) => void (e.instances.get('i-standby')!.vpcId = 'vpc-b'), req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'end', reason: Reason.VpcMismatch } },
    { name: 'another zone fails ZoneMismatch', setup: (e) => void (e.instances.get('i-standby')!.zoneId = 'cn-hangzhou-i'), req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'end', reason: Reason.ZoneMismatch, detail: /choose a standby in cn-hangzhou-h/ } },
    { name: 'an ENI bound to an instance the request did not name is refused', setup: () => {}, expect: { kind: 'end', reason: Reason.EniBoundElsewhere, detail: /bound to i-primary/ } },
    { name: 'a full ENI quota fails EniQuotaExceeded', setup: (e) => e.addEni({ eniId: 'eni-x1', instanceId: 'i-standby' }).addEni({ eniId: 'eni-x2', instanceId: 'i-standby' }), req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'end', reason: Reason.EniQuotaExceeded, detail: /3 of 3/ } },
    { name: 'a Stopped-only type while Running without allowStop fails StopRequired', setup: (e) => void (e.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large'), req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'end', reason: Reason.StopRequired } },
    { name: 'a Stopped-only type while Running with allowStop plans a stop', setup: (e) => void (e.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large'), req: { sourceInstanceId: 'i-primary', policy: { allowStop: true } }, expect: { kind: 'next', step: 'stop-if-required' } },
    { name: 'a Stopped-only type already Stopped needs no stop', setup: (e) => Object.assign(e.instances.get('i-standby')!, { instanceType: 'ecs.t6-c1m1.large', status: 'Stopped' }), req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'next', step: 'attach' } },
    { name: 'running since before 2018-04-01 without allowStop fails RestartRequired', setup: (e) => void (e.instances.get('i-standby')!.startTime = '2018-03-31T23:59:59Z'), req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'end', reason: Reason.RestartRequired } },
    { name: 'running since 2018-04-01 exactly needs no restart', setup: (e) => void (e.instances.get('i-standby')!.startTime = '2018-04-01T00:00:00Z'), req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'next', step: 'attach' } },
    { name: 'a Starting target waits', setup: (e) => void (e.instances.get('i-standby')!.status = 'Starting'), req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'wait' } },
    { name: 'an ENI detaching from an unnamed instance waits', setup: (e) => void (e.enis.get('eni-service')!.status = 'Detaching'), expect: { kind: 'wait' } },
    { name: 'an ENI on the named source plans a detach first', setup: () => {}, req: { sourceInstanceId: 'i-primary' }, expect: { kind: 'next', step: 'attach', detail: /detach from i-primary/ } },
    { name: 'an ENI already on the target skips to verify-bound', setup: () => {}, req: { instanceId: 'i-primary' }, expect: { kind: 'next', step: 'verify-bound', detail: /already InUse/ } },
  ];
  it.each(cases)('$name', async ({ setup, req, expect: want }) => {
    // Prepare
    const { ecs, clock } = twoNodes();
    setup(ecs);
    const op = newRecord(request(req), clock.now());
    // Act
    const result = await validate(op, ctx(ecs, clock));
    // Assess
    expect(result.kind).toBe(want.kind);
    if (want.reason) expect(result).toMatchObject({ reason: want.reason });
    if (want.step) expect(result).toMatchObject({ step: want.step });
    if (want.detail) expect(result.detail).toMatch(want.detail);
    expect(ecs.writes).toEqual([]);
  });
});

describe('Workflow: whole operations against the in-memory ECS', () => {
  it('fails over from the named source: detach, attach, guest configured, all IPs passed to the guest', async () => {
    const { ecs, clock } = twoNodes();
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'succeeded', step: 'configure-guest-routes' });
    expect(ecs.writes).toEqual(['detach eni-service i-primary', 'attach eni-service i-standby', 'run i-standby']);
    expect(ecs.enis.get('eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    const script = [...ecs.invocations.values()][0]!.script;
    expect(script).toContain("ENI_MAC='00:16:3e:aa:bb:cc'");
    expect(script).toContain("ENI_IPS='10.0.1.100,10.0.1.101'");
    expect(event.guest).toMatchObject({ device: 'eth1', ips: ['10.0.1.100', '10.0.1.101'] });
    // detach 2 s + attach 3 s + command 1 s, polled with a bounded overshoot.
    expect(event.durationMs).toBeGreaterThanOrEqual(6000);
    expect(event.durationMs).toBeLessThan(7500);
  });

  it('reads the cloud only around the expected end of each transition: 2 ENI reads per ENI transition, 2 result reads for the command', async () => {
    // Prepare: count the reads the whole failover makes (detach 2 s, attach 3 s, command 1 s in the fake ECS).
    const { ecs, clock } = twoNodes();
    const reads: string[] = [];
    for (const m of ['describeEni', 'describeEnis', 'describeInstance', 'describeInvocation'] as const) {
      const original = (ecs[m] as (...a: unknown[]) => Promise<unknown>).bind(ecs);
      (ecs as unknown as Record<string, unknown>)[m] = async (...a: unknown[]) => (reads.push(m), original(...a));
    }
    // Act
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    // Assess: validate 1 ENI read; attach 1 (the source's ENIs) + 2 while Detaching; verify-bound 2; guest 1 + 2 results.
    expect(event.outcome).toBe('succeeded');
    const eniReads = reads.filter((r) => r === 'describeEni' || r === 'describeEnis').length;
    expect(eniReads).toBeLessThanOrEqual(8);
    expect(reads.filter((r) => r === 'describeInvocation')).toHaveLength(2);
    // ... and still overshoots each of the three transitions by little (100 ms looks around the expected ends).
    expect(event.durationMs).toBeLessThan(6000 + 3 * 150);
  });

  it('asks the guest script to persist only when the policy says so', async () => {
    const off = twoNodes();
    await run(off.ecs, off.clock, request({ sourceInstanceId: 'i-primary' }));
    expect([...off.ecs.invocations.values()][0]!.script).toContain("ENI_PERSIST='0'");
    const on = twoNodes();
    await run(on.ecs, on.clock, request({ sourceInstanceId: 'i-primary', policy: { persistGuest: true } }));
    expect([...on.ecs.invocations.values()][0]!.script).toContain("ENI_PERSIST='1'");
  });

  it('binds an Available ENI to a Running hot-plug type without stopping anything', async () => {
    const { ecs, clock } = twoNodes();
    ecs.addEni({ eniId: 'eni-free', macAddress: '00:16:3e:00:00:99' });
    const event = await run(ecs, clock, request({ eniId: 'eni-free' }));
    expect(event.outcome).toBe('succeeded');
    expect(ecs.writes).toEqual(['attach eni-free i-standby', 'run i-standby']);
  });

  it('an ENI already bound to the target moves nothing but still has the guest confirm it', async () => {
    const { ecs, clock } = twoNodes();
    const event = await run(ecs, clock, request({ instanceId: 'i-primary' }));
    expect(event.outcome).toBe('succeeded');
    expect(event.message).toMatch(/guest configured/);
    // "Already bound" is no reason to skip the guest: an earlier run may have died before configuring it.
    expect(ecs.writes).toEqual(['run i-primary']);
  });

  it('a Stopped-only type with allowStop is stopped, bound, and Running again afterwards', async () => {
    const { ecs, clock } = twoNodes();
    ecs.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large';
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary', policy: { allowStop: true } }));
    expect(event.outcome).toBe('succeeded');
    // The source keeps the ENI until the target is ready to take it.
    expect(ecs.writes).toEqual(['stop i-standby', 'detach eni-service i-primary', 'attach eni-service i-standby', 'start i-standby', 'run i-standby']);
    expect((await ecs.describeInstance('i-standby'))!.status).toBe('Running');
  });

  it('a Stopped-only type without allowStop fails before any write', async () => {
    const { ecs, clock } = twoNodes();
    ecs.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large';
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.StopRequired, step: 'validate' });
    expect(ecs.writes).toEqual([]);
  });

  it('the 2018 rule restarts the target (StartTime renewed) before the bind', async () => {
    const { ecs, clock } = twoNodes();
    ecs.instances.get('i-standby')!.startTime = '2017-06-01T00:00:00Z';
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary', policy: { allowStop: true } }));
    expect(event.outcome).toBe('succeeded');
    expect(ecs.writes.slice(0, 3)).toEqual(['reboot i-standby', 'detach eni-service i-primary', 'attach eni-service i-standby']);
    expect(Date.parse(ecs.instances.get('i-standby')!.startTime!)).toBeGreaterThan(Date.parse('2026-01-01'));
  });

  it('a detach that hangs is fenced by force-stopping the source when fenceSource is set', async () => {
    const { ecs, clock } = twoNodes();
    ecs.instances.get('i-primary')!.guestResponsive = false;
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary', policy: { fenceSource: true } }));
    expect(event.outcome).toBe('succeeded');
    expect(ecs.writes).toEqual(['detach eni-service i-primary', 'stop i-primary force', 'attach eni-service i-standby', 'run i-standby']);
  });

  it('a detach that hangs without fenceSource fails at the deadline and says why', async () => {
    const { ecs, clock } = twoNodes();
    ecs.instances.get('i-primary')!.guestResponsive = false;
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary', policy: { deadlineSeconds: 120 } }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.DeadlineExceeded, step: 'attach' });
    expect(event.timeline.at(-2)?.detail).toMatch(/fenceSource would force-stop it/);
    expect(ecs.writes).toEqual(['detach eni-service i-primary']);
  });

  it('a deadline that expires after this operation stopped the target starts it again', async () => {
    const { ecs, clock } = twoNodes();
    ecs.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large';
    ecs.instances.get('i-primary')!.guestResponsive = false;
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary', policy: { allowStop: true, deadlineSeconds: 60 } }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.DeadlineExceeded });
    expect(event.restored).toMatch(/start i-standby again/);
    expect(ecs.writes).toContain('start i-standby');
    await clock.sleep(15_000);
    expect((await ecs.describeInstance('i-standby'))!.status).toBe('Running');
  });

  it('an attach that falls back to Available is attached again, bounded', async () => {
    const { ecs, clock } = twoNodes();
    ecs.failAttaches = 1;
    const once = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(once.outcome).toBe('succeeded');
    expect(ecs.writes.filter((w) => w.startsWith('attach'))).toHaveLength(2);

    const again = twoNodes();
    again.ecs.failAttaches = 5;
    const never = await run(again.ecs, again.clock, request({ sourceInstanceId: 'i-primary' }));
    expect(never).toMatchObject({ outcome: 'failed', reason: Reason.AttachFailed });
    expect(again.ecs.writes.filter((w) => w.startsWith('attach'))).toHaveLength(3);
  });

  it('a read that lags the attach (still Available, or still on the source) is looked at again, not taken as final', async () => {
    for (const stale of [{ status: 'Available', instanceId: undefined }, { status: 'InUse', instanceId: 'i-primary' }] as const) {
      const { ecs, clock } = twoNodes();
      const attach = ecs.attachEni.bind(ecs);
      const describe = ecs.describeEni.bind(ecs);
      let lagging = 0;
      ecs.attachEni = async (args) => {
        await attach(args);
        lagging = 2; // the next two reads still show the state before the attach
      };
      ecs.describeEni = async (id) => {
        const eni = await describe(id);
        if (eni && lagging > 0 && id === 'eni-service') {
          lagging--;
          return { ...eni, ...stale };
        }
        return eni;
      };
      const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
      expect(event.outcome).toBe('succeeded');
      expect(ecs.writes.filter((w) => w.startsWith('attach'))).toHaveLength(1);
    }
  });

  it('throttling and 5xx bursts are waited out', async () => {
    const { ecs, clock } = twoNodes();
    ecs.failNext('describeEni', new CloudError('throttling', 'Throttling.User', 'slow down'), 4);
    ecs.failNext('attachEni', new CloudError('transient', 'ServiceUnavailable', 'busy'), 2);
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event.outcome).toBe('succeeded');
    expect(ecs.writes.filter((w) => w.startsWith('attach'))).toHaveLength(1);
  });

  it('a cloud error that retrying cannot fix ends the operation with its code', async () => {
    const { ecs, clock } = twoNodes();
    ecs.failNext('attachEni', new CloudError('fatal', 'Forbidden.RAM', 'not allowed', { api: 'AttachNetworkInterface' }));
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.CloudApiError, step: 'attach' });
    expect(event.message).toMatch(/AttachNetworkInterface failed with Forbidden.RAM/);
  });

  it('an attach that loses the race to another instance is superseded', async () => {
    const { ecs, clock } = twoNodes();
    ecs.addInstance({ instanceId: 'i-other' });
    const originalDetach = ecs.detachEni.bind(ecs);
    ecs.detachEni = async (args) => {
      await originalDetach(args);
      await clock.sleep(2500);
      await ecs.describeEni('eni-service');
      await ecs.attachEni({ eniId: 'eni-service', instanceId: 'i-other' });
    };
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event.outcome).toBe('superseded');
    expect(ecs.enis.get('eni-service')!.instanceId).toBe('i-other');
  });

  it('a guest script that cannot find the MAC fails GuestConfigFailed with the script error', async () => {
    const { ecs, clock } = twoNodes();
    ecs.guest = () => ({ exitCode: 10, output: 'eni-failover-error: 10 mac-not-found: 00:16:3e:aa:bb:cc not present after 30 s\n' });
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.GuestConfigFailed });
    expect(event.message).toMatch(/mac-not-found/);
    // Run again while the NIC may be on its way (hot-plug lag), up to MaxNicWaitRuns, then final.
    expect(ecs.writes.filter((w) => w === 'run i-standby')).toHaveLength(8);
    expect(event.message).toMatch(/\(8 runs\)/);
  });

  it('a NIC that reaches the guest only after five runs (hot-plug lag) still ends succeeded', async () => {
    const { ecs, clock } = twoNodes();
    const real = ecs.guest;
    let runs = 0;
    ecs.guest = (id, script) => (++runs <= 5 ? { exitCode: 10, output: 'eni-failover-error: 10 mac-not-found: no network device has MAC 00:16:3e:aa:bb:cc after 30s\n' } : real(id, script));
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'succeeded', guest: { device: 'eth1' } });
    expect(ecs.writes.filter((w) => w === 'run i-standby')).toHaveLength(6);
  });

  it('a NIC the guest does not see yet (exit 10) is retried: the second run succeeds', async () => {
    const { ecs, clock } = twoNodes();
    const real = ecs.guest;
    let runs = 0;
    ecs.guest = (id, script) => (++runs === 1 ? { exitCode: 10, output: 'eni-failover-error: 10 mac-not-found: no network device has MAC 00:16:3e:aa:bb:cc after 30s\n' } : real(id, script));
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'succeeded', guest: { device: 'eth1' } });
    expect(ecs.writes.filter((w) => w === 'run i-standby')).toHaveLength(2);
  });

  it('a retryable guest failure is final after three runs, and says so', async () => {
    const { ecs, clock } = twoNodes();
    ecs.guest = () => ({ exitCode: 12, output: 'eni-failover-error: 12 gateway-unreachable: no ARP answer from 10.0.1.253 on eth1 within 3s\n' });
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.GuestConfigFailed, message: expect.stringMatching(/\(3 runs\): 12: gateway-unreachable/) });
    expect(ecs.writes.filter((w) => w === 'run i-standby')).toHaveLength(3);
  });

  it('runs that waited for a late NIC do not use up the retries of a lost command (realistic bench, seed 7)', async () => {
    // Prepare: the NIC reaches the guest after two runs, then the agent loses two commands; the fifth run works.
    const { ecs, clock } = twoNodes();
    const real = ecs.guest;
    let runs = 0;
    ecs.guest = (id, script) => {
      runs++;
      if (runs <= 2) return { exitCode: 10, output: 'eni-failover-error: 10 mac-not-found: no network device has MAC 00:16:3e:aa:bb:cc after 30s\n' };
      if (runs <= 4) return { exitCode: -1, output: '', status: 'Aborted', errorCode: 'DeliveryTimeout' };
      return real(id, script);
    };
    // Act
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    // Assess
    expect(event).toMatchObject({ outcome: 'succeeded', guest: { device: 'eth1' } });
    expect(ecs.writes.filter((w) => w === 'run i-standby')).toHaveLength(5);
  });

  it.each([
    ['Aborted', 'DeliveryTimeout'],
    ['Aborted', 'ClientNotRunning'],
    ['Failed', 'ClientNotResponse'],
  ])('a command that ended %s/%s never ran: it is run again and the operation succeeds', async (status, errorCode) => {
    // Prepare: the first delivery to the agent fails; the next run is the real script.
    const { ecs, clock } = twoNodes();
    const real = ecs.guest;
    let runs = 0;
    ecs.guest = (id, script) => (++runs === 1 ? { exitCode: -1, output: '', status, errorCode } : real(id, script));
    // Act
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    // Assess
    expect(event.outcome).toBe('succeeded');
    expect(ecs.writes.filter((w) => w === 'run i-standby')).toHaveLength(2);
  });

  it('an invocation that ran and failed for another reason is not run again', async () => {
    const { ecs, clock } = twoNodes();
    ecs.guest = () => ({ exitCode: -1, output: '', status: 'Failed', errorCode: 'ExecutionTimeout' });
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.GuestConfigFailed });
    expect(ecs.writes.filter((w) => w === 'run i-standby')).toHaveLength(1);
  });

  it('the timeline records the waits each step met, once each with a count', async () => {
    const { ecs, clock } = twoNodes();
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event.outcome).toBe('succeeded');
    const waits = event.timeline.flatMap((t) => (t.waits ?? []).map((w) => `${t.step}: ${w}`));
    expect(waits).toEqual(expect.arrayContaining([expect.stringMatching(/^attach: asked ECS to detach eni-service from i-primary$/)]));
    // Repeats are counted, not listed: no wait text appears twice within one entry.
    for (const t of event.timeline) expect(new Set(t.waits ?? []).size).toBe((t.waits ?? []).length);
  });

  it('exit 0 without the result line is not success', async () => {
    const { ecs, clock } = twoNodes();
    ecs.guest = () => ({ exitCode: 0, output: 'looks fine\n' });
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.GuestConfigFailed });
  });

  it('Windows guests and configureGuest:false skip the script and say so', async () => {
    const win = twoNodes();
    win.ecs.instances.get('i-standby')!.osType = 'windows';
    const a = await run(win.ecs, win.clock, request({ sourceInstanceId: 'i-primary' }));
    expect(a.outcome).toBe('succeeded');
    expect(a.message).toMatch(/skipped: Windows/);
    expect(win.ecs.writes).not.toContain('run i-standby');

    const off = twoNodes();
    const b = await run(off.ecs, off.clock, request({ sourceInstanceId: 'i-primary', policy: { configureGuest: false } }));
    expect(b.message).toMatch(/configureGuest: false/);
    expect(off.ecs.invocations.size).toBe(0);
  });

  it('Cloud Assistant offline past its grace fails GuestAgentOffline with the ENI still bound', async () => {
    const { ecs, clock } = twoNodes();
    ecs.instances.get('i-standby')!.agentOnline = false;
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }));
    expect(event).toMatchObject({ outcome: 'failed', reason: Reason.GuestAgentOffline });
    expect(ecs.enis.get('eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });

  it('every wake-up delivered again after the end makes no write and publishes nothing', async () => {
    // Prepare: run a failover by hand, keeping every wake-up it sent.
    const { ecs, clock } = twoNodes();
    const ledger = new MemoryLedger();
    const { runDelivery } = await import('../../workflow/runner');
    const { defaultQueueNames } = await import('../../workflow/pipeline');
    const queues = defaultQueueNames('t-');
    const sent: { queue: string; body: string }[] = [];
    const queue = { send: async (q: string, body: string) => (sent.push({ queue: q, body }), { messageId: 'm' }) };
    const deps = { ecs, clock, queue, topic: topicDeliveringTo(queue, queues.events), queues, guestScript: GUEST_SCRIPT, ledger, authority };
    await startOperation(request({ sourceInstanceId: 'i-primary' }), { ledger, queue, queues, now: clock.now() });
    const wakes: WakeMessage[] = [];
    for (let i = 0; i < 50; i++) {
      const next = sent.filter((m) => m.queue !== queues.events && m.queue !== queues.deadLetter).shift();
      sent.splice(0, sent.length);
      if (next === undefined) break;
      const wake = parseWake(next.body);
      if (!wake.ok) throw new Error(wake.error);
      wakes.push(wake.value);
      const report = await runDelivery(wake.value, deps);
      if (report.kind === 'ended') {
        expect(report.event.outcome).toBe('succeeded');
        sent.splice(0, sent.length);
        break;
      }
    }
    const writesAfterFirstRun = [...ecs.writes];
    expect(wakes.map((m) => m.step)).toEqual(['validate', 'attach', 'verify-bound', 'configure-guest-routes']);
    // Act: deliver every wake-up again.
    const reports = [];
    for (const w of wakes) reports.push(await runDelivery(w, deps));
    // Assess: nothing written, nothing published, every late copy says why it did nothing.
    expect(ecs.writes).toEqual(writesAfterFirstRun);
    expect(sent).toEqual([]);
    expect(reports.map((r) => r.kind)).toEqual(['ignored', 'ignored', 'ignored', 'ignored']);
    expect(ecs.enis.get('eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });
});

describe('Runner: a port retry of a write after another delivery took the operation over', () => {
  it('is not sent: the guard finds the record changed, the delivery stops writing and says why', async () => {
    // Prepare: an operation handed on to attach.
    const { ecs, clock } = twoNodes();
    const ledger = new MemoryLedger();
    const { runDelivery } = await import('../../workflow/runner');
    const { defaultQueueNames } = await import('../../workflow/pipeline');
    const queues = defaultQueueNames('t-');
    const sent: string[] = [];
    const queue = { send: async (q: string, body: string) => (sent.push(body), { messageId: 'm' }) };
    const { operationId } = await startOperation(request({ sourceInstanceId: 'i-primary' }), { ledger, queue, queues, now: clock.now() });
    const deps = { ecs, clock, queue, topic: topicDeliveringTo(queue, queues.events), queues, guestScript: GUEST_SCRIPT, ledger, authority };
    expect(await runDelivery({ kind: 'eni-failover.wake', operationId, step: 'validate', attempt: 0 }, deps)).toMatchObject({ kind: 'forwarded', to: 'attach' });
    // A port whose every write fails once unsent and is retried; between the two attempts another copy
    // of the wake-up claims the record (what a redelivery while this one waits in a backoff does).
    const writes = new Set(['attachEni', 'detachEni', 'stopInstance', 'startInstance', 'runShellScript']);
    const retrying = (guard: () => Promise<void>) =>
      new Proxy(ecs, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof prop !== 'string' || !writes.has(prop)) return typeof value === 'function' ? value.bind(target) : value;
          return async (...args: unknown[]) => {
            const rec = (await ledger.get(operationId))!;
            await ledger.update({ ...rec, version: rec.version + 1, claim: { step: rec.step, attempt: rec.attempt, token: 'other-copy', until: clock.now() + 60_000 } });
            await guard();
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    const guarded = Object.assign(Object.create(ecs) as typeof ecs, { withWriteGuard: retrying });
    // Act
    const report = await runDelivery({ kind: 'eni-failover.wake', operationId, step: 'attach', attempt: 0 }, { ...deps, ecs: guarded });
    // Assess: ignored with the reason, no ECS write at all, the ENI where it was.
    expect(report).toMatchObject({ kind: 'ignored', why: expect.stringMatching(/while a write waited to be retried; the retry is not sent/) });
    expect(ecs.writes).toEqual([]);
    expect(ecs.enis.get('eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-primary' });
  });
});

describe('Runner: an outcome recorded but not confirmed published', () => {
  it('is published by a later copy once the grace has passed, and recorded as published', async () => {
    // Prepare: a finished failover whose publication was never confirmed (the ending delivery died).
    const { ecs, clock } = twoNodes();
    const ledger = new MemoryLedger();
    const event = await run(ecs, clock, request({ sourceInstanceId: 'i-primary' }), ledger);
    const record = (await ledger.get(event.operationId))!;
    await ledger.update({ ...record, version: record.version + 1, published: false });
    clock.t += 10_000;
    const sent: string[] = [];
    const { runDelivery } = await import('../../workflow/runner');
    const { defaultQueueNames } = await import('../../workflow/pipeline');
    const queues = defaultQueueNames('t-');
    // Act
    const report = await runDelivery({ kind: 'eni-failover.wake', operationId: event.operationId, step: 'configure-guest-routes', attempt: 0 }, {
      ecs, clock, ledger, authority, guestScript: GUEST_SCRIPT, queues, queue: { send: async (q: string) => (sent.push(q), { messageId: 'm' }) },
      topic: { publish: async (t: string, _body: string, options?: { tag?: string }) => (sent.push(`${t} [${options?.tag}]`), { messageId: 'm' }) },
    });
    // Assess: the recorded event, on the outcomes topic tagged with its outcome, and the record says so now.
    expect(report).toMatchObject({ kind: 'republished', event: { operationId: event.operationId, outcome: 'succeeded' } });
    expect(sent).toEqual([`${queues.outcomes} [succeeded]`]);
    expect((await ledger.get(event.operationId))!.published).toBe(true);
  });
});

describe('Messages', () => {
  it.each([
    ['not JSON', '{"eniId":', /not JSON/],
    ['a bad ENI id', { eniId: 'bad', instanceId: 'i-a', regionId: 'cn-hangzhou', origin: { kind: 'cli', id: 'x', time: '2026-11-26T03:00:00Z' } }, /eniId: must look like eni-/],
    ['an unknown field', { eniId: 'eni-a', instanceId: 'i-a', regionId: 'cn-hangzhou', origin: { kind: 'cli', id: 'x', time: '2026-11-26T03:00:00Z' }, force: true }, /Unrecognized key/],
    ['source equal to target', { eniId: 'eni-a', instanceId: 'i-a', sourceInstanceId: 'i-a', regionId: 'cn-hangzhou', origin: { kind: 'cli', id: 'x', time: '2026-11-26T03:00:00Z' } }, /sourceInstanceId: must differ/],
    ['a too short deadline', { eniId: 'eni-a', instanceId: 'i-a', regionId: 'cn-hangzhou', policy: { deadlineSeconds: 1 }, origin: { kind: 'cli', id: 'x', time: '2026-11-26T03:00:00Z' } }, /policy.deadlineSeconds/],
  ])('a request with %s is refused with a message naming the field', (_name, input, error) => {
    const parsed = parseBindRequest(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });

  it('the same origin, ENI and target always derive the same operation id; another origin does not', () => {
    const a = newRecord(request(), 0).operationId;
    expect(newRecord(request(), 99).operationId).toBe(a);
    expect(newRecord(request({ origin: { kind: 'cli', id: 'other', time: '2026-11-26T03:00:00Z' } }), 0).operationId).not.toBe(a);
  });
});
