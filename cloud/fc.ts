/**
 * Invoking Function Compute 3.0 functions (the CLI, the demo, and steps that hand work to another
 * function). Uses @alicloud/fc20230330: the FC 3.0 API on the same openapi-core stack (V3 signature,
 * error classes) as the ECS port (sdk-wire.md, "Function Compute clients").
 */
import { Readable } from 'node:stream';
import FC, { InvokeFunctionHeaders, InvokeFunctionRequest } from '@alicloud/fc20230330';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import { classifyError } from './errors';
import { toSdkCredential, type CredentialSource } from './credentials';

export interface FcInvokerOptions {
  /** Host[:port] without scheme, e.g. `<accountId>.<region>.fc.aliyuncs.com` or `127.0.0.1:PORT`. */
  readonly endpoint: string;
  readonly protocol?: 'HTTPS' | 'HTTP';
  readonly regionId: string;
  readonly credentials: CredentialSource;
  readonly timeoutsMs?: { read: number; connect: number };
}

export interface FcInvokeResult {
  /** 200 for a synchronous call, 202 when an asynchronous call was accepted. */
  readonly statusCode: number;
  readonly body: Buffer;
  /** `x-fc-error-type` when the function itself failed (the HTTP call still succeeded). */
  readonly functionError?: string;
  readonly requestId?: string;
}

export interface FcInvoker {
  /**
   * Invokes `functionName` with `payload` as the raw event. Guarantees: resolves with the whole response
   * body; a function error resolves too, with `functionError` set; every failure of the call itself
   * rejects with a classified CloudError (`FunctionNotFound` is kind notFound). No retries: an async
   * invoke that timed out may have been accepted, so the caller decides.
   */
  invoke(
    functionName: string,
    payload: Buffer | string,
    options: { async: boolean; qualifier?: string },
  ): Promise<FcInvokeResult>;
}

/** The FC 3.0 invocation-type header values. */
export const FcInvocationType = { Sync: 'Sync', Async: 'Async' } as const;

/** Builds an invoker over one FC 3.0 client; credentials are asked before every request. */
export function createFcInvoker(options: FcInvokerOptions): FcInvoker {
  const timeouts = options.timeoutsMs ?? { read: 60_000, connect: 60_000 };
  const client = new FC(
    new $OpenApiUtil.Config({
      credential: toSdkCredential(options.credentials) as unknown as $OpenApiUtil.Config['credential'],
      endpoint: options.endpoint,
      protocol: options.protocol ?? 'HTTPS',
      regionId: options.regionId,
      readTimeout: timeouts.read,
      // connectTimeout is a socket idle timer in httpx: keep it >= readTimeout (sdk-wire.md).
      connectTimeout: Math.max(timeouts.connect, timeouts.read),
    }),
  );

  return {
    async invoke(functionName, payload, invokeOptions) {
      const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
      const request = new InvokeFunctionRequest({
        // A fresh stream per call: the SDK reads it to the end to hash it for the signature.
        body: Readable.from([bytes]),
        ...(invokeOptions.qualifier === undefined ? {} : { qualifier: invokeOptions.qualifier }),
      });
      const headers = new InvokeFunctionHeaders({
        xFcInvocationType: invokeOptions.async ? FcInvocationType.Async : FcInvocationType.Sync,
      });
      try {
        const res = await client.invokeFunctionWithOptions(functionName, request, headers, new $dara.RuntimeOptions({}));
        const body = res.body === undefined ? Buffer.alloc(0) : await readAll(res.body);
        const h = res.headers ?? {};
        const functionError = h['x-fc-error-type'];
        const requestId = h['x-fc-request-id'];
        return {
          statusCode: res.statusCode ?? 0,
          body,
          ...(functionError ? { functionError } : {}),
          ...(requestId ? { requestId } : {}),
        };
      } catch (err) {
        throw classifyError(err, 'InvokeFunction');
      }
    },
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
