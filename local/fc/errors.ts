/**
 * Errors of the local Function Compute runtime, and the FC 3.0 wire error shapes it answers with.
 */

/**
 * The s.yaml cannot be run: a reference does not resolve, a field is missing or wrong, a handler or queue
 * does not exist. `at` is the YAML path of the offending value (for example
 * `resources.validate.props.triggers[0].triggerType`), so the message says where to look.
 */
export class SYamlError extends Error {
  override readonly name = 'SYamlError';
  constructor(
    readonly file: string,
    readonly at: string,
    problem: string,
  ) {
    super(`${file}: ${at}: ${problem}`);
  }
}

/** The runtime was asked for something it cannot do (unknown function or trigger, closed runtime). */
export class LocalFcError extends Error {
  override readonly name = 'LocalFcError';
}

/**
 * FC 3.0 `x-fc-error-type` values. A function error is still HTTP 200 on the invoke API; the header says
 * it failed (sdk-wire.md, and the FC error table at help doc 85445: UnhandledInvocationError for errors the
 * function did not handle, FcCommonError for request errors).
 */
export const FcErrorType = {
  UnhandledInvocationError: 'UnhandledInvocationError',
  FcCommonError: 'FcCommonError',
} as const;
export type FcErrorType = (typeof FcErrorType)[keyof typeof FcErrorType];

/** FC 3.0 API error codes the local invoke API answers with, and their HTTP statuses. */
export const FcApiError = {
  FunctionNotFound: { status: 404, code: 'FunctionNotFound' },
  MethodNotAllowed: { status: 405, code: 'MethodNotAllowed' },
  InvalidArgument: { status: 400, code: 'InvalidArgument' },
  PathNotFound: { status: 404, code: 'PathNotFound' },
  InternalServerError: { status: 500, code: 'InternalServerError' },
} as const;
export type FcApiErrorName = keyof typeof FcApiError;
