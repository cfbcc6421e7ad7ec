/**
 * The ECS port against a recording loopback server: what goes on the wire (action, parameters, V3
 * signature, STS token) and how real SDK failures (503, empty body, dropped socket, throttling with
 * retry-after) come out of the port. The port runs the real openapi-core client end to end.
 */
import type { ServerResponse } from 'node:http';
import { createEcsPort, type EcsCallEvent } from '../../cloud/ecs';
import { FakeClock } from './fake-clock';
import { json, startWireServer, verifyAcs3, type SeenRequest, type WireServer } from './wire-server';

const sts = { accessKeyId: 'STS.wire1', accessKeySecret: 'secret-one', securityToken: 'token-one' };
const secrets: Record<string, string> = { 'STS.wire1': 'secret-one', 'STS.wire2': 'secret-two' };

const instanceBody = (id: string) => ({
  InstanceId: id,
  Status: 'Running',
  InstanceType: 'ecs.g7.large',
  ZoneId: 'cn-hangzhou-h',
  IoOptimized: true,
  VpcAttributes: { VpcId: 'vpc-1', VSwitchId: 'vsw-1' },
  NetworkInterfaces: { NetworkInterface: [{ NetworkInterfaceId: `eni-of-${id}` }] },
});
const eniBody = (id: string) => ({
  NetworkInterfaceId: id,
  Status: 'Available',
  Type: 'Secondary',
  VpcId: 'vpc-1',
  VSwitchId: 'vsw-1',
  ZoneId: 'cn-hangzhou-h',
  PrivateIpAddress: '10.0.0.9',
});

/** Answers by action; `script` may override per request number. */
type Script = (req: SeenRequest, res: ServerResponse, n: number) => boolean;
let server: WireServer;
let script: Script = () => false;

function defaultAnswer(req: SeenRequest, res: ServerResponse): void {
  const action = String(req.headers['x-acs-action']);
  switch (action) {
    case 'DescribeInstances': {
      const ids = JSON.parse(req.query['InstanceIds'] ?? '[]') as string[];
      return json(res, 200, { RequestId: 'r', Instances: { Instance: ids.filter((i) => i !== 'i-gone').map(instanceBody) } });
    }
    case 'DescribeNetworkInterfaces': {
      // Three ENIs served one per page to exercise NextToken.
      const pages: Record<string, [string, string]> = { '': ['eni-a', 'p2'], p2: ['eni-b', 'p3'], p3: ['eni-c', ''] };
      const page = pages[req.query['NextToken'] ?? '']!;
      return json(res, 200, { RequestId: 'r', NextToken: page[1], NetworkInterfaceSets: { NetworkInterfaceSet: [eniBody(page[0])] } });
    }
    case 'DescribeInstanceTypes':
      return json(res, 200, {
        RequestId: 'r',
        InstanceTypes: { InstanceType: [{ InstanceTypeId: req.query['InstanceTypes.1'], EniQuantity: 3 }] },
      });
    default:
      return json(res, 200, { RequestId: 'r' });
  }
}

beforeAll(async () => {
  server = await startWireServer((req, res) => {
    if (!script(req, res, server.requests.length)) defaultAnswer(req, res);
  });
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  script = () => false;
});

function port(extra: Partial<Parameters<typeof createEcsPort>[0]> = {}) {
  const clock = new FakeClock();
  const events: EcsCallEvent[] = [];
  const ecs = createEcsPort({
    regionId: 'cn-hangzhou',
    endpoint: server.endpoint,
    protocol: 'HTTP',
    credentials: sts,
    clock,
    retry: { maxAttempts: 4 },
    timeoutsMs: { read: 2_000, connect: 2_000 },
    onCall: (e) => events.push(e),
    ...extra,
  });
  return { ecs, clock, events };
}

describe('ECS port on the wire', () => {
  it('sends DescribeInstances as a V3-signed RPC call with the STS token and InstanceIds as a JSON string', async () => {
    // Act
    const instance = await port().ecs.describeInstance('i-1');
    // Assess
    expect(instance).toMatchObject({ instanceId: 'i-1', vpcId: 'vpc-1', eniIds: ['eni-of-i-1'] });
    const [req] = server.requests;
    expect(req).toBeDefined();
    expect(req!.method).toBe('POST');
    expect(req!.headers['x-acs-action']).toBe('DescribeInstances');
    expect(req!.headers['x-acs-version']).toBe('2014-05-26');
    expect(req!.headers['x-acs-security-token']).toBe('token-one');
    expect(req!.query).toMatchObject({ RegionId: 'cn-hangzhou', InstanceIds: '["i-1"]' });
    expect(verifyAcs3(req!, (id) => secrets[id]!)).toBe('STS.wire1');
  });

  it('asks a credentials getter before every request, so refreshed STS keys are used', async () => {
    let n = 0;
    const { ecs } = port({
      credentials: () =>
        ++n === 1 ? sts : { accessKeyId: 'STS.wire2', accessKeySecret: 'secret-two', securityToken: 'token-two' },
    });
    await ecs.attachEni({ eniId: 'eni-1', instanceId: 'i-1' });
    await ecs.detachEni({ eniId: 'eni-1', instanceId: 'i-1' });
    expect(server.requests.map((r) => verifyAcs3(r, (id) => secrets[id]!))).toEqual(['STS.wire1', 'STS.wire2']);
    expect(server.requests[1]!.headers['x-acs-security-token']).toBe('token-two');
  });

  it('sends the write calls with the parameters ECS expects', async () => {
    const { ecs } = port();
    await ecs.attachEni({ eniId: 'eni-1', instanceId: 'i-1' });
    await ecs.stopInstance({ instanceId: 'i-1', forceStop: true, stoppedMode: 'KeepCharging' });
    await ecs.startInstance('i-1');
    await ecs.rebootInstance({ instanceId: 'i-1', forceStop: false });
    const sent = server.requests.map((r) => [r.headers['x-acs-action'], r.query]);
    expect(sent).toEqual([
      ['AttachNetworkInterface', { RegionId: 'cn-hangzhou', NetworkInterfaceId: 'eni-1', InstanceId: 'i-1' }],
      ['StopInstance', { InstanceId: 'i-1', ForceStop: 'true', StoppedMode: 'KeepCharging' }],
      ['StartInstance', { InstanceId: 'i-1' }],
      ['RebootInstance', { InstanceId: 'i-1', ForceStop: 'false' }],
    ]);
  });

  it('follows NextToken across pages', async () => {
    const enis = await port().ecs.describeEnis({ instanceId: 'i-1', tags: { failover: 'web' } });
    expect(enis.map((e) => e.eniId)).toEqual(['eni-a', 'eni-b', 'eni-c']);
    expect(server.requests.map((r) => r.query['NextToken'])).toEqual([undefined, 'p2', 'p3']);
    expect(server.requests[0]!.query).toMatchObject({ InstanceId: 'i-1', 'Tag.1.Key': 'failover', 'Tag.1.Value': 'web' });
  });

  it('asks DescribeInstanceTypes once per type per port', async () => {
    const { ecs } = port();
    const [a, b] = await Promise.all([ecs.describeInstanceType('ecs.g7.large'), ecs.describeInstanceType('ecs.g7.large')]);
    await ecs.describeInstanceType('ecs.g7.large');
    expect(a).toEqual({ instanceTypeId: 'ecs.g7.large', eniQuantity: 3 });
    expect(b).toEqual(a);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.query).toEqual({ 'InstanceTypes.1': 'ecs.g7.large' });
    expect(ecs.stats()['cache.instanceTypes.hits']).toBe(2);
  });

  it('retries a burst of 503s, an empty body and a dropped socket, then succeeds', async () => {
    // Prepare: answers 1-2 are 503 ServiceUnavailable, 3 is a 502 with no body, 4 drops the socket,
    // 5 succeeds; five attempts are allowed.
    script = (_req, res, n) => {
      if (n <= 2) {
        json(res, 503, { RequestId: 'r', Code: 'ServiceUnavailable', Message: 'busy' });
        return true;
      }
      if (n === 3) {
        res.writeHead(502).end();
        return true;
      }
      if (n === 4) {
        res.socket?.destroy();
        return true;
      }
      return false;
    };
    const { ecs, clock, events } = port({ retry: { maxAttempts: 5 } });
    // Act
    const instance = await ecs.describeInstance('i-1');
    // Assess
    expect(instance?.instanceId).toBe('i-1');
    expect(events.map((e) => [e.attempt, e.ok, e.code])).toEqual([
      [1, false, 'ServiceUnavailable'],
      [2, false, 'ServiceUnavailable'],
      [3, false, 'SyntaxError'],
      [4, false, 'ECONNRESET'],
      [5, true, undefined],
    ]);
    expect(clock.sleeps).toHaveLength(4);
    expect(ecs.stats()).toMatchObject({ 'DescribeInstances.calls': 1, 'DescribeInstances.attempts': 5, 'DescribeInstances.retries': 4 });
  });

  it("waits at least the server's x-acs-retry-after after Throttling, then succeeds", async () => {
    script = (_req, res, n) => {
      if (n !== 1) return false;
      json(res, 400, { RequestId: 'r', Code: 'Throttling.User', Message: 'Request was denied due to user flow control.' }, {
        'x-acs-retry-after': '4000',
      });
      return true;
    };
    const { ecs, clock, events } = port();
    await ecs.detachEni({ eniId: 'eni-1', instanceId: 'i-1' });
    expect(events.map((e) => e.code)).toEqual(['Throttling.User', undefined]);
    expect(clock.sleeps).toHaveLength(1);
    expect(clock.sleeps[0]).toBeGreaterThanOrEqual(4_000);
  });

  it('does not retry a fatal answer and reports it as a CloudError', async () => {
    script = (_req, res) => {
      json(res, 403, { RequestId: 'r-9', Code: 'EniPerInstanceLimitExceeded', Message: 'too many' });
      return true;
    };
    const outcome = port().ecs.attachEni({ eniId: 'eni-1', instanceId: 'i-1' });
    await expect(outcome).rejects.toMatchObject({
      name: 'CloudError',
      kind: 'fatal',
      code: 'EniPerInstanceLimitExceeded',
      details: { statusCode: 403, requestId: 'r-9', api: 'AttachNetworkInterface' },
    });
    expect(server.requests).toHaveLength(1);
  });

  it('throws the last error when the next wait would pass the deadline', async () => {
    script = (_req, res) => {
      json(res, 503, { RequestId: 'r', Code: 'ServiceUnavailable', Message: 'busy' });
      return true;
    };
    const clock = new FakeClock(0);
    // Windows 1000, 2000, ...; random is real, so bound the test by the deadline, not by the waits.
    const { ecs } = port({ clock, retry: { maxAttempts: 50, baseDelayMs: 1_000 } });
    const bounded = ecs.withDeadline(3_000);
    await expect(bounded.startInstance('i-1')).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    expect(clock.now()).toBeLessThan(3_000);
    expect(server.requests.length).toBeGreaterThanOrEqual(1);
    expect(server.requests.length).toBeLessThan(50);
  });

  it('answers undefined for an instance the API does not list', async () => {
    expect(await port().ecs.describeInstance('i-gone')).toBeUndefined();
  });

  it('does not read a Cloud Assistant answer that omits the instance as "offline": it is notFound', async () => {
    script = (req, res) => {
      if (req.headers['x-acs-action'] !== 'DescribeCloudAssistantStatus') return false;
      json(res, 200, { RequestId: 'r', InstanceCloudAssistantStatusSet: { InstanceCloudAssistantStatus: [] } });
      return true;
    };
    await expect(port().ecs.cloudAssistantOnline('i-1')).rejects.toMatchObject({
      kind: 'notFound',
      code: 'InvalidInstance.NotFound',
      message: expect.stringContaining('i-1'),
    });
  });

  it('refuses a body missing a field the rules need', async () => {
    script = (_req, res) => {
      json(res, 200, { RequestId: 'r', Instances: { Instance: [{ ...instanceBody('i-1'), VpcAttributes: {} }] } });
      return true;
    };
    await expect(port().ecs.describeInstance('i-1')).rejects.toMatchObject({
      kind: 'fatal',
      code: 'MalformedResponse',
      message: expect.stringContaining('VpcAttributes.VpcId'),
    });
  });
});
