import { EniStatus, InstanceStatus } from './api-strings';
import { EcsApiError, type EcsErrorCode, ecsError } from './errors';
import { instanceTypeFamily } from './instance-types';
import { type EcsModel, type EniState, type InstanceState, type InvocationState, type ReadView, ecsMinuteTime, ecsSecondTime } from './model';
import type { EcsAction } from './scenario';

/**
 * The responses layer (moto's "responses"): reads the flattened RPC parameters, calls the model, and
 * shapes the PascalCase answer exactly as ECS does - lists wrapped twice and always arrays
 * (shared/reference/ecs-api.md "Conventions"; field names checked against the 7.11.6 SDK's models).
 */

/** Typed access to RPC parameters (`Key`, `Key.N`, `Tag.N.Key`), raising MissingParameter/InvalidParameter. */
export class Params {
  constructor(private readonly raw: Readonly<Record<string, string>>) {}

  str(name: string): string | undefined {
    const v = this.raw[name];
    return v === undefined || v === '' ? undefined : v;
  }

  required(name: string): string {
    const v = this.str(name);
    if (v === undefined) throw ecsError('MissingParameter', name);
    return v;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.str(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw ecsError('InvalidParameter', name, `Expected an integer from ${min} to ${max}.`);
    return n;
  }

  bool(name: string): boolean {
    const v = this.str(name);
    if (v === undefined) return false;
    if (v !== 'true' && v !== 'false') throw ecsError('InvalidParameter', name, 'Expected true or false.');
    return v === 'true';
  }

  /** `Name.1`, `Name.2`, ... in index order. */
  list(name: string): string[] {
    const out: [number, string][] = [];
    const pattern = new RegExp(`^${name.replace(/\./g, '\\.')}\\.(\\d+)$`);
    for (const [k, v] of Object.entries(this.raw)) {
      const m = pattern.exec(k);
      if (m !== null && v !== '') out.push([Number(m[1]), v]);
    }
    return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }

  /** `Tag.N.Key` / `Tag.N.Value` pairs. */
  tags(prefix = 'Tag'): [string, string][] {
    const keys = new Map<number, [string, string]>();
    for (const [k, v] of Object.entries(this.raw)) {
      const m = new RegExp(`^${prefix}\\.(\\d+)\\.(Key|Value)$`).exec(k);
      if (m === null) continue;
      const entry = keys.get(Number(m[1])) ?? ['', ''];
      if (m[2] === 'Key') entry[0] = v;
      else entry[1] = v;
      keys.set(Number(m[1]), entry);
    }
    return [...keys.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e).filter(([k]) => k !== '');
  }

  /** The whole parameter set minus signature/protocol noise, for ClientToken fingerprints. */
  businessParams(): Record<string, string> {
    const noise = new Set(['Signature', 'SignatureNonce', 'Timestamp', 'AccessKeyId', 'SecurityToken', 'SignatureMethod', 'SignatureVersion', 'Format', 'Version', 'Action', 'ClientToken']);
    return Object.fromEntries(Object.entries(this.raw).filter(([k]) => !noise.has(k)).sort());
  }
}

type Body = Record<string, unknown>;
export type ActionHandler = (params: Params, model: EcsModel) => Body;

const tagList = (tags: Map<string, string>) => ({
  Tag: [...tags.entries()].map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
});

const hasTags = (tags: Map<string, string>, wanted: [string, string][]) =>
  wanted.every(([k, v]) => tags.has(k) && (v === '' || tags.get(k) === v));

/** RegionId must be given; a region other than the scenario's is simply empty (as another region is). */
function region(params: Params, model: EcsModel): boolean {
  return params.required('RegionId') === model.regionId;
}

/**
 * Paging as ECS does it: NextToken/MaxResults when either is given (token = opaque offset), else the
 * legacy PageNumber/PageSize. Returns the page and the fields to merge into the answer.
 */
function page<T>(
  params: Params,
  items: T[],
  limits: {
    maxResults?: [number, number, number];
    pageSize: [number, number];
    tokenOnly?: boolean;
    /** Leave TotalCount out of NextToken answers, where the API reference calls it invalid. */
    noTotalWithToken?: boolean;
    /** The error a PageSize/PageNumber out of range answers (default InvalidParameter 400). */
    pageErrors?: { pageSize: EcsErrorCode; pageNumber: EcsErrorCode };
  },
): { items: T[]; fields: Body } {
  const token = params.str('NextToken');
  if (limits.maxResults !== undefined && (token !== undefined || params.str('MaxResults') !== undefined || limits.tokenOnly)) {
    const [min, max, fallback] = limits.maxResults;
    const size = params.int('MaxResults', fallback, min, max);
    let offset = 0;
    if (token !== undefined) {
      const decoded = Number(Buffer.from(token, 'base64url').toString('utf8').replace(/^o:/, ''));
      if (!Number.isInteger(decoded) || decoded < 0 || !Buffer.from(token, 'base64url').toString('utf8').startsWith('o:')) {
        throw ecsError('InvalidParameter', 'NextToken');
      }
      offset = decoded;
    }
    const slice = items.slice(offset, offset + size);
    const next = offset + size < items.length ? Buffer.from(`o:${offset + size}`).toString('base64url') : '';
    return { items: slice, fields: limits.noTotalWithToken ? { NextToken: next } : { NextToken: next, TotalCount: items.length } };
  }
  const [maxPageSize, defaultPageSize] = limits.pageSize;
  const pageInt = (name: 'PageNumber' | 'PageSize', fallback: number, max: number) => {
    const code = limits.pageErrors?.[name === 'PageNumber' ? 'pageNumber' : 'pageSize'];
    if (code === undefined) return params.int(name, fallback, 1, max);
    try {
      return params.int(name, fallback, 1, max);
    } catch {
      throw ecsError(code, undefined, `(${name} must be an integer from 1 to ${max})`);
    }
  };
  const pageNumber = pageInt('PageNumber', 1, 1_000_000);
  const pageSize = pageInt('PageSize', defaultPageSize, maxPageSize);
  const slice = items.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
  return { items: slice, fields: { PageNumber: pageNumber, PageSize: pageSize, TotalCount: items.length } };
}

function eniFields(eni: EniState, model: EcsModel): Body {
  return {
    NetworkInterfaceId: eni.eniId,
    NetworkInterfaceName: eni.name,
    Description: eni.description,
    Status: eni.status,
    Type: eni.type,
    InstanceId: eni.instanceId ?? '',
    VpcId: eni.vpcId,
    VSwitchId: eni.vSwitchId,
    ZoneId: eni.zoneId,
    MacAddress: eni.macAddress,
    PrivateIpAddress: eni.privateIps[0] ?? '',
    PrivateIpSets: { PrivateIpSet: eni.privateIps.map((ip, i) => ({ PrivateIpAddress: ip, Primary: i === 0 })) },
    SecurityGroupIds: { SecurityGroupId: [...eni.securityGroupIds] },
    Tags: tagList(eni.tags),
    Ipv6Sets: { Ipv6Set: [] },
    Ipv4PrefixSets: { Ipv4PrefixSet: [] },
    Ipv6PrefixSets: { Ipv6PrefixSet: [] },
    // No `Attachment` object: DescribeNetworkInterfaces documents it as "in invitational preview and
    // unavailable" (API reference, Elastic network interfaces/DescribeNetworkInterfaces.md), so a caller
    // must not depend on it. The binding is told by the top-level InstanceId.
    CreationTime: ecsSecondTime(eni.creationTime),
    OwnerId: model.accountId,
    ResourceGroupId: '',
    ServiceManaged: false,
    DeleteOnRelease: eni.type === 'Primary',
    SourceDestCheck: false,
    NetworkInterfaceTrafficMode: 'Standard',
  };
}

/** ENIs DescribeInstances lists under an instance: the primary and every bound secondary. */
function boundEnis(view: ReadView, inst: InstanceState): EniState[] {
  return view.enisOf(inst.instanceId).filter((e) => e.status === EniStatus.InUse || e.status === EniStatus.Detaching);
}

function instanceFields(inst: InstanceState, model: EcsModel, view: ReadView): Body {
  const type = model.instanceTypes.get(inst.instanceType);
  const primary = model.enis.get(inst.primaryEniId);
  return {
    InstanceId: inst.instanceId,
    InstanceName: inst.instanceName,
    HostName: inst.instanceName,
    Description: '',
    Status: inst.status,
    RegionId: inst.regionId,
    ZoneId: inst.zoneId,
    InstanceType: inst.instanceType,
    InstanceTypeFamily: instanceTypeFamily(inst.instanceType),
    Cpu: type?.cpuCoreCount ?? 2,
    Memory: Math.round((type?.memorySize ?? 8) * 1024),
    InstanceNetworkType: 'vpc',
    IoOptimized: inst.ioOptimized,
    OSType: inst.osType,
    OSName: inst.osType === 'linux' ? 'Alibaba Cloud Linux 3' : 'Windows Server 2022',
    ImageId: inst.osType === 'linux' ? 'aliyun_3_x64_20G_alibase_20240528.vhd' : 'win2022_21H2_x64_dtc_en-us_40G_alibase_20240515.vhd',
    StartTime: inst.startTime === undefined ? '' : ecsMinuteTime(inst.startTime),
    CreationTime: ecsMinuteTime(inst.creationTime),
    ExpiredTime: '2099-12-31T15:59Z',
    InstanceChargeType: 'PostPaid',
    StoppedMode: inst.stoppedMode,
    VpcAttributes: {
      VpcId: inst.vpcId,
      VSwitchId: inst.vSwitchId,
      NatIpAddress: '',
      PrivateIpAddress: { IpAddress: primary === undefined ? [] : [primary.privateIps[0] ?? ''] },
    },
    NetworkInterfaces: {
      NetworkInterface: boundEnis(view, inst).map((e) => ({
        NetworkInterfaceId: e.eniId,
        MacAddress: e.macAddress,
        PrimaryIpAddress: e.privateIps[0] ?? '',
        Type: e.type,
        PrivateIpSets: { PrivateIpSet: e.privateIps.map((ip, i) => ({ PrivateIpAddress: ip, Primary: i === 0 })) },
      })),
    },
    SecurityGroupIds: { SecurityGroupId: [...inst.securityGroupIds] },
    PublicIpAddress: { IpAddress: [] },
    InnerIpAddress: { IpAddress: [] },
    EipAddress: { AllocationId: '', IpAddress: '', Bandwidth: 0, InternetChargeType: '' },
    OperationLocks: { LockReason: [] },
    Tags: tagList(inst.tags),
  };
}

function invocationResult(inv: InvocationState, instanceId: string, encoding: 'Base64' | 'PlainText'): Body | undefined {
  const t = inv.targets.get(instanceId);
  if (t === undefined) return undefined;
  // InvokeRecordStatus (Running | Finished | Failed | Stopped, DescribeInvocationResults API reference): a
  // one-time execution that timed out is Failed (RunCommand API reference); one that never ran or broke
  // (Aborted, Invalid, Error) is Failed too; a cancelled or terminated one is Stopped (guess from the
  // StopInvocation page: stopping ends in Stopped).
  const record =
    t.status === 'Pending' || t.status === 'Running'
      ? t.status
      : t.status === 'Success' || t.status === 'Failed'
        ? 'Finished'
        : t.status === 'Cancelled' || t.status === 'Terminated'
          ? 'Stopped'
          : 'Failed';
  return {
    InvokeId: inv.invokeId,
    CommandId: inv.commandId,
    InstanceId: instanceId,
    InvocationStatus: t.status,
    InvokeRecordStatus: record,
    // No ExitCode for a target whose command never ran (see KilledExitCode for killed ones).
    ...(t.exitCode === undefined ? {} : { ExitCode: t.exitCode }),
    Output: encoding === 'Base64' ? Buffer.from(t.output, 'utf8').toString('base64') : t.output,
    Dropped: t.dropped,
    ErrorCode: t.errorCode,
    ErrorInfo: t.errorInfo,
    StartTime: t.startTime === undefined ? '' : ecsSecondTime(t.startTime),
    FinishedTime: t.finishedTime === undefined ? '' : ecsSecondTime(t.finishedTime),
    Repeats: t.status === 'Pending' ? 0 : 1,
    Username: inv.username,
    Tags: { Tag: [] },
  };
}

function notFoundIfForeign(inRegion: boolean, error: EcsApiError): void {
  if (!inRegion) throw error;
}

/** One handler per operation. */
export const Handlers: Record<EcsAction, ActionHandler> = {
  AttachNetworkInterface(params, model) {
    const inRegion = region(params, model);
    const eniId = params.required('NetworkInterfaceId');
    const instanceId = params.required('InstanceId');
    notFoundIfForeign(inRegion, ecsError('InvalidEniId.NotFound', undefined, `(${eniId})`));
    model.attach(eniId, instanceId);
    return {};
  },

  DetachNetworkInterface(params, model) {
    const inRegion = region(params, model);
    const eniId = params.required('NetworkInterfaceId');
    const instanceId = params.required('InstanceId');
    notFoundIfForeign(inRegion, ecsError('InvalidEniId.NotFound', undefined, `(${eniId})`));
    model.detach(eniId, instanceId);
    return {};
  },

  DescribeNetworkInterfaces(params, model) {
    const inRegion = region(params, model);
    // Realistic profile: the read may lag the last write (model.readView).
    const view = model.readView();
    const ids = params.list('NetworkInterfaceId');
    if (ids.length > 100) throw ecsError('InvalidParameter', 'NetworkInterfaceId.N', 'At most 100 ids.');
    const privateIps = params.list('PrivateIpAddress');
    const tags = params.tags();
    const f = {
      instanceId: params.str('InstanceId'),
      vpcId: params.str('VpcId'),
      vSwitchId: params.str('VSwitchId'),
      primaryIp: params.str('PrimaryIpAddress'),
      sg: params.str('SecurityGroupId'),
      type: params.str('Type'),
      status: params.str('Status'),
      name: params.str('NetworkInterfaceName'),
    };
    if (f.type !== undefined && f.type !== 'Primary' && f.type !== 'Secondary') throw ecsError('InvalidParameter', 'Type');
    const matching = !inRegion
      ? []
      : [...model.enis.values()].map(view.eni).filter(
          (e) =>
            (ids.length === 0 || ids.includes(e.eniId)) &&
            (f.instanceId === undefined || e.instanceId === f.instanceId) &&
            (f.vpcId === undefined || e.vpcId === f.vpcId) &&
            (f.vSwitchId === undefined || e.vSwitchId === f.vSwitchId) &&
            (f.primaryIp === undefined || e.privateIps[0] === f.primaryIp) &&
            (privateIps.length === 0 || privateIps.some((ip) => e.privateIps.includes(ip))) &&
            (f.sg === undefined || e.securityGroupIds.includes(f.sg)) &&
            (f.type === undefined || e.type === f.type) &&
            (f.status === undefined || e.status === f.status) &&
            (f.name === undefined || e.name === f.name) &&
            hasTags(e.tags, tags),
        );
    // API reference (DescribeNetworkInterfaces.md): MaxResults 1-500 (NextToken paging), PageSize 1-100
    // (page-number paging), TotalCount "is invalid" when NextToken is used - left out then.
    const { items, fields } = page(params, matching, { maxResults: [1, 500, 10], pageSize: [100, 10], noTotalWithToken: true });
    return { ...fields, NetworkInterfaceSets: { NetworkInterfaceSet: items.map((e) => eniFields(e, model)) } };
  },

  DescribeNetworkInterfaceAttribute(params, model) {
    const inRegion = region(params, model);
    const eniId = params.required('NetworkInterfaceId');
    // Not-found code unverified (ecs-api.md): InvalidEniId.NotFound, 404.
    notFoundIfForeign(inRegion, ecsError('InvalidEniId.NotFound', undefined, `(${eniId})`));
    const view = model.readView();
    return eniFields(view.eni(model.getEni(eniId)), model);
  },

  CreateNetworkInterface(params, model) {
    const inRegion = region(params, model);
    const vSwitchId = params.required('VSwitchId');
    const groups = [...new Set([...(params.str('SecurityGroupId') ? [params.str('SecurityGroupId') as string] : []), ...params.list('SecurityGroupIds')])];
    if (groups.length === 0) throw ecsError('MissingParameter', 'SecurityGroupId');
    notFoundIfForeign(inRegion, ecsError('InvalidVSwitchId.NotFound', undefined, `(${vSwitchId})`));
    const eni = model.idempotent('CreateNetworkInterface', params.str('ClientToken'), params.businessParams(), () =>
      model.createEni({
        vSwitchId,
        securityGroupIds: groups,
        primaryIp: params.str('PrimaryIpAddress'),
        secondaryIps: params.list('PrivateIpAddress'),
        name: params.str('NetworkInterfaceName') ?? '',
        description: params.str('Description') ?? '',
        tags: params.tags(),
      }),
    );
    return eniFields(eni, model);
  },

  DescribeInstances(params, model) {
    const inRegion = region(params, model);
    const view = model.readView();
    let ids: string[] | undefined;
    const rawIds = params.str('InstanceIds');
    if (rawIds !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawIds);
      } catch {
        throw ecsError('InvalidParameter', 'InstanceIds', 'Expected a JSON array of instance ids, e.g. ["i-1"].');
      }
      if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== 'string') || parsed.length > 100) {
        throw ecsError('InvalidParameter', 'InstanceIds', 'Expected a JSON array of at most 100 instance ids.');
      }
      ids = parsed as string[];
    }
    const f = {
      status: params.str('Status'),
      vpcId: params.str('VpcId'),
      vSwitchId: params.str('VSwitchId'),
      zoneId: params.str('ZoneId'),
      type: params.str('InstanceType'),
      name: params.str('InstanceName'),
    };
    const tags = params.tags();
    if (params.bool('DryRun')) throw ecsError('DryRunOperation');
    const matching = !inRegion
      ? []
      : [...model.instances.values()].map(view.instance).filter(
          (i) =>
            (ids === undefined || ids.includes(i.instanceId)) &&
            (f.status === undefined || i.status === f.status) &&
            (f.vpcId === undefined || i.vpcId === f.vpcId) &&
            (f.vSwitchId === undefined || i.vSwitchId === f.vSwitchId) &&
            (f.zoneId === undefined || i.zoneId === f.zoneId) &&
            (f.type === undefined || i.instanceType === f.type) &&
            (f.name === undefined || i.instanceName === f.name) &&
            hasTags(i.tags, tags),
        );
    const { items, fields } = page(params, matching, { maxResults: [1, 100, 10], pageSize: [100, 10] });
    return { ...fields, Instances: { Instance: items.map((i) => instanceFields(i, model, view)) } };
  },

  DescribeInstanceAttribute(params, model) {
    const instanceId = params.required('InstanceId');
    const view = model.readView();
    const inst = view.instance(model.getInstance(instanceId));
    const full = instanceFields(inst, model, view);
    // DescribeInstanceAttribute's IoOptimized is a string ("optimized" | "none") in the SDK model.
    return {
      InstanceId: full.InstanceId,
      InstanceName: full.InstanceName,
      HostName: full.HostName,
      Description: full.Description,
      Status: full.Status,
      RegionId: full.RegionId,
      ZoneId: full.ZoneId,
      InstanceType: full.InstanceType,
      Cpu: full.Cpu,
      Memory: full.Memory,
      ImageId: full.ImageId,
      InstanceNetworkType: 'vpc',
      IoOptimized: inst.ioOptimized ? 'optimized' : 'none',
      CreationTime: full.CreationTime,
      ExpiredTime: full.ExpiredTime,
      InstanceChargeType: full.InstanceChargeType,
      StoppedMode: full.StoppedMode,
      VpcAttributes: full.VpcAttributes,
      SecurityGroupIds: full.SecurityGroupIds,
      PublicIpAddress: { IpAddress: [] },
      InnerIpAddress: { IpAddress: [] },
      OperationLocks: { LockReason: [] },
    };
  },

  DescribeInstanceStatus(params, model) {
    const inRegion = region(params, model);
    const view = model.readView();
    const ids = params.list('InstanceId');
    if (ids.length > 100) throw ecsError('InvalidParameter', 'InstanceId.N', 'At most 100 ids.');
    const matching = !inRegion ? [] : [...model.instances.values()].map(view.instance).filter((i) => ids.length === 0 || ids.includes(i.instanceId));
    const { items, fields } = page(params, matching, { pageSize: [50, 10] });
    return { ...fields, InstanceStatuses: { InstanceStatus: items.map((i) => ({ InstanceId: i.instanceId, Status: i.status })) } };
  },

  StopInstance(params, model) {
    const instanceId = params.required('InstanceId');
    // Omitted: the documented default, which depends on the account (model.stop).
    const mode = params.str('StoppedMode');
    if (mode !== undefined && mode !== 'KeepCharging' && mode !== 'StopCharging') throw ecsError('InvalidParameter', 'StoppedMode');
    model.stop(instanceId, { forceStop: params.bool('ForceStop'), stoppedMode: mode, dryRun: params.bool('DryRun') });
    return {};
  },

  StartInstance(params, model) {
    model.start(params.required('InstanceId'), { dryRun: params.bool('DryRun') });
    return {};
  },

  RebootInstance(params, model) {
    model.reboot(params.required('InstanceId'), { forceStop: params.bool('ForceStop'), dryRun: params.bool('DryRun') });
    return {};
  },

  DescribeInstanceTypes(params, model) {
    const wanted = params.list('InstanceTypes');
    if (wanted.length > 10) throw ecsError('InvalidParameter', 'InstanceTypes.N', 'At most 10 types.');
    const family = params.str('InstanceTypeFamily');
    const matching = [...model.instanceTypes.values()].filter(
      (t) => (wanted.length === 0 || wanted.includes(t.instanceTypeId)) && (family === undefined || instanceTypeFamily(t.instanceTypeId) === family),
    );
    const { items, fields } = page(params, matching, { maxResults: [1, 1600, 1600], pageSize: [1600, 1600], tokenOnly: true });
    return {
      NextToken: fields.NextToken,
      InstanceTypes: {
        InstanceType: items.map((t) => ({
          InstanceTypeId: t.instanceTypeId,
          InstanceTypeFamily: instanceTypeFamily(t.instanceTypeId),
          CpuCoreCount: t.cpuCoreCount,
          MemorySize: t.memorySize,
          EniQuantity: t.eniQuantity,
          EniPrivateIpAddressQuantity: t.eniPrivateIpAddressQuantity,
          EniTotalQuantity: t.eniQuantity,
          EniTrunkSupported: false,
          EniIpv6AddressQuantity: 0,
          NetworkCardQuantity: 1,
        })),
      },
    };
  },

  RunCommand(params, model) {
    const inRegion = region(params, model);
    const type = params.required('Type');
    // RunCommand API reference, error table: an unknown Type is 403 InvalidCmdType.NotFound.
    if (!['RunShellScript', 'RunBatScript', 'RunPowerShellScript'].includes(type)) throw ecsError('InvalidCmdType.NotFound', undefined, `(${type})`);
    const content = params.required('CommandContent');
    const instanceIds = params.list('InstanceId');
    if (instanceIds.length === 0) throw ecsError('MissingParameter', 'InstanceId.N');
    if (instanceIds.length > 100) throw ecsError('InstanceIds.ExceedLimit');
    // RunCommand API reference: ContentEncoding "valid values are case-insensitive"; "if the specified
    // value of this parameter is invalid, PlainText is used by default".
    const encoding = params.str('ContentEncoding')?.toLowerCase() === 'base64' ? 'Base64' : 'PlainText';
    const repeat = params.str('RepeatMode') ?? 'Once';
    if (repeat !== 'Once') throw ecsError('UnsupportedParameter', 'RepeatMode', 'The local ECS runs commands once only.');
    let script: string;
    if (encoding === 'Base64') {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content)) throw ecsError('InvalidParameter', 'CommandContent', 'Not valid Base64.');
      script = Buffer.from(content, 'base64').toString('utf8');
    } else {
      script = content;
    }
    // Size limit on the Base64 form: 18 KB with KeepCommand, else 24 KB (ecs-api.md).
    const base64Size = Buffer.from(script, 'utf8').toString('base64').length;
    const limit = params.bool('KeepCommand') ? 18 * 1024 : 24 * 1024;
    if (base64Size > limit) throw ecsError('CmdContent.ExceedLimit', undefined, `${base64Size} bytes in Base64, limit ${limit}.`);
    // Timeout: default 60 s, no minimum documented (RunCommand API reference). A positive integer is
    // required here (chosen: 0 or less has no meaning); the maximum 86400 is the console's (guess).
    const timeoutSeconds = params.int('Timeout', 60, 1, 86400);
    notFoundIfForeign(inRegion, ecsError('InvalidInstance.NotFound', undefined, `(${instanceIds[0]})`));
    const inv = model.idempotent('RunCommand', params.str('ClientToken'), params.businessParams(), () =>
      model.runCommand({
        instanceIds,
        commandType: type,
        script,
        timeoutSeconds,
        name: params.str('Name') ?? `eni-failover-${Date.now()}`,
        username: params.str('Username') ?? (type === 'RunShellScript' ? 'root' : 'system'),
      }),
    );
    return { CommandId: inv.commandId, InvokeId: inv.invokeId };
  },

  DescribeInvocationResults(params, model) {
    const inRegion = region(params, model);
    model.advance();
    const invokeId = params.str('InvokeId');
    const instanceId = params.str('InstanceId');
    const commandId = params.str('CommandId');
    const recordStatus = params.str('InvokeRecordStatus');
    const rawEncoding = params.str('ContentEncoding')?.toLowerCase() ?? 'base64';
    if (rawEncoding !== 'plaintext' && rawEncoding !== 'base64') throw ecsError('InvalidParameter', 'ContentEncoding');
    const encoding = rawEncoding === 'base64' ? 'Base64' : 'PlainText';
    const results: Body[] = [];
    if (inRegion) {
      for (const inv of model.invocations.values()) {
        if (invokeId !== undefined && inv.invokeId !== invokeId) continue;
        if (commandId !== undefined && inv.commandId !== commandId) continue;
        for (const target of inv.targets.keys()) {
          if (instanceId !== undefined && target !== instanceId) continue;
          const r = invocationResult(inv, target, encoding);
          if (r !== undefined && (recordStatus === undefined || r.InvokeRecordStatus === recordStatus)) results.push(r);
        }
      }
    }
    // API reference (DescribeInvocationResults.md): PageSize max 50, else 403 InvalidParam.PageSize (and
    // InvalidParam.PageNumber); TotalCount is invalid with NextToken paging (2023 edition).
    const { items, fields } = page(params, results, {
      maxResults: [1, 50, 10],
      pageSize: [50, 10],
      noTotalWithToken: true,
      pageErrors: { pageSize: 'InvalidParam.PageSize', pageNumber: 'InvalidParam.PageNumber' },
    });
    return { Invocation: { ...fields, InvocationResults: { InvocationResult: items } } };
  },

  DescribeCloudAssistantStatus(params, model) {
    const inRegion = region(params, model);
    model.advance();
    const ids = params.list('InstanceId');
    if (ids.length > 100) throw ecsError('InvalidParameter', 'InstanceId.N', 'At most 100 ids.');
    // API reference (Cloud assistant/DescribeCloudAssistantStatus.md, error table): an unknown instance is
    // 404 InvalidInstance.NotFound - not an empty list, which a caller would read as "agent offline".
    for (const id of ids) {
      if (!inRegion || !model.instances.has(id)) throw ecsError('InvalidInstance.NotFound', undefined, `(${id})`);
    }
    const osType = params.str('OSType')?.toLowerCase();
    const matching = !inRegion
      ? []
      : [...model.instances.values()].filter((i) => (ids.length === 0 || ids.includes(i.instanceId)) && (osType === undefined || i.osType === osType));
    // PageSize up to 100 (2023 edition of the page); MaxResults 1-50 kept.
    const { items, fields } = page(params, matching, { maxResults: [1, 50, 10], pageSize: [100, 10] });
    return {
      ...fields,
      InstanceCloudAssistantStatusSet: {
        InstanceCloudAssistantStatus: items.map((i) => {
          // The agent heartbeats only while the instance runs; the API answers strings "true"/"false".
          // Realistic profile: not yet after a (re)start (model.agentOnline).
          const online = model.agentOnline(i);
          return {
            InstanceId: i.instanceId,
            CloudAssistantStatus: online ? 'true' : 'false',
            CloudAssistantVersion: i.cloudAssistantVersion,
            OSType: i.osType === 'linux' ? 'Linux' : 'Windows',
            LastHeartbeatTime: online ? ecsSecondTime(model.now()) : '',
            LastInvokedTime: i.lastInvokedTime === undefined ? '' : ecsSecondTime(i.lastInvokedTime),
            InvocationCount: i.invocationCount,
            ActiveTaskCount: [...model.invocations.values()].filter((inv) => {
              const t = inv.targets.get(i.instanceId);
              return t !== undefined && (t.status === 'Pending' || t.status === 'Running');
            }).length,
            SupportSessionManager: true,
          };
        }),
      },
    };
  },

  TagResources(params, model) {
    const inRegion = region(params, model);
    const resourceType = params.required('ResourceType');
    if (resourceType !== 'instance' && resourceType !== 'eni') {
      throw ecsError('InvalidParameter', 'ResourceType', 'The local ECS tags instance and eni resources.');
    }
    const ids = params.list('ResourceId');
    if (ids.length === 0) throw ecsError('MissingParameter', 'ResourceId.N');
    if (ids.length > 50) throw ecsError('InvalidParameter', 'ResourceId.N', 'At most 50 resources.');
    const tags = params.tags();
    if (tags.length === 0) throw ecsError('MissingParameter', 'Tag.N.Key');
    if (tags.length > 20) throw ecsError('InvalidParameter', 'Tag.N', 'At most 20 tags.');
    model.advance();
    const maps = ids.map((id) => {
      const m = inRegion ? model.tagsOf(resourceType, id) : undefined;
      if (m === undefined) throw ecsError('InvalidResourceId.NotFound', undefined, `(${id})`);
      return m;
    });
    for (const m of maps) for (const [k, v] of tags) m.set(k, v);
    return {};
  },

  ListTagResources(params, model) {
    const inRegion = region(params, model);
    const resourceType = params.required('ResourceType');
    if (resourceType !== 'instance' && resourceType !== 'eni') {
      throw ecsError('InvalidParameter', 'ResourceType', 'The local ECS tags instance and eni resources.');
    }
    const ids = params.list('ResourceId');
    const tags = params.tags();
    if (ids.length === 0 && tags.length === 0) throw ecsError('MissingParameter', 'ResourceId.N');
    model.advance();
    const all: [string, Map<string, string>][] = !inRegion
      ? []
      : resourceType === 'instance'
        ? [...model.instances.values()].map((i) => [i.instanceId, i.tags])
        : [...model.enis.values()].map((e) => [e.eniId, e.tags]);
    const rows: Body[] = [];
    for (const [id, m] of all) {
      if (ids.length > 0 && !ids.includes(id)) continue;
      if (!hasTags(m, tags)) continue;
      for (const [TagKey, TagValue] of m) rows.push({ ResourceId: id, ResourceType: resourceType, TagKey, TagValue });
    }
    const { items, fields } = page(params, rows, { maxResults: [1, 50, 50], pageSize: [50, 50], tokenOnly: true });
    return { NextToken: fields.NextToken, TagResources: { TagResource: items } };
  },
};
