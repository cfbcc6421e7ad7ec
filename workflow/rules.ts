/**
 * The prerequisites of the ECS document "Bind a secondary ENI" (shared/seed/bind-a-secondary-eni.txt),
 * as data. Every check of the validate step reads from here, and every failure has a reason code of its own.
 */

/**
 * Instance types that accept a secondary ENI only while Stopped (exact type names from the seed document's
 * table; whole families are NOT meant: ecs.t6-c1m1.large is listed, ecs.t6-c1m1.xlarge is not).
 */
export const InstanceTypesBindOnlyWhenStopped: ReadonlySet<string> = new Set([
  // s6, shared standard
  'ecs.s6-c1m1.small', 'ecs.s6-c1m2.large', 'ecs.s6-c1m2.small', 'ecs.s6-c1m4.large', 'ecs.s6-c1m4.small',
  // e, economy
  'ecs.e-c1m1.large', 'ecs.e-c1m2.large', 'ecs.e-c1m4.large',
  // t6, burstable
  'ecs.t6-c1m1.large', 'ecs.t6-c1m2.large', 'ecs.t6-c1m4.large', 'ecs.t6-c2m1.large', 'ecs.t6-c4m1.large',
  // t5, burstable
  'ecs.t5-c1m1.large', 'ecs.t5-c1m2.large', 'ecs.t5-c1m4.large', 'ecs.t5-lc1m1.small', 'ecs.t5-lc1m2.large',
  'ecs.t5-lc1m2.small', 'ecs.t5-lc1m4.large', 'ecs.t5-lc2m1.nano',
  // previous-generation shared xn4, n4, mn4, e4
  'ecs.xn4.small', 'ecs.n4.small', 'ecs.n4.large', 'ecs.mn4.small', 'ecs.mn4.large', 'ecs.e4.small', 'ecs.e4.large',
]);

/**
 * An instance last started, restarted or reactivated before this instant, and Running ever since, must be
 * restarted (RebootInstance, not from inside the OS) before an ENI can bind to it.
 */
export const RestartRequiredIfStartedBefore = Date.parse('2018-04-01T00:00:00Z');

/** Why an operation failed. One code per prerequisite, so alerts and runbooks can key on it. */
export const Reason = {
  InvalidRequest: 'InvalidRequest',
  InstanceNotFound: 'InstanceNotFound',
  InstanceNotIoOptimized: 'InstanceNotIoOptimized',
  InstanceStateUnsupported: 'InstanceStateUnsupported',
  StopRequired: 'StopRequired',
  RestartRequired: 'RestartRequired',
  EniNotFound: 'EniNotFound',
  EniIsPrimary: 'EniIsPrimary',
  EniStateUnsupported: 'EniStateUnsupported',
  VpcMismatch: 'VpcMismatch',
  ZoneMismatch: 'ZoneMismatch',
  EniQuotaExceeded: 'EniQuotaExceeded',
  EniBoundElsewhere: 'EniBoundElsewhere',
  SourceMismatch: 'SourceMismatch',
  DetachHung: 'DetachHung',
  AttachFailed: 'AttachFailed',
  StartFailed: 'StartFailed',
  GuestAgentOffline: 'GuestAgentOffline',
  GuestConfigFailed: 'GuestConfigFailed',
  DeadlineExceeded: 'DeadlineExceeded',
  CloudApiError: 'CloudApiError',
  NoHealthyStandby: 'NoHealthyStandby',
  /** Authority (workflow/authority.ts): the ENI is in no group and the deployment does not allow unmanaged binds. */
  EniNotManaged: 'EniNotManaged',
  /** The target is not a member of the ENI's group. */
  TargetNotMember: 'TargetNotMember',
  /** The named source is not a member of the ENI's group. */
  SourceNotMember: 'SourceNotMember',
  /** A write outside what the request and the groups allow (wrong instance, not stopped by us, ...). */
  NotAuthorized: 'NotAuthorized',
  /** Stopping or restarting the target would take down another managed ENI it serves. */
  StandbyServing: 'StandbyServing',
  /** The named source is Running again (and this is no planned switch-over): the ENI stays where it is. */
  SourceRecovered: 'SourceRecovered',
  /** The operation ledger (Tablestore) could not be read or written: nothing is done without it. */
  LedgerUnavailable: 'LedgerUnavailable',
  /** The ENI is bound but the target's OS could not be configured (Stopped, and not by this workflow). */
  GuestNotConfigured: 'GuestNotConfigured',
  /** A failback's target (the group's preferred member) is not healthy now: the ENI stays on the standby. */
  FailbackTargetUnhealthy: 'FailbackTargetUnhealthy',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Whether the 2018-04-01 rule applies to an instance seen Running with this StartTime. */
export function needsRestartBeforeBind(startTime: string | undefined): boolean {
  if (startTime === undefined || startTime === '') return false;
  const started = Date.parse(startTime);
  return Number.isFinite(started) && started < RestartRequiredIfStartedBefore;
}
