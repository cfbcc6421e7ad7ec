import type Ecs from '@alicloud/ecs20140526';
import * as $Ecs from '@alicloud/ecs20140526';
import { Keyring } from '../../local/credentials';
import { type LocalEcs, startLocalEcs } from '../../local/ecs';
import { Region, ecsClient, pollUntil, rejection, scenarioPath } from './helpers';

/** Every operation's success shape through the real SDK (V3 and V2 signatures), on the default scenario. */
describe('Local ECS: operations through the real @alicloud/ecs20140526 client', () => {
  let ecs: LocalEcs;
  let client: Ecs;
  let v2: Ecs;

  beforeAll(async () => {
    const { keyring, root } = Keyring.generate();
    ecs = await startLocalEcs({ scenario: scenarioPath('two-node-failover'), keyring, timeScale: 0.001 });
    client = ecsClient(ecs.endpoint, root);
    v2 = ecsClient(ecs.endpoint, root, true);
  });
  afterAll(() => ecs.close());

  async function invocation(invokeId: string, encoding?: 'PlainText') {
    let last: $Ecs.DescribeInvocationResultsResponseBodyInvocationInvocationResultsInvocationResult | undefined;
    await pollUntil(
      async () => {
        const r = await client.describeInvocationResults(
          new $Ecs.DescribeInvocationResultsRequest({ regionId: Region, invokeId, contentEncoding: encoding }),
        );
        last = r.body?.invocation?.invocationResults?.invocationResult?.[0];
        return last?.invocationStatus;
      },
      (s) => s !== undefined && s !== 'Pending' && s !== 'Running',
    );
    if (last === undefined) throw new Error('no invocation result');
    return last;
  }

  it('DescribeNetworkInterfaces answers the ENI with every list double-wrapped as an array, even with one element', async () => {
    const r = await client.describeNetworkInterfaces(
      new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, networkInterfaceId: ['eni-service'] }),
    );
    const set = r.body?.networkInterfaceSets?.networkInterfaceSet ?? [];
    expect(set).toHaveLength(1);
    const eni = set[0];
    expect(eni).toMatchObject({
      networkInterfaceId: 'eni-service',
      networkInterfaceName: 'service-eni',
      status: 'InUse',
      type: 'Secondary',
      instanceId: 'i-primary',
      vpcId: 'vpc-failover',
      vSwitchId: 'vsw-failover-h',
      zoneId: 'cn-hangzhou-h',
      macAddress: '00:16:3e:12:34:56',
      privateIpAddress: '10.0.1.5',
    });
    // Attachment is documented as unavailable (invitational preview): never sent.
    expect(eni?.attachment).toBeUndefined();
    expect(eni?.privateIpSets?.privateIpSet?.map((p) => [p.privateIpAddress, p.primary])).toEqual([
      ['10.0.1.5', true],
      ['10.0.1.6', false],
    ]);
    expect(eni?.securityGroupIds?.securityGroupId).toEqual(['sg-failover']);
    expect(eni?.tags?.tag).toEqual([{ tagKey: 'eni-failover/service', tagValue: 'web' }]);
    expect(r.body?.totalCount).toBe(1);
  });

  it('DescribeNetworkInterfaces filters by instance and type, and answers unknown ids with an empty set', async () => {
    const byInstance = await client.describeNetworkInterfaces(
      new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, instanceId: 'i-primary' }),
    );
    expect(byInstance.body?.networkInterfaceSets?.networkInterfaceSet?.map((e) => e.networkInterfaceId).sort()).toEqual([
      'eni-primary0',
      'eni-service',
    ]);
    const primaries = await client.describeNetworkInterfaces(
      new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, type: 'Primary' }),
    );
    expect(primaries.body?.networkInterfaceSets?.networkInterfaceSet?.map((e) => e.networkInterfaceId).sort()).toEqual([
      'eni-primary0',
      'eni-standby0',
    ]);
    const none = await client.describeNetworkInterfaces(
      new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, networkInterfaceId: ['eni-nope'] }),
    );
    expect(none.body?.networkInterfaceSets?.networkInterfaceSet).toEqual([]);
    expect(none.body?.totalCount).toBe(0);
  });

  it('CreateNetworkInterface allocates an IP in the vSwitch, and NextToken/MaxResults and PageNumber/PageSize page through the result', async () => {
    const created: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await client.createNetworkInterface(
        new $Ecs.CreateNetworkInterfaceRequest({
          regionId: Region,
          vSwitchId: 'vsw-failover-h',
          securityGroupId: 'sg-failover',
          networkInterfaceName: `batch-${i}`,
          tag: [new $Ecs.CreateNetworkInterfaceRequestTag({ key: 'batch', value: 'paging' })],
        }),
      );
      expect(r.body?.status).toBe('Available');
      expect(r.body?.type).toBe('Secondary');
      expect(r.body?.privateIpAddress).toMatch(/^10\.0\.1\.\d+$/);
      expect(r.body?.macAddress).toMatch(/^00:16:3e(:[0-9a-f]{2}){3}$/);
      expect(r.body?.securityGroupIds?.securityGroupId).toEqual(['sg-failover']);
      created.push(r.body?.networkInterfaceId as string);
    }
    const ips = new Set<string>();
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const r = await client.describeNetworkInterfaces(
        new $Ecs.DescribeNetworkInterfacesRequest({
          regionId: Region,
          tag: [new $Ecs.DescribeNetworkInterfacesRequestTag({ key: 'batch', value: 'paging' })],
          maxResults: 10,
          nextToken,
        }),
      );
      pages++;
      for (const e of r.body?.networkInterfaceSets?.networkInterfaceSet ?? []) {
        seen.push(e.networkInterfaceId as string);
        ips.add(e.privateIpAddress as string);
      }
      nextToken = r.body?.nextToken === '' ? undefined : r.body?.nextToken;
    } while (nextToken !== undefined);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual([...created].sort());
    expect(ips.size).toBe(12);

    const legacy = await client.describeNetworkInterfaces(
      new $Ecs.DescribeNetworkInterfacesRequest({
        regionId: Region,
        tag: [new $Ecs.DescribeNetworkInterfacesRequestTag({ key: 'batch' })],
        pageNumber: 3,
        pageSize: 5,
      }),
    );
    expect(legacy.body?.networkInterfaceSets?.networkInterfaceSet).toHaveLength(2);
    expect([legacy.body?.pageNumber, legacy.body?.pageSize, legacy.body?.totalCount]).toEqual([3, 5, 12]);

    const bad = await rejection(
      client.describeNetworkInterfaces(new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, maxResults: 501 })),
    );
    expect([bad.code, bad.statusCode]).toEqual(['InvalidParameter', 400]);
  });

  it('CreateNetworkInterface with a ClientToken is idempotent, and a reused token with other parameters is IdempotentParameterMismatch', async () => {
    const request = () =>
      new $Ecs.CreateNetworkInterfaceRequest({
        regionId: Region,
        vSwitchId: 'vsw-failover-h',
        securityGroupIds: ['sg-failover'],
        primaryIpAddress: '10.0.1.200',
        clientToken: 'token-create-1',
      });
    const first = await client.createNetworkInterface(request());
    const again = await client.createNetworkInterface(request());
    expect(first.body?.privateIpAddress).toBe('10.0.1.200');
    expect(again.body?.networkInterfaceId).toBe(first.body?.networkInterfaceId);

    const other = request();
    other.networkInterfaceName = 'different';
    const err = await rejection(client.createNetworkInterface(other));
    expect([err.code, err.statusCode]).toEqual(['IdempotentParameterMismatch', 400]);

    const dup = await rejection(
      client.createNetworkInterface(
        new $Ecs.CreateNetworkInterfaceRequest({ regionId: Region, vSwitchId: 'vsw-failover-h', securityGroupId: 'sg-failover', primaryIpAddress: '10.0.1.200' }),
      ),
    );
    expect([dup.code, dup.statusCode]).toEqual(['InvalidPrivateIpAddress.Duplicated', 400]);
  });

  it('DescribeNetworkInterfaceAttribute answers the ENI flat at top level; an unknown id is InvalidEniId.NotFound 404', async () => {
    const r = await client.describeNetworkInterfaceAttribute(
      new $Ecs.DescribeNetworkInterfaceAttributeRequest({ regionId: Region, networkInterfaceId: 'eni-service' }),
    );
    expect(r.body).toMatchObject({ networkInterfaceId: 'eni-service', status: 'InUse', instanceId: 'i-primary', macAddress: '00:16:3e:12:34:56' });
    expect(r.body?.attachment).toBeUndefined();
    expect(r.body?.privateIpSets?.privateIpSet).toHaveLength(2);
    const err = await rejection(
      client.describeNetworkInterfaceAttribute(new $Ecs.DescribeNetworkInterfaceAttributeRequest({ regionId: Region, networkInterfaceId: 'eni-nope' })),
    );
    expect([err.code, err.statusCode]).toEqual(['InvalidEniId.NotFound', 404]);
  });

  it.each([
    ['V3', false],
    ['V2', true],
  ])('DescribeInstances (%s signature) answers the instance with its ENIs, StartTime and VPC attributes', async (_name, useV2) => {
    const c = useV2 ? v2 : client;
    const r = await c.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, instanceIds: JSON.stringify(['i-primary']) }));
    const list = r.body?.instances?.instance ?? [];
    expect(list).toHaveLength(1);
    const inst = list[0];
    expect(inst).toMatchObject({
      instanceId: 'i-primary',
      instanceName: 'service-primary',
      status: 'Running',
      regionId: Region,
      zoneId: 'cn-hangzhou-h',
      instanceType: 'ecs.g7.large',
      instanceTypeFamily: 'ecs.g7',
      ioOptimized: true,
      OSType: 'linux',
      startTime: '2024-05-01T08:00Z',
      vpcAttributes: { vpcId: 'vpc-failover', vSwitchId: 'vsw-failover-h', privateIpAddress: { ipAddress: ['10.0.1.11'] } },
    });
    expect(inst?.networkInterfaces?.networkInterface?.map((n) => [n.networkInterfaceId, n.type, n.macAddress, n.primaryIpAddress])).toEqual([
      ['eni-primary0', 'Primary', '00:16:3e:00:00:01', '10.0.1.11'],
      ['eni-service', 'Secondary', '00:16:3e:12:34:56', '10.0.1.5'],
    ]);
    expect(inst?.tags?.tag).toEqual([{ tagKey: 'role', tagValue: 'primary' }]);
    expect(inst?.operationLocks?.lockReason).toEqual([]);
    expect(r.body?.totalCount).toBe(1);
  });

  it('DescribeInstances with DryRun answers DryRunOperation 400; a malformed InstanceIds is InvalidParameter', async () => {
    const dry = await rejection(client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, dryRun: true })));
    expect([dry.code, dry.statusCode]).toEqual(['DryRunOperation', 400]);
    const bad = await rejection(client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region, instanceIds: 'i-primary' })));
    expect([bad.code, bad.statusCode]).toEqual(['InvalidParameter', 400]);
  });

  it('DescribeInstanceAttribute, DescribeInstanceStatus and DescribeInstanceTypes answer the scenario values', async () => {
    const attr = await client.describeInstanceAttribute(new $Ecs.DescribeInstanceAttributeRequest({ instanceId: 'i-standby' }));
    expect(attr.body).toMatchObject({ instanceId: 'i-standby', status: 'Running', ioOptimized: 'optimized', instanceType: 'ecs.g7.large' });
    expect(attr.body?.vpcAttributes?.privateIpAddress?.ipAddress).toEqual(['10.0.1.12']);
    expect(attr.body?.securityGroupIds?.securityGroupId).toEqual(['sg-failover']);

    const status = await v2.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: Region, instanceId: ['i-primary', 'i-standby'] }));
    expect(status.body?.instanceStatuses?.instanceStatus?.map((s) => [s.instanceId, s.status])).toEqual([
      ['i-primary', 'Running'],
      ['i-standby', 'Running'],
    ]);
    expect(status.body?.totalCount).toBe(2);

    const types = await client.describeInstanceTypes(new $Ecs.DescribeInstanceTypesRequest({ instanceTypes: ['ecs.g7.large'] }));
    expect(types.body?.instanceTypes?.instanceType?.map((t) => [t.instanceTypeId, t.instanceTypeFamily, t.eniQuantity, t.cpuCoreCount])).toEqual([
      ['ecs.g7.large', 'ecs.g7', 3, 2],
    ]);

    const missing = await rejection(client.describeInstanceAttribute(new $Ecs.DescribeInstanceAttributeRequest({ instanceId: 'i-nope' })));
    expect([missing.code, missing.statusCode]).toEqual(['InvalidInstanceId.NotFound', 404]);
  });

  it('StopInstance with DryRun is DryRunOperation and changes nothing; StartInstance on a Running instance is IncorrectInstanceStatus 403', async () => {
    const dry = await rejection(client.stopInstance(new $Ecs.StopInstanceRequest({ instanceId: 'i-standby', dryRun: true })));
    expect([dry.code, dry.statusCode]).toEqual(['DryRunOperation', 400]);
    const start = await rejection(client.startInstance(new $Ecs.StartInstanceRequest({ instanceId: 'i-standby' })));
    expect([start.code, start.statusCode]).toEqual(['IncorrectInstanceStatus', 403]);
    const reboot = await rejection(client.rebootInstance(new $Ecs.RebootInstanceRequest({ instanceId: 'i-nope' })));
    expect([reboot.code, reboot.statusCode]).toEqual(['InvalidInstanceId.NotFound', 404]);
    expect(ecs.control.state().instances.find((i) => i.instanceId === 'i-standby')?.status).toBe('Running');
  });

  it('RunCommand runs the guest script: the emulated guest finds the ENI by MAC and prints the result line (Base64 output)', async () => {
    const script = "#!/bin/sh\nENI_MAC='00:16:3e:12:34:56'\nENI_IPS='10.0.1.5,10.0.1.6'\nENI_PREFIX='24'\nENI_GATEWAY='10.0.1.253'\nexec /opt/eni-failover/configure\n";
    const run = await client.runCommand(
      new $Ecs.RunCommandRequest({
        regionId: Region,
        type: 'RunShellScript',
        commandContent: Buffer.from(script).toString('base64'),
        contentEncoding: 'Base64',
        instanceId: ['i-primary'],
        timeout: 60,
        name: 'configure-guest-routes',
      }),
    );
    expect(run.body?.invokeId).toMatch(/^t-[0-9a-f]+$/);
    expect(run.body?.commandId).toMatch(/^c-[0-9a-f]+$/);

    const result = await invocation(run.body?.invokeId as string);
    expect(result).toMatchObject({ invocationStatus: 'Success', invokeRecordStatus: 'Finished', exitCode: 0, errorCode: '', instanceId: 'i-primary' });
    const output = Buffer.from(result.output ?? '', 'base64').toString('utf8').trimEnd();
    const last = output.split('\n').pop() ?? '';
    expect(last.startsWith('eni-failover-result: ')).toBe(true);
    expect(JSON.parse(last.slice('eni-failover-result: '.length))).toEqual({
      device: 'eth1',
      mac: '00:16:3e:12:34:56',
      ips: ['10.0.1.5', '10.0.1.6'],
      prefix: 24,
      gateway: '10.0.1.253',
      table: 1001,
      priority: 1001,
      persisted: 'none',
    });
    const recorded = ecs.control.scripts().find((s) => s.invokeId === run.body?.invokeId);
    expect(recorded?.script).toBe(script);
    expect(recorded?.instanceId).toBe('i-primary');
  });

  it('RunCommand on an instance without that MAC fails with exit 10 and mac-not-found; a plain script answers "ok" in PlainText', async () => {
    const miss = await client.runCommand(
      new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: "ENI_MAC='00:16:3e:12:34:56'\ntrue", instanceId: ['i-standby'] }),
    );
    const failed = await invocation(miss.body?.invokeId as string, 'PlainText');
    expect(failed).toMatchObject({ invocationStatus: 'Failed', exitCode: 10, errorCode: 'ExitCodeNonzero' });
    expect(failed.output).toMatch(/^eni-failover-error: 10 mac-not-found: 00:16:3e:12:34:56/m);

    const plain = await client.runCommand(
      new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: 'uptime', instanceId: ['i-standby'] }),
    );
    const ok = await invocation(plain.body?.invokeId as string, 'PlainText');
    expect([ok.invocationStatus, ok.exitCode, ok.output]).toEqual(['Success', 0, 'ok\n']);
  });

  it('RunCommand with a ClientToken returns the same invocation; other parameters are IdempotentParameterMismatch; unknown instance is InvalidInstance.NotFound', async () => {
    const req = (content: string) =>
      new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: content, instanceId: ['i-standby'], clientToken: 'op-1-configure' });
    const a = await client.runCommand(req('echo 1'));
    const b = await client.runCommand(req('echo 1'));
    expect(b.body?.invokeId).toBe(a.body?.invokeId);
    const c = await rejection(client.runCommand(req('echo 2')));
    expect([c.code, c.statusCode]).toEqual(['IdempotentParameterMismatch', 400]);
    const d = await rejection(
      client.runCommand(new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: 'x', instanceId: ['i-nope'] })),
    );
    expect([d.code, d.statusCode]).toEqual(['InvalidInstance.NotFound', 404]);
  });

  it('RunCommand takes a large script in the query (beyond the default 16 KB header limit) and refuses one over 24 KB Base64', async () => {
    const big = `ENI_MAC='00:16:3e:12:34:56'\n#${'x'.repeat(17_000)}\n`;
    const ok = await client.runCommand(
      new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: Buffer.from(big).toString('base64'), contentEncoding: 'Base64', instanceId: ['i-primary'] }),
    );
    expect((await invocation(ok.body?.invokeId as string)).invocationStatus).toBe('Success');
    const tooBig = await rejection(
      client.runCommand(new $Ecs.RunCommandRequest({ regionId: Region, type: 'RunShellScript', commandContent: 'y'.repeat(19_000), instanceId: ['i-primary'] })),
    );
    expect([tooBig.code, tooBig.statusCode]).toEqual(['CmdContent.ExceedLimit', 403]);
  });

  it('DescribeCloudAssistantStatus answers "true"/"false" strings per instance', async () => {
    ecs.control.setCloudAssistantOnline({ instanceId: 'i-standby', online: false });
    try {
      const r = await client.describeCloudAssistantStatus(
        new $Ecs.DescribeCloudAssistantStatusRequest({ regionId: Region, instanceId: ['i-primary', 'i-standby'] }),
      );
      const rows = r.body?.instanceCloudAssistantStatusSet?.instanceCloudAssistantStatus ?? [];
      expect(rows.map((s) => [s.instanceId, s.cloudAssistantStatus, s.OSType])).toEqual([
        ['i-primary', 'true', 'Linux'],
        ['i-standby', 'false', 'Linux'],
      ]);
      expect(rows[0]?.cloudAssistantVersion).toBe('2.2.3.857');
    } finally {
      ecs.control.setCloudAssistantOnline({ instanceId: 'i-standby', online: true });
    }
  });

  it('TagResources tags an ENI; ListTagResources and the Tag filter of DescribeNetworkInterfaces see it', async () => {
    await client.tagResources(
      new $Ecs.TagResourcesRequest({
        regionId: Region,
        resourceType: 'eni',
        resourceId: ['eni-service'],
        tag: [new $Ecs.TagResourcesRequestTag({ key: 'owner', value: 'op-42' })],
      }),
    );
    const list = await client.listTagResources(
      new $Ecs.ListTagResourcesRequest({ regionId: Region, resourceType: 'eni', resourceId: ['eni-service'] }),
    );
    expect(list.body?.tagResources?.tagResource?.map((t) => [t.resourceId, t.resourceType, t.tagKey, t.tagValue])).toEqual([
      ['eni-service', 'eni', 'eni-failover/service', 'web'],
      ['eni-service', 'eni', 'owner', 'op-42'],
    ]);
    const byTag = await client.describeNetworkInterfaces(
      new $Ecs.DescribeNetworkInterfacesRequest({ regionId: Region, tag: [new $Ecs.DescribeNetworkInterfacesRequestTag({ key: 'owner', value: 'op-42' })] }),
    );
    expect(byTag.body?.networkInterfaceSets?.networkInterfaceSet?.map((e) => e.networkInterfaceId)).toEqual(['eni-service']);
    const missing = await rejection(
      client.tagResources(
        new $Ecs.TagResourcesRequest({ regionId: Region, resourceType: 'eni', resourceId: ['eni-nope'], tag: [new $Ecs.TagResourcesRequestTag({ key: 'a', value: 'b' })] }),
      ),
    );
    expect([missing.code, missing.statusCode]).toEqual(['InvalidResourceId.NotFound', 404]);
  });

  it('a RegionId other than the scenario\'s is an empty region', async () => {
    const r = await client.describeNetworkInterfaces(new $Ecs.DescribeNetworkInterfacesRequest({ regionId: 'cn-beijing' }));
    expect(r.body?.networkInterfaceSets?.networkInterfaceSet).toEqual([]);
    const err = await rejection(
      client.attachNetworkInterface(new $Ecs.AttachNetworkInterfaceRequest({ regionId: 'cn-beijing', networkInterfaceId: 'eni-service', instanceId: 'i-standby' })),
    );
    expect([err.code, err.statusCode]).toEqual(['InvalidEniId.NotFound', 404]);
  });
});
