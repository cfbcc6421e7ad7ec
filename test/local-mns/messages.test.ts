import { createHash } from 'node:crypto';
import { ACCOUNT_ID, b64, type MnsFixture, rejectionOf, startMnsFixture, statusOf } from './helpers';

describe('Local MNS: messages through the real @alicloud/mns client', () => {
  let f: MnsFixture;

  beforeAll(async () => {
    f = await startMnsFixture();
  });
  afterAll(async () => {
    await f.mns.close();
  });

  let n = 0;
  const newQueue = async (attributes: Record<string, unknown> = {}): Promise<string> => {
    n += 1;
    const name = `messages-${n}`;
    await f.client.createQueue(name, attributes as Record<string, number>);
    return name;
  };

  it('answers a send with the message id and the uppercase hex MD5 of the body', async () => {
    // Prepare
    const q = await newQueue();
    const body = b64('{"hello":"world"}');
    // Act
    const sent = await f.client.sendMessage(q, { MessageBody: body });
    // Assess
    expect(sent.code).toBe(201);
    expect(sent.body?.MessageBodyMD5).toBe(createHash('md5').update(body).digest('hex').toUpperCase());
    expect(f.mns.queues.peekBodies(q)).toEqual([body]);
  });

  it('redelivers a message after its visibility timeout with DequeueCount + 1 and a new receipt handle', async () => {
    // Prepare
    const q = await newQueue({ VisibilityTimeout: 30 });
    await f.client.sendMessage(q, { MessageBody: b64('job') });
    const first = await f.client.receiveMessage(q);
    // Act: still invisible just before the timeout, visible after it
    f.clock.advance(29_000);
    const early = await rejectionOf(f.client.receiveMessage(q));
    f.clock.advance(1_001);
    const second = await f.client.receiveMessage(q);
    // Assess
    expect(early.name).toBe('MNSMessageNotExistError');
    expect(statusOf(early)).toBe(404);
    expect(first.body?.DequeueCount).toBe('1');
    expect(second.body?.DequeueCount).toBe('2');
    expect(second.body?.MessageId).toBe(first.body?.MessageId);
    expect(second.body?.ReceiptHandle).not.toBe(first.body?.ReceiptHandle);
    expect(second.body?.FirstDequeueTime).toBe(first.body?.FirstDequeueTime);
    expect(Number(second.body?.NextVisibleTime)).toBe(f.clock.now() + 30_000);
  });

  it('rejects a stale receipt handle with MessageNotExist and a malformed one with ReceiptHandleError', async () => {
    // Prepare
    const q = await newQueue({ VisibilityTimeout: 10 });
    await f.client.sendMessage(q, { MessageBody: b64('x') });
    const stale = (await f.client.receiveMessage(q)).body?.ReceiptHandle as string;
    f.clock.advance(10_001);
    const current = (await f.client.receiveMessage(q)).body?.ReceiptHandle as string;
    // Act
    const staleErr = await rejectionOf(f.client.deleteMessage(q, stale));
    const badErr = await rejectionOf(f.client.deleteMessage(q, 'not-a-handle'));
    const deleted = await f.client.deleteMessage(q, current);
    // Assess
    expect(staleErr.name).toBe('MNSMessageNotExistError');
    expect(statusOf(staleErr)).toBe(404);
    expect(badErr.name).toBe('MNSReceiptHandleErrorError');
    expect(statusOf(badErr)).toBe(400);
    expect(deleted.code).toBe(204);
    expect(f.mns.queues.counts(q)?.total).toBe(0);
  });

  it('keeps a receipt handle containing + or / intact on the wire (the SDK does not URL-encode it)', async () => {
    // Prepare: receive until a handle carries a '+' or '/' (base64), at most a few tries
    const q = await newQueue();
    let handle = '';
    for (let i = 0; i < 40 && !/[+/]/.test(handle); i += 1) {
      await f.client.sendMessage(q, { MessageBody: b64(`m${i}`) });
      handle = (await f.client.receiveMessage(q)).body?.ReceiptHandle as string;
      if (!/[+/]/.test(handle)) await f.client.deleteMessage(q, handle);
    }
    expect(handle).toMatch(/[+/]/);
    // Act
    const res = await f.client.deleteMessage(q, handle);
    // Assess
    expect(res.code).toBe(204);
  });

  it('changes visibility: returns a new handle and NextVisibleTime, and the old handle stops working', async () => {
    // Prepare
    const q = await newQueue({ VisibilityTimeout: 30 });
    await f.client.sendMessage(q, { MessageBody: b64('x') });
    const old = (await f.client.receiveMessage(q)).body?.ReceiptHandle as string;
    // Act
    const changed = await f.client.changeMessageVisibility(q, old, 120);
    f.clock.advance(60_000);
    const stillHidden = await rejectionOf(f.client.receiveMessage(q));
    const oldErr = await rejectionOf(f.client.deleteMessage(q, old));
    const outOfRange = await rejectionOf(f.client.changeMessageVisibility(q, changed.body?.ReceiptHandle as string, 43201));
    // Assess
    expect(changed.code).toBe(200);
    expect(Number(changed.body?.NextVisibleTime)).toBe(f.clock.now() - 60_000 + 120_000);
    expect(stillHidden.name).toBe('MNSMessageNotExistError');
    expect(oldErr.name).toBe('MNSMessageNotExistError');
    expect(outOfRange.name).toBe('MNSInvalidArgumentError');
    expect((await f.client.deleteMessage(q, changed.body?.ReceiptHandle as string)).code).toBe(204);
  });

  it('holds a delayed message back until DelaySeconds have passed (message level over queue level)', async () => {
    // Prepare
    const q = await newQueue({ DelaySeconds: 300 });
    await f.client.sendMessage(q, { MessageBody: b64('later'), DelaySeconds: 10 });
    await f.client.sendMessage(q, { MessageBody: b64('queue-default') });
    // Act
    const before = await rejectionOf(f.client.receiveMessage(q));
    const attrs = await f.client.getQueueAttributes(q);
    f.clock.advance(10_000);
    const after = await f.client.receiveMessage(q);
    // Assess
    expect(before.name).toBe('MNSMessageNotExistError');
    expect(attrs.body?.DelayMessages).toBe('2');
    expect(Buffer.from(after.body?.MessageBody as string, 'base64').toString()).toBe('later');
    expect(f.mns.queues.counts(q)).toEqual({ active: 0, inactive: 1, delayed: 1, total: 2 });
  });

  it('moves a message to the dead-letter queue after it was received MaxReceiveCount times', async () => {
    // Prepare
    const dlq = await newQueue();
    const q = await newQueue({ VisibilityTimeout: 5, DlqPolicy: { Enabled: true, DeadLetterTargetQueue: dlq, MaxReceiveCount: 2 } });
    const sent = await f.client.sendMessage(q, { MessageBody: b64('poison') });
    // Act: two deliveries that never delete, then a third attempt
    const r1 = await f.client.receiveMessage(q);
    f.clock.advance(5_000);
    const r2 = await f.client.receiveMessage(q);
    f.clock.advance(5_000);
    const third = await rejectionOf(f.client.receiveMessage(q));
    const dead = await f.client.receiveMessage(dlq);
    // Assess
    expect([r1.body?.DequeueCount, r2.body?.DequeueCount]).toEqual(['1', '2']);
    expect(third.name).toBe('MNSMessageNotExistError');
    expect(dead.body?.MessageId).toBe(sent.body?.MessageId);
    expect(Buffer.from(dead.body?.MessageBody as string, 'base64').toString()).toBe('poison');
    expect(dead.body?.DequeueCount).toBe('1');
    expect(f.mns.queues.counts(q)?.total).toBe(0);
  });

  it('refuses a batch of 17 messages and a batch receive of 17 with InvalidArgument', async () => {
    // Prepare
    const q = await newQueue();
    const seventeen = Array.from({ length: 17 }, (_, i) => ({ MessageBody: b64(`m${i}`) }));
    // Act
    const sendErr = await rejectionOf(f.client.batchSendMessage(q, seventeen));
    const receiveErr = await rejectionOf(f.client.batchReceiveMessage(q, 17));
    const sixteen = await f.client.batchSendMessage(q, seventeen.slice(0, 16));
    const got = await f.client.batchReceiveMessage(q, 16);
    // Assess
    expect(sendErr.name).toBe('MNSInvalidArgumentError');
    expect(statusOf(sendErr)).toBe(400);
    expect(receiveErr.name).toBe('MNSInvalidArgumentError');
    expect(sixteen.code).toBe(201);
    expect(sixteen.body).toHaveLength(16);
    expect(got.body).toHaveLength(16);
  });

  it('reports a batch with one bad entry as a 500 with a result per entry (the SDK resolves it)', async () => {
    // Prepare
    const q = await newQueue();
    // Act
    const res = await f.client.batchSendMessage(q, [{ MessageBody: b64('ok') }, { MessageBody: b64('bad'), DelaySeconds: 604801 }]);
    // Assess
    expect(res.code).toBe(500);
    expect(res.body?.[0]?.MessageId).toBeDefined();
    expect(res.body?.[1]?.ErrorCode).toBe('InvalidArgument');
    expect(f.mns.queues.counts(q)?.total).toBe(1);
  });

  it('deletes a batch by receipt handles and reports the handles that failed', async () => {
    // Prepare
    const q = await newQueue();
    await f.client.batchSendMessage(q, [{ MessageBody: b64('a') }, { MessageBody: b64('b') }]);
    const got = await f.client.batchReceiveMessage(q, 2);
    const handles = (got.body ?? []).map((m) => m.ReceiptHandle as string);
    // Act
    const partial = await f.client.batchDeleteMessage(q, [handles[0] as string, '1-bm9wZQ==']);
    const rest = await f.client.batchDeleteMessage(q, [handles[1] as string]);
    // Assess
    expect(partial.code).toBe(404);
    expect(partial.body).toEqual([expect.objectContaining({ ErrorCode: 'ReceiptHandleError', ReceiptHandle: '1-bm9wZQ==' })]);
    expect(rest.code).toBe(204);
    expect(f.mns.queues.counts(q)?.total).toBe(0);
  });

  it('refuses a body over MaximumMessageSize with InvalidArgument and accepts exactly the limit', async () => {
    // Prepare
    const big = await newQueue();
    const small = await newQueue({ MaximumMessageSize: 1024 });
    // Act
    const over = await rejectionOf(f.client.sendMessage(big, { MessageBody: 'a'.repeat(65_537) }));
    const atLimit = await f.client.sendMessage(big, { MessageBody: 'a'.repeat(65_536) });
    const overSmall = await rejectionOf(f.client.sendMessage(small, { MessageBody: 'a'.repeat(1025) }));
    // Assess
    expect(over.name).toBe('MNSInvalidArgumentError');
    expect(statusOf(over)).toBe(400);
    expect(atLimit.code).toBe(201);
    expect(overSmall.name).toBe('MNSInvalidArgumentError');
  });

  it('answers MalformedXML when a raw body breaks the XML (the SDK does not escape it)', async () => {
    // Prepare
    const q = await newQueue();
    // Act
    const err = await rejectionOf(f.client.sendMessage(q, { MessageBody: 'a < b & c' }));
    // Assess
    expect(err.name).toBe('MNSMalformedXMLError');
    expect(f.mns.queues.counts(q)?.total).toBe(0);
  });

  it('peeks without taking a message in flight', async () => {
    // Prepare
    const q = await newQueue();
    await f.client.sendMessage(q, { MessageBody: b64('p') });
    // Act
    const peeked = await f.client.peekMessage(q);
    const batch = await f.client.batchPeekMessage(q, 5);
    // Assess
    expect(peeked.body?.ReceiptHandle).toBeUndefined();
    expect(batch.body).toHaveLength(1);
    expect(f.mns.queues.counts(q)).toMatchObject({ active: 1, inactive: 0 });
  });

  it('drops messages older than MessageRetentionPeriod', async () => {
    // Prepare
    const q = await newQueue({ MessageRetentionPeriod: 60 });
    await f.client.sendMessage(q, { MessageBody: b64('old') });
    // Act
    f.clock.advance(60_000);
    const err = await rejectionOf(f.client.receiveMessage(q));
    // Assess
    expect(err.name).toBe('MNSMessageNotExistError');
    expect(f.mns.queues.counts(q)?.total).toBe(0);
  });

  it('answers QueueNotExist (404) for a message call on a missing queue', async () => {
    // Act
    const err = await rejectionOf(f.client.sendMessage('no-such-queue', { MessageBody: b64('x') }));
    // Assess
    expect(err.name).toBe('MNSQueueNotExistError');
    expect(statusOf(err)).toBe(404);
    expect(err.message).toContain(`hostid: http://${ACCOUNT_ID}.mns.cn-hangzhou.aliyuncs.com`);
  });
});
