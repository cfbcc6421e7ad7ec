import type Ecs from '@alicloud/ecs20140526';
import * as $Ecs from '@alicloud/ecs20140526';
import { Keyring } from '../../local/credentials';
import { EmulatedGuest, type GuestExecutor, type LocalEcs, type ModelEvent, UnresponsiveStopFactor, startLocalEcs } from '../../local/ecs';
import { Region, ecsClient, fakeClock, pollUntil, rejection, scenarioPath } from './helpers';

/**
 * Resources move through real intermediate states on a clock, observed by polling through the SDK.
 * timeScale 0.05: attach 150 ms, detach 100 ms, stop 750 ms, start 500 ms, reboot 1 s, command 50 ms
 * (wide enough that a 3 ms poll on a busy machine still sees every intermediate state).
 */
describe('Local ECS: state transitions observed by polling', () => {
  let ecs: LocalEcs;
  let client: Ecs;
  const events: ModelEvent[] = [];

  beforeAll(async () => {
    const { keyring, root } = Keyring.generate();
    ecs = await startLocalEcs({ scenario: scenarioPath('two-node-failover'), keyring, timeScale: 0.05 });
    ecs.model.subscribe((e) => events.push(e));
    client = ecsClient(ecs.endpoint, root);
  });
  beforeEach(() => {
    ecs.control.reset();
    ecs.model.setGuestExecutor(new EmulatedGuest(ecs.model));
    events.length = 0;
  });
  afterAll(() => ecs.close());

  const eniStatus = async (eniId: string) =>
    (await client.describeNetworkInterfaces(new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, networkInterfaceId: [eniId] }))).body
      ?.networkInterfaceSets?.networkInterfaceSet?.[0]?.status;
  const instanceStatus = async (instanceId: string) =>
    (await client.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: Region, instanceId: [instanceId] }))).body?.instanceStatuses
      ?.instanceStatus?.[0]?.status;
  const invocationStatus = async (invokeId: string) =>
    (await client.describeInvocationResults(new $Ecs.DescribeInvocationResultsRequest({ regionId: Region, invokeId }))).body?.invocation?.invocationResults
      ?.invocationResult?.[0];

  it('moves the service ENI: Detaching then Available on the primary, Attaching then InUse on the standby', async () => {
    await client.detachNetworkInterface(
      new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-primary' }),
    );
    expect(await pollUntil(() => eniStatus('eni-service'), (s) => s === 'Available')).toEqual(['Detaching', 'Available']);

    await client.attachNetworkInterface(
      new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-standby' }),
    );
    expect(await pollUntil(() => eniStatus('eni-service'), (s) => s === 'InUse')).toEqual(['Attaching', 'InUse']);

    const standby = await client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, instanceIds: '["i-standby"]' }));
    expect(standby.body?.instances?.instance?.[0]?.networkInterfaces?.networkInterface?.map((n) => n.networkInterfaceId)).toEqual([
      'eni-standby0',
      'eni-service',
    ]);
    expect(events.filter((e) => e.type === 'eni').map((e) => [e.type === 'eni' && e.eniId, e.from, e.to, e.type === 'eni' && e.instanceId])).toEqual([
      ['eni-service', 'InUse', 'Detaching', 'i-primary'],
      ['eni-service', 'Detaching', 'Available', 'i-primary'],
      ['eni-service', 'Available', 'Attaching', 'i-standby'],
      ['eni-service', 'Attaching', 'InUse', 'i-standby'],
    ]);
  });

  it('StopInstance: Stopping then Stopped; StartInstance: Starting then Running with a new StartTime; events carry from/to/at', async () => {
    const before = ecs.control.state().instances.find((i) => i.instanceId === 'i-standby')?.startTime ?? 0;
    await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby', stoppedMode: 'KeepCharging' }));
    expect(await pollUntil(() => instanceStatus('i-standby'), (s) => s === 'Stopped')).toEqual(['Stopping', 'Stopped']);
    const stopped = await client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, instanceIds: '["i-standby"]' }));
    expect(stopped.body?.instances?.instance?.[0]?.stoppedMode).toBe('KeepCharging');

    await client.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' }));
    expect(await pollUntil(() => instanceStatus('i-standby'), (s) => s === 'Running')).toEqual(['Starting', 'Running']);
    expect(ecs.control.state().instances.find((i) => i.instanceId === 'i-standby')?.startTime).toBeGreaterThan(before);

    const transitions = events.filter((e) => e.type === 'instance');
    expect(transitions.map((e) => [e.from, e.to])).toEqual([
      ['Running', 'Stopping'],
      ['Stopping', 'Stopped'],
      ['Stopped', 'Starting'],
      ['Starting', 'Running'],
    ]);
    const stopEvent = transitions[1];
    expect(stopEvent?.type === 'instance' && stopEvent.instanceId).toBe('i-standby');
    expect((transitions[1]?.at ?? 0) - (transitions[0]?.at ?? 0)).toBeGreaterThanOrEqual(750);
  });

  it('RebootInstance goes Running -> Starting -> Running (no Stopping, as documented) and renews StartTime', async () => {
    const before = ecs.control.state().instances.find((i) => i.instanceId === 'i-standby')?.startTime ?? 0;
    await client.rebootInstance(new $Ecs.RebootInstanceRequest({ instanceId: 'i-standby' }));
    expect(await pollUntil(() => instanceStatus('i-standby'), (s) => s === 'Running')).toEqual(['Starting', 'Running']);
    expect(events.filter((e) => e.type === 'instance').map((e) => [e.from, e.to])).toEqual([
      ['Running', 'Starting'],
      ['Starting', 'Running'],
    ]);
    expect(ecs.control.state().instances.find((i) => i.instanceId === 'i-standby')?.startTime).toBeGreaterThan(before);
  });

  it('a detach from a Running instance with an unresponsive guest stays Detaching, and completes once the instance is stopped', async () => {
    ecs.control.setGuestResponsive({ instanceId: 'i-primary', responsive: false });
    await client.detachNetworkInterface(
      new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-primary' }),
    );
    // Wait until the detach latency has passed and the guest is holding it.
    await pollUntil(async () => ecs.control.state().enis.find((e) => e.eniId === 'eni-service')?.detachHeld, (h) => h === true);
    await new Promise((r) => setTimeout(r, 250)); // 2.5x the detach latency
    expect(await eniStatus('eni-service')).toBe('Detaching');
    // Calling Detach again is allowed while Detaching (API reference) and does not help.
    await client.detachNetworkInterface(
      new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-primary' }),
    );

    await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-primary', forceStop: true }));
    // ENI read first: if it is Available, the instance read after it must already be Stopped.
    const seen = await pollUntil(
      async () => {
        const eni = await eniStatus('eni-service');
        return `${await instanceStatus('i-primary')}/${eni}`;
      },
      (s) => s === 'Stopped/Available',
    );
    expect(seen[0]).toBe('Stopping/Detaching');
    expect(seen).toContain('Stopped/Available');
    expect(seen.every((s) => !s.startsWith('Stopping/Available'))).toBe(true);
  });

  it('a failed attach (injected) goes Attaching then back to Available', async () => {
    await client.detachNetworkInterface(
      new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-primary' }),
    );
    await pollUntil(() => eniStatus('eni-service'), (s) => s === 'Available');
    ecs.control.failAttach({ eniId: 'eni-service' });
    await client.attachNetworkInterface(
      new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-standby' }),
    );
    expect(await pollUntil(() => eniStatus('eni-service'), (s) => s === 'Available')).toEqual(['Attaching', 'Available']);
    const attr = await client.describeNetworkInterfaceAttribute(
      new $Ecs.DescribeNetworkInterfaceAttributeRequest({ regionId: Region, networkInterfaceId: 'eni-service' }),
    );
    expect([attr.body?.instanceId, attr.body?.attachment]).toEqual(['', undefined]);
  });

  it('a Cloud Assistant invocation goes Pending -> Running -> Success', async () => {
    const slow: GuestExecutor = { run: () => new Promise((r) => setTimeout(() => r({ exitCode: 0, output: 'done\n' }), 200)) };
    ecs.model.setGuestExecutor(slow);
    const run = await client.runCommand(
      new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: 'sleep 1', instanceId: ['i-standby'] }),
    );
    const seen = await pollUntil(async () => (await invocationStatus(run.body?.invokeId as string))?.invocationStatus, (s) => s === 'Success');
    expect(seen).toEqual(['Pending', 'Running', 'Success']);
  });

  it('a command on a hung guest ends in Timeout with ErrorCode ExecutionTimeout; an offline agent aborts with ClientNotRunning; a Stopped instance is InvalidInstance.NotMatch 403', async () => {
    ecs.control.setGuestResponsive({ instanceId: 'i-standby', responsive: false });
    const hung = await client.runCommand(
      new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: 'true', instanceId: ['i-standby'], timeout: 10 }),
    );
    await pollUntil(async () => (await invocationStatus(hung.body?.invokeId as string))?.invocationStatus, (s) => s === 'Timeout');
    expect(await invocationStatus(hung.body?.invokeId as string)).toMatchObject({
      invocationStatus: 'Timeout',
      invokeRecordStatus: 'Failed',
      errorCode: 'ExecutionTimeout',
    });

    ecs.control.setCloudAssistantOnline({ instanceId: 'i-primary', online: false });
    const offline = await client.runCommand(
      new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: 'true', instanceId: ['i-primary'] }),
    );
    await pollUntil(async () => (await invocationStatus(offline.body?.invokeId as string))?.invocationStatus, (s) => s === 'Aborted');
    expect((await invocationStatus(offline.body?.invokeId as string))?.errorCode).toBe('ClientNotRunning');

    ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const err = await rejection(
      client.runCommand(new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: 'true', instanceId: ['i-primary'] })),
    );
    expect([err.code, err.statusCode]).toEqual(['InvalidInstance.NotMatch', 403]);
  });
});

describe('Local ECS: latencies on a controlled clock', () => {
  const clock = fakeClock(Date.parse('2024-06-01T00:00:00Z'));
  let ecs: LocalEcs;
  let client: Ecs;

  beforeAll(async () => {
    const { keyring, root } = Keyring.generate();
    ecs = await startLocalEcs({ scenario: scenarioPath('two-node-failover'), keyring, timeScale: 1, now: clock.now });
    client = ecsClient(ecs.endpoint, root);
  });
  afterAll(() => ecs.close());

  const status = async (id: string) =>
    (await client.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: Region, instanceId: [id] }))).body?.instanceStatuses
      ?.instanceStatus?.[0]?.status;

  it(`a soft stop of an unresponsive guest takes ${UnresponsiveStopFactor}x the stop latency; ForceStop takes 1x`, async () => {
    ecs.control.setGuestResponsive({ instanceId: 'i-primary', responsive: false });
    ecs.control.setGuestResponsive({ instanceId: 'i-standby', responsive: false });
    await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-primary' }));
    await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby', forceStop: true }));

    clock.advance(15_000);
    expect([await status('i-primary'), await status('i-standby')]).toEqual(['Stopping', 'Stopped']);
    clock.advance(15_000 * (UnresponsiveStopFactor - 1) - 1);
    expect(await status('i-primary')).toBe('Stopping');
    clock.advance(1);
    expect(await status('i-primary')).toBe('Stopped');
  });

  it('an attach takes exactly the scenario attach latency (3 s)', async () => {
    ecs.control.reset();
    await client.detachNetworkInterface(new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-primary' }));
    clock.advance(2_000);
    await client.attachNetworkInterface(
      new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-standby' }),
    );
    const eni = () => ecs.control.state().enis.find((e) => e.eniId === 'eni-service')?.status;
    clock.advance(2_999);
    expect(eni()).toBe('Attaching');
    clock.advance(1);
    expect(eni()).toBe('InUse');
  });
});
