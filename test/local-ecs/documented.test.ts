import type Ecs from '@alicloud/ecs20140526';
import * as $Ecs from '@alicloud/ecs20140526';
import { Keyring } from '../../local/credentials';
import { type LocalEcs, loadScenario, startLocalEcs } from '../../local/ecs';
import { Region, ecsClient, pollUntil, rejection, scenarioPath } from './helpers';

/**
 * The documented answers of the ECS API reference that the local ECS used to get wrong (issue 11,
 * "Differences from the documented API"), each through the real @alicloud/ecs20140526 client.
 */
describe('Local ECS: documented answers (API reference)', () => {
  let ecs: LocalEcs;
  let client: Ecs;
  const { keyring, root } = Keyring.generate();

  beforeAll(async () => {
    ecs = await startLocalEcs({ scenario: scenarioPath('two-node-failover'), keyring, timeScale: 0.001 });
    client = ecsClient(ecs.endpoint, root);
  });
  beforeEach(() => ecs.control.reset());
  afterAll(() => ecs.close());

  const run = (fields: Partial<$Ecs.RunCommandRequest>) =>
    client.runCommand(new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: 'true', instanceId: ['i-primary'], ...fields }));
  async function finished(invokeId: string) {
    let last: $Ecs.DescribeInvocationResultsResponseBodyInvocationInvocationResultsInvocationResult | undefined;
    await pollUntil(
      async () => {
        const r = await client.describeInvocationResults(new $Ecs.DescribeInvocationResultsRequest({ regionId: Region, invokeId }));
        last = r.body?.invocation?.invocationResults?.invocationResult?.[0];
        return last?.invocationStatus;
      },
      (s) => s !== undefined && s !== 'Pending' && s !== 'Running',
    );
    return last;
  }

  describe('DescribeCloudAssistantStatus', () => {
    const status = (ids: string[], extra: Partial<$Ecs.DescribeCloudAssistantStatusRequest> = {}) =>
      client.describeCloudAssistantStatus(new $Ecs.DescribeCloudAssistantStatusRequest({ regionId: Region, instanceId: ids, ...extra }));

    it('answers an unknown instance with 404 InvalidInstance.NotFound, not an empty list', async () => {
      const alone = await rejection(status(['i-nope']));
      expect([alone.code, alone.statusCode]).toEqual(['InvalidInstance.NotFound', 404]);
      const mixed = await rejection(status(['i-primary', 'i-nope']));
      expect(mixed.code).toBe('InvalidInstance.NotFound');
      const known = await status(['i-primary']);
      expect(known.body?.instanceCloudAssistantStatusSet?.instanceCloudAssistantStatus?.map((s) => s.cloudAssistantStatus)).toEqual(['true']);
    });

    it('accepts PageSize up to 100', async () => {
      const r = await status([], { pageSize: 100 });
      expect(r.body?.pageSize).toBe(100);
      expect(r.body?.instanceCloudAssistantStatusSet?.instanceCloudAssistantStatus).toHaveLength(2);
      const over = await rejection(status([], { pageSize: 101 }));
      expect([over.code, over.statusCode]).toEqual(['InvalidParameter', 400]);
    });
  });

  describe('DescribeNetworkInterfaces', () => {
    const dni = (fields: Partial<$Ecs.DescribeNetworkInterfacesRequest>) =>
      client.describeNetworkInterfaces(new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, ...fields }));

    it.each([
      ['MaxResults 1', { maxResults: 1 }, 1],
      ['MaxResults 500', { maxResults: 500 }, 3],
      ['PageSize 1', { pageSize: 1 }, 1],
      ['PageSize 100', { pageSize: 100 }, 3],
    ])('accepts %s', async (_label, fields, count) => {
      const r = await dni(fields);
      expect(r.body?.networkInterfaceSets?.networkInterfaceSet).toHaveLength(count);
    });

    it.each([
      ['MaxResults 0', { maxResults: 0 }],
      ['MaxResults 501', { maxResults: 501 }],
      ['PageSize 101', { pageSize: 101 }],
    ])('refuses %s with InvalidParameter 400', async (_label, fields) => {
      const err = await rejection(dni(fields));
      expect([err.code, err.statusCode]).toEqual(['InvalidParameter', 400]);
    });

    it('leaves TotalCount out with NextToken paging (documented as invalid there) and gives it with page numbers', async () => {
      const byToken = await dni({ maxResults: 2 });
      expect(byToken.body?.nextToken).not.toBe('');
      expect(byToken.body?.totalCount).toBeUndefined();
      const byPage = await dni({ pageSize: 2 });
      expect(byPage.body?.totalCount).toBe(3);
    });

    it('never sends the Attachment object, and the emulated guest still finds a freshly attached NIC', async () => {
      await client.detachNetworkInterface(new $Ecs.DetachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-primary' }));
      await pollUntil(async () => (await dni({ networkInterfaceId: ['eni-service'] })).body?.networkInterfaceSets?.networkInterfaceSet?.[0]?.status, (s) => s === 'Available');
      await client.attachNetworkInterface(new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-service', instanceId: 'i-standby' }));
      await pollUntil(async () => (await dni({ networkInterfaceId: ['eni-service'] })).body?.networkInterfaceSets?.networkInterfaceSet?.[0]?.status, (s) => s === 'InUse');
      const all = await dni({});
      expect(all.body?.networkInterfaceSets?.networkInterfaceSet?.filter((e) => e.attachment !== undefined)).toEqual([]);
      const invoked = await run({ instanceId: ['i-standby'], commandContent: "ENI_MAC='00:16:3e:12:34:56'\n" });
      const result = await finished(invoked.body?.invokeId as string);
      expect(result?.invocationStatus).toBe('Success');
      expect(Buffer.from(result?.output ?? '', 'base64').toString()).toContain('"device":"eth1"');
    });
  });

  describe('RunCommand', () => {
    it('answers an unknown Type with 403 InvalidCmdType.NotFound', async () => {
      const err = await rejection(run({ type: 'RunPythonScript' }));
      expect([err.code, err.statusCode]).toEqual(['InvalidCmdType.NotFound', 403]);
    });

    it.each(['base64', 'BASE64', 'Base64'])('reads ContentEncoding %s case-insensitively', async (encoding) => {
      const r = await run({ contentEncoding: encoding, commandContent: Buffer.from('echo decoded').toString('base64') });
      await finished(r.body?.invokeId as string);
      expect(ecs.control.scripts().map((s) => s.script)).toEqual(['echo decoded']);
    });

    it('treats an unknown ContentEncoding as PlainText', async () => {
      const r = await run({ contentEncoding: 'gzip', commandContent: 'ZWNobyBoaQ==' });
      await finished(r.body?.invokeId as string);
      expect(ecs.control.scripts().map((s) => s.script)).toEqual(['ZWNobyBoaQ==']);
    });

    it('invents no minimum Timeout: 1 second is accepted', async () => {
      const r = await run({ timeout: 1 });
      expect((await finished(r.body?.invokeId as string))?.invocationStatus).toBe('Success');
      expect(ecs.control.scripts()[0]?.timeoutSeconds).toBe(1);
    });
  });

  describe('DescribeInvocationResults', () => {
    const results = (fields: Partial<$Ecs.DescribeInvocationResultsRequest>) =>
      client.describeInvocationResults(new $Ecs.DescribeInvocationResultsRequest({ regionId: Region, ...fields }));

    it('answers PageSize over 50 with 403 InvalidParam.PageSize and a bad PageNumber with 403 InvalidParam.PageNumber', async () => {
      expect((await results({ pageSize: 50 })).body?.invocation?.pageSize).toBe(50);
      const size = await rejection(results({ pageSize: 51 }));
      expect([size.code, size.statusCode]).toEqual(['InvalidParam.PageSize', 403]);
      const number = await rejection(results({ pageNumber: 0 }));
      expect([number.code, number.statusCode]).toEqual(['InvalidParam.PageNumber', 403]);
    });

    it('gives the documented fixed ErrorInfo per ErrorCode, and ExitCode only for commands that ran', async () => {
      const failed = await finished((await run({ commandContent: "ENI_MAC='00:16:3e:99:99:99'\n" })).body?.invokeId as string);
      expect(failed).toMatchObject({ invocationStatus: 'Failed', exitCode: 10, errorCode: 'ExitCodeNonzero', errorInfo: 'the command execution exit code is not zero' });

      ecs.control.setCloudAssistantOnline({ instanceId: 'i-primary', online: false });
      const aborted = await finished((await run({})).body?.invokeId as string);
      expect(aborted).toMatchObject({ invocationStatus: 'Aborted', invokeRecordStatus: 'Failed', errorCode: 'ClientNotRunning', errorInfo: 'the aliyun service is not running on the instance' });
      expect(aborted?.exitCode).toBeUndefined();
      ecs.control.setCloudAssistantOnline({ instanceId: 'i-primary', online: true });

      ecs.control.setGuestResponsive({ instanceId: 'i-primary', responsive: false });
      const timedOut = await finished((await run({ timeout: 5 })).body?.invokeId as string);
      expect(timedOut).toMatchObject({
        invocationStatus: 'Timeout',
        invokeRecordStatus: 'Failed',
        errorCode: 'ExecutionTimeout',
        errorInfo: 'the command execution has been timeout',
        exitCode: -1,
      });
    });
  });

  describe('StopInstance StoppedMode default', () => {
    const stoppedMode = async (e: LocalEcs, c: Ecs, id: string) => {
      await pollUntil(async () => (await c.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: Region, instanceId: [id] }))).body?.instanceStatuses?.instanceStatus?.[0]?.status, (s) => s === 'Stopped');
      return (await c.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, instanceIds: JSON.stringify([id]) }))).body?.instances?.instance?.[0]?.stoppedMode;
    };

    it('is KeepCharging when the account has no no-fees-for-stopped mode', async () => {
      await client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby' }));
      expect(await stoppedMode(ecs, client, 'i-standby')).toBe('KeepCharging');
    });

    it('is StopCharging when the account has it (scenario account.noChargeForStoppedInstances); an explicit mode wins', async () => {
      const economical = await startLocalEcs({
        scenario: { ...loadScenario(scenarioPath('two-node-failover')), account: { noChargeForStoppedInstances: true } },
        keyring,
        timeScale: 0.001,
      });
      try {
        const c = ecsClient(economical.endpoint, root);
        await c.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby' }));
        await c.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-primary', stoppedMode: 'KeepCharging' }));
        expect(await stoppedMode(economical, c, 'i-standby')).toBe('StopCharging');
        expect(await stoppedMode(economical, c, 'i-primary')).toBe('KeepCharging');
      } finally {
        await economical.close();
      }
    });
  });

  describe('CreateNetworkInterface', () => {
    const create = (primaryIpAddress: string) =>
      client.createNetworkInterface(
        new $Ecs.CreateNetworkInterfaceRequest({ regionId: Region, vSwitchId: 'vsw-failover-h', securityGroupId: 'sg-failover', primaryIpAddress }),
      );

    it('answers a private IP outside the vSwitch CIDR with 403 InvalidVSwitchId.IpInvalid', async () => {
      const err = await rejection(create('10.0.9.5'));
      expect([err.code, err.statusCode]).toEqual(['InvalidVSwitchId.IpInvalid', 403]);
      expect((await create('10.0.1.77')).body?.privateIpAddress).toBe('10.0.1.77');
    });

    it('answers something that is not an IPv4 address with 400 InvalidPrivateIpAddress.Malformed', async () => {
      const err = await rejection(create('10.0.1.x'));
      expect([err.code, err.statusCode]).toEqual(['InvalidPrivateIpAddress.Malformed', 400]);
    });
  });
});
