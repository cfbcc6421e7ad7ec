import type Ecs from '@alicloud/ecs20140526';
import * as $Ecs from '@alicloud/ecs20140526';
import { ThrottlingError } from '@alicloud/openapi-core';
import { Keyring } from '../../local/credentials';
import { type LocalEcs, RealisticProfile, type RealismInput, ScenarioError, loadScenario, parseScenario, startLocalEcs } from '../../local/ecs';
import { Region, ecsClient, fakeClock, pollUntil, rejection, scenarioPath } from './helpers';

/**
 * The realistic profile (issue 11): each item on its own, on a controlled clock (timeScale 1), through
 * the real SDK. Delays are set to fixed ranges (min = max) so the outcome is exact.
 */
const base = loadScenario(scenarioPath('two-node-failover'));

describe('Local ECS: realism section of a scenario', () => {
  it('is off by default (the kind emulator) and in the shipped default scenario', () => {
    expect(base.realism).toBeUndefined();
    expect(parseScenario({ ...base, realism: 'kind' }).realism).toBeUndefined();
  });

  it('`realistic` is the RealisticProfile; `extends: realistic` overlays items on it', () => {
    const realistic = parseScenario({ ...base, realism: 'realistic' }).realism;
    expect(realistic).toEqual(parseScenario({ ...base, realism: RealisticProfile }).realism);
    expect(realistic?.transientWrites?.codes).toContain('please-retry-again');
    const overlaid = parseScenario({ ...base, realism: { extends: 'realistic', seed: 9, throttling: { probability: 0 } } }).realism;
    expect([overlaid?.seed, overlaid?.throttling?.probability, overlaid?.readLagSeconds]).toEqual([9, 0, { min: 0, max: 2 }]);
  });

  it('the shipped two-node-failover-realistic scenario is the default one with the profile on', () => {
    const shipped = loadScenario(scenarioPath('two-node-failover-realistic'));
    expect(shipped.realism).toEqual(parseScenario({ ...base, realism: 'realistic' }).realism);
    expect(shipped.instances.map((i) => i.instanceId)).toEqual(base.instances.map((i) => i.instanceId));
  });

  it('names a bad field by path', () => {
    expect(() => parseScenario({ ...base, realism: { transientWrites: { probability: 1.5 } } })).toThrow(ScenarioError);
    expect(() => parseScenario({ ...base, realism: { throttling: { probability: 0.1, codes: ['Throttling.Nope'] } } })).toThrow(/realism\.throttling\.codes/);
  });
});

describe('Local ECS: the realistic profile, item by item', () => {
  const { keyring, root } = Keyring.generate();
  let clock: ReturnType<typeof fakeClock>;
  let ecs: LocalEcs | undefined;
  let client: Ecs;

  async function start(realism: RealismInput) {
    clock = fakeClock(Date.parse('2024-06-01T00:00:00Z'));
    ecs = await startLocalEcs({ scenario: { ...base, realism }, keyring, timeScale: 1, now: clock.now });
    client = ecsClient(ecs.endpoint, root);
    return ecs;
  }
  afterEach(async () => {
    await ecs?.close();
    ecs = undefined;
  });

  const eniStatus = async (id: string) =>
    (await client.describeNetworkInterfaces(new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, networkInterfaceId: [id] }))).body
      ?.networkInterfaceSets?.networkInterfaceSet?.[0]?.status;
  const detach = () =>
    client.detachNetworkInterface(new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-primary' }));
  const attach = (eniId = 'eni-service', instanceId = 'i-standby') =>
    client.attachNetworkInterface(new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: eniId, instanceId }));
  const run = (instanceId: string, content: string) =>
    client.runCommand(new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: content, instanceId: [instanceId] }));
  async function result(invokeId: string) {
    let last: $Ecs.DescribeInvocationResultsResponseBodyInvocationInvocationResultsInvocationResult | undefined;
    await pollUntil(
      async () => {
        last = (await client.describeInvocationResults(new $Ecs.DescribeInvocationResultsRequest({ regionId: Region, invokeId }))).body?.invocation
          ?.invocationResults?.invocationResult?.[0];
        return last?.invocationStatus;
      },
      (s) => s !== undefined && s !== 'Pending' && s !== 'Running',
    );
    return last;
  }
  const agentStatus = async (id: string) =>
    (await client.describeCloudAssistantStatus(new $Ecs.DescribeCloudAssistantStatusRequest({ regionId: Region, instanceId: [id] }))).body
      ?.instanceCloudAssistantStatusSet?.instanceCloudAssistantStatus?.[0]?.cloudAssistantStatus;

  it('readLagSeconds: Describe* reads show the state as it was up to N s ago; the model itself has moved on', async () => {
    const e = await start({ readLagSeconds: { min: 2, max: 2 } });
    await detach(); // t0: InUse -> Detaching; Available at t0 + 2 s
    expect(await eniStatus('eni-service')).toBe('InUse');
    expect(e.control.state().enis.find((x) => x.eniId === 'eni-service')?.status).toBe('Detaching');
    clock.advance(2_000);
    expect(await eniStatus('eni-service')).toBe('Detaching');
    const primary = await client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, instanceIds: '["i-primary"]' }));
    expect(primary.body?.instances?.instance?.[0]?.networkInterfaces?.networkInterface?.map((n) => n.networkInterfaceId)).toEqual(['eni-primary0', 'eni-service']);
    clock.advance(2_000);
    expect(await eniStatus('eni-service')).toBe('Available');
  });

  it('transientWrites: Attach/Detach answer a transient code without acting', async () => {
    const e = await start({ transientWrites: { probability: 1, codes: ['OperationConflict'] } });
    const err = await rejection(detach());
    expect([err.code, err.statusCode]).toEqual(['OperationConflict', 409]);
    expect(e.control.state().enis.find((x) => x.eniId === 'eni-service')?.status).toBe('InUse');
    expect(e.control.calls({ action: 'DetachNetworkInterface' })[0]).toMatchObject({ code: 'OperationConflict', source: 'realism' });
    // Reads are not touched.
    expect(await eniStatus('eni-service')).toBe('InUse');
  });

  it('transientWrites: the "please retry again" sentence Terraform retries on', async () => {
    await start({ transientWrites: { probability: 1, codes: ['please-retry-again'] } });
    const err = await rejection(attach());
    expect([err.code, err.statusCode]).toEqual(['IncorrectInstanceStatus', 403]);
    expect(err.message).toContain('The current status of the resource does not support this operation, please retry again.');
  });

  it('transientWrites replay with the same seed', async () => {
    const codes = async (seed: number) => {
      const e = await start({ seed, transientWrites: { probability: 0.5 } });
      const out: string[] = [];
      for (let i = 0; i < 20; i++) out.push(await attach('eni-nope').then(() => 'ok', (x: { code?: string }) => x.code ?? '?'));
      await e.close();
      ecs = undefined;
      return out;
    };
    const first = await codes(3);
    expect(first).toContain('InvalidEniId.NotFound');
    expect(first.filter((c) => c !== 'InvalidEniId.NotFound').length).toBeGreaterThan(0);
    expect(await codes(3)).toEqual(first);
    expect(await codes(4)).not.toEqual(first);
  });

  it('guestNicDelaySeconds / metadataMacDelaySeconds: InUse first, the guest and the metadata see the NIC later', async () => {
    const e = await start({ guestNicDelaySeconds: { min: 5, max: 5 }, metadataMacDelaySeconds: { min: 8, max: 8 } });
    await detach();
    clock.advance(2_000);
    await attach();
    clock.advance(3_000);
    expect(await eniStatus('eni-service')).toBe('InUse');
    expect(e.control.metadataMacs({ instanceId: 'i-standby' })).toEqual(['00:16:3e:00:00:02']);
    const early = await run('i-standby', "ENI_MAC='00:16:3e:12:34:56'\n");
    clock.advance(1_000); // delivery after the command latency
    expect(await result(early.body?.invokeId as string)).toMatchObject({ invocationStatus: 'Failed', exitCode: 10 });

    clock.advance(4_000); // 5 s after InUse
    const late = await run('i-standby', "ENI_MAC='00:16:3e:12:34:56'\n");
    clock.advance(1_000);
    expect((await result(late.body?.invokeId as string))?.invocationStatus).toBe('Success');
    expect(e.control.metadataMacs({ instanceId: 'i-standby' })).toEqual(['00:16:3e:00:00:02']);
    clock.advance(2_000); // 8 s after InUse
    expect(e.control.metadataMacs({ instanceId: 'i-standby' })).toEqual(['00:16:3e:00:00:02', '00:16:3e:12:34:56']);
    expect(e.control.state().enis.find((x) => x.eniId === 'eni-service')).toMatchObject({ guestVisible: true, metadataVisible: true });
  });

  it('agentOnlineDelaySeconds: after a reboot the agent is offline for a while; commands meanwhile end in the documented errors', async () => {
    await start({ agentOnlineDelaySeconds: { min: 10, max: 10 }, agentNotReadyErrors: ['DeliveryTimeout'] });
    expect(await agentStatus('i-standby')).toBe('true'); // running since the scenario loaded
    await client.rebootInstance(new $Ecs.RebootInstanceRequest({ instanceId: 'i-standby' }));
    clock.advance(20_000);
    expect(await agentStatus('i-standby')).toBe('false');
    const early = await run('i-standby', 'true');
    clock.advance(1_000);
    expect(await result(early.body?.invokeId as string)).toMatchObject({
      invocationStatus: 'Aborted',
      errorCode: 'DeliveryTimeout',
      errorInfo: 'the command delivery has been timeout',
    });
    clock.advance(9_000);
    expect(await agentStatus('i-standby')).toBe('true');
    const late = await run('i-standby', 'true');
    clock.advance(1_000);
    expect((await result(late.body?.invokeId as string))?.invocationStatus).toBe('Success');
  });

  it('startRefusals: StartInstance answers OperationDenied.NoStock for a while after StopCharging, then starts', async () => {
    await start({ startRefusals: { probability: 0, probabilityAfterStopCharging: 1, forSeconds: { min: 30, max: 30 } } });
    const stopped = async (mode: 'KeepCharging' | 'StopCharging') => {
      await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby', stoppedMode: mode }));
      clock.advance(15_000);
    };
    await stopped('KeepCharging');
    await client.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' }));
    clock.advance(10_000);
    await stopped('StopCharging');
    const refused = await rejection(client.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' })));
    expect([refused.code, refused.statusCode]).toEqual(['OperationDenied.NoStock', 403]);
    clock.advance(29_000);
    expect((await rejection(client.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' })))).code).toBe('OperationDenied.NoStock');
    clock.advance(1_000);
    // The window is over: the start goes through.
    await client.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' }));
    clock.advance(10_000);
    expect(ecs?.control.state().instances.find((i) => i.instanceId === 'i-standby')?.status).toBe('Running');
  });

  it('startRefusals: without StopCharging, one of the codes (InstanceNotReady)', async () => {
    await start({ startRefusals: { probability: 1, codes: ['InstanceNotReady'], forSeconds: { min: 5, max: 5 } } });
    await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby', stoppedMode: 'KeepCharging' }));
    clock.advance(15_000);
    const err = await rejection(client.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' })));
    expect([err.code, err.statusCode]).toEqual(['InstanceNotReady', 403]);
  });

  it('throttling: any call may be throttled, in the spellings of the profile', async () => {
    const e = await start({ throttling: { probability: 1, codes: ['Throttling.Api'] } });
    const err = await rejection(client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region })));
    expect(err).toBeInstanceOf(ThrottlingError);
    expect([err.code, err.statusCode]).toEqual(['Throttling.Api', 400]);
    expect(e.control.calls()[0]).toMatchObject({ code: 'Throttling.Api', source: 'realism' });
  });

  it.each([
    ['Error', { invocationStatus: 'Error', invokeRecordStatus: 'Failed', errorCode: 'ExecutionException', errorInfo: 'the command execution got an exception' }, false],
    ['Invalid', { invocationStatus: 'Invalid', invokeRecordStatus: 'Failed', errorCode: 'CommandNotApplicable', errorInfo: 'the command is not applicable' }, false],
    ['Cancelled', { invocationStatus: 'Cancelled', invokeRecordStatus: 'Stopped', errorCode: '' }, false],
    ['DeliveryTimeout', { invocationStatus: 'Aborted', invokeRecordStatus: 'Failed', errorCode: 'DeliveryTimeout' }, false],
    ['Terminated', { invocationStatus: 'Terminated', invokeRecordStatus: 'Stopped', errorCode: 'ExecutionInterrupted', exitCode: -1 }, true],
  ] as const)('invocationFailures: an invocation may end %s', async (status, expected, ran) => {
    const e = await start({ invocationFailures: { probability: 1, statuses: [status] } });
    const r = await run('i-primary', 'true');
    clock.advance(1_000);
    expect(await result(r.body?.invokeId as string)).toMatchObject(expected);
    expect(e.control.scripts().length).toBe(ran ? 1 : 0);
  });
});
