import { authorizeWrite } from '../../workflow/authority';
import { evaluateFailback, recordFailbackFailure } from '../../workflow/failback';
import { parseGroups } from '../../workflow/groups';
import { failbackClockId } from '../../workflow/ledger';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { deriveOperationId } from '../../workflow/messages';
import { normaliseEcsEvent } from '../../workflow/entries/ecs-event';
import { isFailbackMessage, normaliseFailbackRequest, parseFailbackEnvelope } from '../../workflow/entries/request';
import { startOperation } from '../../workflow/operation';
import { defaultQueueNames } from '../../workflow/pipeline';
import { FakeClock, FakeEcs, RecordingQueue } from '../helpers/fake-ecs';

const S = 1000;
const groupsYaml = (extra = '') => `
groups:
  - name: web
    enis: [eni-web]
    members: [i-primary, i-standby]
    failback: auto
    holdSeconds: 600
${extra}`;

/** The web ENI failed over to the standby; the primary Running again. */
function world(yaml = groupsYaml()) {
  const clock = new FakeClock();
  const ecs = new FakeEcs(clock).addType('ecs.g7.large', 3).addInstance({ instanceId: 'i-primary' }).addInstance({ instanceId: 'i-standby' }).addEni({ eniId: 'eni-web', instanceId: 'i-standby' });
  const groups = parseGroups(yaml, 'test');
  const ledger = new MemoryLedger();
  current = clock;
  const deps = { ecs, ledger, regionId: 'cn-hangzhou', now: () => clock.now() };
  return { clock, ecs, ledger, groups, group: groups.groups[0]!, deps };
}

/** Moves the fake clock to `at` (the functions' own clock follows the observations) and answers it. */
let current: FakeClock | undefined;
function now(at: number): number {
  current!.t = at;
  return at;
}

describe('Failover groups: failback fields', () => {
  it('default to manual, a hold of 600 s and no dwell', () => {
    expect(parseGroups('groups: [{name: web, enis: [eni-a], members: [i-a, i-b]}]', 'g').groups[0]).toMatchObject({ failback: 'manual', holdSeconds: 600, minDwellSeconds: 0 });
  });

  it.each([
    ['holdSeconds: -1', 'g: groups[0].holdSeconds: holdSeconds must be 0 or more seconds'],
    ['holdSeconds: 1.5', 'g: groups[0].holdSeconds: holdSeconds must be a whole number of seconds'],
    ['minDwellSeconds: "ten"', 'g: groups[0].minDwellSeconds: minDwellSeconds must be a number of seconds (a whole number, 0 or more)'],
    ['minDwellSeconds: 604801', 'g: groups[0].minDwellSeconds: minDwellSeconds must be at most 604800 seconds (a week)'],
    ['failback: sometimes', 'g: groups[0].failback: failback must be manual or auto'],
  ])('refuses %s, naming the field and what it must be', (field, message) => {
    expect(() => parseGroups(`groups: [{name: web, enis: [eni-a], members: [i-a, i-b], ${field}}]`, 'g')).toThrow(message);
  });
});

describe('Failback clock (workflow/failback.ts)', () => {
  it('two concurrent looks past the hold start one failback: one starts it, the other finds it in progress', async () => {
    // Prepare: healthy since t; both looks come at t + hold.
    const { clock, group, deps, ledger } = world();
    const t = clock.now();
    await evaluateFailback(group, { kind: 'look', at: t }, { kind: 'observe' }, deps);
    // Act
    const looks = await Promise.all([1, 2].map(() => evaluateFailback(group, { kind: 'look', at: now(t + 600 * S) }, { kind: 'observe' }, deps)));
    // Assess
    expect(looks.map((l) => l.state).sort()).toEqual(['in-progress', 'started']);
    const started = looks.find((l) => l.state === 'started')!;
    expect(started.binds).toEqual([expect.objectContaining({ eniId: 'eni-web', instanceId: 'i-primary', sourceInstanceId: 'i-standby', origin: expect.objectContaining({ kind: 'failback' }) })]);
    expect(looks.find((l) => l.state === 'in-progress')!.binds).toEqual([]);
    expect((await ledger.getLease(failbackClockId('web')))?.failback?.failback?.operations).toEqual([{ operationId: deriveOperationId(started.binds[0]!), eniId: 'eni-web', from: 'i-standby' }]);
  });

  it('a failback whose start was lost is sent again by a later look, as the same operation', async () => {
    const { clock, group, deps, ledger } = world();
    const t = clock.now();
    await evaluateFailback(group, { kind: 'look', at: t }, { kind: 'observe' }, deps);
    const first = await evaluateFailback(group, { kind: 'look', at: now(t + 600 * S) }, { kind: 'observe' }, deps);
    // Act: nobody sent it (the starter died); a look 5 minutes later.
    const later = await evaluateFailback(group, { kind: 'look', at: now(t + 900 * S) }, { kind: 'observe' }, deps);
    // Assess
    expect(later).toMatchObject({ state: 'in-progress' });
    expect(later.binds.map(deriveOperationId)).toEqual(first.binds.map(deriveOperationId));
    const queue = new RecordingQueue();
    for (const r of [...first.binds, ...later.binds]) await startOperation(r, { ledger, queue, queues: defaultQueueNames('eni-failover-'), now: clock.now() });
    expect((await ledger.list()).filter((r) => r.request.origin.kind === 'failback')).toHaveLength(1);
  });

  it('a failback that ended failed resets the clock: a new hold from the next look, and not before a hold after the last start', async () => {
    const { clock, group, deps, ledger } = world();
    const t = clock.now();
    await evaluateFailback(group, { kind: 'look', at: t }, { kind: 'observe' }, deps);
    const started = await evaluateFailback(group, { kind: 'look', at: now(t + 600 * S) }, { kind: 'observe' }, deps);
    const { record } = await startOperation(started.binds[0]!, { ledger, queue: new RecordingQueue(), queues: defaultQueueNames('eni-failover-'), now: clock.now() });
    await ledger.update({ ...record, version: record.version + 1, status: 'failed', outcome: { reason: 'AttachFailed' } as never });
    // Act
    const next = await evaluateFailback(group, { kind: 'look', at: now(t + 700 * S) }, { kind: 'observe' }, deps);
    // Assess
    expect(next).toMatchObject({ state: 'waiting', dueAt: t + 1300 * S, binds: [] });
    expect((await ledger.getLease(failbackClockId('web')))?.failback).toMatchObject({ healthySince: t + 700 * S, lastOutcome: { outcome: 'failed', reason: 'AttachFailed' }, lastFailure: expect.stringMatching(/ended failed \(AttachFailed\)/) });
  });

  it('minDwellSeconds: the ENIs stay on the standby that long even when the hold has passed', async () => {
    const { clock, group, deps } = world(groupsYaml('    minDwellSeconds: 900'));
    const t = clock.now();
    await evaluateFailback(group, { kind: 'look', at: t }, { kind: 'observe' }, deps);
    expect(await evaluateFailback(group, { kind: 'look', at: now(t + 600 * S) }, { kind: 'observe' }, deps)).toMatchObject({ state: 'waiting', detail: expect.stringMatching(/failback in 300 s \(the dwell of 900 s\)/) });
    expect(await evaluateFailback(group, { kind: 'look', at: now(t + 900 * S) }, { kind: 'observe' }, deps)).toMatchObject({ state: 'started' });
  });

  it('an alarm rule in ALARM keeps the preferred member unhealthy while ECS shows it Running, until the rule says OK', async () => {
    const { clock, group, deps } = world();
    const t = clock.now();
    await recordFailbackFailure(group, { kind: 'failure', at: t, what: 'alarm svc is ALARM', alarm: 'svc' }, deps);
    expect(await evaluateFailback(group, { kind: 'look', at: now(t + 900 * S) }, { kind: 'observe' }, deps)).toMatchObject({ state: 'waiting', detail: expect.stringMatching(/not healthy \(alarm svc is ALARM\)/) });
    await evaluateFailback(group, { kind: 'alarm-ok', at: now(t + 1000 * S), alarm: 'svc' }, { kind: 'observe' }, deps);
    expect(await evaluateFailback(group, { kind: 'look', at: now(t + 1599 * S) }, { kind: 'observe' }, deps)).toMatchObject({ state: 'waiting' });
    expect(await evaluateFailback(group, { kind: 'look', at: now(t + 1600 * S) }, { kind: 'observe' }, deps)).toMatchObject({ state: 'started' });
  });

  it('an observation dated ahead of the function\'s clock does not count the hold as passed', async () => {
    const { clock, group, deps } = world();
    const t = clock.now();
    await evaluateFailback(group, { kind: 'look', at: t }, { kind: 'observe' }, deps);
    // Act: an OK callback dated 23 hours ahead (inside the alarm entry's one-day window), then a look now.
    await evaluateFailback(group, { kind: 'alarm-ok', at: t + 23 * 3600 * S, alarm: 'svc' }, { kind: 'observe' }, deps);
    const look = await evaluateFailback(group, { kind: 'look', at: now(t + 10 * S) }, { kind: 'observe' }, deps);
    // Assess: still the hold from t, judged at most a minute ahead.
    expect(look).toMatchObject({ state: 'waiting', dueAt: t + 600 * S, binds: [] });
  });

  it('an agent offline is not healthy when the group configures guests', async () => {
    const { clock, group, deps, ecs } = world();
    ecs.instances.get('i-primary')!.agentOnline = false;
    expect(await evaluateFailback(group, { kind: 'look', at: clock.now() }, { kind: 'observe' }, deps)).toMatchObject({ state: 'waiting', detail: expect.stringMatching(/not healthy/) });
  });

  it('manual mode reports "failback possible" and starts nothing; read writes nothing', async () => {
    const { clock, deps, ledger, group } = world(groupsYaml().replace('failback: auto', 'failback: manual'));
    const t = clock.now();
    await evaluateFailback(group, { kind: 'look', at: t }, { kind: 'observe' }, deps);
    const row = await ledger.getLease(failbackClockId('web'));
    expect(await evaluateFailback(group, { kind: 'look', at: now(t + 600 * S) }, { kind: 'read' }, deps)).toMatchObject({ state: 'possible', binds: [] });
    expect((await ledger.getLease(failbackClockId('web')))?.version).toBe(row!.version);
    expect(await evaluateFailback(group, { kind: 'look', at: now(t + 600 * S) }, { kind: 'observe' }, deps)).toMatchObject({ state: 'possible', detail: expect.stringMatching(/^failback possible: eni-web on i-standby/), binds: [] });
    const asked = await evaluateFailback(group, { kind: 'look', at: now(t + 601 * S) }, { kind: 'operator', requestId: 'op1' }, deps);
    expect(asked).toMatchObject({ state: 'started', binds: [expect.objectContaining({ origin: expect.objectContaining({ id: 'failback/web/req/op1' }) })] });
  });

  it('an ECS stop event of the preferred member resets the clock even when it runs again; the workflow\'s own stop does not', async () => {
    const { clock, group, groups, deps, ledger } = world();
    const t = clock.now();
    await evaluateFailback(group, { kind: 'look', at: t }, { kind: 'observe' }, deps);
    const event = (state: string) => ({ name: 'Instance:StateChange', resourceId: 'acs:ecs:cn-hangzhou:1:instance/i-primary', regionId: 'cn-hangzhou', content: { resourceId: 'i-primary', state } });
    const entry = { ecs: deps.ecs, groups, ledger, regionId: 'cn-hangzhou', now: () => t + 100 * S };
    // The workflow's own stop (a power hold): not a failure.
    await ledger.putLease({ resourceId: 'instance/i-primary', version: 1, operationId: '', until: 0, holders: ['op-0000000000000001'], updatedAt: t });
    await normaliseEcsEvent(event('Stopping'), entry);
    expect((await ledger.getLease(failbackClockId('web')))?.failback?.healthySince).toBe(t);
    // Someone else's stop: the clock resets, though the instance is Running again now.
    await ledger.putLease({ resourceId: 'instance/i-primary', version: 2, operationId: '', until: 0, holders: [], updatedAt: t });
    expect(await normaliseEcsEvent(event('Stopped'), entry)).toMatchObject({ kind: 'ignored' });
    expect((await ledger.getLease(failbackClockId('web')))?.failback).toMatchObject({ lastFailure: 'ECS event Instance:StateChange Stopped' });
    expect((await ledger.getLease(failbackClockId('web')))?.failback?.healthySince).toBeUndefined();
  });
});

describe('Entry: an operator\'s failback on the requests queue', () => {
  it('parses only {kind, group, id?}, naming a bad field', () => {
    expect(isFailbackMessage('{"kind":"eni-failover.failback","group":"web"}')).toBe(true);
    expect(isFailbackMessage('{"request":{}}')).toBe(false);
    expect(parseFailbackEnvelope('{"kind":"eni-failover.failback","group":"Web!"}')).toEqual({ ok: false, error: 'group: must be a group name (lower-case letters, digits and -)' });
    expect(parseFailbackEnvelope('{"kind":"eni-failover.failback","group":"web","force":true}')).toMatchObject({ ok: false, error: expect.stringMatching(/Unrecognized key\(s\) in object: 'force'/) });
  });

  it('is refused, saying where the group stands, unless the clock allows it; then starts the failback it names', async () => {
    const { clock, groups, deps, ledger } = world(groupsYaml().replace('failback: auto', 'failback: manual'));
    const entry = { ecs: deps.ecs, groups, ledger, regionId: 'cn-hangzhou', now: () => clock.now() };
    const ask = (group: string) => normaliseFailbackRequest({ kind: 'eni-failover.failback', group }, { messageId: 'm-1' }, entry);
    expect(await ask('db')).toEqual({ kind: 'refused', reason: 'no failover group "db" (groups: web)' });
    const t = clock.now();
    expect(await ask('web')).toEqual({ kind: 'refused', reason: expect.stringMatching(/^failback of group web is not possible now \(waiting\): eni-web on i-standby; .*failback in 600 s/) });
    now(t + 600 * S);
    expect(await ask('web')).toEqual([expect.objectContaining({ kind: 'bind', request: expect.objectContaining({ origin: expect.objectContaining({ kind: 'failback', id: 'failback/web/req/m-1' }) }) })]);
  });
});

describe('Authority: a failback\'s writes', () => {
  const { ecs, groups } = world();
  const authority = { groups, allowUnmanaged: false };
  const request = { eniId: 'eni-web', instanceId: 'i-primary', sourceInstanceId: 'i-standby', regionId: 'cn-hangzhou', policy: { allowStop: false, stoppedMode: 'KeepCharging' as const, fenceSource: true, configureGuest: true, persistGuest: false, deadlineSeconds: 900 }, origin: { kind: 'failback' as const, id: 'failback/web/x', time: new Date(0).toISOString() } };
  const eni = ecs.enis.get('eni-web')!;
  const running = { ...ecs.instances.get('i-primary')!, status: 'Running' as const };

  it('never fences the standby, even with fenceSource', () => {
    expect(authorizeWrite({ kind: 'fence', instanceId: 'i-standby' }, request, { eni, target: running, source: ecs.instances.get('i-standby')! }, authority)).toMatchObject({ ok: false, reason: 'NotAuthorized', detail: expect.stringMatching(/never fences i-standby/) });
  });

  it('detaches from the standby only while the preferred member is Running', () => {
    expect(authorizeWrite({ kind: 'detach', instanceId: 'i-standby' }, request, { eni, target: running }, authority)).toMatchObject({ ok: true });
    expect(authorizeWrite({ kind: 'detach', instanceId: 'i-standby' }, request, { eni, target: { ...running, status: 'Stopped' } }, authority)).toMatchObject({ ok: false, reason: 'FailbackTargetUnhealthy' });
    expect(authorizeWrite({ kind: 'detach', instanceId: 'i-standby' }, request, { eni }, authority)).toMatchObject({ ok: false, reason: 'FailbackTargetUnhealthy' });
  });
});
