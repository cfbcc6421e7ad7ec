import { deriveOperationId } from '../../workflow/messages';
import { Reason } from '../../workflow/rules';
import { instanceIdFromDimensions, normaliseAlarm, parseAlarmCallback } from '../../workflow/entries/alarm';
import { normaliseEcsEvent, parseEventTime, readEcsEvent } from '../../workflow/entries/ecs-event';
import type { EntryDecision, EntryResult } from '../../workflow/entries/failover';
import { normaliseRequest, parseRequestEnvelope } from '../../workflow/entries/request';
import { normaliseSchedule, parseSchedulePayload, reconcile } from '../../workflow/entries/schedule';
import { alarmBody, world } from './helpers';

const decisions = (r: EntryResult): readonly EntryDecision[] => (r.kind === 'decided' ? r.decisions : []);
const binds = (r: EntryResult) => decisions(r).flatMap((d) => (d.kind === 'bind' ? [d.request] : []));

function alarm(fields: Record<string, string> = {}) {
  const parsed = parseAlarmCallback(alarmBody(fields));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

describe('Entry: CloudMonitor alarm callback', () => {
  it.each([
    ['the key=value string form', '{userId=12****, instanceId=i-primary}', 'i-primary'],
    ['a JSON array of objects', '[{"userId":"12","instanceId":"i-abc1"}]', 'i-abc1'],
    ['a JSON array of name/value pairs', '[{"name":"userId","value":"1"},{"name":"instanceId","value":"i-abc2"}]', 'i-abc2'],
    ['a JSON object', '{"instanceId":"i-abc3"}', 'i-abc3'],
    ['key=value with spaces', '{ instanceId = i-abc4 , userId=1 }', 'i-abc4'],
  ])('reads instanceId from dimensions as %s', (_n, dimensions, id) => {
    expect(instanceIdFromDimensions(dimensions)).toBe(id);
  });

  it.each([
    ['no alertName', { alertName: '' }, /alertName: is required/],
    ['an unknown state', { alertState: 'BROKEN' }, /alertState: "BROKEN" is not one of/],
    ['dimensions without an instance', { dimensions: '{userId=12}' }, /dimensions: no instanceId/],
    ['an instance id that is not one', { dimensions: '{instanceId=web01}' }, /does not look like i-xxxx/],
    ['a timestamp that is not a number', { timestamp: 'yesterday' }, /timestamp: .* is not epoch milliseconds/],
  ])('refuses a callback with %s, naming the field', (_n, fields, error) => {
    const parsed = parseAlarmCallback(alarmBody(fields));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toMatch(error);
  });

  it('fails the alarmed instance over: one bind per ENI it holds, source named, origin windowed', async () => {
    const { deps } = world();
    const result = await normaliseAlarm(alarm(), deps);
    expect(binds(result)).toEqual([
      expect.objectContaining({
        eniId: 'eni-web',
        instanceId: 'i-standby',
        sourceInstanceId: 'i-primary',
        regionId: 'cn-hangzhou',
        policy: expect.objectContaining({ fenceSource: true }),
        origin: { kind: 'alarm', id: 'web-down/i-primary/2026-11-26T03:00:00.000Z', time: '2026-11-26T03:01:00.000Z' },
      }),
    ]);
  });

  it('a repeat while the first alarm\'s operation has the ENI in flight joins that operation (tag-defined group)', async () => {
    // Prepare: the first alarm's operation holds the lease and has detached the ENI (Available now).
    const { MemoryLedger } = await import('../../workflow/memory-ledger');
    const { newRecord } = await import('../../workflow/operation');
    const { deps, ecs, clock } = world();
    const ledger = new MemoryLedger();
    const first = binds(await normaliseAlarm(alarm(), { ...deps, ledger }))[0]!;
    const record = newRecord(first, clock.now());
    await ledger.create(record);
    await ledger.putLease({ resourceId: 'eni/eni-web', version: 1, operationId: record.operationId, until: clock.now() + 60_000, holders: [], updatedAt: clock.now() });
    Object.assign(ecs.enis.get('eni-web')!, { status: 'Available', instanceId: undefined });
    // Act
    const repeat = decisions(await normaliseAlarm(alarm(), { ...deps, ledger }));
    // Assess: no bind, a skip naming the running operation.
    expect(repeat).toEqual([expect.objectContaining({ kind: 'skip', eniId: 'eni-web', operationId: record.operationId, reason: expect.stringMatching(/being moved off i-primary by operation op-/) })]);
    // Once it ended, the same repeat finds nothing to move.
    await ledger.update({ ...record, version: record.version + 1, status: 'succeeded' });
    expect(decisions(await normaliseAlarm(alarm(), { ...deps, ledger }))).toEqual([expect.objectContaining({ kind: 'skip', reason: expect.stringMatching(/holds no ENI of group/) })]);
  });

  it.each(['OK', 'INSUFFICIENT_DATA'])('ignores the %s state', async (state) => {
    const { deps, ecs } = world();
    const result = await normaliseAlarm(alarm({ alertState: state }), deps);
    expect(result).toEqual({ kind: 'ignored', reason: `${state} state` });
    expect(ecs.enisCalls).toEqual([]);
  });

  it('treats the legacy ALERT state as ALARM', async () => {
    const { deps } = world();
    expect(binds(await normaliseAlarm(alarm({ alertState: 'ALERT' }), deps))).toHaveLength(1);
  });

  it('collapses repeated alarms inside one 10-minute window into one operationId, and not across windows', async () => {
    const { deps } = world();
    const at = (iso: string) => ({ timestamp: String(Date.parse(iso)) });
    const first = binds(await normaliseAlarm(alarm(at('2026-11-26T03:00:05Z')), deps))[0]!;
    const retry = binds(await normaliseAlarm(alarm(at('2026-11-26T03:09:59Z')), deps))[0]!;
    const later = binds(await normaliseAlarm(alarm(at('2026-11-26T03:10:00Z')), deps))[0]!;
    expect(deriveOperationId(retry)).toBe(deriveOperationId(first));
    expect(deriveOperationId(later)).not.toBe(deriveOperationId(first));
  });

  it('does not move the ENI back when a late alarm arrives after it moved', async () => {
    const { deps, ecs } = world();
    const eni = ecs.enis.get('eni-web')!;
    eni.instanceId = 'i-standby';
    ecs.instances.get('i-primary')!.eniIds.pop();
    ecs.instances.get('i-standby')!.eniIds.push('eni-web');
    // The failover already happened; the old primary's alarm fires again (another window, so a new id).
    const late = await normaliseAlarm(alarm(), deps);
    expect(binds(late)).toEqual([]);
    expect(decisions(late)).toEqual([{ kind: 'skip', group: 'web', reason: expect.stringMatching(/i-primary holds no ENI of group web/) }]);
  });

  it('skips an ENI that is already Detaching from the failed instance (an operation owns it)', async () => {
    const { deps, ecs } = world();
    ecs.enis.get('eni-web')!.status = 'Detaching';
    expect(decisions(await normaliseAlarm(alarm(), deps))).toEqual([expect.objectContaining({ kind: 'skip', reason: expect.stringMatching(/Detaching/) })]);
  });

  it('ends in NoHealthyStandby, saying why for each member, when no member can take the ENI', async () => {
    const { deps, ecs } = world();
    ecs.instances.get('i-standby')!.status = 'Stopped';
    ecs.instances.get('i-third')!.agentOnline = false;
    const [d] = decisions(await normaliseAlarm(alarm(), deps));
    expect(d).toMatchObject({ kind: 'fail', event: { kind: 'eni-failover.outcome', outcome: 'failed', reason: Reason.NoHealthyStandby, eniId: 'eni-web', sourceInstanceId: 'i-primary' } });
    expect(d?.kind === 'fail' && d.event.passedOver.map((p) => p.code)).toEqual(['IsSource', 'StoppedNotAllowed', 'GuestAgentOffline']);
  });

  it('says so when the alarmed instance is in no group', async () => {
    const { deps } = world();
    expect(decisions(await normaliseAlarm(alarm({ dimensions: '{instanceId=i-stranger}' }), deps))).toEqual([{ kind: 'skip', reason: 'i-stranger is a member of no failover group' }]);
  });
});

/** The world with the primary Stopped, as ECS describes it after the events of these tests. */
function primaryDown() {
  const w = world();
  w.ecs.instances.get('i-primary')!.status = 'Stopped';
  return w;
}

describe('Entry: ECS events', () => {
  const stateChange = { ver: '1.0', id: 'e-1', product: 'ECS', resourceId: 'acs:ecs:cn-hangzhou:12:instance/i-primary', level: 'INFO', name: 'Instance:StateChange', userId: '12', eventTime: '20261126T030100.000+0000', regionId: 'cn-hangzhou', content: { resourceId: 'i-primary', resourceType: 'ALIYUN::ECS::Instance', state: 'Stopping' } };

  it.each([
    ['bare CloudMonitor body', stateChange],
    ['wrapped in a CloudEvent', { specversion: '1.0', id: 'x', source: 'acs.ecs', type: 'ecs:Instance:StateChange', time: '2026-11-26T03:01:00Z', data: stateChange }],
    ['content bare under data', { specversion: '1.0', type: 'ecs:Instance:StateChange', subject: 'acs:ecs:cn-hangzhou:12:instance/i-primary', time: '2026-11-26T03:01:00Z', data: { resourceId: 'i-primary', state: 'Stopped' } }],
  ])('fails over on a Stopping/Stopped state change: %s', async (_n, event) => {
    const { deps } = primaryDown(); // the event reports it, and ECS agrees when asked
    const [request] = binds(await normaliseEcsEvent(event, deps));
    expect(request).toMatchObject({ eniId: 'eni-web', instanceId: 'i-standby', sourceInstanceId: 'i-primary', origin: { kind: 'event', id: 'Instance:StateChange/i-primary/2026-11-26T03:00:00.000Z' } });
  });

  it('looks again when the instance reads Running right after the stop it reported (a read may lag), and acts on the stop', async () => {
    // Prepare: ECS stopped i-primary, but the first read still shows it Running; the event is 100 ms old.
    const w = world();
    const eventMs = w.clock.now() - 100;
    const event = { ...stateChange, eventTime: new Date(eventMs).toISOString(), content: { ...stateChange.content, state: 'Stopped' } };
    const seen: string[] = [];
    const read = w.ecs.describeInstance.bind(w.ecs);
    jest.spyOn(w.ecs, 'describeInstance').mockImplementation(async (id) => {
      const i = await read(id);
      if (id === 'i-primary') seen.push(`read ${i?.status}`);
      return i;
    });
    const sleep = async (ms: number) => {
      seen.push(`sleep ${ms}`);
      w.clock.t += ms;
      w.ecs.instances.get('i-primary')!.status = 'Stopped'; // the read caught up
    };
    // Act
    const [request] = binds(await normaliseEcsEvent(event, { ...w.deps, sleep, timeScale: 1 }));
    // Assess: the Running read, one wait, the Stopped read, then the failover.
    expect(seen.slice(0, 3)).toEqual(['read Running', 'sleep 500', 'read Stopped']);
    expect(request).toMatchObject({ eniId: 'eni-web', instanceId: 'i-standby', sourceInstanceId: 'i-primary' });
  });

  it('ignores the stop once reads past the lag grace still show it Running; without a sleep it reads once', async () => {
    for (const withSleep of [true, false]) {
      const w = world();
      const event = { ...stateChange, eventTime: new Date(w.clock.now()).toISOString() };
      const reads = jest.spyOn(w.ecs, 'describeInstance');
      const sleep = async (ms: number) => void (w.clock.t += ms);
      const result = await normaliseEcsEvent(event, { ...w.deps, ...(withSleep ? { sleep, timeScale: 1 } : {}) });
      expect(result).toEqual({ kind: 'ignored', reason: expect.stringMatching(/i-primary is Running now/) });
      // With the sleep: the first read and one every 500 ms for the 5 s grace.
      expect(reads.mock.calls.filter(([id]) => id === 'i-primary')).toHaveLength(withSleep ? 11 : 1);
    }
  });

  it('reads the failed instance and its group members in one DescribeInstances', async () => {
    const { deps, ecs } = primaryDown();
    // The fake answers describeInstances through describeInstance: count the port's entry points only.
    const calls: string[] = [];
    const many = ecs.describeInstances.bind(ecs);
    const one = ecs.describeInstance.bind(ecs);
    let inside = false;
    jest.spyOn(ecs, 'describeInstances').mockImplementation(async (ids) => {
      calls.push(`describeInstances ${[...ids].sort().join(',')}`);
      inside = true;
      try {
        return await many(ids);
      } finally {
        inside = false;
      }
    });
    jest.spyOn(ecs, 'describeInstance').mockImplementation(async (id) => {
      if (!inside) calls.push(`describeInstance ${id}`);
      return one(id);
    });
    expect(binds(await normaliseEcsEvent(stateChange, deps))).toHaveLength(1);
    expect(calls).toEqual(['describeInstances i-primary,i-standby,i-third']);
  });

  it('asks each standby\'s agent once per pass, however many ENIs of the failed instance choose it', async () => {
    const w = world(`
groups:
  - name: web
    enis: [eni-web, eni-web2]
    members: [i-primary, i-standby, i-third]
    policy: { configureGuest: true }
`);
    w.ecs.addEni({ eniId: 'eni-web2', instanceId: 'i-primary', tags: { service: 'web' } });
    w.ecs.instances.get('i-primary')!.status = 'Stopped';
    const asked = jest.spyOn(w.ecs, 'cloudAssistantOnline');
    const decided = binds(await normaliseEcsEvent(stateChange, w.deps));
    expect(decided.map((r) => [r.eniId, r.instanceId])).toEqual([['eni-web', 'i-standby'], ['eni-web2', 'i-standby']]);
    expect(asked.mock.calls).toEqual([['i-standby']]);
  });

  it('gives Stopping and Stopped of one stop the same operationId', async () => {
    const { deps } = primaryDown(); // the event reports it, and ECS agrees when asked
    const a = binds(await normaliseEcsEvent(stateChange, deps))[0]!;
    const b = binds(await normaliseEcsEvent({ ...stateChange, content: { ...stateChange.content, state: 'Stopped' } }, deps))[0]!;
    expect(deriveOperationId(a)).toBe(deriveOperationId(b));
  });

  it.each([
    ['a system failure being executed', { ...stateChange, name: 'Instance:SystemFailure.Reboot:Executing', content: { instanceId: 'i-primary', eventType: 'SystemFailure.Reboot', eventStatus: 'Executing' } }],
    ['an instance failure (EventBridge type)', { type: 'ecs:Instance:InstanceFailure.Reboot', data: { content: { instanceId: 'i-primary', eventStatus: 'Executing' } } }],
  ])('fails over on %s', async (_n, event) => {
    const { deps } = primaryDown(); // the event reports it, and ECS agrees when asked
    expect(binds(await normaliseEcsEvent(event, deps))).toHaveLength(1);
  });

  it.each([
    ['a Running state change', { ...stateChange, content: { ...stateChange.content, state: 'Running' } }, /state Running is not a failure/],
    ['a canceled system event', { ...stateChange, name: 'Instance:SystemFailure.Stop:Canceled', content: { instanceId: 'i-primary' } }, /Canceled: nothing left/],
    ['planned maintenance', { type: 'ecs:Instance:SystemMaintenance.Reboot', data: { content: { instanceId: 'i-primary' } } }, /does not start a failover/],
    ['a disk event', { ...stateChange, name: 'Disk:Stalled' }, /not an instance event/],
    ['another region', { ...stateChange, regionId: 'cn-beijing' }, /event from cn-beijing/],
    ['something else entirely', [1, 2], /not an ECS event/],
  ])('ignores %s with a reason', async (_n, event, reason) => {
    const { deps } = primaryDown(); // the event reports it, and ECS agrees when asked
    const result = await normaliseEcsEvent(event, deps);
    expect(result.kind).toBe('ignored');
    expect(result.kind === 'ignored' && result.reason).toMatch(reason);
  });

  it.each([
    ['20190409T121826.922+0800', '2019-04-09T04:18:26.922Z'],
    ['20261126T030100.000+0000', '2026-11-26T03:01:00.000Z'],
    ['20261126T030100Z', '2026-11-26T03:01:00.000Z'],
    ['2026-11-26T03:01:00+08:00', '2026-11-25T19:01:00.000Z'],
  ])("reads CloudMonitor's compact eventTime %s as %s", (text, iso) => {
    expect(new Date(parseEventTime(text)).toISOString()).toBe(iso);
  });

  it('takes the flapping window from eventTime, not from the arrival time', async () => {
    const { deps } = primaryDown(); // the event reports it, and ECS agrees when asked
    const late = { ...stateChange, eventTime: '20261126T090500.000+0800' }; // 01:05 UTC, hours before the fake clock
    expect(binds(await normaliseEcsEvent(late, deps))[0]?.origin.id).toBe('Instance:StateChange/i-primary/2026-11-26T01:00:00.000Z');
  });

  it('reads the instance from the resource ARN when content has none', () => {
    expect(readEcsEvent({ name: 'Instance:StateChange', resourceId: 'acs:ecs:cn-hangzhou:1:instance/i-arn1', content: { state: 'Stopped' } })?.instanceId).toBe('i-arn1');
  });
});

describe('Entry: schedule', () => {
  const timer = { triggerName: 'nightly', triggerTime: '2026-11-26T03:00:00Z' };

  it.each([
    ['not JSON', 'reconcile', /payload is not JSON/],
    ['a bind without an instance', '[{"eniId":"eni-a"}]', /payload\[0\]\.instanceId: Required/],
    ['an unknown mode', '{"mode":"rebalance"}', /payload\.mode/],
    ['an empty list', '[]', /at least one bind/],
  ])('refuses a payload that is %s, naming the field', (_n, text, error) => {
    const parsed = parseSchedulePayload(text);
    expect(!parsed.ok && parsed.error).toMatch(error);
  });

  it('runs a planned switch-over, naming the current holder as the source', async () => {
    const { deps } = world();
    const payload = parseSchedulePayload('[{"eniId":"eni-web","instanceId":"i-third"}]');
    const result = await normaliseSchedule(timer, payload.ok ? payload.value : [], deps);
    expect(binds(result)).toEqual([expect.objectContaining({ eniId: 'eni-web', instanceId: 'i-third', sourceInstanceId: 'i-primary', origin: { kind: 'schedule', id: 'nightly/switch-over@2026-11-26T03:00:00.000Z', time: '2026-11-26T03:00:00.000Z' }, policy: expect.objectContaining({ fenceSource: true }) })]);
  });

  const origin = { kind: 'schedule' as const, id: 'nightly/reconcile', time: '2026-11-26T03:00:00Z' };

  it('reconcile changes nothing when every ENI is on a Running member', async () => {
    const { deps, ecs } = world();
    const found = await reconcile(origin, deps);
    expect(found).toEqual([{ kind: 'skip', group: 'web', eniId: 'eni-web', reason: 'healthy: eni-web is on i-primary (Running)' }]);
    expect(ecs.writes).toEqual([]);
  });

  it('reconcile binds an unbound group ENI to the first healthy member', async () => {
    const { deps, ecs } = world();
    Object.assign(ecs.enis.get('eni-web')!, { status: 'Available', instanceId: undefined });
    ecs.instances.get('i-primary')!.eniIds.pop();
    const found = await reconcile(origin, deps);
    expect(found).toEqual([expect.objectContaining({ kind: 'bind', request: expect.objectContaining({ eniId: 'eni-web', instanceId: 'i-primary' }) })]);
    expect(found[0]?.kind === 'bind' && found[0].request.sourceInstanceId).toBeUndefined();
  });

  it('reconcile moves an ENI off a Stopped member, naming it as the source', async () => {
    const { deps, ecs } = world();
    ecs.instances.get('i-primary')!.status = 'Stopped';
    const [d] = await reconcile(origin, deps);
    expect(d).toMatchObject({ kind: 'bind', request: { instanceId: 'i-standby', sourceInstanceId: 'i-primary' } });
  });

  it.each(['Attaching', 'Detaching'] as const)('reconcile never fights an operation: skips an ENI that is %s', async (status) => {
    const { deps, ecs } = world();
    ecs.instances.get('i-primary')!.status = 'Stopped';
    ecs.enis.get('eni-web')!.status = status;
    expect(await reconcile(origin, deps)).toEqual([expect.objectContaining({ kind: 'skip', reason: `eni-web is ${status}: an operation is in progress, not touching it` })]);
  });

  it('reconcile leaves an ENI on a non-member alone', async () => {
    const { deps, ecs } = world();
    ecs.addInstance({ instanceId: 'i-outsider', status: 'Stopped' });
    Object.assign(ecs.enis.get('eni-web')!, { instanceId: 'i-outsider' });
    expect(await reconcile(origin, deps)).toEqual([expect.objectContaining({ kind: 'skip', reason: expect.stringMatching(/not a member of web: left alone/) })]);
  });
});

describe('Entry: reconcile and the ledger', () => {
  it('a bound ENI whose last operation failed before the guest confirmed it is bound to its holder again; a healthy one is left alone', async () => {
    const { MemoryLedger } = await import('../../workflow/memory-ledger');
    const { reconcile } = await import('../../workflow/entries/schedule');
    const { deps } = world();
    const ledger = new MemoryLedger();
    const origin = { kind: 'schedule' as const, id: 'reconcile/reconcile@2026-11-26T03:00:00.000Z', time: '2026-11-26T03:00:00.000Z' };
    // Healthy, no ledger record (configured by hand, say): nothing to do.
    expect(await reconcile(origin, { ...deps, ledger })).toEqual([expect.objectContaining({ kind: 'skip', reason: expect.stringMatching(/^healthy/) })]);
    // The last operation bound it to i-primary and failed at the guest step.
    await ledger.putLease({ resourceId: 'eni/eni-web', version: 1, operationId: '', until: 0, holders: [], updatedAt: 0, last: { operationId: 'op-00000000000000aa', outcome: 'failed', instanceId: 'i-primary', at: 0, reason: 'GuestAgentOffline', step: 'configure-guest-routes' } });
    const [d] = await reconcile(origin, { ...deps, ledger });
    expect(d).toMatchObject({ kind: 'bind', request: { eniId: 'eni-web', instanceId: 'i-primary' }, note: expect.stringMatching(/ended GuestAgentOffline before its guest confirmed it/) });
    expect(d!.kind === 'bind' && d!.request.sourceInstanceId).toBeFalsy();
  });
});

describe('Entry: request messages', () => {
  const envelope = (body: unknown) => {
    const parsed = parseRequestEnvelope(JSON.stringify(body));
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.value;
  };

  it('turns a request for a group ENI into a bind with the group policy and a redelivery-stable origin', async () => {
    const { deps } = world();
    const d = await normaliseRequest(envelope({ request: { eniId: 'eni-web', instanceId: 'i-standby', sourceInstanceId: 'i-primary', policy: { configureGuest: false } } }), { messageId: 'M1' }, deps);
    expect(d).toMatchObject({ kind: 'bind', group: 'web', request: { origin: { kind: 'request', id: 'req/mns/M1' }, policy: { fenceSource: true, configureGuest: false } } });
  });

  it('an origin a request claims is rewritten as a request: it can pose as no alarm and take no alarm operationId', async () => {
    const { deps } = world();
    const claimed = { kind: 'alarm', id: 'service-down/i-primary/2026-11-26T03:00:00.000Z', time: '2026-11-26T03:00:00Z' };
    const d = await normaliseRequest(envelope({ request: { eniId: 'eni-web', instanceId: 'i-standby', sourceInstanceId: 'i-primary', origin: claimed } }), { messageId: 'M1' }, deps);
    expect(d).toMatchObject({ kind: 'bind', request: { origin: { kind: 'request', id: `req/alarm/${claimed.id}` } } });
  });

  it.each([
    ['allowStop', { allowStop: true }],
    ['persistGuest', { persistGuest: true }],
  ])('refuses a request that turns on %s, which the group forbids', async (_n, policy) => {
    const { deps } = world();
    const d = await normaliseRequest(envelope({ request: { eniId: 'eni-web', instanceId: 'i-standby', policy } }), { messageId: 'M1' }, deps);
    expect(d).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/a request may only tighten the group's policy/) });
  });

  it('a request may turn off what the group allows (fenceSource)', async () => {
    const { deps } = world();
    const d = await normaliseRequest(envelope({ request: { eniId: 'eni-web', instanceId: 'i-standby', policy: { fenceSource: false } } }), { messageId: 'M1' }, deps);
    expect(d).toMatchObject({ kind: 'bind', request: { policy: { fenceSource: false } } });
  });

  it.each([
    ['an ENI in no group', { request: { eniId: 'eni-loose', instanceId: 'i-standby' } }, /eni-loose is in no failover group; add it to a group/],
    ['an ENI in no group with allowUnmanaged, where the deployment forbids it', { request: { eniId: 'eni-loose', instanceId: 'i-standby' }, allowUnmanaged: true }, /this deployment does not allow unmanaged binds/],
    ['a target outside the group', { request: { eniId: 'eni-web', instanceId: 'i-stranger' } }, /i-stranger is not a member of group web/],
    ['another region', { request: { eniId: 'eni-web', instanceId: 'i-standby', regionId: 'cn-beijing' } }, /not this deployment's region/],
    ['a malformed id', { request: { eniId: 'eni-web', instanceId: 'standby' }, allowUnmanaged: true }, /standby is not a member of group web/],
  ])('refuses %s', async (_n, body, reason) => {
    const { deps } = world();
    const d = await normaliseRequest(envelope(body), { messageId: 'M1' }, deps);
    expect(d.kind).toBe('refused');
    expect(d.kind === 'refused' && d.reason).toMatch(reason);
  });

  it('binds an unmanaged ENI when the request says allowUnmanaged and the deployment allows it', async () => {
    const { deps, ecs } = world();
    ecs.addEni({ eniId: 'eni-loose' });
    const d = await normaliseRequest(envelope({ request: { eniId: 'eni-loose', instanceId: 'i-standby' }, allowUnmanaged: true }), { messageId: 'M1' }, { ...deps, allowUnmanaged: true });
    expect(d).toMatchObject({ kind: 'bind', request: { eniId: 'eni-loose', instanceId: 'i-standby', policy: { fenceSource: false } } });
  });

  it('names every bad field of an envelope', () => {
    const parsed = parseRequestEnvelope('{"request":{"eniId":1},"extra":true}');
    expect(!parsed.ok && parsed.error).toMatch(/request\.eniId: Expected string.*request\.instanceId: Required.*Unrecognized key/);
  });
});
