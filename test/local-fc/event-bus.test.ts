/**
 * The default event bus of the local FC runtime: eventbridge triggers with eventSourceType Default, their
 * event patterns, CloudEvents delivery (object or array), and the retry / dead-letter / drop / block
 * semantics they share with MNS-queue triggers. Events come in through `publishEvent`; the fixture
 * functions record what they were invoked with.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSYaml, matchesEventPattern, parseEventPattern, SYamlError, type EventBusTrigger } from '../../local/fc';
import { accountId, fixtureDir, recordedEvents, regionId, startTestCloud, type TestCloud } from './helpers';

const ecsEvent = (instanceId: string, state: string) => ({
  source: 'acs.ecs',
  type: 'ecs:Instance:StateChange',
  subject: `acs:ecs:${regionId}:${accountId}:instance/${instanceId}`,
  data: { product: 'ECS', name: 'Instance:StateChange', content: { resourceId: instanceId, resourceType: 'ALIYUN::ECS::Instance', state } },
});

describe('Default event bus (eventbridge triggers with eventSourceType Default)', () => {
  let cloud: TestCloud;
  let stderr: jest.SpyInstance;
  beforeAll(async () => {
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    cloud = await startTestCloud({ sYamlPath: join(fixtureDir, 'eventbus.yaml') });
  });
  afterAll(async () => {
    await cloud.close();
    stderr.mockRestore();
  });
  const eventsOf = (requestId: string) => recordedEvents(cloud).filter((e) => e.requestId === requestId).map((e) => JSON.parse(e.event));

  it('delivers a matching event to every matching enabled rule, as a CloudEvent with the bus attributes', async () => {
    // Prepare
    const event = ecsEvent('i-one', 'Running');
    // Act
    const deliveries = await cloud.fc.publishEvent(event);
    // Assess: the exact rule matches; the streaming rule wants Stopping/Stopped only; the disabled '{}' rule never runs.
    expect(deliveries).toEqual([{ functionName: 'bus-recorder', triggerName: 'ecs-state', eventId: expect.any(String), outcome: 'delivered', attempts: 1 }]);
    const [done] = await cloud.waitForInvocations((r) => r.trigger === 'ecs-state', 1);
    const [got] = eventsOf(done!.record.requestId);
    expect(got).toEqual({
      ...event,
      id: deliveries[0]!.eventId,
      specversion: '1.0',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      datacontenttype: 'application/json;charset=utf-8',
      aliyunaccountid: accountId,
      aliyunregionid: regionId,
      aliyunpublishtime: expect.stringMatching(/Z$/),
      aliyuneventbusname: 'default',
      aliyunoriginalaccountid: accountId,
    });
    expect(cloud.records.some((r) => r.trigger === 'switched-off')).toBe(false);
  });

  it('matches nothing for another source or type, and reports no delivery', async () => {
    expect(await cloud.fc.publishEvent({ ...ecsEvent('i-two', 'Stopped'), source: 'acs.oss' })).toEqual([]);
    expect(await cloud.fc.publishEvent({ ...ecsEvent('i-two', 'Stopped'), type: 'ecs:Disk:Stalled' })).toEqual([]);
  });

  it('event-streaming: a JSON array per invocation, up to CountBasedWindow events', async () => {
    // Act: three Stopped events published together match both ECS rules.
    const deliveries = (await Promise.all(['i-a', 'i-b', 'i-c'].map((id) => cloud.fc.publishEvent(ecsEvent(id, 'Stopped'))))).flat();
    // Assess
    expect(deliveries.filter((d) => d.triggerName === 'ecs-stream').map((d) => d.outcome)).toEqual(['delivered', 'delivered', 'delivered']);
    const [batch] = await cloud.waitForInvocations((r) => r.trigger === 'ecs-stream', 1);
    const got = eventsOf(batch!.record.requestId)[0];
    expect(Array.isArray(got)).toBe(true);
    expect(got.map((e: { data: { content: { resourceId: string } } }) => e.data.content.resourceId).sort()).toEqual(['i-a', 'i-b', 'i-c']);
    expect(batch!.record.messageIds).toHaveLength(3);
  });

  it('eventSchema RawData hands the function only data', async () => {
    const [d] = await cloud.fc.publishEvent({ source: 'test.raw', type: 'test:Raw', data: { hello: 'world' } });
    expect(d).toMatchObject({ triggerName: 'raw', outcome: 'delivered' });
    const [done] = await cloud.waitForInvocations((r) => r.trigger === 'raw', 1);
    expect(eventsOf(done!.record.requestId)).toEqual([{ hello: 'world' }]);
  });

  it('a failing function is retried per BACKOFF_RETRY (3 retries), then the event goes to the dead-letter queue', async () => {
    // Act
    const [d] = await cloud.fc.publishEvent({ source: 'test.fail', type: 'test:Fail', data: { n: 1 } });
    // Assess
    expect(d).toMatchObject({ triggerName: 'to-dead-letter', outcome: 'deadLettered', attempts: 4 });
    const attempts = cloud.records.filter((r) => r.trigger === 'to-dead-letter' && r.requestId !== undefined);
    expect(attempts.map((r) => [r.attempt, r.outcome])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
      [4, 'failed'],
    ]);
    const [dead] = await cloud.queues.receive('fc-dead', { waitSeconds: 1, max: 1 });
    expect(JSON.parse(dead!.body)).toMatchObject({ id: d!.eventId, source: 'test.fail', data: { n: 1 } });
  });

  it('without a dead-letter queue, errorsTolerance ALL drops the event loudly', async () => {
    const dropped: unknown[] = [];
    cloud.fc.events.on('dropped', (e) => dropped.push(e));
    const [d] = await cloud.fc.publishEvent({ source: 'test.drop', type: 'test:Drop', data: {} });
    expect(d).toMatchObject({ triggerName: 'dropping', outcome: 'dropped', attempts: 4 });
    expect(dropped).toEqual([expect.objectContaining({ triggerName: 'dropping', eventId: d!.eventId, reason: expect.stringMatching(/no deadLetterQueue/) })]);
  });

  it('errorsTolerance NONE blocks the rule: later events are not invoked at all', async () => {
    const first = await cloud.fc.publishEvent({ source: 'test.block', type: 'test:Block', data: {} });
    const second = await cloud.fc.publishEvent({ source: 'test.block', type: 'test:Block', data: {} });
    expect(first).toEqual([expect.objectContaining({ outcome: 'blocked', attempts: 4 })]);
    expect(second).toEqual([expect.objectContaining({ outcome: 'blocked', attempts: 0 })]);
    expect(cloud.records.filter((r) => r.trigger === 'blocking' && r.requestId !== undefined)).toHaveLength(4);
  });
});

describe('Event patterns (EventBridge "Event patterns")', () => {
  const event = { source: 'acs.ecs', type: 'ecs:Instance:StateChange', data: { content: { state: 'Stopped', cpu: 4 }, tags: ['a', 'b'] } };
  it.each([
    ['{}', true],
    ['{"source":["acs.ecs"]}', true],
    ['{"source":["acs.oss","acs.ecs"]}', true],
    ['{"source":["ACS.ECS"]}', false],
    ['{"source":[{"prefix":"acs."}],"type":[{"suffix":"StateChange"}]}', true],
    ['{"type":[{"contains":"Instance"}]}', true],
    ['{"data":{"content":{"state":[{"anything-but":["Running","Starting"]}]}}}', true],
    ['{"data":{"content":{"state":[{"anything-but":{"prefix":"Stop"}}]}}}', false],
    ['{"data":{"content":{"cpu":[{"numeric":[">",2,"<=",4]}]}}}', true],
    ['{"data":{"content":{"cpu":["4"]}}}', false],
    ['{"data":{"tags":["b"]}}', true],
    ['{"data":{"missing":[{"exists":false}]}}', true],
    ['{"data":{"content":[{"exists":true}]}}', true],
    ['{"data":{"content":{"state":["Stopped"]},"other":{"x":["y"]}}}', false],
  ])('%s matches: %s', (pattern, expected) => {
    expect(matchesEventPattern(parseEventPattern(pattern), event)).toBe(expected);
  });
});

describe('loadSYaml: default-bus triggers', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const withTrigger = (triggerConfig: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'local-fc-bus-'));
    dirs.push(dir);
    const file = join(dir, 's.yaml');
    writeFileSync(
      file,
      `edition: 3.0.0
name: t
resources:
  fn:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: fn
      runtime: nodejs20
      code: ${join(fixtureDir, 'recorder')}
      handler: index.handler
      triggers:
        - triggerName: bus
          triggerType: eventbridge
          triggerConfig:
${triggerConfig
  .trim()
  .split('\n')
  .map((l) => `            ${l}`)
  .join('\n')}
`,
    );
    return loadSYaml(file, {}, { checkExports: false });
  };

  it('reads the rule, its pattern and its delivery options', async () => {
    const model = await withTrigger(`
eventRuleFilterPattern: '{"source":["acs.ecs"]}'
eventSourceConfig:
  eventSourceType: Default
eventSinkConfig:
  deliveryOption: { mode: event-streaming, eventSchema: CloudEvents }
runOptions:
  retryStrategy: { PushRetryStrategy: EXPONENTIAL_DECAY_RETRY }
  batchWindow: { CountBasedWindow: 5, TimeBasedWindow: 1 }`);
    const t = model.functions[0]!.triggers[0] as EventBusTrigger;
    expect(t).toMatchObject({ triggerType: 'eventbus', patternText: '{"source":["acs.ecs"]}', mode: 'event-streaming', retryStrategy: 'EXPONENTIAL_DECAY_RETRY', batchCount: 5, batchWindowSeconds: 1 });
  });

  it.each([
    ['a pattern that is not JSON', `eventRuleFilterPattern: '{source'\neventSourceConfig: { eventSourceType: Default }`, /eventRuleFilterPattern: is not JSON/],
    ['a leaf that is not a list', `eventRuleFilterPattern: '{"source":"acs.ecs"}'\neventSourceConfig: { eventSourceType: Default }`, /eventRuleFilterPattern: source: must be a list/],
    ['an empty list', `eventRuleFilterPattern: '{"type":[]}'\neventSourceConfig: { eventSourceType: Default }`, /type: an empty list matches nothing/],
    ['a cidr matcher', `eventRuleFilterPattern: '{"ip":[{"cidr":"10.0.0.0/8"}]}'\neventSourceConfig: { eventSourceType: Default }`, /ip\[0\]\.cidr: is not supported by the local runtime/],
    ['no pattern', `eventSourceConfig: { eventSourceType: Default }`, /eventRuleFilterPattern: is required for the default event bus/],
    ['another event source', `eventRuleFilterPattern: '{}'\neventSourceConfig: { eventSourceType: RocketMQ }`, /"RocketMQ" is not supported by the local runtime \(MNS queues, or Default/],
  ])('refuses %s, naming the field', async (_name, config, message) => {
    const err = await withTrigger(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SYamlError);
    expect((err as SYamlError).at).toMatch(/^resources\.fn\.props\.triggers\[0\]\.triggerConfig\./);
    expect((err as Error).message).toMatch(message);
  });
});
