/**
 * The status and type strings of the ECS API (version 2014-05-26), as the wire carries them. The local
 * ECS keeps its own copy on purpose: local/ emulates the cloud and never imports the product (workflow/),
 * so a change in the product's domain model cannot silently change what the emulator answers.
 * Sources: ecs-api.md "State machines"; DescribeNetworkInterfaces / DescribeInstances API reference.
 */

/** ENI `Status` (DescribeNetworkInterfaces). */
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

/** Instance `Status` (DescribeInstances, DescribeInstanceStatus). */
export const InstanceStatus = {
  Pending: 'Pending',
  Starting: 'Starting',
  Running: 'Running',
  Stopping: 'Stopping',
  Stopped: 'Stopped',
} as const;
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

/** ENI `Type`. */
export const EniType = { Primary: 'Primary', Secondary: 'Secondary' } as const;
export type EniType = (typeof EniType)[keyof typeof EniType];
