/**
 * The local FC runtime driven from outside: the real @alicloud/fc20230330 client on the invoke API, plain
 * HTTP on the HTTP trigger, a manual clock on the timers, and in-process invokes for the instance rules
 * (timeouts, memory, environment isolation, initializer).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import FC, { InvokeFunctionHeaders, InvokeFunctionRequest } from '@alicloud/fc20230330';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import { InvocationOutcome, ManualClock } from '../../local/fc';
import { accountId, recordedEvents, regionId, startTestCloud, waitUntil, type TestCloud } from './helpers';

const clock = new ManualClock(Date.parse('2024-03-01T10:02:30Z'));
let cloud: TestCloud;

beforeAll(async () => {
  process.env['LOCAL_FC_TEST_SECRET_OF_THE_HOST'] = 'must-not-leak';
  cloud = await startTestCloud({ clock });
});
afterAll(async () => {
  await cloud.close();
  delete process.env['LOCAL_FC_TEST_SECRET_OF_THE_HOST'];
});

function fcClient(secret = cloud.root.accessKeySecret): FC {
  return new FC(
    new $OpenApiUtil.Config({
      accessKeyId: cloud.root.accessKeyId,
      accessKeySecret: secret,
      endpoint: cloud.fc.endpoint.replace('http://', ''),
      protocol: 'HTTP',
      regionId,
      readTimeout: 10_000,
      connectTimeout: 10_000,
    }),
  );
}

async function invokeWithSdk(client: FC, name: string, payload: string, async = false) {
  const res = await client.invokeFunctionWithOptions(
    name,
    new InvokeFunctionRequest({ body: Readable.from([Buffer.from(payload)]) }),
    new InvokeFunctionHeaders({ xFcInvocationType: async ? 'Async' : 'Sync', xFcLogType: 'Tail' }),
    new $dara.RuntimeOptions({}),
  );
  const chunks: Buffer[] = [];
  if (res.body !== undefined) for await (const c of res.body) chunks.push(Buffer.from(c as Buffer));
  return { statusCode: res.statusCode, headers: res.headers ?? {}, body: Buffer.concat(chunks).toString('utf8') };
}

describe('FC 3.0 invoke API through the real @alicloud/fc20230330 client', () => {
  it('runs a synchronous invocation and returns what the handler returned, with its log tail', async () => {
    // Prepare
    const client = fcClient();
    // Act
    const res = await invokeWithSdk(client, 'recorder', '{"hello":"sync"}');
    // Assess
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('recorded');
    expect(res.headers['x-fc-error-type']).toBeUndefined();
    expect(res.headers['x-fc-request-id']).toMatch(/^1-[0-9a-f]+-[0-9a-f]{8}-[0-9a-f]{12}$/);
    const tail = Buffer.from(res.headers['x-fc-log-result'] ?? '', 'base64').toString('utf8');
    expect(tail).toContain(`${res.headers['x-fc-request-id']} [INFO] EVENT`);
    const seen = recordedEvents(cloud).find((e) => e.requestId === res.headers['x-fc-request-id']);
    expect(seen?.isBuffer).toBe(true);
    expect(seen?.event).toBe('{"hello":"sync"}');
    // Per-invocation STS credentials the local cloud accepts.
    expect(seen?.credentials['accessKeyId']).toMatch(/^STS\./);
    expect(cloud.keyring.lookup(seen!.credentials['accessKeyId']!, seen!.credentials['securityToken']).ok).toBe(true);
  });

  it('accepts an asynchronous invocation with 202 and runs it afterwards', async () => {
    // Act
    const res = await invokeWithSdk(fcClient(), 'recorder', '{"hello":"async"}', true);
    // Assess
    expect(res.statusCode).toBe(202);
    const requestId = res.headers['x-fc-request-id'];
    const [done] = await cloud.waitForInvocations((r) => r.requestId === requestId, 1);
    expect(done!.record.trigger).toBe('api:async');
    expect(done!.record.outcome).toBe('succeeded');
  });

  it('answers a function error with 200 and x-fc-error-type, the error as FC shapes it', async () => {
    const res = await invokeWithSdk(fcClient(), 'failer', 'boom');
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(JSON.parse(res.body)).toMatchObject({ errorMessage: 'failer always fails', errorType: 'TypeError' });
  });

  it('refuses a request signed with the wrong secret (SignatureDoesNotMatch) and runs nothing', async () => {
    const before = cloud.records.length;
    await expect(invokeWithSdk(fcClient('not-the-secret'), 'recorder', 'x')).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(cloud.records.length).toBe(before);
  });

  it('answers an unknown function with FunctionNotFound (404)', async () => {
    await expect(invokeWithSdk(fcClient(), 'no-such-function', 'x')).rejects.toMatchObject({
      code: 'FunctionNotFound',
      statusCode: 404,
    });
  });
});

describe('HTTP trigger', () => {
  it('delivers the FC 3.0 HTTP event and maps {statusCode, headers, body} back to the response', async () => {
    // Act
    const res = await fetch(`${cloud.fc.httpTriggers['web']}/orders/42?x=1&y=two`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Custom': 'abc' },
      body: '{"order":42}',
    });
    // Assess
    expect(res.status).toBe(201);
    expect(res.headers.get('x-echo-method')).toBe('POST');
    const body = (await res.json()) as { received: Record<string, any>; initialized: number };
    expect(body.received).toMatchObject({
      version: 'v1',
      rawPath: '/orders/42',
      queryParameters: { x: '1', y: 'two' },
      body: '{"order":42}',
      isBase64Encoded: false,
      requestContext: { accountId, http: { method: 'POST', path: '/orders/42', sourceIp: '127.0.0.1' } },
    });
    expect(body.received['headers']['X-Custom']).toBe('abc');
    expect(body.received['requestContext']['requestId']).toBe(res.headers.get('x-fc-request-id'));
    expect(body.received['requestContext']['timeEpoch']).toMatch(/^\d{13}$/);
  });

  it('returns a plain string return value as a 200 body and base64 bodies as bytes', async () => {
    const plain = await fetch(`${cloud.fc.httpTriggers['web']}/plain`);
    expect(plain.status).toBe(200);
    expect(await plain.text()).toBe('just a string');
    const binary = await fetch(`${cloud.fc.httpTriggers['web']}/binary`);
    expect(Buffer.from(await binary.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('sends binary request bodies base64-encoded with isBase64Encoded', async () => {
    const res = await fetch(`${cloud.fc.httpTriggers['web']}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
    });
    const body = (await res.json()) as { received: { body: string; isBase64Encoded: boolean } };
    expect(body.received.isBase64Encoded).toBe(true);
    expect(Buffer.from(body.received.body, 'base64')).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  });

  it('refuses a method the trigger does not list (403 FcCommonError) and a handler error is a 502', async () => {
    const put = await fetch(`${cloud.fc.httpTriggers['web']}/x`, { method: 'PUT' });
    expect(put.status).toBe(403);
    expect(put.headers.get('x-fc-error-type')).toBe('FcCommonError');
    const failed = await fetch(`${cloud.fc.httpTriggers['web']}/throw`);
    expect(failed.status).toBe(502);
    expect(failed.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
  });

  it('refuses an unsigned request to an authType function trigger with 403 and runs nothing', async () => {
    const before = cloud.records.length;
    const res = await fetch(`${cloud.fc.httpTriggers['web-signed']}/x`);
    expect(res.status).toBe(403);
    expect(res.headers.get('x-fc-error-type')).toBe('FcCommonError');
    expect(cloud.records.length).toBe(before);
  });

  it('runs the initializer once per instance, before the first invocation', async () => {
    // Prepare: the earlier requests already used the single warm instance.
    const res = await fetch(`${cloud.fc.httpTriggers['web']}/again`);
    const body = (await res.json()) as { initialized: number };
    // Assess
    expect(body.initialized).toBe(1);
    expect(cloud.fc.instanceCount('web')).toBe(1);
    expect(cloud.functionLogs.filter((l) => l.includes('initialized for web'))).toHaveLength(1);
  });
});

describe('Timer trigger', () => {
  it('fires at the cron times (UTC, seconds first) with triggerTime, triggerName and payload', async () => {
    // Prepare: the clock is at 10:02:30Z; '0 */5 * * * *' fires at 10:05:00 and 10:10:00.
    const before = recordedEvents(cloud).length;
    // Act
    await clock.advanceTo(Date.parse('2024-03-01T10:11:00Z'));
    // Assess
    const fired = recordedEvents(cloud)
      .slice(before)
      .map((e) => JSON.parse(e.event) as { triggerName?: string });
    expect(fired).toEqual([
      { triggerTime: '2024-03-01T10:05:00Z', triggerName: 'every-five-minutes', payload: '{"job":"reconcile"}' },
      { triggerTime: '2024-03-01T10:10:00Z', triggerName: 'every-five-minutes', payload: '{"job":"reconcile"}' },
    ]);
  });

  it('never fires a timer with enable: false, but fireTimer runs it on demand', async () => {
    const before = recordedEvents(cloud).length;
    await clock.advance(10 * 60_000);
    const scheduled = recordedEvents(cloud).slice(before).map((e) => JSON.parse(e.event) as { triggerName: string });
    expect(scheduled.map((e) => e.triggerName)).not.toContain('switched-off');
    expect(scheduled.map((e) => e.triggerName)).toContain('every-five-minutes');

    const result = await cloud.fc.fireTimer('recorder', 'switched-off', Date.parse('2024-05-05T05:05:05.555Z'));
    expect(result.ok).toBe(true);
    const last = recordedEvents(cloud).at(-1)!;
    expect(JSON.parse(last.event)).toEqual({ triggerTime: '2024-05-05T05:05:05Z', triggerName: 'switched-off', payload: 'never' });
  });
});

describe('Trigger: mns_topic', () => {
  it('subscribes to the topic on the local MNS and runs the function for a message published through the SDK, from a signed push', async () => {
    // Prepare: what the runtime subscribed (JSON format, the trigger's retry strategy)
    expect(cloud.mns.topics.subscriptions('alarms')).toEqual([
      expect.objectContaining({ name: 'fc-recorder-topic-json', notifyContentFormat: 'JSON', notifyStrategy: 'BACKOFF_RETRY', endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/_mns-topic\/recorder\/topic-json$/) }),
    ]);
    const before = recordedEvents(cloud).length;
    // Act
    const { messageId } = await cloud.queues.publish('alarms', 'cpu hot');
    const [run] = await cloud.waitForInvocations((r) => r.triggerType === 'mns_topic' && r.trigger === 'topic-json', 1);
    // Assess: the JSON notification document, with the message as published (base64 by the port) and its id
    expect(run!.result.ok).toBe(true);
    const event = JSON.parse(recordedEvents(cloud).slice(before).find((e) => e.requestId === run!.record.requestId)!.event) as Record<string, unknown>;
    expect(event).toMatchObject({ TopicName: 'alarms', MessageId: messageId, Message: Buffer.from('cpu hot').toString('base64'), SubscriptionName: 'fc-recorder-topic-json', PublishTime: expect.any(Number) });
    await waitUntil(() => cloud.mns.topics.notifications().some((n) => n.messageId === messageId && n.result === 'delivered' && n.status === 204));
  });

  it('refuses a push whose signature does not verify (403), and runs nothing', async () => {
    // Prepare
    const sub = cloud.mns.topics.subscriptions('alarms')[0]!;
    const before = cloud.records.length;
    // Act: a forged push (right path, headers of a real push shape, no valid signature)
    const res = await fetch(sub.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=utf-8', date: new Date().toUTCString(), 'x-mns-signing-cert-url': Buffer.from(cloud.mns.topics.signingCertUrl).toString('base64'), 'x-mns-version': '2015-06-06', authorization: Buffer.from('forged').toString('base64') },
      body: JSON.stringify({ TopicName: 'alarms', Message: 'forged', PublishTime: '1' }),
    });
    // Assess
    expect(res.status).toBe(403);
    const lines = cloud.records.slice(before).filter((r) => r.triggerType === 'mns_topic') as unknown as Record<string, unknown>[];
    expect(lines).toEqual([expect.objectContaining({ kind: 'pushRefused', why: 'the push signature does not verify' })]);
  });

  it('delivers a published message as the JSON notification document to subscribed functions', async () => {
    // Act
    const results = await cloud.fc.publishToTopic('alarms', 'disk full');
    const unrelated = await cloud.fc.publishToTopic('other-topic', 'nobody listens');
    // Assess
    expect(results).toHaveLength(1);
    expect(unrelated).toHaveLength(0);
    const recorded = recordedEvents(cloud).find((e) => e.requestId === results[0]!.requestId)!;
    expect(JSON.parse(recorded.event)).toEqual({
      TopicOwner: accountId,
      Message: 'disk full',
      Subscriber: accountId,
      PublishTime: expect.any(Number),
      SubscriptionName: 'topic-json',
      MessageMD5: createHash('md5').update('disk full').digest('hex').toUpperCase(),
      TopicName: 'alarms',
      MessageId: expect.any(String),
    });
  });
});

describe('Instances', () => {
  it('fails an invocation past the timeout as FunctionTimeout, replaces the instance, and the next one works', async () => {
    // Act
    const hung = await cloud.fc.invoke('sleeper', 'spin');
    const next = await cloud.fc.invoke('sleeper', 'fine');
    // Assess
    expect(hung.outcome).toBe(InvocationOutcome.TimedOut);
    expect(hung.error).toMatchObject({ errorType: 'FunctionTimeout', errorMessage: 'Function time out after 1 seconds' });
    expect(hung.durationMs).toBeGreaterThanOrEqual(1000);
    expect(hung.durationMs).toBeLessThan(3000);
    expect(next.outcome).toBe(InvocationOutcome.Succeeded);
    expect(JSON.parse(next.body.toString())).toMatchObject({ ok: true });
    const record = cloud.records.find((r) => r.requestId === hung.requestId);
    expect(record).toMatchObject({ function: 'sleeper', outcome: 'timedOut', trigger: 'direct' });
  });

  it('fails an invocation that exhausts memorySize as outOfMemory, and the next one works', async () => {
    const oom = await cloud.fc.invoke('sleeper', 'oom');
    const next = await cloud.fc.invoke('sleeper', 'fine');
    expect(oom.outcome).toBe(InvocationOutcome.OutOfMemory);
    expect(oom.error?.errorMessage).toContain('memorySize 128 MB');
    expect(next.outcome).toBe(InvocationOutcome.Succeeded);
  });

  it('gives each function only its own environment variables, none of the host process', async () => {
    const a = JSON.parse((await cloud.fc.invoke('env-a', '')).body.toString()) as { env: Record<string, string> };
    const b = JSON.parse((await cloud.fc.invoke('env-b', '')).body.toString()) as { env: Record<string, string> };
    expect(a.env['ONLY_IN_A']).toBe('alpha');
    expect(a.env['SHARED_NAME']).toBe('from-a');
    expect(b.env['SHARED_NAME']).toBe('from-b');
    expect(b.env['ONLY_IN_A']).toBeUndefined();
    expect(a.env['LOCAL_FC_TEST_SECRET_OF_THE_HOST']).toBeUndefined();
    expect(a.env['FC_FUNCTION_NAME']).toBe('env-a');
    expect(b.env['ALIBABA_CLOUD_ACCESS_KEY_ID']).toMatch(/^STS\./);
  });

  it('runs at most maxInstancesPerFunction instances for concurrent invocations', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => cloud.fc.invoke('env-b', '')));
    expect(results.every((r) => r.ok)).toBe(true);
    // instanceConcurrency 1: ten at once need ten instances, the cap holds them to four.
    expect(cloud.fc.instanceCount('env-b')).toBe(4);
  });
});
