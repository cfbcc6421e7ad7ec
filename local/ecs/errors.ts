/**
 * The ECS wire error codes the local ECS answers with, as data: code -> HTTP status and default message.
 * Sources: shared/reference/ecs-api.md (Alibaba's API reference for each operation, 2019-2024 editions);
 * entries marked "chosen" are not published and were picked as the most plausible (see the comment).
 */
export const EcsErrors = {
  // Common (ecs-api.md "Conventions for every operation").
  MissingParameter: { status: 400, message: 'The input parameter "%s" that is mandatory for processing this request is not supplied.' },
  InvalidParameter: { status: 400, message: 'The specified parameter "%s" is not valid.' },
  UnsupportedParameter: { status: 400, message: 'The parameter "%s" is not supported.' },
  IdempotentParameterMismatch: {
    status: 400,
    message: 'The request uses the same client token as a previous, but non-identical request.',
  },
  DryRunOperation: { status: 400, message: 'Request validation has been passed with DryRun flag set.' },
  // Per-account, per-API user flow control. Code and status as ECS answers user flow control
  // ("Throttling.User: Request was denied due to user flow control.", surfaced by the Java SDK as a
  // ClientException, i.e. 4xx); ecs-api.md lists Throttling under 400. The SDK maps any *Throttling* code
  // to ThrottlingError.
  'Throttling.User': { status: 400, message: 'Request was denied due to user flow control.' },
  // The other spellings of throttling (ecs-realism.md: Terway's ErrThrottling is `Throttling`; Alibaba
  // products' tables also list `Throttling.Api`). Status 400 as for Throttling.User; messages are the
  // common OpenAPI texts (guess for Throttling.Api).
  Throttling: { status: 400, message: 'Request was denied due to request throttling.' },
  'Throttling.Api': { status: 400, message: 'Request was denied due to api flow control.' },
  // ecs-api.md: `InvalidApi.NotFound` 404 in the current common error table (older pages: InvalidAction 403).
  'InvalidApi.NotFound': { status: 404, message: 'Specified api is not found, please check your url and method.' },
  InternalError: { status: 500, message: 'The request processing has failed due to some unknown error.' },
  ServiceUnavailable: { status: 503, message: 'The request has failed due to a temporary failure of the server.' },
  OperationConflict: { status: 409, message: 'Request was denied due to conflict with a previous request.' },

  // Attach / Detach (ecs-api.md "AttachNetworkInterface", "DetachNetworkInterface").
  'InvalidOperation.InvalidEniState': { status: 400, message: 'The operation is not allowed in the current ENI state.' },
  'InvalidOperation.InvalidEcsState': { status: 400, message: 'The operation is not allowed in the current ECS state.' },
  EniPerInstanceLimitExceeded: { status: 403, message: 'The maximum number of ENIs per instance is exceeded.' },
  'InvalidOperation.AvailabilityZoneMismatch': {
    status: 403,
    message: 'The ENI and the instance must be in the same zone.',
  },
  'InvalidOperation.VpcMismatch': { status: 403, message: 'The ENI and the instance must be in the same VPC.' },
  'InvalidOperation.InvalidEniType': { status: 403, message: 'The operation is not allowed for the ENI type.' },
  'InvalidOperation.DetachPrimaryEniNotAllowed': {
    status: 400,
    message: 'Detaching primary ENI from ECS instance is not allowed.',
  },
  // ecs-api.md lists both 404 InvalidEcsId.NotFound and 403 InvalidInstanceId.NotFound for attach; the 404
  // one is what Terway handles, so Attach/Detach use it.
  'InvalidEcsId.NotFound': { status: 404, message: 'The specified ECS instance does not exist.' },
  'InvalidEniId.NotFound': { status: 404, message: 'The specified ENI does not exist.' },
  'InvalidVSwitchId.NotFound': { status: 404, message: 'The specified vSwitch does not exist.' },
  'InvalidSecurityGroupId.NotFound': { status: 404, message: 'The specified security group does not exist.' },
  'InvalidPrivateIpAddress.Duplicated': { status: 400, message: 'The specified private IP address is already in use.' },
  // Not an IPv4 address at all (chosen: the closest code of the CreateNetworkInterface error table).
  'InvalidPrivateIpAddress.Malformed': { status: 400, message: 'The specified private IP address is malformed.' },
  // An IP outside the vSwitch CIDR: CreateNetworkInterface's error table has no CIDR-specific code; the
  // closest documented one is 403 InvalidVSwitchId.IpInvalid (ecs-realism.md, **unsure**; message guessed).
  'InvalidVSwitchId.IpInvalid': { status: 403, message: 'The specified private IP address is not in the CIDR block of the vSwitch.' },

  // Instances (ecs-api.md "StopInstance / StartInstance / RebootInstance").
  'InvalidInstanceId.NotFound': { status: 404, message: 'The specified InstanceId does not exist.' },
  IncorrectInstanceStatus: { status: 403, message: 'The current status of the resource does not support this operation.' },
  // StartInstance API reference (Instances/StartInstance.md error table; ecs-realism.md): no stock after
  // StopCharging released the resources, or the instance is not ready yet. HTTP 403 for both (the
  // InstanceNotReady status is a guess: the page lists it among the 403 answers of the Start family).
  'OperationDenied.NoStock': {
    status: 403,
    message: 'The resource is out of stock in the specified zone. Please try other types, or choose other regions and zones.',
  },
  InstanceNotReady: { status: 403, message: 'The specified instance is not ready for use.' },

  // Cloud Assistant (ecs-api.md "RunCommand").
  'InvalidInstance.NotFound': { status: 404, message: 'The specified instance does not exist.' },
  'InvalidInstance.NotMatch': {
    status: 403,
    message: 'The specified instance does not meet the requirements: it must be a Running VPC instance.',
  },
  'CmdContent.ExceedLimit': { status: 403, message: 'The command content exceeds the size limit.' },
  'InstanceIds.ExceedLimit': { status: 403, message: 'The number of instances exceeds the limit.' },
  'InvalidInvokeId.NotFound': { status: 404, message: 'The specified invocation does not exist.' },
  // RunCommand API reference (Cloud assistant/RunCommand.md, error table): an unknown Type.
  'InvalidCmdType.NotFound': { status: 403, message: 'The specified command type does not exist.' },
  // DescribeInvocationResults API reference (Cloud assistant/DescribeInvocationResults.md): PageSize max 50.
  'InvalidParam.PageSize': { status: 403, message: 'The specified parameter is invalid.' },
  'InvalidParam.PageNumber': { status: 403, message: 'The specified parameter is invalid.' },

  // Tags.
  'InvalidResourceType.NotFound': { status: 404, message: 'The specified resource type does not exist.' },
  'InvalidResourceId.NotFound': { status: 404, message: 'The specified resource does not exist.' },
} as const satisfies Record<string, { status: number; message: string }>;
export type EcsErrorCode = keyof typeof EcsErrors;

/**
 * The message Terraform's alicloud provider retries Attach/Detach on, whatever the code
 * (ecs-realism.md, `NetworkInterfaceInvalidOperations` / `NeedRetry`). Which code carries it is not
 * published: the realistic profile sends it as IncorrectInstanceStatus 403 (guess: the same sentence
 * without "please retry again" is that code's documented message).
 */
export const PleaseRetryAgainMessage = 'The current status of the resource does not support this operation, please retry again.';

/**
 * Cloud Assistant `ErrorInfo` is a fixed text per `ErrorCode` (DescribeInvocationResults API reference,
 * "ErrorInfo" valid values; the sample answer ends the exit-code text with a period, the list does not:
 * the list's form is used).
 */
export const InvocationErrorInfo = {
  InstanceNotExists: 'the specified instance does not exists',
  InstanceReleased: 'the instance has released when create task',
  InstanceNotRunning: 'the instance is not running when create task',
  CommandNotApplicable: 'the command is not applicable',
  AccountNotExists: 'the specified account does not exists',
  DirectoryNotExists: 'the specified directory does not exists',
  BadCronExpression: 'the cron job expression is invalid',
  ClientNotRunning: 'the aliyun service is not running on the instance',
  ClientNotResponse: 'the aliyun service in the instance does not response',
  ClientIsUpgrading: 'the aliyun service in the instance is upgrading now',
  ClientNeedUpgrade: 'the aliyun service in the instance need upgrade',
  DeliveryTimeout: 'the command delivery has been timeout',
  ExecutionTimeout: 'the command execution has been timeout',
  ExecutionException: 'the command execution got an exception',
  ExecutionInterrupted: 'the command execution has been interrupted',
  ExitCodeNonzero: 'the command execution exit code is not zero',
} as const;
export type InvocationErrorCode = keyof typeof InvocationErrorInfo;

/**
 * An error the model raises; the server turns it into the JSON error body
 * `{RequestId, HostId, Code, Message, Recommend}` with the table's HTTP status.
 */
export class EcsApiError extends Error {
  override readonly name = 'EcsApiError';
  readonly status: number;
  constructor(
    readonly code: string,
    message?: string,
    status?: number,
  ) {
    const known = (EcsErrors as Record<string, { status: number; message: string } | undefined>)[code];
    super(message ?? known?.message ?? code);
    this.status = status ?? known?.status ?? 400;
  }
}

/** Raises a tabled error; `%s` in the table message is replaced by `arg`, `detail` is appended. */
export function ecsError(code: EcsErrorCode, arg?: string, detail?: string): EcsApiError {
  const base = EcsErrors[code].message.replace('%s', arg ?? '');
  return new EcsApiError(code, detail === undefined ? base : `${base} ${detail}`);
}
