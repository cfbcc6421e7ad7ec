import type Ecs from '@alicloud/ecs20140526';
import * as $Ecs from '@alicloud/ecs20140526';
import { Keyring } from '../../local/credentials';
import { type LocalEcs, startLocalEcs } from '../../local/ecs';
import { Region, ecsClient, pollUntil, rawRequest, rejection, scenarioPath } from './helpers';

/** The control hooks fault campaigns need (issue 15): lost answers, scoped and seeded faults, call records. */
describe('Local ECS: control hooks for fault campaigns', () => {
  let ecs: LocalEcs;
  let client: Ecs;
  let stsClient: Ecs;
  const { keyring, root } = Keyring.generate();
  const sts = keyring.mintSts();

  beforeAll(async () => {
    ecs = await startLocalEcs({ scenario: scenarioPath('two-node-failover'), keyring, timeScale: 0.001 });
    client = ecsClient(ecs.endpoint, root);
    stsClient = ecsClient(ecs.endpoint, sts);
  });
  beforeEach(() => ecs.control.reset());
  afterAll(() => ecs.close());

  const eni = (id: string) => ecs.control.state().enis.find((e) => e.eniId === id);
  const instance = (id: string) => ecs.control.state().instances.find((i) => i.instanceId === id);
  const detach = (c: Ecs = client) =>
    c.detachNetworkInterface(new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-primary' }));
  const statusOf = (id: string) => client.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: Region, instanceId: [id] }));

  describe('loseAnswers: executed, but the answer was lost', () => {
    it('carries the call out, then drops the connection: the SDK sees ECONNRESET, the ENI moved anyway', async () => {
      ecs.control.loseAnswers({ action: 'DetachNetworkInterface' });
      const err = await rejection(detach());
      expect([err.name, err.code, err.statusCode]).toEqual(['Error', 'ECONNRESET', undefined]);
      await pollUntil(async () => eni('eni-service')?.status, (s) => s === 'Available');
      expect(ecs.control.calls({ action: 'DetachNetworkInterface' })).toEqual([
        expect.objectContaining({ status: 200, code: undefined, answerLost: true, source: 'fault' }),
      ]);
      // Only the next call: a repeat is answered (and refused, the ENI is no longer on i-primary).
      expect((await rejection(detach())).code).toBe('InvalidOperation.InvalidEniState');
    });

    it('also loses a refusal: the record keeps the code the caller never saw', async () => {
      ecs.control.loseAnswers({ action: 'StartInstance' });
      const err = await rejection(client.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' })));
      expect(err.code).toBe('ECONNRESET');
      expect(ecs.control.calls({ action: 'StartInstance' })[0]).toMatchObject({ status: 403, code: 'IncorrectInstanceStatus', answerLost: true });
    });

    it('is served over HTTP at /_local/loseAnswers, scoped to a resource', async () => {
      const set = await rawRequest(ecs.port, 'POST', '/_local/loseAnswers', JSON.stringify({ action: 'StopInstance', resourceId: 'i-standby' }));
      expect(set.status).toBe(200);
      await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-primary', stoppedMode: 'KeepCharging' }));
      expect((await rejection(client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby', stoppedMode: 'KeepCharging' })))).code).toBe('ECONNRESET');
      await pollUntil(async () => instance('i-standby')?.status, (s) => s === 'Stopped');
    });
  });

  describe('scoped faults', () => {
    it('injectFault by resource id hits only calls that name it (InstanceId, InstanceId.N, InstanceIds)', async () => {
      ecs.control.injectFault({ resourceId: 'i-standby', code: 'InternalError', count: 3 });
      await statusOf('i-primary');
      expect((await rejection(statusOf('i-standby'))).code).toBe('InternalError');
      const described = await rejection(client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, instanceIds: '["i-primary","i-standby"]' })));
      expect(described.code).toBe('InternalError');
      expect((await rejection(client.rebootInstance(new $Ecs.RebootInstanceRequest({ instanceId: 'i-standby' })))).code).toBe('InternalError');
      // Spent: three hits.
      await statusOf('i-standby');
      expect(instance('i-standby')?.status).toBe('Running');
    });

    it('injectFault by operation and resource leaves other operations on that resource alone', async () => {
      ecs.control.injectFault({ action: 'AttachNetworkInterface', resourceId: 'eni-service', code: 'OperationConflict', count: 10 });
      await detach();
      await pollUntil(async () => eni('eni-service')?.status, (s) => s === 'Available');
      const attach = () =>
        client.attachNetworkInterface(new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-standby' }));
      const err = await rejection(attach());
      expect([err.code, err.statusCode]).toEqual(['OperationConflict', 409]);
      expect(eni('eni-service')?.status).toBe('Available');
    });

    it('a probability fault hits a seeded, replayable subset of calls and no others', async () => {
      const pattern = async () => {
        ecs.control.clearFaults();
        ecs.control.seedFaults({ seed: 7 });
        ecs.control.injectFault({ action: 'DescribeInstanceStatus', probability: 0.5, code: 'ServiceUnavailable' });
        const out: string[] = [];
        for (let i = 0; i < 30; i++) out.push(await statusOf('i-primary').then(() => 'ok', (e: { code?: string }) => e.code ?? '?'));
        return out;
      };
      const first = await pattern();
      expect(new Set(first)).toEqual(new Set(['ok', 'ServiceUnavailable']));
      expect(await pattern()).toEqual(first);
      // Other actions are never hit.
      await client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region }));
    });

    it('dropConnections scoped to a resource drops only calls naming it, before anything is done', async () => {
      ecs.control.dropConnections({ action: 'StopInstance', resourceId: 'i-standby' });
      expect((await rejection(client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby' })))).code).toBe('ECONNRESET');
      expect(instance('i-standby')?.status).toBe('Running');
      expect(ecs.control.calls({ resourceId: 'i-standby' })).toEqual([expect.objectContaining({ action: 'StopInstance', status: 0, code: 'ConnectionDropped' })]);
    });

    it('refuses a probability outside 0-1 and an unknown action', () => {
      expect(() => ecs.control.injectFault({ code: 'InternalError', probability: 2 })).toThrow(/probability/);
      expect(() => ecs.control.loseAnswers({ action: 'Explode' })).toThrow(/unknown action/);
    });
  });

  describe('call records', () => {
    it('record parameters, the caller (access key id) and ForceStop apart from a soft stop', async () => {
      await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby', forceStop: true, stoppedMode: 'KeepCharging' }));
      await pollUntil(async () => instance('i-standby')?.status, (s) => s === 'Stopped');
      await stsClient.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' }));
      await pollUntil(async () => instance('i-standby')?.status, (s) => s === 'Running');
      await stsClient.rebootInstance(new $Ecs.RebootInstanceRequest({ instanceId: 'i-standby' }));
      await detach(stsClient);

      const writes = ecs.control.calls().filter((c) => !c.action.startsWith('Describe'));
      expect(writes.map((c) => [c.action, c.accessKeyId, c.forceStop])).toEqual([
        ['StopInstance', root.accessKeyId, true],
        ['StartInstance', sts.accessKeyId, undefined],
        ['RebootInstance', sts.accessKeyId, false],
        ['DetachNetworkInterface', sts.accessKeyId, undefined],
      ]);
      expect(writes[0]?.params).toMatchObject({ InstanceId: 'i-standby', ForceStop: 'true', StoppedMode: 'KeepCharging' });
      expect(writes[0]?.params).not.toHaveProperty('Signature');
      expect(writes[3]).toMatchObject({ resourceIds: expect.arrayContaining(['eni-service', 'i-primary']), params: { RegionId: Region, NetworkInterfaceId: 'eni-service', InstanceId: 'i-primary' } });
      expect(ecs.control.calls({ action: 'RebootInstance', resourceId: 'i-standby' })).toHaveLength(1);
    });

    it('are served over HTTP at /_local/calls with the same fields', async () => {
      await client.rebootInstance(new $Ecs.RebootInstanceRequest({ instanceId: 'i-primary', forceStop: true }));
      const calls = await rawRequest(ecs.port, 'GET', '/_local/calls');
      expect(calls.body).toEqual([expect.objectContaining({ action: 'RebootInstance', forceStop: true, accessKeyId: root.accessKeyId, resourceIds: ['i-primary'] })]);
    });
  });
});
