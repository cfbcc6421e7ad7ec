// Regression tests for what the fault campaign found beyond duplicates (issue 15): each of these failed on
// the workflow before the ledger, the power holds and the authority checks.
import { authorizeWrite, type Authority } from '../../workflow/authority';
import { normaliseEcsEvent } from '../../workflow/entries/ecs-event';
import { CloudError } from '../../workflow/errors';
import { parseGroups } from '../../workflow/groups';
import { runInProcess } from '../../workflow/in-process';
import { powerHoldId } from '../../workflow/ledger';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { parseBindRequest, type BindRequestInput } from '../../workflow/messages';
import { joinPowerHold, newRecord } from '../../workflow/operation';
import { Reason } from '../../workflow/rules';
import type { StepContext } from '../../workflow/step';
import { attach } from '../../workflow/steps/attach';
import { validate } from '../../workflow/steps/validate';
import { stopIfRequired } from '../../workflow/steps/stop-if-required';
import { GuestStallCheckMs, configureGuestRoutes } from '../../workflow/steps/configure-guest-routes';
import { FakeClock, FakeEcs } from '../helpers/fake-ecs';

const GUEST = 'echo configuring\n';
const groupsYaml = `groups:
  - name: web
    enis: [eni-a, eni-b]
    members: [i-primary, i-standby, i-third]
    policy: { fenceSource: true, allowStop: true }`;
const authority: Authority = { groups: parseGroups(groupsYaml, 'test'), allowUnmanaged: false };

function request(over: Partial<BindRequestInput> = {}) {
  const parsed = parseBindRequest({ eniId: 'eni-a', instanceId: 'i-standby', sourceInstanceId: 'i-primary', regionId: 'cn-hangzhou', origin: { kind: 'alarm', id: `a-${Math.random()}`, time: '2026-11-26T03:00:00Z' }, ...over });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

function world() {
  const clock = new FakeClock();
  const ecs = new FakeEcs(clock)
    .addType('ecs.g7.large', 4)
    .addType('ecs.t6-c1m1.large', 3)
    .addInstance({ instanceId: 'i-primary' })
    .addInstance({ instanceId: 'i-standby' })
    .addInstance({ instanceId: 'i-third' })
    .addEni({ eniId: 'eni-a', instanceId: 'i-primary', macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] })
    .addEni({ eniId: 'eni-b', instanceId: 'i-primary', macAddress: '00:16:3e:00:00:bb', privateIps: ['10.0.1.60'] });
  return { clock, ecs, ledger: new MemoryLedger() };
}

/** A step context whose writes are checked by the real authority rules and remembered nowhere. */
function stepContext(ecs: FakeEcs, clock: FakeClock, ledger = new MemoryLedger()): StepContext {
  return {
    ecs,
    clock,
    guestScript: GUEST,
    timeScale: 1,
    authority,
    ledger,
    remember: async () => {},
    beforeWrite: async (write, facts) => authorizeWrite(write, request(), facts, authority),
  };
}

describe('Races: a Stopped standby whose power hold owes its start (chaos seed 9019)', () => {
  it('validate waits for it to run instead of planning an attach on "Stopped", and plans normally once nobody owes a start', async () => {
    // Prepare: the standby (Stopped-only type) is Stopped; the last operation out of its hold owes the start.
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-primary')!.status = 'Stopped';
    ecs.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large';
    ecs.instances.get('i-standby')!.status = 'Stopped';
    await ledger.putLease({ resourceId: powerHoldId('i-standby'), version: 1, operationId: '', until: 0, holders: [], startOwedBy: 'op-00000000000000aa', updatedAt: clock.now() });
    const op = newRecord(request({ policy: { allowStop: true } }), clock.now());
    // Act, Assess: it waits, naming the operation that owes the start.
    expect(await validate(op, stepContext(ecs, clock, ledger))).toMatchObject({ kind: 'wait', detail: expect.stringMatching(/op-00000000000000aa is about to start it again/) });
    // Once the start was asked for (the hold owes nothing), the plan is made as before.
    await ledger.putLease({ resourceId: powerHoldId('i-standby'), version: 2, operationId: '', until: 0, holders: [], updatedAt: clock.now() });
    expect(await validate(op, stepContext(ecs, clock, ledger))).toMatchObject({ kind: 'next', plan: { action: 'attach', instancePrep: 'none' } });
  });
});

describe('Races: two ENIs onto one Stopped-only standby (bug 2, bug 3)', () => {
  it('one stop, one start after both attaches, and both guests configured after that start', async () => {
    // Prepare: the primary failed; the standby binds only while Stopped.
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-primary')!.status = 'Stopped';
    ecs.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large';
    const deps = { ecs, clock, guestScript: GUEST, authority, ledger };
    // Act: both failovers run at once.
    const [a, b] = await Promise.all([runInProcess(request({ eniId: 'eni-a', policy: { allowStop: true } }), deps), runInProcess(request({ eniId: 'eni-b', policy: { allowStop: true } }), deps)]);
    // Assess
    expect([a.outcome, b.outcome]).toEqual(['succeeded', 'succeeded']);
    const w = ecs.writes;
    expect(w.filter((x) => x === 'stop i-standby')).toHaveLength(1);
    expect(w.filter((x) => x === 'start i-standby')).toHaveLength(1);
    const start = w.indexOf('start i-standby');
    expect(w.indexOf('attach eni-a i-standby')).toBeLessThan(start);
    expect(w.indexOf('attach eni-b i-standby')).toBeLessThan(start);
    expect(w.slice(start + 1).filter((x) => x === 'run i-standby')).toHaveLength(2);
    expect(ecs.instances.get('i-standby')!.status).toBe('Running');
    expect((await ledger.getLease(powerHoldId('i-standby')))?.holders).toEqual([]);
  });
});

describe('Races: the last one out of a power hold owes the start, however often it asks (chaos seed 1)', () => {
  it('leaving again after a lost answer still says the start is owed, until the start was asked for', async () => {
    const { clock, ledger } = world();
    const { joinPowerHold: join, leavePowerHold: leave, changePowerHold: change, startRequested: started } = await import('../../workflow/operation');
    await join(ledger, 'i-standby', 'op-00000000000000a1', clock.now());
    await join(ledger, 'i-standby', 'op-00000000000000b2', clock.now());
    await change(ledger, 'i-standby', clock.now(), (h) => ({ ...h, stoppedBy: 'op-00000000000000a1' }));
    expect(await leave(ledger, 'i-standby', 'op-00000000000000a1', clock.now())).toEqual({ startOwed: false, others: ['op-00000000000000b2'] });
    expect(await leave(ledger, 'i-standby', 'op-00000000000000b2', clock.now())).toEqual({ startOwed: true, others: [] });
    // A redelivery whose first try lost the answer after the hold changed: the same answer.
    expect(await leave(ledger, 'i-standby', 'op-00000000000000b2', clock.now())).toEqual({ startOwed: true, others: [] });
    expect((await leave(ledger, 'i-standby', 'op-00000000000000a1', clock.now())).startOwed).toBe(false);
    await started(ledger, 'i-standby', 'op-00000000000000b2', clock.now());
    expect((await leave(ledger, 'i-standby', 'op-00000000000000b2', clock.now())).startOwed).toBe(false);
  });
});

describe('Races: the workflow\'s own power operations are not failures (bug 1)', () => {
  it('an ECS event for an instance in a power hold is ignored: the workflow stopped it', async () => {
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-standby')!.status = 'Stopped';
    await joinPowerHold(ledger, 'i-standby', 'op-00000000000000aa', clock.now());
    const event = { type: 'ecs:Instance:StateChange', time: '2026-11-26T03:01:00Z', data: { name: 'Instance:StateChange', content: { resourceId: 'i-standby', state: 'Stopped' } } };
    const result = await normaliseEcsEvent(event, { ecs, groups: authority.groups, regionId: 'cn-hangzhou', now: () => clock.now(), ledger });
    expect(result).toEqual({ kind: 'ignored', reason: expect.stringMatching(/stopped by eni-failover itself \(power hold of op-00000000000000aa\)/) });
  });

  it('an ECS event for an instance that is Running again when it is read is ignored', async () => {
    const { clock, ecs, ledger } = world();
    const event = { type: 'ecs:Instance:StateChange', time: '2026-11-26T03:01:00Z', data: { name: 'Instance:StateChange', content: { resourceId: 'i-primary', state: 'Stopping' } } };
    const result = await normaliseEcsEvent(event, { ecs, groups: authority.groups, regionId: 'cn-hangzhou', now: () => clock.now(), ledger });
    expect(result).toEqual({ kind: 'ignored', reason: expect.stringMatching(/i-primary is Running now/) });
  });

  it('an event-started failover whose source is Running again moves nothing (superseded, SourceRecovered)', async () => {
    const { clock, ecs, ledger } = world();
    const event = await runInProcess(request({ origin: { kind: 'event', id: 'Instance:StateChange/i-primary/w', time: '2026-11-26T03:00:00Z' } }), { ecs, clock, guestScript: GUEST, authority, ledger });
    expect(event).toMatchObject({ outcome: 'superseded', reason: Reason.SourceRecovered });
    expect(ecs.writes).toEqual([]);
  });

  it('a detach from a source that operations of this workflow hold stopped is refused', () => {
    const eni = { eniId: 'eni-a', status: 'InUse', type: 'Secondary', instanceId: 'i-primary', vpcId: 'v', vSwitchId: 's', zoneId: 'z', macAddress: 'm', primaryIp: 'p', privateIps: ['p'], tags: {} } as const;
    const verdict = authorizeWrite({ kind: 'detach', instanceId: 'i-primary' }, request(), { eni, sourceInPowerHold: true }, authority);
    expect(verdict).toMatchObject({ ok: false, reason: Reason.NotAuthorized, detail: expect.stringMatching(/stopped by this workflow for another bind/) });
  });
});

describe('Races: a guest result counts only for the boot it ran in (bug 4)', () => {
  it('after a restart the command is sent again, with a token naming the new boot', async () => {
    // Prepare: the ENI is on the standby; a command ran in the boot before a restart.
    const { clock, ecs } = world();
    const e = ecs.enis.get('eni-a')!;
    Object.assign(e, { instanceId: 'i-standby' });
    const op = { ...newRecord(request(), clock.now()), step: 'configure-guest-routes' as const, plan: { action: 'attach' as const, instancePrep: 'none' as const, targetStatusAtValidate: 'Running', osType: 'linux' as const, instanceType: 'ecs.g7.large', eni: { macAddress: e.macAddress, privateIps: e.privateIps } } };
    const stale = { ...op, state: { ...op.state, invokeId: 'inv-old', guestRuns: 1, guestBoot: '1700000000' } };
    // Act
    const first = await configureGuestRoutes(stale, stepContext(ecs, clock));
    const second = await configureGuestRoutes({ ...stale, state: { ...stale.state, ...first.state } }, stepContext(ecs, clock));
    // Assess
    expect(first).toMatchObject({ kind: 'wait', detail: expect.stringMatching(/restarted since guest command inv-old/) });
    expect(second.kind).toBe('wait');
    const bootNow = String(Math.floor(Date.parse(ecs.instances.get('i-standby')!.startTime!) / 1000));
    expect([...ecs.invocations.values()].map((i) => i.clientToken)).toEqual([`${op.operationId}-g2-${bootNow}`]);
  });
});

describe('Races: harmless codes from a racing writer are looked at again, not fatal (bug 5)', () => {
  it.each([
    ['detachEni', 'InvalidOperation.InvalidEniState'],
    ['stopInstance', 'IncorrectInstanceStatus'],
  ])('%s answering %s once: the operation re-reads and succeeds', async (method, code) => {
    const { clock, ecs, ledger } = world();
    if (method === 'stopInstance') ecs.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large';
    ecs.failNext(method, new CloudError('invalidState', code, 'the resource is changing', { api: method }));
    const event = await runInProcess(request({ policy: { allowStop: true } }), { ecs, clock, guestScript: GUEST, authority, ledger });
    expect(event.outcome).toBe('succeeded');
    expect(ecs.enis.get('eni-a')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  });
});

describe('Races: an ENI taken from its source is never left bound nowhere (chaos seeds 5001, 5012, 5017)', () => {
  it('an operation that detached the ENI and then failed starts one that binds it to another member', async () => {
    // Prepare: the attach to the standby is refused for good after the detach from the failed primary.
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-primary')!.status = 'Stopped';
    ecs.failNext('attachEni', new CloudError('fatal', 'Forbidden.RAM', 'not allowed here', { api: 'AttachNetworkInterface' }));
    const deps = { ecs, clock, guestScript: GUEST, authority, ledger };
    // Act
    const failed = await runInProcess(request(), deps);
    // Assess: failed, and said what it started instead of leaving the ENI Available.
    expect(failed).toMatchObject({ outcome: 'failed', reason: Reason.CloudApiError, rescue: expect.stringMatching(/eni-a was left bound nowhere; operation op-[0-9a-f]{16} binds it to i-third/) });
    const rescueId = /operation (op-[0-9a-f]{16})/.exec(failed.rescue!)![1]!;
    const record = (await ledger.get(rescueId))!;
    expect(record).toMatchObject({ status: 'running', request: { eniId: 'eni-a', instanceId: 'i-third', origin: { kind: 'schedule', id: expect.stringMatching(/^rescue\//) } } });
    // The rescue runs like any operation (same request: the ledger knows it and wakes it).
    const rescued = await runInProcess(record.request, deps);
    expect(rescued.outcome).toBe('succeeded');
    expect(ecs.enis.get('eni-a')).toMatchObject({ status: 'InUse', instanceId: 'i-third' });
  });

  it('an ENI that still reads Detaching from its source when the operation fails (a read lagging the detach) is rescued too', async () => {
    // Prepare: as above, and the rescue's read of the ENI shows the detach still in motion.
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-primary')!.status = 'Stopped';
    ecs.failNext('attachEni', new CloudError('fatal', 'Forbidden.RAM', 'not allowed here', { api: 'AttachNetworkInterface' }));
    const attachEni = ecs.attachEni.bind(ecs);
    const describeEni = ecs.describeEni.bind(ecs);
    let lagging = false;
    jest.spyOn(ecs, 'attachEni').mockImplementation(async (args) => {
      try {
        return await attachEni(args);
      } catch (err) {
        lagging = true;
        throw err;
      }
    });
    jest.spyOn(ecs, 'describeEni').mockImplementation(async (id) => {
      const eni = await describeEni(id);
      if (!lagging || eni === undefined) return eni;
      lagging = false;
      return { ...eni, status: 'Detaching', instanceId: 'i-primary' };
    });
    const deps = { ecs, clock, guestScript: GUEST, authority, ledger };
    // Act
    const failed = await runInProcess(request(), deps);
    // Assess: the rescue was started, and it binds the ENI once it is Available.
    expect(failed).toMatchObject({ outcome: 'failed', rescue: expect.stringMatching(/operation op-[0-9a-f]{16} binds it to i-third/) });
    const rescueId = /operation (op-[0-9a-f]{16})/.exec(failed.rescue!)![1]!;
    expect((await runInProcess((await ledger.get(rescueId))!.request, deps)).outcome).toBe('succeeded');
    expect(ecs.enis.get('eni-a')).toMatchObject({ status: 'InUse', instanceId: 'i-third' });
  });

  it('a fence of a hung source is not refused because an operation is still binding another ENI there (chaos seed 28)', async () => {
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-primary')!.guestResponsive = false;
    // A live operation targets the hung primary (an operator's bind of eni-b to it, say).
    const { newRecord: record, acquireEniLease: lease } = await import('../../workflow/operation');
    const other = record(request({ eniId: 'eni-b', instanceId: 'i-primary', sourceInstanceId: undefined }), clock.now());
    await ledger.create(other);
    await lease(ledger, 'eni-b', other.operationId, clock.now(), clock.now() + 900_000);
    const event = await runInProcess(request({ policy: { fenceSource: true } }), { ecs, clock, guestScript: GUEST, authority, ledger });
    expect(event.outcome).toBe('succeeded');
    expect(ecs.writes).toContain('stop i-primary force');
  });

  it('a fence is not attempted once the ENI has left the source (it was refused as SourceMismatch before)', async () => {
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-primary')!.guestResponsive = false;
    const event = await runInProcess(request({ policy: { fenceSource: true } }), { ecs, clock, guestScript: GUEST, authority, ledger });
    expect(event.outcome).toBe('succeeded');
  });
});

describe('Reads lag writes: an InUse read just after our Detach is looked at again, not detached again (issue 11)', () => {
  const planned = (clock: FakeClock) => ({
    ...newRecord(request(), clock.now()),
    step: 'attach' as const,
    plan: { action: 'attach' as const, instancePrep: 'none' as const, targetStatusAtValidate: 'Running', osType: 'linux' as const, instanceType: 'ecs.g7.large', eni: { macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] } },
  });

  it('inside the read-lag grace: a wait that says why, and no second Detach', async () => {
    // Prepare: ECS accepted our Detach 300 ms ago; the read still shows the ENI InUse on the source.
    const { clock, ecs } = world();
    const op = planned(clock);
    const lagging = { ...op, state: { ...op.state, detachRequestedAt: clock.now() - 300, detachSentAt: clock.now() - 300 } };
    // Act
    const result = await attach(lagging, stepContext(ecs, clock));
    // Assess
    expect(result).toMatchObject({ kind: 'wait', detail: expect.stringMatching(/still reads InUse on i-primary 300 ms after ECS accepted its detach/) });
    expect(ecs.writes).toEqual([]);
  });

  it('past the grace the ENI is really still on the source: the Detach is sent again, and the time recorded', async () => {
    const { clock, ecs } = world();
    const op = planned(clock);
    const old = { ...op, state: { ...op.state, detachRequestedAt: clock.now() - 6_000, detachSentAt: clock.now() - 6_000 } };
    const result = await attach(old, stepContext(ecs, clock));
    expect(ecs.writes).toEqual(['detach eni-a i-primary']);
    expect(result).toMatchObject({ kind: 'wait', state: { detachRequestedAt: clock.now() - 6_000, detachSentAt: clock.now() } });
  });
});

describe('The Cloud Assistant grace runs from the start this operation asked for, not from the operation start (issue 11)', () => {
  it('an agent still offline just after our StartInstance is waited for; the same wait past the grace fails', async () => {
    // Prepare: the operation began 10 minutes ago (a long stop), then started the standby 1 s ago.
    const { clock, ecs } = world();
    Object.assign(ecs.enis.get('eni-a')!, { instanceId: 'i-standby' });
    ecs.instances.get('i-standby')!.agentOnline = false;
    const base = newRecord(request(), clock.now() - 600_000);
    const op = { ...base, step: 'configure-guest-routes' as const, plan: { action: 'attach' as const, instancePrep: 'stop' as const, targetStatusAtValidate: 'Stopped', osType: 'linux' as const, instanceType: 'ecs.g7.large', eni: { macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] } } };
    const fresh = { ...op, state: { ...op.state, startRequestedAt: clock.now() - 1_000 } };
    // Act
    const waiting = await configureGuestRoutes(fresh, stepContext(ecs, clock));
    clock.t += 200_000;
    const late = await configureGuestRoutes(fresh, stepContext(ecs, clock));
    // Assess
    expect(waiting).toMatchObject({ kind: 'wait', detail: expect.stringMatching(/not online yet/) });
    expect(late).toMatchObject({ kind: 'end', outcome: 'failed', reason: Reason.GuestAgentOffline });
  });
});

describe('Reads lag writes: the guest step does not fail on a read older than what verify-bound saw (issue 11)', () => {
  it('an ENI reading Attaching just after verify-bound saw it InUse is looked at again; the same read past the grace is refused', async () => {
    // Prepare: verify-bound saw eni-a InUse on the standby 200 ms ago; this read still shows Attaching.
    const { clock, ecs } = world();
    Object.assign(ecs.enis.get('eni-a')!, { instanceId: 'i-standby', status: 'Attaching' });
    const base = newRecord(request(), clock.now());
    const op = { ...base, step: 'configure-guest-routes' as const, plan: { action: 'attach' as const, instancePrep: 'none' as const, targetStatusAtValidate: 'Running', osType: 'linux' as const, instanceType: 'ecs.g7.large', eni: { macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] } } };
    const seen = { ...op, state: { ...op.state, boundSeenAt: clock.now() - 200 } };
    // Act
    const lagging = await configureGuestRoutes(seen, stepContext(ecs, clock));
    clock.t += 10_000;
    const real = await configureGuestRoutes(seen, stepContext(ecs, clock));
    // Assess
    expect(lagging).toMatchObject({ kind: 'wait', detail: expect.stringMatching(/reads Attaching on i-standby 200 ms after it was seen InUse/) });
    expect(real).toMatchObject({ kind: 'end', outcome: 'failed', detail: expect.stringMatching(/refused: eni-a is not InUse on i-standby/) });
    expect(ecs.writes).toEqual([]);
  });
});

describe('Chaos seed 27 (realistic ECS): a read lagging the last bind never gets the target stopped', () => {
  it('the ledger says an operation bound the ENI to the target a moment ago: stop-if-required looks again instead of stopping', async () => {
    // Prepare: a Stopped-only standby; the read still shows eni-a on the failed primary, while the ledger's
    // lease records that another operation bound it to the standby 300 ms ago.
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large';
    const base = newRecord(request({ policy: { allowStop: true } }), clock.now());
    const op = { ...base, step: 'stop-if-required' as const, plan: { action: 'attach' as const, instancePrep: 'stop' as const, targetStatusAtValidate: 'Running', osType: 'linux' as const, instanceType: 'ecs.t6-c1m1.large', eni: { macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] } } };
    await ledger.putLease({ resourceId: 'eni/eni-a', version: 1, operationId: op.operationId, until: clock.now() + 60_000, holders: [], updatedAt: clock.now(), last: { operationId: 'op-00000000000000bb', outcome: 'succeeded', instanceId: 'i-standby', at: clock.now() - 300 } });
    // Act
    const result = await stopIfRequired(op, stepContext(ecs, clock, ledger));
    // Assess
    expect(result).toMatchObject({ kind: 'wait', detail: expect.stringMatching(/bound eni-a to i-standby 300 ms ago \(ledger\)/) });
    expect(ecs.writes).toEqual([]);
  });

  it('the ENI reads as already on the target: nothing is stopped, the operation goes on to attach', async () => {
    const { clock, ecs, ledger } = world();
    ecs.instances.get('i-standby')!.instanceType = 'ecs.t6-c1m1.large';
    Object.assign(ecs.enis.get('eni-a')!, { instanceId: 'i-standby' });
    const base = newRecord(request({ policy: { allowStop: true } }), clock.now());
    const op = { ...base, step: 'stop-if-required' as const, plan: { action: 'attach' as const, instancePrep: 'stop' as const, targetStatusAtValidate: 'Running', osType: 'linux' as const, instanceType: 'ecs.t6-c1m1.large', eni: { macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] } } };
    const result = await stopIfRequired(op, stepContext(ecs, clock, ledger));
    expect(result).toMatchObject({ kind: 'next', step: 'attach', detail: expect.stringMatching(/already InUse on i-standby: nothing to stop/) });
    expect(ecs.writes).toEqual([]);
  });
});

describe('Chaos seed 28: a target stopped under its guest command, which nobody will start, ends the operation', () => {
  it('GuestNotConfigured with what to do, instead of holding the lease until the deadline', async () => {
    const { clock, ecs } = world();
    Object.assign(ecs.enis.get('eni-a')!, { instanceId: 'i-standby' });
    ecs.instances.get('i-standby')!.status = 'Stopped';
    const base = newRecord(request(), clock.now());
    const op = { ...base, step: 'configure-guest-routes' as const, plan: { action: 'attach' as const, instancePrep: 'none' as const, targetStatusAtValidate: 'Running', osType: 'linux' as const, instanceType: 'ecs.g7.large', eni: { macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] } } };
    const running = { ...op, state: { ...op.state, invokeId: 't-1', guestRuns: 1, guestBoot: 'x', boundSeenAt: clock.now() - 60_000 } };
    const result = await configureGuestRoutes(running, stepContext(ecs, clock));
    expect(result).toMatchObject({ kind: 'end', outcome: 'failed', reason: Reason.GuestNotConfigured, detail: expect.stringMatching(/stopped before its guest was configured .* start it and run the bind again/) });
  });

  it('a young command is polled alone; once it has run GuestStallCheckMs the stopped target is noticed', async () => {
    // Prepare: the command was sent a moment ago; the target stopped under it.
    const { clock, ecs } = world();
    Object.assign(ecs.enis.get('eni-a')!, { instanceId: 'i-standby' });
    ecs.instances.get('i-standby')!.status = 'Stopped';
    const base = newRecord(request(), clock.now());
    const op = { ...base, step: 'configure-guest-routes' as const, plan: { action: 'attach' as const, instancePrep: 'none' as const, targetStatusAtValidate: 'Running', osType: 'linux' as const, instanceType: 'ecs.g7.large', eni: { macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] } } };
    const running = { ...op, state: { ...op.state, invokeId: 't-1', guestRuns: 1, guestBoot: 'x', boundSeenAt: clock.now() - 60_000, guestSentAt: clock.now() } };
    let instanceReads = 0;
    const describeInstance = ecs.describeInstance.bind(ecs);
    ecs.describeInstance = async (id: string) => (instanceReads++, describeInstance(id));
    // Act
    const young = await configureGuestRoutes(running, stepContext(ecs, clock));
    await clock.sleep(GuestStallCheckMs);
    const stalled = await configureGuestRoutes(running, stepContext(ecs, clock));
    // Assess: the first look read only the command's result and waits for it; the later one read the instance and ended.
    expect(young).toMatchObject({ kind: 'wait', awaiting: { transition: 'command', since: running.state.guestSentAt } });
    expect(stalled).toMatchObject({ kind: 'end', outcome: 'failed', reason: Reason.GuestNotConfigured });
    expect(instanceReads).toBe(1);
  });
});

describe('Chaos seed 344: a fence whose StopInstance failed is sent again', () => {
  const hungOp = (clock: FakeClock, fencedAgoMs: number) => {
    const base = newRecord(request({ policy: { fenceSource: true } }), clock.now() - 120_000);
    const op = { ...base, step: 'attach' as const, plan: { action: 'attach' as const, instancePrep: 'none' as const, targetStatusAtValidate: 'Running', osType: 'linux' as const, instanceType: 'ecs.g7.large', eni: { macAddress: '00:16:3e:00:00:aa', privateIps: ['10.0.1.50'] } } };
    return { ...op, state: { ...op.state, detachRequestedAt: clock.now() - 60_000, detachSentAt: clock.now() - 60_000, sourceFencedAt: clock.now() - fencedAgoMs } };
  };

  it.each([
    [15_000, ['stop i-primary force']],
    [2_000, []],
  ])('fenced %i ms ago and the source still Running: writes %j', async (ago, expected) => {
    // Prepare: the detach hangs on the unresponsive primary, which is still Running.
    const { clock, ecs, ledger } = world();
    Object.assign(ecs.enis.get('eni-a')!, { status: 'Detaching' });
    // Act
    await attach(hungOp(clock, ago), stepContext(ecs, clock, ledger));
    // Assess
    expect(ecs.writes.filter((w) => w.startsWith('stop'))).toEqual(expected);
  });
});
