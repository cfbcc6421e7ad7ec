import type Ecs from '@alicloud/ecs20140526';
import * as $Ecs from '@alicloud/ecs20140526';
import { ThrottlingError } from '@alicloud/openapi-core';
import { Keyring } from '../../local/credentials';
import { type LocalEcs, startLocalEcs } from '../../local/ecs';
import { Region, ecsClient, fakeClock, rawRequest, rejection, scenarioPath } from './helpers';

describe('Local ECS: throttling, injected faults and the control API', () => {
  // Minute windows run on the model clock; a controlled clock makes the window boundary exact.
  const clock = fakeClock(Date.parse('2024-06-01T00:00:05Z'));
  let ecs: LocalEcs;
  let client: Ecs;
  const { keyring, root } = Keyring.generate();
  const status = () => client.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: Region }));

  beforeAll(async () => {
    ecs = await startLocalEcs({ scenario: scenarioPath('two-node-failover'), keyring, timeScale: 1, now: clock.now });
    client = ecsClient(ecs.endpoint, root);
  });
  beforeEach(() => ecs.control.reset());
  afterAll(() => ecs.close());

  it('over the per-minute limit a call is a ThrottlingError (Throttling.User 400) until the next minute window, then succeeds', async () => {
    ecs.control.setRateLimit({ action: 'DescribeInstanceStatus', perMinute: 3 });
    for (let i = 0; i < 3; i++) await status();
    const err = await rejection(status());
    expect(err).toBeInstanceOf(ThrottlingError);
    expect([err.code, err.statusCode]).toEqual(['Throttling.User', 400]);

    clock.advance(50_000); // 00:00:55 - same minute: still blocked
    expect((await rejection(status())).code).toBe('Throttling.User');
    // Other APIs have their own budget.
    await client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region }));

    clock.advance(5_000); // 00:01:00 - next window
    const ok = await status();
    expect(ok.body?.instanceStatuses?.instanceStatus).toHaveLength(2);
  });

  it('the scenario\'s rate limits apply from the start (AttachNetworkInterface 500/min)', async () => {
    const calls = Array.from({ length: 501 }, () =>
      client
        .attachNetworkInterface(new $Ecs.AttachNetworkInterfaceRequest({ regionId: Region, networkInterfaceId: 'eni-nope', instanceId: 'i-standby' }))
        .then(
          () => 'ok',
          (e: { code?: string }) => e.code,
        ),
    );
    const codes = await Promise.all(calls);
    expect(codes.filter((c) => c === 'InvalidEniId.NotFound')).toHaveLength(500);
    expect(codes.filter((c) => c === 'Throttling.User')).toHaveLength(1);
  });

  it('an injected fault answers the next N calls of that action with the given code and status, then recovers', async () => {
    ecs.control.injectFault({ action: 'DescribeInstanceStatus', count: 2, code: 'ServiceUnavailable' });
    const a = await rejection(status());
    expect([a.name, a.code, a.statusCode]).toEqual(['ServerError', 'ServiceUnavailable', 503]);
    const b = await rejection(status());
    expect(b.code).toBe('ServiceUnavailable');
    await status();

    ecs.control.injectFault({ code: 'InternalError' });
    const c = await rejection(client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region })));
    expect([c.code, c.statusCode]).toEqual(['InternalError', 500]);
    expect(ecs.control.calls().slice(-1)[0]).toMatchObject({ action: 'DescribeInstances', status: 500, code: 'InternalError', signatureVersion: 'v3' });
  });

  it('a dropped connection makes the SDK fail without an API code; the next call succeeds', async () => {
    ecs.control.dropConnections({ action: 'DescribeInstanceStatus' });
    const err = await rejection(status());
    // A network error, not an API error: plain Error with the socket's code, no HTTP status.
    expect([err.name, err.code]).toEqual(['Error', 'ECONNRESET']);
    expect(err.statusCode).toBeUndefined();
    expect(err.message).toMatch(/socket hang up|ECONNRESET|closed/i);
    await status();
  });

  it('injected latency delays the answer; past the client read timeout the SDK gives up with a timeout error', async () => {
    ecs.control.injectLatency({ action: 'DescribeInstanceStatus', ms: 250, count: 1 });
    const started = Date.now();
    await status();
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);

    ecs.control.injectLatency({ action: 'DescribeInstanceStatus', ms: 400, count: 1 });
    const impatient = ecsClient(ecs.endpoint, root, false, { readTimeout: 100 });
    const err = await rejection(impatient.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: Region })));
    expect(err.message).toMatch(/ReadTimeout\(100\)/);
  });

  it('the control API is served as JSON under /_local/ and drives the same model', async () => {
    const set = await rawRequest(ecs.port, 'POST', '/_local/setInstanceStatus', JSON.stringify({ instanceId: 'i-primary', status: 'Stopped' }));
    expect(set).toEqual({ status: 200, body: { ok: true } });
    const viaSdk = await client.describeInstanceStatus(new $Ecs.DescribeInstanceStatusRequest({ regionId: Region, instanceId: ['i-primary'] }));
    expect(viaSdk.body?.instanceStatuses?.instanceStatus?.[0]?.status).toBe('Stopped');

    const state = await rawRequest(ecs.port, 'GET', '/_local/state');
    const instances = state.body?.instances as { instanceId: string; status: string }[];
    expect(instances.find((i) => i.instanceId === 'i-primary')?.status).toBe('Stopped');

    const events = await rawRequest(ecs.port, 'GET', '/_local/events');
    expect(events.body).toEqual([expect.objectContaining({ type: 'instance', instanceId: 'i-primary', from: 'Running', to: 'Stopped' })]);

    const fault = await rawRequest(ecs.port, 'POST', '/_local/injectFault', JSON.stringify({ action: 'DescribeInstances', code: 'Throttling', status: 400 }));
    expect(fault.status).toBe(200);
    const throttled = await rejection(client.describeInstances(new $Ecs.DescribeInstancesRequest({ regionId: Region })));
    expect(throttled).toBeInstanceOf(ThrottlingError);

    const unknown = await rawRequest(ecs.port, 'POST', '/_local/explode', '{}');
    expect(unknown.status).toBe(404);
    const badArgs = await rawRequest(ecs.port, 'POST', '/_local/setInstanceStatus', JSON.stringify({ instanceId: 'i-primary', status: 'Exploded' }));
    expect(badArgs.status).toBe(400);

    const reset = await rawRequest(ecs.port, 'POST', '/_local/reset');
    expect(reset.status).toBe(200);
    expect(ecs.control.state().instances.find((i) => i.instanceId === 'i-primary')?.status).toBe('Running');
  });
});
