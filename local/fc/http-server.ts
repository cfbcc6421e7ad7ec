import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NonceCache, verifyAcs3 } from '../acs3';
import type { Keyring } from '../credentials';
import { FcApiError, FcErrorType, type FcApiErrorName } from './errors';
import { newRequestId, type InvocationResult } from './function-runtime';
import type { HttpTrigger } from './syaml';
import { TopicPushPath } from './topic-trigger';

/**
 * One loopback HTTP server for the FC 3.0 invoke API and every function's HTTP trigger:
 *   POST /2023-03-30/functions/{name}/invocations   the OpenAPI InvokeFunction (V3-signed)
 *   ANY  /{functionName}/{path...}                   the function's HTTP trigger, rawPath = /{path...}
 */

export interface HttpServerDeps {
  readonly keyring: Keyring;
  readonly accountId: string;
  /** Runs a function; undefined when there is no such function. */
  readonly invoke: (name: string, event: Buffer, how: { trigger: string; triggerType: string; requestId: string; async: boolean }) => Promise<InvocationResult> | undefined;
  readonly httpTrigger: (functionName: string) => HttpTrigger | undefined;
  /** Serves MNS topic pushes (`/_mns-topic/...`, topic-trigger.ts); answers the HTTP status MNS gets. */
  readonly topicPush?: (req: IncomingMessage, path: string, body: Buffer) => Promise<number>;
}

/** The FC 3.0 HTTP trigger event (function-compute.md, "HTTP trigger (FC 3.0)"). */
export interface HttpTriggerEvent {
  readonly version: 'v1';
  readonly rawPath: string;
  readonly headers: Record<string, string>;
  readonly queryParameters: Record<string, string>;
  readonly body: string;
  readonly isBase64Encoded: boolean;
  readonly requestContext: {
    readonly accountId: string;
    readonly domainName: string;
    readonly domainPrefix: string;
    readonly http: { readonly method: string; readonly path: string; readonly protocol: string; readonly sourceIp: string; readonly userAgent: string };
    readonly requestId: string;
    readonly time: string;
    readonly timeEpoch: string;
  };
}

const INVOKE_PATH = /^\/2023-03-30\/functions\/([^/]+)\/invocations$/;
/** Log tail FC returns in x-fc-log-result (base64) when asked with x-fc-log-type: Tail: the last 4 KB. */
const LOG_TAIL_BYTES = 4096;
/** Bodies that travel as text in the HTTP trigger event; anything else is base64 (isBase64Encoded). */
const TEXT_CONTENT_TYPE = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

export async function startHttpServer(deps: HttpServerDeps, port = 0): Promise<{ server: Server; endpoint: string; close(): Promise<void> }> {
  const nonces = new NonceCache();
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendApiError(res, 'InternalServerError', String((err as Error)?.message ?? err), newRequestId());
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://local');
    const requestId = newRequestId();
    const invokeMatch = INVOKE_PATH.exec(url.pathname);
    if (invokeMatch?.[1] !== undefined) return invokeApi(req, res, url, body, decodeURIComponent(invokeMatch[1]), requestId);
    if (url.pathname.startsWith('/2023-03-30/')) return sendApiError(res, 'PathNotFound', `the local FC runtime serves only InvokeFunction, not ${req.method} ${url.pathname}`, requestId);
    if (url.pathname.startsWith(TopicPushPath) && deps.topicPush !== undefined) {
      const status = await deps.topicPush(req, rawPath(req.url ?? '/'), body);
      res.writeHead(status, { 'x-fc-request-id': requestId, 'content-length': '0' });
      res.end();
      return;
    }
    return httpTrigger(req, res, url, body, requestId);
  }

  async function invokeApi(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, name: string, requestId: string): Promise<void> {
    if (req.method !== 'POST') return sendApiError(res, 'MethodNotAllowed', `InvokeFunction is POST, not ${req.method}`, requestId);
    const auth = verifyAcs3(
      { method: req.method, path: rawPath(req.url ?? '/'), query: Object.fromEntries(url.searchParams), headers: req.headers, body },
      { keyring: deps.keyring, nonces },
    );
    if (!auth.ok) return sendJson(res, auth.status, { Code: auth.code, Message: auth.message, RequestId: requestId }, requestId);
    const async = String(req.headers['x-fc-invocation-type'] ?? '').toLowerCase() === 'async';
    const running = deps.invoke(name, body, { trigger: async ? 'api:async' : 'api', triggerType: 'api', requestId, async });
    if (running === undefined) return sendApiError(res, 'FunctionNotFound', `function '${name}' does not exist`, requestId);
    if (async) {
      // The invocation goes on after the answer, as FC's async queue would run it.
      void running;
      res.writeHead(202, { 'x-fc-request-id': requestId, 'content-length': '0' });
      res.end();
      return;
    }
    const result = await running;
    const headers: Record<string, string> = {
      'x-fc-request-id': requestId,
      'content-type': result.resultKind === 'json' ? 'application/json' : 'application/octet-stream',
      'x-fc-invocation-duration': String(Math.ceil(result.durationMs)),
    };
    if (!result.ok) headers['x-fc-error-type'] = FcErrorType.UnhandledInvocationError;
    if (String(req.headers['x-fc-log-type'] ?? '') === 'Tail') {
      const text = Buffer.from(result.logs.join('\n'));
      headers['x-fc-log-result'] = text.subarray(Math.max(0, text.length - LOG_TAIL_BYTES)).toString('base64');
    }
    res.writeHead(200, headers);
    res.end(result.body);
  }

  async function httpTrigger(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, requestId: string): Promise<void> {
    const [, fnSegment = '', ...rest] = url.pathname.split('/');
    const functionName = decodeURIComponent(fnSegment);
    const trigger = deps.httpTrigger(functionName);
    if (trigger === undefined) {
      return sendFcCommon(res, 404, `no HTTP trigger for function '${functionName}' (URLs are http://host:port/<functionName>/<path>)`, requestId);
    }
    const method = (req.method ?? 'GET').toUpperCase();
    if (!trigger.methods.includes(method)) {
      return sendFcCommon(res, 403, `method ${method} is not configured on HTTP trigger ${trigger.triggerName} (${trigger.methods.join(', ')})`, requestId);
    }
    if (trigger.authType === 'function') {
      // FC checks an Alibaba Cloud signature on authType "function"; locally the same ACS3 verifier runs.
      const auth = verifyAcs3(
        { method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body },
        { keyring: deps.keyring, nonces },
      );
      if (!auth.ok) return sendFcCommon(res, 403, `signature required (authType function): ${auth.code}: ${auth.message}`, requestId);
    }
    const event = httpTriggerEvent(req, url, `/${rest.join('/')}`, body, requestId, deps.accountId);
    const running = deps.invoke(functionName, Buffer.from(JSON.stringify(event)), { trigger: trigger.triggerName, triggerType: 'http', requestId, async: false });
    if (running === undefined) return sendFcCommon(res, 404, `function '${functionName}' does not exist`, requestId);
    const result = await running;
    if (!result.ok) {
      res.writeHead(502, { 'content-type': 'application/json', 'x-fc-request-id': requestId, 'x-fc-error-type': FcErrorType.UnhandledInvocationError });
      res.end(result.body);
      return;
    }
    const mapped = mapHttpResponse(result);
    res.writeHead(mapped.statusCode, { ...mapped.headers, 'x-fc-request-id': requestId });
    res.end(mapped.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    endpoint: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Builds the v1 HTTP trigger event from a request; `rawPath` is the path after the function segment. */
export function httpTriggerEvent(req: IncomingMessage, url: URL, path: string, body: Buffer, requestId: string, accountId: string): HttpTriggerEvent {
  const headers: Record<string, string> = {};
  // rawHeaders keep the client's spelling, as FC passes them.
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const queryParameters: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (!(k in queryParameters)) queryParameters[k] = v;
  const contentType = String(req.headers['content-type'] ?? '');
  const isText = body.length === 0 || TEXT_CONTENT_TYPE.test(contentType);
  const now = new Date();
  const host = String(req.headers.host ?? '127.0.0.1');
  return {
    version: 'v1',
    rawPath: path,
    headers,
    queryParameters,
    body: isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !isText,
    requestContext: {
      accountId,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method: (req.method ?? 'GET').toUpperCase(),
        path,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '',
        userAgent: String(req.headers['user-agent'] ?? ''),
      },
      requestId,
      time: clfTime(now),
      timeEpoch: String(now.getTime()),
    },
  };
}

/**
 * FC 3.0 response mapping: a returned `{statusCode, headers?, body?, isBase64Encoded?}` becomes that
 * response; any other return value is the body of a 200.
 */
export function mapHttpResponse(result: InvocationResult): { statusCode: number; headers: Record<string, string | string[]>; body: Buffer } {
  if (result.resultKind === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(result.body.toString('utf8'));
    } catch {
      value = undefined;
    }
    if (value !== null && typeof value === 'object' && typeof (value as { statusCode?: unknown }).statusCode === 'number') {
      const v = value as { statusCode: number; headers?: Record<string, unknown>; body?: unknown; isBase64Encoded?: boolean };
      const headers: Record<string, string | string[]> = {};
      for (const [k, h] of Object.entries(v.headers ?? {})) headers[k] = Array.isArray(h) ? h.map(String) : String(h);
      const raw = v.body === undefined || v.body === null ? '' : typeof v.body === 'string' ? v.body : JSON.stringify(v.body);
      return { statusCode: v.statusCode, headers, body: v.isBase64Encoded === true ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8') };
    }
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: result.body };
  }
  return { statusCode: 200, headers: result.resultKind === 'string' ? { 'content-type': 'text/plain; charset=utf-8' } : {}, body: result.body };
}

function sendApiError(res: ServerResponse, name: FcApiErrorName, message: string, requestId: string): void {
  const e = FcApiError[name];
  sendJson(res, e.status, { Code: e.code, Message: message, RequestId: requestId }, requestId);
}

function sendFcCommon(res: ServerResponse, status: number, message: string, requestId: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-fc-request-id': requestId, 'x-fc-error-type': FcErrorType.FcCommonError });
  res.end(JSON.stringify({ ErrorCode: FcErrorType.FcCommonError, ErrorMessage: message, RequestId: requestId }));
}

function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-fc-request-id': requestId });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function rawPath(reqUrl: string): string {
  const q = reqUrl.indexOf('?');
  return q < 0 ? reqUrl : reqUrl.slice(0, q);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `21/Jun/2023:09:13:40 +0000`, the access-log time format FC's HTTP trigger event uses. */
function clfTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
