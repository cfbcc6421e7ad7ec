/**
 * The FC invoker against a recording loopback server: the real @alicloud/fc20230330 client's request
 * (path, invocation type, body bytes, V3 signature with the STS token) and how answers come back.
 * (The local FC runtime is another helper's; this pins the request building and response handling.)
 */
import { createFcInvoker } from '../../cloud/fc';
import { json, startWireServer, verifyAcs3, type WireServer } from './wire-server';

const creds = { accessKeyId: 'STS.fc1', accessKeySecret: 'fc-secret', securityToken: 'fc-token' };
let server: WireServer;

beforeAll(async () => {
  server = await startWireServer((req, res) => {
    const fn = /^\/2023-03-30\/functions\/([^/]+)\/invocations$/.exec(req.path)?.[1];
    if (fn === 'missing') return json(res, 404, { Code: 'FunctionNotFound', Message: 'function not found', RequestId: 'rq' });
    if (fn === 'crashes') {
      res.writeHead(200, { 'x-fc-error-type': 'UnhandledInvocationError', 'x-fc-request-id': 'rq-2' });
      return res.end('{"errorMessage":"boom"}');
    }
    if (req.headers['x-fc-invocation-type'] === 'Async') {
      res.writeHead(202, { 'x-fc-request-id': 'rq-1' });
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(Buffer.concat([Buffer.from('echo:'), req.body]));
  });
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

const invoker = () =>
  createFcInvoker({ endpoint: server.endpoint, protocol: 'HTTP', regionId: 'cn-hangzhou', credentials: creds });

describe('FC invoker', () => {
  it('posts the payload bytes asynchronously to the FC 3.0 path, signed with the STS token', async () => {
    const payload = Buffer.from([0, 1, 2, 255, 10]);
    const result = await invoker().invoke('validate', payload, { async: true });
    expect(result.statusCode).toBe(202);
    expect(result.requestId).toBe('rq-1');
    const [req] = server.requests;
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/2023-03-30/functions/validate/invocations');
    expect(req!.headers['x-fc-invocation-type']).toBe('Async');
    expect(req!.headers['x-acs-security-token']).toBe('fc-token');
    expect(req!.body.equals(payload)).toBe(true);
    expect(verifyAcs3(req!, () => 'fc-secret')).toBe('STS.fc1');
  });

  it('returns the whole response body of a synchronous call', async () => {
    const result = await invoker().invoke('echo', '{"a":1}', { async: false, qualifier: 'LATEST' });
    expect(result.statusCode).toBe(200);
    expect(result.body.toString()).toBe('echo:{"a":1}');
    expect(result.functionError).toBeUndefined();
    expect(server.requests[0]!.headers['x-fc-invocation-type']).toBe('Sync');
    expect(server.requests[0]!.query).toEqual({ qualifier: 'LATEST' });
  });

  it('resolves a function error with functionError set', async () => {
    const result = await invoker().invoke('crashes', 'x', { async: false });
    expect(result.functionError).toBe('UnhandledInvocationError');
    expect(result.body.toString()).toContain('boom');
  });

  it('rejects an unknown function with a notFound CloudError', async () => {
    await expect(invoker().invoke('missing', 'x', { async: true })).rejects.toMatchObject({
      name: 'CloudError',
      kind: 'notFound',
      code: 'FunctionNotFound',
      details: { statusCode: 404, api: 'InvokeFunction' },
    });
  });
});
