import { mapEni, mapInstance, mapInstanceType, mapInvocationResult } from '../../cloud/ecs';

// Bodies shaped as ecs-api.md documents them (PascalCase, lists wrapped twice).
const eniInUse = {
  NetworkInterfaceId: 'eni-bp1a',
  NetworkInterfaceName: 'service-ip',
  Status: 'InUse',
  Type: 'Secondary',
  InstanceId: 'i-bp1old',
  VpcId: 'vpc-1',
  VSwitchId: 'vsw-1',
  ZoneId: 'cn-hangzhou-h',
  MacAddress: '00:16:3e:12:34:56',
  PrivateIpAddress: '10.0.0.20',
  PrivateIpSets: {
    PrivateIpSet: [
      { PrivateIpAddress: '10.0.0.21', Primary: false },
      { PrivateIpAddress: '10.0.0.20', Primary: true },
    ],
  },
  SecurityGroupIds: { SecurityGroupId: ['sg-1'] },
  Tags: { Tag: [{ TagKey: 'failover', TagValue: 'web' }] },
  Attachment: { InstanceId: 'i-bp1new', DeviceIndex: 1, NetworkCardIndex: 0 },
  CreationTime: '2024-01-01T00:00:00Z',
};

const runningInstance = {
  InstanceId: 'i-bp1new',
  InstanceName: 'standby',
  Status: 'Running',
  RegionId: 'cn-hangzhou',
  ZoneId: 'cn-hangzhou-h',
  InstanceType: 'ecs.g7.large',
  StartTime: '2024-05-01T10:00Z',
  OSType: 'linux',
  IoOptimized: true,
  VpcAttributes: { VpcId: 'vpc-1', VSwitchId: 'vsw-1', PrivateIpAddress: { IpAddress: ['10.0.0.5'] } },
  NetworkInterfaces: {
    NetworkInterface: [
      { NetworkInterfaceId: 'eni-primary', Type: 'Primary', MacAddress: '00:16:3e:00:00:01', PrimaryIpAddress: '10.0.0.5' },
    ],
  },
  Tags: { Tag: [{ TagKey: 'role', TagValue: 'standby' }] },
  OperationLocks: { LockReason: [] },
};

describe('mapEni', () => {
  it('maps a bound ENI, preferring Attachment.InstanceId and listing the primary IP first', () => {
    const eni = mapEni(eniInUse);
    expect(eni).toEqual({
      eniId: 'eni-bp1a',
      status: 'InUse',
      type: 'Secondary',
      instanceId: 'i-bp1new',
      vpcId: 'vpc-1',
      vSwitchId: 'vsw-1',
      zoneId: 'cn-hangzhou-h',
      macAddress: '00:16:3e:12:34:56',
      primaryIp: '10.0.0.20',
      privateIps: ['10.0.0.20', '10.0.0.21'],
      tags: { failover: 'web' },
    });
  });

  it('tolerates missing optional fields: an Available ENI with no attachment, tags or IP sets', () => {
    const { Attachment, InstanceId, Tags, PrivateIpSets, MacAddress, ...rest } = eniInUse;
    const eni = mapEni({ ...rest, Status: 'Available', InstanceId: '' });
    expect(eni.instanceId).toBeUndefined();
    expect(eni.tags).toEqual({});
    expect(eni.privateIps).toEqual(['10.0.0.20']);
    expect(eni.macAddress).toBe('');
  });

  it('answers the MAC in lower case whatever case ECS sent, so the guest command builder never refuses it', () => {
    expect(mapEni({ ...eniInUse, MacAddress: '00:16:3E:AB:CD:EF' }).macAddress).toBe('00:16:3e:ab:cd:ef');
  });

  it('falls back to the top-level InstanceId when there is no Attachment', () => {
    const { Attachment, ...rest } = eniInUse;
    expect(mapEni(rest).instanceId).toBe('i-bp1old');
  });

  it.each([
    ['NetworkInterfaceId', { NetworkInterfaceId: undefined }],
    ['Status', { Status: 'Exploded' }],
    ['Type', { Type: undefined }],
    ['VpcId', { VpcId: '' }],
    ['ZoneId', { ZoneId: undefined }],
    ['PrivateIpAddress', { PrivateIpAddress: undefined, PrivateIpSets: undefined }],
    ['PrivateIpSets.PrivateIpSet', { PrivateIpSets: { PrivateIpSet: { PrivateIpAddress: '10.0.0.20' } } }],
  ])('refuses an ENI without a usable %s (fatal MalformedResponse naming it)', (field, patch) => {
    expect(() => mapEni({ ...eniInUse, ...patch })).toThrow(
      expect.objectContaining({ kind: 'fatal', code: 'MalformedResponse', message: expect.stringContaining(field) }),
    );
  });
});

describe('mapInstance', () => {
  it('maps a running instance with its VPC, ENIs and tags', () => {
    expect(mapInstance(runningInstance, 'cn-shanghai')).toEqual({
      instanceId: 'i-bp1new',
      instanceName: 'standby',
      status: 'Running',
      instanceType: 'ecs.g7.large',
      regionId: 'cn-hangzhou',
      zoneId: 'cn-hangzhou-h',
      vpcId: 'vpc-1',
      vSwitchId: 'vsw-1',
      ioOptimized: true,
      startTime: '2024-05-01T10:00Z',
      osType: 'linux',
      eniIds: ['eni-primary'],
      tags: { role: 'standby' },
    });
  });

  it('tolerates missing optional fields and reads "false" strings', () => {
    const { InstanceName, StartTime, Tags, NetworkInterfaces, RegionId, OSType, ...rest } = runningInstance;
    const instance = mapInstance({ ...rest, IoOptimized: 'false', OSType: 'Windows' }, 'cn-shanghai');
    expect(instance.ioOptimized).toBe(false);
    expect(instance.osType).toBe('windows');
    expect(instance.startTime).toBeUndefined();
    expect(instance.regionId).toBe('cn-shanghai');
    expect(instance.eniIds).toEqual([]);
    expect(instance.instanceName).toBe('');
  });

  it.each([
    ['VpcAttributes', { VpcAttributes: undefined }],
    ['VpcAttributes.VpcId', { VpcAttributes: { VSwitchId: 'vsw-1' } }],
    ['IoOptimized', { IoOptimized: undefined }],
    ['Status', { Status: 'Deleted' }],
    ['InstanceType', { InstanceType: '' }],
    ['ZoneId', { ZoneId: undefined }],
  ])('refuses an instance without a usable %s', (field, patch) => {
    expect(() => mapInstance({ ...runningInstance, ...patch }, 'cn-hangzhou')).toThrow(
      expect.objectContaining({ code: 'MalformedResponse', message: expect.stringContaining(field) }),
    );
  });
});

describe('mapInstanceType', () => {
  it('reads EniQuantity, numeric or numeric string', () => {
    expect(mapInstanceType({ InstanceTypeId: 'ecs.g7.large', EniQuantity: 3, CpuCoreCount: 2 })).toEqual({
      instanceTypeId: 'ecs.g7.large',
      eniQuantity: 3,
    });
    expect(mapInstanceType({ InstanceTypeId: 'ecs.g7.large', EniQuantity: '3' }).eniQuantity).toBe(3);
  });

  it.each([[undefined], [''], ['many'], [-1], [2.5]])('refuses EniQuantity %p', (value) => {
    expect(() => mapInstanceType({ InstanceTypeId: 'ecs.g7.large', EniQuantity: value })).toThrow(
      expect.objectContaining({ code: 'MalformedResponse', message: expect.stringContaining('EniQuantity') }),
    );
  });
});

describe('mapInvocationResult', () => {
  it('decodes the base64 output and keeps exit code and error fields', () => {
    const result = mapInvocationResult(
      {
        InvokeId: 't-1',
        CommandId: 'c-1',
        InstanceId: 'i-bp1new',
        InvocationStatus: 'Failed',
        InvokeRecordStatus: 'Finished',
        ExitCode: 3,
        Output: Buffer.from('eth1: no carrier\n').toString('base64'),
        Dropped: 0,
        ErrorCode: 'ExitCodeNonzero',
        ErrorInfo: 'the command exited with 3',
      },
      't-1',
    );
    expect(result).toEqual({
      invokeId: 't-1',
      instanceId: 'i-bp1new',
      status: 'Failed',
      exitCode: 3,
      output: 'eth1: no carrier\n',
      errorCode: 'ExitCodeNonzero',
      errorInfo: 'the command exited with 3',
    });
  });

  it('leaves the exit code undefined while the command is still running', () => {
    const result = mapInvocationResult({ InstanceId: 'i-1', InvocationStatus: 'Running', Output: '' }, 't-9');
    expect(result).toMatchObject({ invokeId: 't-9', status: 'Running', exitCode: undefined, output: '', errorCode: '' });
  });
});
