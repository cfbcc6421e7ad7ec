/**
 * The FC invoker against a recording loopback server: the real @alicloud/fc20230330 client's request
 * (path, invocation type, body bytes, V3 signature with the STS token) and how answers come back.
 * The second block runs the same invoker against the local FC runtime (local/fc) on a fixture s.yaml.
 */
import { join } from 'node:path';
import { createFcInvoker } from '../../cloud/fc';
import { Keyring } from '../../local/credentials';
import { startLocalFc, type LocalFc } from '../../local/fc';
import { startLocalMns, type LocalMns } from '../../local/mns';
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

describe('FC invoker against the local FC runtime', () => {
  let cloud: { fc: LocalFc; mns: LocalMns; keyring: Keyring };
  const seen: Array<{ fn: string; trigger: string; outcome: string }> = [];

  beforeAll(async () => {
    const { keyring, root } = Keyring.generate();
    const mns = await startLocalMns({ keyring, accountId: '1234567890123456', regionId: 'cn-hangzhou' });
    const fc = await startLocalFc({
      sYamlPath: join(__dirname, 'fixtures/fc/s.yaml'),
      keyring,
      accountId: '1234567890123456',
      regionId: 'cn-hangzhou',
      mns: { endpoint: mns.endpoint, credentials: root },
      queues: [],
      timeScale: 0.001,
      logSink: () => undefined,
      functionLogSink: () => undefined,
    });
    fc.events.on('invocation', (record: { function: string; trigger: string; outcome: string }) =>
      seen.push({ fn: record.function, trigger: record.trigger, outcome: record.outcome }),
    );
    cloud = { fc, mns, keyring };
  });
  afterAll(async () => {
    await cloud?.fc.close();
    await cloud?.mns.close();
  });

  const local = () =>
    createFcInvoker({
      endpoint: cloud.fc.endpoint.replace(/^http:\/\//, ''),
      protocol: 'HTTP',
      regionId: 'cn-hangzhou',
      credentials: () => cloud.keyring.mintSts(),
    });

  it('invokes synchronously and gets the function result bytes back', async () => {
    const payload = Buffer.from([1, 2, 3, 0xff]);
    const result = await local().invoke('echo', payload, { async: false });
    expect(result.statusCode).toBe(200);
    expect(result.body.equals(Buffer.concat([Buffer.from('echo:'), payload]))).toBe(true);
    expect(result.functionError).toBeUndefined();
  });

  it('invokes asynchronously: 202 at once, the function runs afterwards', async () => {
    const result = await local().invoke('echo', 'later', { async: true });
    expect(result.statusCode).toBe(202);
    const give = Date.now() + 5_000;
    while (!seen.some((s) => s.fn === 'echo' && s.trigger === 'api:async') && Date.now() < give) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen).toContainEqual({ fn: 'echo', trigger: 'api:async', outcome: 'succeeded' });
  });

  it('reports a failing function as functionError with its error body', async () => {
    const result = await local().invoke('boom', '{}', { async: false });
    expect(result.functionError).toBe('UnhandledInvocationError');
    expect(result.body.toString()).toContain('boom on purpose');
  });

  it('rejects an unknown function as notFound and a bad key as fatal', async () => {
    await expect(local().invoke('nope', '{}', { async: false })).rejects.toMatchObject({ kind: 'notFound', code: 'FunctionNotFound' });
    const stranger = createFcInvoker({
      endpoint: cloud.fc.endpoint.replace(/^http:\/\//, ''),
      protocol: 'HTTP',
      regionId: 'cn-hangzhou',
      credentials: { accessKeyId: 'LTAIstranger', accessKeySecret: 'x' },
    });
    await expect(stranger.invoke('echo', '{}', { async: false })).rejects.toMatchObject({
      kind: 'fatal',
      code: 'InvalidAccessKeyId.NotFound',
    });
  });
});
