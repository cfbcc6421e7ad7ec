import { CloudError, CloudErrorKind, StartRefusalCodes, isCloudError } from '../workflow/errors';

/**
 * Classification of Alibaba Cloud failures as data. Every table here is reviewed on its own and tested
 * table-driven (test/cloud-ecs/errors.test.ts); `classifyError` only looks things up.
 *
 * Sources: shared/reference/ecs-api.md (error codes per operation, which codes Terraform and Terway retry)
 * and sdk-wire.md (how the openapi-core SDK surfaces HTTP, throttling and network failures).
 */

/**
 * Codes that mean "rate limited". The SDK itself treats any code *containing* `Throttling` as throttling
 * (openapi-core `doRequest`), so the table lists the known spellings and `isThrottlingCode` also accepts
 * any other code that contains the word.
 */
export const ThrottlingCodes: readonly string[] = [
  'Throttling',
  'Throttling.User',
  'Throttling.Api',
  'Throttling.Resource',
  'Throttling.Concurrent',
  // Function Compute 3.0: the function's concurrency is exhausted (HTTP 429).
  'ResourceThrottled',
  // Our own limiter's code (cloud/rate-limit.ts) when waiting for a token would pass the deadline.
  'Throttling.ClientSide',
];

/**
 * Codes of answers that may succeed when repeated: the service is busy or another operation holds the
 * resource. `OperationConflict` ("another operation is in progress on the resource") clears by itself,
 * which is why Terraform retries it for Attach/Detach (ecs-api.md).
 */
export const TransientCodes: readonly string[] = [
  'ServiceUnavailable',
  'InternalError',
  'InternalError.Dispatch',
  'UnknownError',
  'ServiceBusy',
  'OperationConflict',
  'Operation.Conflict',
  'LastTokenProcessing',
  'IdempotenceProcessing',
  // Our own code for a call that was not even made because the step's time budget was spent.
  'DeadlineExceeded',
];

/**
 * Messages that make an answer transient whatever its code: Terraform's alicloud provider retries
 * Attach/Detach on this sentence (`NeedRetry`, ecs-realism.md); which code carries it is not published.
 * Matched as a substring, case-insensitively.
 */
export const TransientMessages: readonly string[] = [
  'The current status of the resource does not support this operation, please retry again',
];

/**
 * Codes that are transient for one API only. StartInstance's `OperationDenied.NoStock` (no stock in the
 * zone, likely after StopCharging released the resources) and `InstanceNotReady` clear by themselves
 * (StartInstance API reference, ecs-realism.md) but may last minutes: they are retried only within the
 * port's bound (RetryPolicy.maxAttempts and the step's deadline), after which the last error is thrown
 * as a transient CloudError so the caller can tell the operator the instance is still Stopped. Elsewhere
 * the same codes are fatal.
 */
export const TransientCodesByApi: Readonly<Record<string, readonly string[]>> = {
  StartInstance: StartRefusalCodes,
};

/**
 * State codes Terraform's alicloud provider retries for Attach/Detach (`NetworkInterfaceInvalidOperations`,
 * ecs-realism.md). They stay kind `invalidState` here - the workflow re-reads the ENI and instance and
 * then decides (a permanent "bound elsewhere" also answers InvalidEniState) - and this table says where a
 * re-read-then-retry is the expected reaction. InvalidEniType and HasMemberEniAttached are retried by
 * Terraform for trunk ENIs only; listed for completeness, fatal for eni-failover's secondary ENIs.
 */
export const StateCodesRetriedOnApi: Readonly<Record<string, readonly string[]>> = {
  AttachNetworkInterface: ['InvalidOperation.InvalidEniState', 'InvalidOperation.InvalidEcsState'],
  DetachNetworkInterface: ['InvalidOperation.InvalidEniState', 'InvalidOperation.InvalidEcsState'],
};

/** True when `code` on `api` is a state conflict that real tools re-read and retry (see StateCodesRetriedOnApi). */
export function isRetriedStateCode(api: string, code: string): boolean {
  return StateCodesRetriedOnApi[api]?.includes(code) ?? false;
}

/** HTTP statuses that are worth repeating when the body carried no code we know. */
export const TransientHttpStatuses: readonly number[] = [500, 502, 503, 504];

/** HTTP statuses that mean "slow down" whatever the body says. */
export const ThrottlingHttpStatuses: readonly number[] = [429];

/**
 * Network failures, matched against the error's `code` (Node's errno codes) or `name` (httpx names its
 * timeouts `RequestTimeoutError`). A `SyntaxError` comes from the SDK parsing an empty or non-JSON body
 * (a proxy's 502 page, a 431 without body): the request may not even have reached ECS, so it is transient.
 */
export const NetworkErrorCodes: readonly string[] = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
];
export const NetworkErrorNames: readonly string[] = [
  'RequestTimeoutError',
  'ReadTimeout',
  'ConnectTimeout',
  'HttpXError',
  'SyntaxError',
];
/** Substrings of a message that betray a dropped connection when no code was set. */
export const NetworkErrorMessages: readonly string[] = [
  'socket hang up',
  'ReadTimeout',
  'ConnectTimeout',
  'Unexpected end of JSON input',
];

/**
 * Codes that mean "this resource does not exist". Exact codes only: `InvalidAccessKeyId.NotFound` and
 * `InvalidApi.NotFound` also end in `.NotFound` but are configuration errors, hence fatal.
 */
export const NotFoundCodes: readonly string[] = [
  'InvalidEniId.NotFound',
  'InvalidNetworkInterfaceId.NotFound',
  'InvalidEcsId.NotFound',
  'InvalidInstanceId.NotFound',
  'InvalidInstance.NotFound',
  'InvalidInstanceType.NotFound',
  'InvalidInvokeId.NotFound',
  'InvalidCommandId.NotFound',
  // Function Compute 3.0 (InvokeFunction).
  'FunctionNotFound',
  'AliasNotFound',
  'VersionNotFound',
];

/**
 * Codes that mean "the resource exists but its current state forbids this call"; the state may change by
 * itself (an ENI leaving `Attaching`, an instance finishing `Stopping`).
 * `InvalidInstance.NotMatch` is RunCommand's answer for an instance that is not Running (or a wrong OS
 * type); we read it as a state problem because the workflow only sends shell scripts to Linux instances.
 */
export const InvalidStateCodes: readonly string[] = [
  'InvalidOperation.InvalidEniState',
  'InvalidOperation.InvalidEcsState',
  'IncorrectInstanceStatus',
  'IncorrectInstanceStatus.Initializing',
  'IncorrectStatus',
  'InvalidInstanceStatus',
  'InvalidStatus.InstanceStatus',
  'InvalidInstance.NotMatch',
  'InstanceNotRunning',
];

/** What to tell a human, per kind, so an error message says what to do. */
const AdviceByKind: Readonly<Record<CloudErrorKind, string>> = {
  throttling: 'rate limited; retry after a pause or lower the call rate',
  transient: 'temporary failure; retrying may succeed',
  notFound: 'the resource does not exist; check the id and region',
  invalidState: 'the resource state forbids this now; wait for the state to settle and retry',
  fatal: 'retrying will not help; fix the request, permissions or quota',
};

/** True for any code the SDK or ECS uses for rate limiting. */
export function isThrottlingCode(code: string): boolean {
  return ThrottlingCodes.includes(code) || code.includes('Throttling');
}

interface SdkLikeError {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  requestId?: unknown;
  retryAfter?: unknown;
  message?: unknown;
  data?: unknown;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value !== 'undefined' ? value : undefined;
}

function hasTransientMessage(message: string): boolean {
  const lower = message.toLowerCase();
  return TransientMessages.some((m) => lower.includes(m.toLowerCase()));
}

/** Kind of a failure the server answered (an HTTP status and maybe a code and message). */
function kindOfServerAnswer(code: string | undefined, statusCode: number | undefined, api: string, message: string): CloudErrorKind {
  if (code !== undefined) {
    if (isThrottlingCode(code)) return CloudErrorKind.Throttling;
    if (TransientCodes.includes(code)) return CloudErrorKind.Transient;
    if (TransientCodesByApi[api]?.includes(code) === true) return CloudErrorKind.Transient;
  }
  // Before the state codes: the "please retry again" variant may come with a state code.
  if (hasTransientMessage(message)) return CloudErrorKind.Transient;
  if (code !== undefined) {
    if (NotFoundCodes.includes(code)) return CloudErrorKind.NotFound;
    if (InvalidStateCodes.includes(code)) return CloudErrorKind.InvalidState;
  }
  if (statusCode !== undefined) {
    if (ThrottlingHttpStatuses.includes(statusCode)) return CloudErrorKind.Throttling;
    // A known 5xx with an unknown code is still a server failure; a 4xx with an unknown code is ours.
    if (TransientHttpStatuses.includes(statusCode)) return CloudErrorKind.Transient;
  }
  return CloudErrorKind.Fatal;
}

/** The server's own Message (from the body the SDK keeps in `.data`), else the SDK's message. */
function serverMessage(e: SdkLikeError, fallback: string): string {
  const data = e.data;
  if (typeof data === 'object' && data !== null) {
    const m = (data as Record<string, unknown>)['Message'];
    if (typeof m === 'string') return `${m} ${fallback}`;
  }
  return fallback;
}

function isNetworkFailure(e: SdkLikeError): string | undefined {
  const code = str(e.code);
  if (code !== undefined && NetworkErrorCodes.includes(code)) return code;
  const name = str(e.name);
  const message = typeof e.message === 'string' ? e.message : '';
  if (name !== undefined) {
    for (const known of NetworkErrorNames) {
      // httpx prefixes names ("RequestTimeout" + "Error"), so match by inclusion.
      if (name.includes(known)) return known === 'RequestTimeoutError' ? timeoutKind(message) : known;
    }
  }
  for (const fragment of NetworkErrorMessages) {
    if (message.includes(fragment)) return fragment === 'socket hang up' ? 'ECONNRESET' : timeoutKind(fragment);
  }
  return undefined;
}

function timeoutKind(message: string): string {
  if (message.includes('ConnectTimeout')) return 'ConnectTimeout';
  if (message.includes('ReadTimeout')) return 'ReadTimeout';
  if (message.includes('Unexpected end of JSON input')) return 'SyntaxError';
  return 'RequestTimeoutError';
}

/**
 * Turns anything thrown by an SDK call into a {@link CloudError} whose kind decides retrying.
 * Guarantees: never throws; a `CloudError` passes through unchanged; the message names the API, the code,
 * the HTTP status and the request id, never credentials; `retryAfterMs` is kept from `x-acs-retry-after`.
 */
export function classifyError(err: unknown, api: string): CloudError {
  if (isCloudError(err)) return err;
  const e: SdkLikeError = typeof err === 'object' && err !== null ? (err as SdkLikeError) : { message: String(err) };
  const statusCode = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const requestId = str(e.requestId);
  const retryAfterMs = typeof e.retryAfter === 'number' && e.retryAfter >= 0 ? e.retryAfter : undefined;
  const rawMessage = typeof e.message === 'string' ? e.message : String(err);

  // The server answered: openapi-core ClientError / ServerError / ThrottlingError carry a status.
  if (statusCode !== undefined) {
    const code = str(e.code) ?? `Http${statusCode}`;
    const kind = kindOfServerAnswer(str(e.code), statusCode, api, serverMessage(e, rawMessage));
    return new CloudError(kind, code, `${api} failed with ${code} (HTTP ${statusCode}): ${AdviceByKind[kind]}. ${rawMessage}`, {
      api,
      statusCode,
      ...(requestId === undefined ? {} : { requestId }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      cause: err,
    });
  }

  const network = isNetworkFailure(e);
  if (network !== undefined) {
    return new CloudError(
      CloudErrorKind.Transient,
      network,
      `${api} failed on the network (${network}): ${AdviceByKind.transient}. ${rawMessage}`,
      { api, cause: err },
    );
  }

  // An error with a code but no status: trust the code tables (e.g. our own codes), else fatal.
  const code = str(e.code) ?? str(e.name) ?? 'UnknownClientError';
  const kind = kindOfServerAnswer(str(e.code), undefined, api, serverMessage(e, rawMessage));
  return new CloudError(kind, code, `${api} failed with ${code}: ${AdviceByKind[kind]}. ${rawMessage}`, {
    api,
    cause: err,
  });
}

/** A fatal error for a response body that lacks a field the workflow's rules depend on. */
export function malformedResponse(api: string, field: string, got: unknown): CloudError {
  const shown = got === undefined ? 'nothing' : JSON.stringify(got)?.slice(0, 80);
  return new CloudError(
    CloudErrorKind.Fatal,
    'MalformedResponse',
    `${api} answered without a usable ${field} (got ${shown}); the API or emulator changed its response shape`,
    { api },
  );
}
