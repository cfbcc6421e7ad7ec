import { classifyError, isRetriedStateCode, malformedResponse } from '../../cloud/errors';
import { CloudError, CloudErrorKind } from '../../workflow/errors';

/** The shape openapi-core gives ClientError / ServerError / ThrottlingError (sdk-wire.md "Errors"). */
function sdkError(name: string, statusCode: number, code: string, extra: Record<string, unknown> = {}): Error {
  const err = new Error(`${code}: code: ${statusCode}, some message request id: req-1`);
  return Object.assign(err, { name, statusCode, code, requestId: 'req-1', data: { Code: code }, ...extra });
}

function networkError(props: { name?: string; code?: string; message: string }): Error {
  const err = new Error(props.message);
  if (props.name !== undefined) err.name = props.name;
  if (props.code !== undefined) Object.assign(err, { code: props.code });
  return err;
}

describe('classifyError', () => {
  const serverAnswers: Array<[string, Error, CloudErrorKind, string]> = [
    ['Throttling', sdkError('ThrottlingError', 400, 'Throttling'), 'throttling', 'Throttling'],
    ['Throttling.User', sdkError('ThrottlingError', 400, 'Throttling.User'), 'throttling', 'Throttling.User'],
    ['an unlisted Throttling.* code', sdkError('ThrottlingError', 400, 'Throttling.NewSpelling'), 'throttling', 'Throttling.NewSpelling'],
    ['HTTP 429 with an unknown code', sdkError('ClientError', 429, 'TooManyRequests'), 'throttling', 'TooManyRequests'],
    ['ServiceUnavailable 503', sdkError('ServerError', 503, 'ServiceUnavailable'), 'transient', 'ServiceUnavailable'],
    ['InternalError 500', sdkError('ServerError', 500, 'InternalError'), 'transient', 'InternalError'],
    ['UnknownError 500', sdkError('ServerError', 500, 'UnknownError'), 'transient', 'UnknownError'],
    ['OperationConflict 409', sdkError('ClientError', 409, 'OperationConflict'), 'transient', 'OperationConflict'],
    ['a 502 whose body had no code', sdkError('ServerError', 502, 'undefined'), 'transient', 'Http502'],
    ['a 504 with an unknown code', sdkError('ServerError', 504, 'GatewayTimeout'), 'transient', 'GatewayTimeout'],
    ['InvalidEniId.NotFound', sdkError('ClientError', 404, 'InvalidEniId.NotFound'), 'notFound', 'InvalidEniId.NotFound'],
    ['InvalidEcsId.NotFound', sdkError('ClientError', 404, 'InvalidEcsId.NotFound'), 'notFound', 'InvalidEcsId.NotFound'],
    ['InvalidInstanceId.NotFound (403 variant)', sdkError('ClientError', 403, 'InvalidInstanceId.NotFound'), 'notFound', 'InvalidInstanceId.NotFound'],
    ['InvalidInstance.NotFound (RunCommand)', sdkError('ClientError', 404, 'InvalidInstance.NotFound'), 'notFound', 'InvalidInstance.NotFound'],
    ['InvalidOperation.InvalidEniState', sdkError('ClientError', 400, 'InvalidOperation.InvalidEniState'), 'invalidState', 'InvalidOperation.InvalidEniState'],
    ['InvalidOperation.InvalidEcsState', sdkError('ClientError', 400, 'InvalidOperation.InvalidEcsState'), 'invalidState', 'InvalidOperation.InvalidEcsState'],
    ['IncorrectInstanceStatus', sdkError('ClientError', 403, 'IncorrectInstanceStatus'), 'invalidState', 'IncorrectInstanceStatus'],
    // Look like not-found but are configuration errors: retrying or treating as "absent" would be wrong.
    ['InvalidAccessKeyId.NotFound', sdkError('ClientError', 404, 'InvalidAccessKeyId.NotFound'), 'fatal', 'InvalidAccessKeyId.NotFound'],
    ['InvalidApi.NotFound', sdkError('ClientError', 404, 'InvalidApi.NotFound'), 'fatal', 'InvalidApi.NotFound'],
    ['SignatureDoesNotMatch', sdkError('ClientError', 400, 'SignatureDoesNotMatch'), 'fatal', 'SignatureDoesNotMatch'],
    ['MissingParameter', sdkError('ClientError', 400, 'MissingParameter'), 'fatal', 'MissingParameter'],
    ['EniPerInstanceLimitExceeded', sdkError('ClientError', 403, 'EniPerInstanceLimitExceeded'), 'fatal', 'EniPerInstanceLimitExceeded'],
    ['InvalidOperation.VpcMismatch', sdkError('ClientError', 403, 'InvalidOperation.VpcMismatch'), 'fatal', 'InvalidOperation.VpcMismatch'],
    ['Forbidden.RAM', sdkError('ClientError', 403, 'Forbidden.RAM'), 'fatal', 'Forbidden.RAM'],
    ['a 400 whose body had no code', sdkError('ClientError', 400, 'undefined'), 'fatal', 'Http400'],
  ];

  it.each(serverAnswers)('classifies a server answer of %s', (_label, raw, kind, code) => {
    // Act
    const err = classifyError(raw, 'AttachNetworkInterface');
    // Assess
    expect(err).toBeInstanceOf(CloudError);
    expect(err.kind).toBe(kind);
    expect(err.code).toBe(code);
    expect(err.details.api).toBe('AttachNetworkInterface');
    expect(err.details.statusCode).toBe((raw as unknown as { statusCode: number }).statusCode);
    expect(err.details.requestId).toBe('req-1');
    expect(err.message).toContain('AttachNetworkInterface');
    expect(err.message).toContain(code);
    expect(err.retryable).toBe(kind === 'throttling' || kind === 'transient');
  });

  const networkFailures: Array<[string, unknown, string]> = [
    ['ECONNRESET (socket hang up)', networkError({ code: 'ECONNRESET', message: 'socket hang up' }), 'ECONNRESET'],
    ['socket hang up without a code', networkError({ message: 'socket hang up' }), 'ECONNRESET'],
    ['ECONNREFUSED', networkError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }), 'ECONNREFUSED'],
    ['ETIMEDOUT', networkError({ code: 'ETIMEDOUT', message: 'connect ETIMEDOUT' }), 'ETIMEDOUT'],
    ['EPIPE', networkError({ code: 'EPIPE', message: 'write EPIPE' }), 'EPIPE'],
    ['httpx read timeout', networkError({ name: 'RequestTimeoutError', message: 'ReadTimeout: 3000. POST / failed.' }), 'ReadTimeout'],
    ['httpx connect timeout', networkError({ name: 'RequestTimeoutError', message: 'ConnectTimeout: Connect http://x failed.' }), 'ConnectTimeout'],
    ['httpx timer-based read timeout', networkError({ name: 'RequestTimeoutError', message: 'ReadTimeout(3000). ' }), 'ReadTimeout'],
    ['an empty body (SyntaxError)', new SyntaxError('Unexpected end of JSON input'), 'SyntaxError'],
    ['a non-JSON body (SyntaxError)', new SyntaxError('Unexpected token < in JSON at position 0'), 'SyntaxError'],
  ];

  // The transient spellings of the realistic profile (issue 11) and what Terraform / Terway retry.
  const retryMessage = 'The current status of the resource does not support this operation, please retry again.';
  const transientSpellings: Array<[string, string, Error, CloudErrorKind]> = [
    ['Throttling.Api', 'DescribeNetworkInterfaces', sdkError('ThrottlingError', 400, 'Throttling.Api'), 'throttling'],
    ['Throttling.User', 'AttachNetworkInterface', sdkError('ThrottlingError', 400, 'Throttling.User'), 'throttling'],
    ['plain Throttling', 'RunCommand', sdkError('ThrottlingError', 400, 'Throttling'), 'throttling'],
    ['ServiceUnavailable on Detach', 'DetachNetworkInterface', sdkError('ServerError', 503, 'ServiceUnavailable'), 'transient'],
    ['InternalError on Attach', 'AttachNetworkInterface', sdkError('ServerError', 500, 'InternalError'), 'transient'],
    ['OperationConflict', 'AttachNetworkInterface', sdkError('ClientError', 409, 'OperationConflict'), 'transient'],
    ['Operation.Conflict', 'DetachNetworkInterface', sdkError('ClientError', 409, 'Operation.Conflict'), 'transient'],
    [
      'the "please retry again" message under a state code',
      'AttachNetworkInterface',
      sdkError('ClientError', 403, 'IncorrectInstanceStatus', { data: { Code: 'IncorrectInstanceStatus', Message: retryMessage } }),
      'transient',
    ],
    [
      'the "please retry again" message under an unknown code',
      'DetachNetworkInterface',
      sdkError('ClientError', 400, 'SomethingNew', { data: { Code: 'SomethingNew', Message: retryMessage } }),
      'transient',
    ],
    [
      'IncorrectInstanceStatus with its ordinary message (a real state conflict)',
      'StartInstance',
      sdkError('ClientError', 403, 'IncorrectInstanceStatus', { data: { Code: 'IncorrectInstanceStatus', Message: 'The current status of the resource does not support this operation.' } }),
      'invalidState',
    ],
    ['OperationDenied.NoStock on StartInstance (bounded by the policy)', 'StartInstance', sdkError('ClientError', 403, 'OperationDenied.NoStock'), 'transient'],
    ['InstanceNotReady on StartInstance', 'StartInstance', sdkError('ClientError', 403, 'InstanceNotReady'), 'transient'],
    ['OperationDenied.NoStock elsewhere', 'RebootInstance', sdkError('ClientError', 403, 'OperationDenied.NoStock'), 'fatal'],
    // Kept invalidState so the workflow re-reads and decides (a permanent "bound elsewhere" is the same code).
    ['InvalidEniState on Attach', 'AttachNetworkInterface', sdkError('ClientError', 400, 'InvalidOperation.InvalidEniState'), 'invalidState'],
    ['InvalidEcsState on Detach', 'DetachNetworkInterface', sdkError('ClientError', 400, 'InvalidOperation.InvalidEcsState'), 'invalidState'],
  ];

  it.each(transientSpellings)('classifies %s on %s', (_label, api, raw, kind) => {
    const err = classifyError(raw, api);
    expect(err.kind).toBe(kind);
    expect(err.retryable).toBe(kind === 'throttling' || kind === 'transient');
  });

  it.each([
    ['AttachNetworkInterface', 'InvalidOperation.InvalidEniState', true],
    ['AttachNetworkInterface', 'InvalidOperation.InvalidEcsState', true],
    ['DetachNetworkInterface', 'InvalidOperation.InvalidEniState', true],
    ['DetachNetworkInterface', 'InvalidOperation.InvalidEcsState', true],
    ['StartInstance', 'InvalidOperation.InvalidEcsState', false],
    ['AttachNetworkInterface', 'EniPerInstanceLimitExceeded', false],
  ])('isRetriedStateCode(%s, %s) is %s (Terraform retries Attach/Detach on these)', (api, code, expected) => {
    expect(isRetriedStateCode(api, code)).toBe(expected);
  });

  it.each(networkFailures)('classifies %s as transient', (_label, raw, code) => {
    // Act
    const err = classifyError(raw, 'DescribeInstances');
    // Assess
    expect(err.kind).toBe(CloudErrorKind.Transient);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(true);
  });

  it('keeps the server-requested wait of a throttling answer', () => {
    const err = classifyError(sdkError('ThrottlingError', 400, 'Throttling.User', { retryAfter: 1500 }), 'DescribeInstances');
    expect(err.kind).toBe('throttling');
    expect(err.details.retryAfterMs).toBe(1500);
  });

  it('passes an already classified CloudError through unchanged', () => {
    const original = new CloudError('invalidState', 'X', 'x');
    expect(classifyError(original, 'StopInstance')).toBe(original);
  });

  it.each([
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'includes')"), 'TypeError'],
    ['a thrown string', 'boom', 'UnknownClientError'],
    ['null', null, 'UnknownClientError'],
  ])('treats %s as fatal', (_label, raw, code) => {
    const err = classifyError(raw, 'RunCommand');
    expect(err.kind).toBe('fatal');
    expect(err.code).toBe(code);
  });

  it('names the missing field in a MalformedResponse error', () => {
    const err = malformedResponse('DescribeInstances', 'VpcAttributes.VpcId', undefined);
    expect(err.kind).toBe('fatal');
    expect(err.code).toBe('MalformedResponse');
    expect(err.message).toContain('VpcAttributes.VpcId');
    expect(err.message).toContain('DescribeInstances');
  });
});
