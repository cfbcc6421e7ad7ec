import { checkAll, checkBinding, checkLate, checkOutcomes, checkPower, checkRequests, checkSuccess, type Observation, type OpView } from './invariants';

/**
 * Each invariant checker on hand-made observations: silent on a clean failover, and loud on the violation
 * it exists for (the shapes issue 9's campaign found before the ledger). A checker that cannot fail would
 * make every chaos run pass.
 */

const T = 1_000_000;
const op = (over: Partial<OpView> = {}): OpView => ({
  operationId: 'op-0000000000000001',
  status: 'succeeded',
  request: { eniId: 'eni-s0', instanceId: 'i-m1', sourceInstanceId: 'i-m0', origin: { kind: 'alarm', id: 'a' } },
  plan: { detachFrom: 'i-m0', osType: 'linux' },
  startedAt: T,
  updatedAt: T + 900,
  version: 9,
  published: true,
  outcome: { outcome: 'succeeded', finishedAt: T + 900 },
  ...over,
});

/** A clean failover of eni-s0 from the crashed i-m0 to i-m1. */
function clean(): Observation {
  return {
    groupEnis: ['eni-s0'],
    members: ['i-m0', 'i-m1'],
    failed: { instanceId: 'i-m0', mode: 'crash' },
    ops: [op()],
    events: [{ operationId: 'op-0000000000000001', outcome: 'succeeded', finishedAt: T + 900 }],
    deadLetters: [],
    ecsEvents: [
      { type: 'instance', instanceId: 'i-m0', from: 'Running', to: 'Stopped', at: T - 10 },
      { type: 'eni', eniId: 'eni-s0', instanceId: 'i-m0', from: 'InUse', to: 'Detaching', at: T + 100 },
      { type: 'eni', eniId: 'eni-s0', instanceId: 'i-m0', from: 'Detaching', to: 'Available', at: T + 200 },
      { type: 'eni', eniId: 'eni-s0', instanceId: 'i-m1', from: 'Available', to: 'Attaching', at: T + 300 },
      { type: 'eni', eniId: 'eni-s0', instanceId: 'i-m1', from: 'Attaching', to: 'InUse', at: T + 400 },
    ],
    calls: [
      { action: 'DetachNetworkInterface', code: undefined, at: T + 100, params: { NetworkInterfaceId: 'eni-s0', InstanceId: 'i-m0' } },
      { action: 'AttachNetworkInterface', code: undefined, at: T + 300, params: { NetworkInterfaceId: 'eni-s0', InstanceId: 'i-m1' } },
      { action: 'RunCommand', code: undefined, at: T + 500, params: { InstanceId: 'i-m1' } },
    ],
    scripts: [{ instanceId: 'i-m1', script: 'ENI_MAC=00:16:3e:aa:bb:cc\n...', at: T + 500, exitCode: 0 }],
    final: {
      instances: [
        { instanceId: 'i-m0', status: 'Stopped', guestResponsive: true, eniIds: [] },
        { instanceId: 'i-m1', status: 'Running', guestResponsive: true, eniIds: ['eni-s0'] },
      ],
      enis: [{ eniId: 'eni-s0', status: 'InUse', instanceId: 'i-m1', macAddress: '00:16:3e:aa:bb:cc' }],
    },
    requests: [],
  };
}

describe('chaos invariants', () => {
  it('a clean failover breaks none', () => {
    expect(checkAll(clean())).toEqual([]);
  });

  it('1: two different outcomes for one operationId, a running operation, an outcome never published', () => {
    const o = clean();
    expect(checkOutcomes({ ...o, events: [...o.events, { operationId: 'op-0000000000000001', outcome: 'failed', reason: 'CloudApiError' }] })).toEqual([
      expect.objectContaining({ invariant: 'outcomes', detail: expect.stringMatching(/different outcomes: succeeded and failed\/CloudApiError/) }),
      expect.objectContaining({ detail: expect.stringMatching(/succeeded in the ledger but the events queue says/) }),
    ]);
    expect(checkOutcomes({ ...o, ops: [op({ status: 'running' })] })).toEqual([expect.objectContaining({ detail: expect.stringMatching(/has no outcome: status running/) })]);
    expect(checkOutcomes({ ...o, events: [] })).toEqual([expect.objectContaining({ detail: expect.stringMatching(/never reached the events queue/) })]);
    // The same outcome twice is at-least-once publication, not a violation.
    expect(checkOutcomes({ ...o, events: [...o.events, ...o.events] })).toEqual([]);
  });

  it('2: a detach from an instance no operation named, and a success while the ENI was elsewhere', () => {
    const o = clean();
    const stolen = {
      ...o,
      ecsEvents: [...o.ecsEvents, { type: 'eni' as const, eniId: 'eni-s0', instanceId: 'i-m1', from: 'InUse', to: 'Detaching', at: T + 2000 }],
      calls: [...o.calls, { action: 'DetachNetworkInterface', code: undefined, at: T + 2000, params: { NetworkInterfaceId: 'eni-s0', InstanceId: 'i-m1' } }],
    };
    expect(checkBinding(stolen).map((v) => v.detail)).toEqual([
      expect.stringMatching(/detached from i-m1 .* no operation named i-m1/),
      expect.stringMatching(/DetachNetworkInterface eni-s0 from i-m1 .* matches no operation's source/),
    ]);
    const early = { ...o, ops: [op({ outcome: { outcome: 'succeeded', finishedAt: T + 250 } })] };
    expect(checkBinding(early)).toEqual([expect.objectContaining({ detail: expect.stringMatching(/succeeded for eni-s0 -> i-m1 while the ENI was Available/) })]);
  });

  it('3: an instance the workflow stopped left Stopped, and the serving instance stopped after success', () => {
    const o = clean();
    const leftStopped = {
      ...o,
      calls: [...o.calls, { action: 'StopInstance', code: undefined, at: T + 50, params: { InstanceId: 'i-m1', ForceStop: 'false' }, forceStop: false }],
      final: { ...o.final, instances: o.final.instances.map((i) => (i.instanceId === 'i-m1' ? { ...i, status: 'Stopped' } : i)) },
    };
    expect(checkPower(leftStopped)).toEqual([expect.objectContaining({ invariant: 'power', detail: 'i-m1 was stopped by the workflow and is Stopped at the end' })]);
    const stoppedServing = { ...o, ecsEvents: [...o.ecsEvents, { type: 'instance' as const, instanceId: 'i-m1', from: 'Running', to: 'Stopping', at: T + 5000 }] };
    expect(checkPower(stoppedServing)).toEqual([expect.objectContaining({ detail: expect.stringMatching(/i-m1 was stopped .* while serving eni-s0/) })]);
    // The hung source, force-stopped to fence it, may stay stopped.
    const fenced = { ...o, failed: { instanceId: 'i-m0', mode: 'hang' as const }, calls: [...o.calls, { action: 'StopInstance', code: undefined, at: T + 50, params: { InstanceId: 'i-m0', ForceStop: 'true' }, forceStop: true }] };
    expect(checkPower(fenced)).toEqual([]);
  });

  it('4: a request with neither an operation nor a dead letter', () => {
    const o = clean();
    expect(checkRequests({ ...o, requests: [{ originId: 'req/request/x', messageIds: ['M1'] }] })).toEqual([expect.objectContaining({ invariant: 'requests' })]);
    expect(checkRequests({ ...o, requests: [{ originId: 'req/request/x', messageIds: ['M1'] }], deadLetters: [{ kind: 'eni-failover.rejected', messageId: 'M1', error: 'refused: ...' }] })).toEqual([]);
  });

  it('5: success without the guest configured since the last boot, or without the ENI on the target', () => {
    const o = clean();
    expect(checkSuccess({ ...o, scripts: [] })).toEqual([expect.objectContaining({ detail: expect.stringMatching(/no guest script for 00:16:3e:aa:bb:cc/) })]);
    // The script ran, then the target rebooted before the outcome: the script counts for nothing.
    const rebooted = { ...o, ecsEvents: [...o.ecsEvents, { type: 'instance' as const, instanceId: 'i-m1', from: 'Starting', to: 'Running', at: T + 700 }] };
    expect(checkSuccess(rebooted).length).toBeGreaterThan(0);
    const gone = { ...o, final: { ...o.final, enis: [{ eniId: 'eni-s0', status: 'Available', instanceId: undefined, macAddress: '00:16:3e:aa:bb:cc' }] } };
    expect(checkSuccess(gone)).toEqual([expect.objectContaining({ detail: expect.stringMatching(/at the end eni-s0 is Available/) })]);
  });

  it('6: a late copy that writes to ECS or republishes, and an ENI left bound nowhere', () => {
    const o = clean();
    const late = {
      ...o,
      late: { callsBefore: o.calls.length, opsBefore: [{ operationId: 'op-0000000000000001', version: 9, published: true }], eventsBefore: 1, injected: 5 },
      calls: [...o.calls, { action: 'StopInstance', code: undefined, at: T + 9000, params: { InstanceId: 'i-m1' } }],
      events: [...o.events, o.events[0]!],
    };
    expect(checkLate(late).map((v) => v.detail)).toEqual([expect.stringMatching(/caused ECS writes after the settle point: StopInstance/), expect.stringMatching(/published outcomes again/)]);
    const unbound = { ...o, final: { ...o.final, enis: [{ eniId: 'eni-s0', status: 'Available', instanceId: undefined, macAddress: 'x' }] } };
    expect(checkLate(unbound)).toEqual([expect.objectContaining({ detail: expect.stringMatching(/eni-s0 is Available on no instance at the end while i-m1 are healthy/) })]);
  });
});
