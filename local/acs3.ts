import { createHash, createHmac } from 'node:crypto';
import { type AccessKey, type Keyring, safeEqual } from './credentials';

/**
 * Server-side verification of Alibaba Cloud OpenAPI request signatures, shared by the local ECS server
 * (RPC style, V3 and V2) and the local Function Compute runtime (ROA style FC 3.0, V3).
 *
 * What the real SDK (@alicloud/openapi-core 1.0.8, utils.js `getAuthorization` / `getRPCSignature`) sends
 * and what we recompute is written down in shared/reference/sdk-wire.md ("Verifying V3 on the server").
 * Error codes and messages follow Alibaba's common OpenAPI error table (shared/reference/ecs-api.md,
 * "Authentication errors"). HTTP statuses of the STS-token errors are not published for ECS
 * (**unverified**): 400 is used, like the other signature errors.
 */

/** Requests whose timestamp is further than this from the server clock are refused (ecs-api.md: 15 minutes). */
export const MaxClockSkewMs = 15 * 60_000;

/** Authentication failures as data: code -> HTTP status and the message Alibaba answers with. */
export const AuthErrors = {
  IncompleteSignature: { status: 400, message: 'The request signature does not conform to Aliyun standards.' },
  SignatureDoesNotMatch: { status: 400, message: 'Specified signature is not matched with our calculation.' },
  // 404 in the common error table; some product pages say 400 (ecs-api.md).
  'InvalidAccessKeyId.NotFound': { status: 404, message: 'Specified access key is not found.' },
  'InvalidTimeStamp.Format': { status: 400, message: 'Specified time stamp or date value is not well formatted.' },
  'InvalidTimeStamp.Expired': {
    status: 400,
    message: 'Specified time stamp or date value is expired (more than 15 minutes from the server clock).',
  },
  SignatureNonceUsed: { status: 400, message: 'Specified signature nonce was used already.' },
  // A missing token for an STS key is reported as malformed: no separate code is published (unverified).
  'InvalidSecurityToken.Malformed': { status: 400, message: 'Specified SecurityToken is malformed.' },
  'InvalidSecurityToken.MismatchWithAccessKey': {
    status: 400,
    message: 'Specified SecurityToken mismatch with the AccessKey.',
  },
  'InvalidSecurityToken.Expired': { status: 400, message: 'Specified SecurityToken is expired.' },
} as const;
export type AuthErrorCode = keyof typeof AuthErrors;

export type AuthResult =
  | { readonly ok: true; readonly key: AccessKey; readonly signatureVersion: 'v3' | 'v2' }
  | { readonly ok: false; readonly code: AuthErrorCode; readonly status: number; readonly message: string };

/** The parts of an HTTP request a signature covers. Header names must be lower case (as Node gives them). */
export interface SignedRequest {
  readonly method: string;
  /** The request path as received, without the query string, e.g. `/` or `/2023-03-30/functions/f/invocations`. */
  readonly path: string;
  /** Decoded query parameters. */
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/**
 * Remembers signature nonces for the clock-skew window so a replayed request is refused with
 * `SignatureNonceUsed`. One cache per server; nonces are scoped per access key.
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();
  constructor(private readonly ttlMs = MaxClockSkewMs) {}

  /** Records the nonce; false when it was already used within the window. */
  use(accessKeyId: string, nonce: string, now: number): boolean {
    this.prune(now);
    const key = `${accessKeyId}\n${nonce}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, now + this.ttlMs);
    return true;
  }

  private prune(now: number): void {
    // Insertion order is expiry order (constant TTL), so stop at the first live entry.
    for (const [key, expiresAt] of this.seen) {
      if (expiresAt > now) break;
      this.seen.delete(key);
    }
  }
}

export interface VerifyOptions {
  readonly keyring: Keyring;
  /** Replay protection; omit to skip the nonce check. */
  readonly nonces?: NonceCache;
  readonly now?: number;
}

function fail(code: AuthErrorCode, detail?: string): AuthResult {
  const { status, message } = AuthErrors[code];
  return { ok: false, code, status, message: detail === undefined ? message : `${message} ${detail}` };
}

/** encodeURIComponent plus `!'()*`, as openapi-core's `encode` (used by both V3 and V2). */
export function acsPercentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** ISO-8601 UTC as the SDK writes it (`2024-05-01T12:00:00Z`, milliseconds tolerated). */
function parseAcsTimestamp(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function checkTimestamp(value: string | undefined, now: number): AuthResult | undefined {
  if (value === undefined || value === '') return fail('InvalidTimeStamp.Format', 'The timestamp is missing.');
  const at = parseAcsTimestamp(value);
  if (at === undefined) return fail('InvalidTimeStamp.Format', `Got "${value}".`);
  if (Math.abs(now - at) > MaxClockSkewMs) return fail('InvalidTimeStamp.Expired', `Got "${value}".`);
  return undefined;
}

function lookupKey(keyring: Keyring, accessKeyId: string, token: string | undefined, now: number) {
  const found = keyring.lookup(accessKeyId, token, now);
  if (found.ok) return found;
  const code = (
    {
      unknownKey: 'InvalidAccessKeyId.NotFound',
      tokenMissing: 'InvalidSecurityToken.Malformed',
      tokenMismatch: 'InvalidSecurityToken.MismatchWithAccessKey',
      tokenExpired: 'InvalidSecurityToken.Expired',
    } as const satisfies Record<typeof found.reason, AuthErrorCode>
  )[found.reason];
  return fail(code);
}

const Acs3Algorithm = 'ACS3-HMAC-SHA256';

/**
 * Verifies a V3 `ACS3-HMAC-SHA256` signature (RPC and ROA style alike): the Authorization header, the
 * body hash, the timestamp (`x-acs-date`, 15 minutes), the access key and its STS token
 * (`x-acs-security-token`), then the nonce (`x-acs-signature-nonce`). Every `x-acs-*` header of the request
 * must be signed, so the action and version cannot be swapped under a valid signature.
 * Comparisons of secrets use {@link safeEqual}.
 */
export function verifyAcs3(request: SignedRequest, options: VerifyOptions): AuthResult {
  const now = options.now ?? Date.now();
  const authorization = header(request.headers, 'authorization') ?? '';
  const match = /^(\S+) Credential=([^,]+),SignedHeaders=([^,]*),Signature=([0-9a-f]+)$/.exec(authorization.trim());
  if (match === null) return fail('IncompleteSignature', 'Expected "ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..".');
  const [, algorithm, accessKeyId, signedHeaderList, signature] = match as unknown as [string, string, string, string, string];
  if (algorithm !== Acs3Algorithm) return fail('IncompleteSignature', `Unsupported algorithm ${algorithm}.`);

  const signedHeaders = signedHeaderList.split(';').filter((h) => h !== '');
  for (const name of Object.keys(request.headers)) {
    if (name.startsWith('x-acs-') && !signedHeaders.includes(name)) {
      return fail('IncompleteSignature', `Header ${name} must be signed.`);
    }
  }
  for (const required of ['host', 'x-acs-date', 'x-acs-signature-nonce']) {
    if (!signedHeaders.includes(required)) return fail('IncompleteSignature', `Header ${required} must be signed.`);
  }

  const timeError = checkTimestamp(header(request.headers, 'x-acs-date'), now);
  if (timeError !== undefined) return timeError;

  const key = lookupKey(options.keyring, accessKeyId, header(request.headers, 'x-acs-security-token'), now);
  if (!key.ok) return key;

  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const declaredHash = header(request.headers, 'x-acs-content-sha256');
  if (declaredHash !== undefined && !safeEqual(declaredHash, bodyHash)) {
    return fail('SignatureDoesNotMatch', 'x-acs-content-sha256 does not match the body.');
  }

  const canonicalQuery = Object.keys(request.query)
    .sort()
    .map((k) => `${k}=${acsPercentEncode(request.query[k] ?? '')}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${(header(request.headers, name) ?? '').trim()}\n`)
    .join('');
  const canonicalUri = request.path.replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/g, '~');
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders.join(';'),
    bodyHash,
  ].join('\n');
  const stringToSign = `${Acs3Algorithm}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
  const expected = createHmac('sha256', key.key.accessKeySecret).update(stringToSign).digest('hex');
  if (!safeEqual(expected, signature)) return fail('SignatureDoesNotMatch');

  const nonce = header(request.headers, 'x-acs-signature-nonce') ?? '';
  if (options.nonces !== undefined && !options.nonces.use(accessKeyId, nonce, now)) return fail('SignatureNonceUsed');
  return { ok: true, key: key.key, signatureVersion: 'v3' };
}

/**
 * Verifies a classic RPC V2 signature (`SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`): every query
 * parameter (and form-body parameter) except `Signature`, sorted and percent-encoded, signed as
 * `METHOD&%2F&pct(canonical)` with `secret + "&"`. Checks `Timestamp`, `AccessKeyId`, `SecurityToken`
 * and `SignatureNonce` like {@link verifyAcs3}.
 */
export function verifyRpcV2(
  request: SignedRequest & { readonly formBody?: Readonly<Record<string, string>> },
  options: VerifyOptions,
): AuthResult {
  const now = options.now ?? Date.now();
  const params: Record<string, string> = { ...request.formBody, ...request.query };
  const signature = params.Signature;
  const accessKeyId = params.AccessKeyId;
  if (signature === undefined || accessKeyId === undefined || params.SignatureNonce === undefined) {
    return fail('IncompleteSignature', 'Signature, AccessKeyId and SignatureNonce are required.');
  }
  if (params.SignatureMethod !== 'HMAC-SHA1' || params.SignatureVersion !== '1.0') {
    return fail('IncompleteSignature', 'Only SignatureMethod=HMAC-SHA1 with SignatureVersion=1.0 is supported.');
  }
  const timeError = checkTimestamp(params.Timestamp, now);
  if (timeError !== undefined) return timeError;
  const key = lookupKey(options.keyring, accessKeyId, params.SecurityToken, now);
  if (!key.ok) return key;

  const canonical = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${acsPercentEncode(k)}=${acsPercentEncode(params[k] ?? '')}`)
    .join('&');
  const stringToSign = `${request.method.toUpperCase()}&${acsPercentEncode('/')}&${acsPercentEncode(canonical)}`;
  const expected = createHmac('sha1', `${key.key.accessKeySecret}&`).update(stringToSign).digest('base64');
  if (!safeEqual(expected, signature)) return fail('SignatureDoesNotMatch');

  if (options.nonces !== undefined && !options.nonces.use(accessKeyId, params.SignatureNonce, now)) {
    return fail('SignatureNonceUsed');
  }
  return { ok: true, key: key.key, signatureVersion: 'v2' };
}

/**
 * Signs a V2 RPC request the way openapi-core does; for tests and tools that craft requests by hand
 * (e.g. with a stale Timestamp). Returns the full query including `Signature`.
 */
export function signRpcV2(
  params: Readonly<Record<string, string>>,
  accessKeySecret: string,
  method = 'POST',
): Record<string, string> {
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${acsPercentEncode(k)}=${acsPercentEncode(params[k] ?? '')}`)
    .join('&');
  const stringToSign = `${method}&${acsPercentEncode('/')}&${acsPercentEncode(canonical)}`;
  const signature = createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64');
  return { ...params, Signature: signature };
}
