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
  'InvalidPrivateIpAddress.Malformed': { status: 400, message: 'The specified private IP address is not in the vSwitch CIDR.' },

  // Instances (ecs-api.md "StopInstance / StartInstance / RebootInstance").
  'InvalidInstanceId.NotFound': { status: 404, message: 'The specified InstanceId does not exist.' },
  IncorrectInstanceStatus: { status: 403, message: 'The current status of the resource does not support this operation.' },

  // Cloud Assistant (ecs-api.md "RunCommand").
  'InvalidInstance.NotFound': { status: 404, message: 'The specified instance does not exist.' },
  'InvalidInstance.NotMatch': {
    status: 403,
    message: 'The specified instance does not meet the requirements: it must be a Running VPC instance.',
  },
  'CmdContent.ExceedLimit': { status: 403, message: 'The command content exceeds the size limit.' },
  'InstanceIds.ExceedLimit': { status: 403, message: 'The number of instances exceeds the limit.' },
  'InvalidInvokeId.NotFound': { status: 404, message: 'The specified invocation does not exist.' },

  // Tags.
  'InvalidResourceType.NotFound': { status: 404, message: 'The specified resource type does not exist.' },
  'InvalidResourceId.NotFound': { status: 404, message: 'The specified resource does not exist.' },
} as const satisfies Record<string, { status: number; message: string }>;
export type EcsErrorCode = keyof typeof EcsErrors;

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
