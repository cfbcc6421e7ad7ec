/**
 * The ECS resources the workflow reasons about, in the domain's own words. These are the views the
 * ports return; they carry only what the rules of the seed document ("Bind a secondary ENI") need.
 */

/** ENI `Status` values of the ECS API (ecs-api.md, "State machines"). */
export const EniStatus = {
  Creating: 'Creating',
  Available: 'Available',
  Attaching: 'Attaching',
  InUse: 'InUse',
  Detaching: 'Detaching',
  Deleting: 'Deleting',
  CreateFailed: 'CreateFailed',
} as const;
export type EniStatus = (typeof EniStatus)[keyof typeof EniStatus];

/** Instance `Status` values of the ECS API. */
export const InstanceStatus = {
  Pending: 'Pending',
  Starting: 'Starting',
  Running: 'Running',
  Stopping: 'Stopping',
  Stopped: 'Stopped',
} as const;
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

export const EniType = { Primary: 'Primary', Secondary: 'Secondary' } as const;
export type EniType = (typeof EniType)[keyof typeof EniType];

export type Tags = Readonly<Record<string, string>>;

export interface Eni {
  readonly eniId: string;
  readonly status: EniStatus;
  readonly type: EniType;
  /** The instance the ENI is attached to (Attaching, InUse, Detaching); undefined when Available. */
  readonly instanceId: string | undefined;
  readonly vpcId: string;
  readonly vSwitchId: string;
  readonly zoneId: string;
  readonly macAddress: string;
  readonly primaryIp: string;
  /** Every private IP of the ENI, its primary IP first. */
  readonly privateIps: readonly string[];
  readonly tags: Tags;
}

export interface Instance {
  readonly instanceId: string;
  readonly instanceName: string;
  readonly status: InstanceStatus;
  readonly instanceType: string;
  readonly regionId: string;
  readonly zoneId: string;
  readonly vpcId: string;
  readonly vSwitchId: string;
  readonly ioOptimized: boolean;
  /** ISO-8601 UTC time the instance was last started, restarted or reactivated. */
  readonly startTime: string | undefined;
  readonly osType: 'linux' | 'windows';
  /** ENI ids attached to the instance, primary included, as DescribeInstances lists them. */
  readonly eniIds: readonly string[];
  readonly tags: Tags;
}

export interface InstanceTypeInfo {
  readonly instanceTypeId: string;
  /** Maximum ENIs per instance of this type, the primary ENI included. */
  readonly eniQuantity: number;
}

/** Cloud Assistant invocation status for one instance (DescribeInvocationResults, per-instance). */
export interface InvocationResult {
  readonly invokeId: string;
  readonly instanceId: string;
  /** Per-instance status: Pending, Running, Success, Failed, Error, Timeout, ... */
  readonly status: string;
  readonly exitCode: number | undefined;
  /** Decoded command output. */
  readonly output: string;
  readonly errorCode: string;
  readonly errorInfo: string;
}

/** The boot an instance is in, as a short token: its StartTime in epoch seconds (or 0 when unknown). */
export const bootOf = (startTime: string | undefined): string => String(Math.floor((Date.parse(startTime ?? '') || 0) / 1000));
