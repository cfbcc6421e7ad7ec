import http from 'node:http';
import path from 'node:path';
import Ecs from '@alicloud/ecs20140526';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { signRpcV2 } from '../../local/acs3';
import type { AccessKey } from '../../local/credentials';

export const ScenarioDir = path.join(__dirname, '..', '..', 'local', 'scenarios');
export const scenarioPath = (name: string) => path.join(ScenarioDir, `${name}.yaml`);
export const Region = 'cn-hangzhou';

/** The real ECS client against a local endpoint, V3 signature unless `v2`. */
export function ecsClient(
  endpoint: string,
  key: Partial<AccessKey> & { accessKeyId: string; accessKeySecret: string },
  v2 = false,
  timeouts: { readTimeout?: number } = {},
): Ecs {
  return new Ecs(
    new $OpenApiUtil.Config({
      accessKeyId: key.accessKeyId,
      accessKeySecret: key.accessKeySecret,
      securityToken: key.securityToken,
      endpoint,
      protocol: 'HTTP',
      regionId: Region,
      readTimeout: timeouts.readTimeout ?? 5000,
      connectTimeout: 5000,
      ...(v2 ? { signatureAlgorithm: 'v2' } : {}),
    }),
  );
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<{ code?: string; statusCode?: number; name: string; message: string; data?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string; statusCode?: number; name: string; message: string };
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** Polls `read` until `done(value)` (or the deadline), collecting every distinct value seen, in order. */
export async function pollUntil<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 5000, intervalMs = 3): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (seen.length === 0 || seen[seen.length - 1] !== v) seen.push(v);
    if (done(v)) return seen;
    if (Date.now() > deadline) throw new Error(`timed out; seen ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A hand-made V2 RPC request (for stale timestamps, replays): returns HTTP status and parsed body. */
export async function rawV2Call(
  port: number,
  key: { accessKeyId: string; accessKeySecret: string },
  params: Record<string, string>,
  overrides: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const query = signRpcV2(
    {
      Format: 'json',
      Version: '2014-05-26',
      Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      SignatureNonce: `${Date.now()}-${Math.random()}`,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      AccessKeyId: key.accessKeyId,
      ...params,
      ...overrides,
    },
    key.accessKeySecret,
  );
  return rawRequest(port, 'POST', `/?${new URLSearchParams(query).toString()}`);
}

export async function rawRequest(port: number, method: string, url: string, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: url, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`non-JSON answer ${res.statusCode}: ${text}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A controllable clock for the model (tests move it instead of sleeping). */
export function fakeClock(start = Date.now()) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}
