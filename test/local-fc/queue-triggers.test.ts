/**
 * EventBridge MNS-queue triggers against the local MNS: producers send with the real @alicloud/mns client
 * (through cloud/mns.ts), the fixture functions record what they were invoked with.
 */
import { accountId, recordedEvents, regionId, startTestCloud, type TestCloud } from './helpers';

let cloud: TestCloud;
beforeAll(async () => {
  cloud = await startTestCloud();
});
afterAll(() => cloud.close());

/** Polls until `check` passes (or throws its last failure after the timeout). */
async function eventually(check: () => void, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('Trigger: eventbridge (MNS queue)', () => {
  it('event-driven CloudEvents: one event per invocation with every field EventBridge sets, body decoded', async () => {
    // Prepare
    const body = '{"operationId":"op-1","note":"<xml> & ünïcode"}';
    // Act
    const { messageId } = await cloud.queues.send('fc-events', body);
    const [done] = await cloud.waitForInvocations((r) => r.trigger === 'events', 1);
    // Assess
    const recorded = recordedEvents(cloud).find((e) => e.requestId === done!.record.requestId)!;
    expect(recorded.isBuffer).toBe(true);
    const event = JSON.parse(recorded.event) as Record<string, unknown>;
    expect(Array.isArray(event)).toBe(false);
    expect(event).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      source: 'MNS-recorder-events',
      specversion: '1.0',
      type: 'mns:Queue:SendMessage',
      subject: `acs:mns:${regionId}:${accountId}:queues/fc-events`,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      datacontenttype: 'application/json; charset=utf-8',
      aliyunaccountid: accountId,
      aliyunregionid: regionId,
      aliyunpublishtime: expect.stringMatching(/Z$/),
      aliyuneventbusname: 'MNS-recorder-events',
      data: { requestId: expect.any(String), messageId, messageBody: body },
    });
    expect(done!.record).toMatchObject({ outcome: 'succeeded', attempt: 1, messageIds: [messageId] });
    // Deleted after the successful invocation.
    await eventually(() => expect(cloud.mns.queues.counts('fc-events')?.total).toBe(0));
  });

  it('event-streaming: a JSON array per invocation, batched up to CountBasedWindow', async () => {
    // Prepare
    const bodies = ['s1', 's2', 's3', 's4', 's5'];
    // Act
    await cloud.queues.sendBatch('fc-stream', bodies);
    await eventually(() => {
      const n = recordedStreamEvents().flat().length;
      expect(n).toBe(5);
    });
    // Assess
    const batches = recordedStreamEvents();
    expect(batches.every((b) => Array.isArray(b) && b.length >= 1 && b.length <= 3)).toBe(true);
    expect(batches.some((b) => b.length === 3)).toBe(true);
    expect(batches.flat().map((e) => e.data.messageBody).sort()).toEqual(bodies);
    expect(batches.flat().every((e) => e.subject === `acs:mns:${regionId}:${accountId}:queues/fc-stream`)).toBe(true);
    await eventually(() => expect(cloud.mns.queues.counts('fc-stream')?.total).toBe(0));
  });

  it('RawData with IsBase64Decode false: only `data`, and messageBody is the body as it travelled', async () => {
    // Act
    const { messageId } = await cloud.queues.send('fc-raw', 'plain text');
    const [done] = await cloud.waitForInvocations((r) => r.trigger === 'raw', 1);
    // Assess
    const recorded = recordedEvents(cloud).find((e) => e.requestId === done!.record.requestId)!;
    expect(JSON.parse(recorded.event)).toEqual({
      requestId: expect.any(String),
      messageId,
      messageBody: Buffer.from('plain text').toString('base64'),
    });
  });

  it('retries a failing function per BACKOFF_RETRY (1 + 3 attempts), then dead-letters the original body', async () => {
    // Prepare
    const deadLettered = new Promise<{ messageId: string; deadLetterQueue: string }>((resolve) => cloud.fc.events.once('deadLettered', resolve));
    // Act
    const { messageId } = await cloud.queues.send('fc-failing', '{"doomed":true}');
    const dl = await deadLettered;
    // Assess
    const attempts = await cloud.waitForInvocations((r) => r.trigger === 'failing' && r.messageIds?.includes(messageId) === true, 4);
    expect(attempts.map((a) => a.record.attempt)).toEqual([1, 2, 3, 4]);
    // 10-20 s apart in EventBridge, scaled by timeScale 0.001 here.
    const times = attempts.map((a) => Date.parse(a.record.time));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(9);
    expect(attempts.every((a) => a.record.outcome === 'failed' && a.record.error === 'TypeError: failer always fails')).toBe(true);
    expect(dl).toMatchObject({ messageId, deadLetterQueue: 'fc-dead' });
    await eventually(() => expect(cloud.mns.queues.counts('fc-failing')?.total).toBe(0));
    // The DLQ holds the body exactly as it was on the source queue (base64 of the UTF-8 text).
    expect(cloud.mns.queues.peekBodies('fc-dead')).toEqual([Buffer.from('{"doomed":true}').toString('base64')]);
    expect(cloud.functionLogs.filter((l) => l.includes('[WARN] ATTEMPT'))).toHaveLength(4);
    // And it is not delivered again afterwards.
    await new Promise((r) => setTimeout(r, 150));
    expect(cloud.records.filter((r) => r.trigger === 'failing' && r.outcome !== undefined)).toHaveLength(4);
    expect(cloud.records.filter((r) => (r as { kind?: string }).kind === 'deadLettered')).toHaveLength(1);
  });
});

function recordedStreamEvents(): Array<Array<{ subject: string; data: { messageBody: string } }>> {
  return recordedEvents(cloud)
    .map((e) => JSON.parse(e.event) as unknown)
    .filter((e): e is Array<{ subject: string; data: { messageBody: string } }> => Array.isArray(e) && (e[0] as { source?: string })?.source === 'MNS-recorder-stream');
}
