/**
 * Control hooks for fault campaigns (issue 15), through the real @alicloud/mns client: answers lost after
 * the server acted, scoped and seeded faults, 5xx with MNS's error body, the message time scale,
 * redelivery now and late duplicates.
 */
import { MnsOperation } from '../../local/mns';
import { b64, type MnsFixture, rejectionOf, startMnsFixture, statusOf } from './helpers';

/** What the SDK throws when the server closes the socket without a status line. */
const NETWORK_ERROR = /socket hang up|ECONNRESET/;

describe('Local MNS control: fault rules', () => {
  let f: MnsFixture;
  beforeAll(async () => {
    f = await startMnsFixture();
  });
  afterEach(() => f.mns.control.clearFaults());
  afterAll(async () => {
    await f.mns.close();
  });

  let n = 0;
  const newQueue = async (attributes: Record<string, unknown> = {}): Promise<string> => {
    n += 1;
    const name = `control-${n}`;
    await f.client.createQueue(name, attributes as Record<string, number>);
    return name;
  };

  it('answerLost on SendMessage: the client sees a network error, the message is in the queue', async () => {
    // Prepare
    const q = await newQueue();
    f.mns.control.addFault({ effect: { kind: 'answerLost' }, operation: MnsOperation.SendMessage, count: 1 });
    // Act
    const err = await rejectionOf(f.client.sendMessage(q, { MessageBody: b64('sent-once') }));
    // Assess
    expect(err.name).not.toMatch(/^MNS/);
    expect(`${err.message} ${(err as { code?: string }).code ?? ''}`).toMatch(NETWORK_ERROR);
    expect(f.mns.queues.peekBodies(q)).toEqual([b64('sent-once')]);
  });

  it('answerLost on BatchSendMessage: every entry went in although the client got no answer', async () => {
    // Prepare
    const q = await newQueue();
    f.mns.control.addFault({ effect: { kind: 'answerLost' }, operation: MnsOperation.BatchSendMessage, queue: q, count: 1 });
    // Act
    const err = await rejectionOf(f.client.batchSendMessage(q, [{ MessageBody: b64('a') }, { MessageBody: b64('b') }]));
    // Assess
    expect(err.message).toMatch(NETWORK_ERROR);
    expect(f.mns.queues.peekBodies(q)).toEqual([b64('a'), b64('b')]);
  });

  it('answerLost on ReceiveMessage: the message went in flight (DequeueCount 1) and comes back with DequeueCount 2', async () => {
    // Prepare
    const q = await newQueue({ VisibilityTimeout: 30 });
    const sent = await f.client.sendMessage(q, { MessageBody: b64('job') });
    f.mns.control.addFault({ effect: { kind: 'answerLost' }, operation: MnsOperation.ReceiveMessage, queue: q, count: 1 });
    // Act
    const err = await rejectionOf(f.client.receiveMessage(q));
    const hidden = await rejectionOf(f.client.receiveMessage(q));
    const inFlight = f.mns.control.inFlight(q);
    f.clock.advance(30_000);
    const again = await f.client.receiveMessage(q);
    // Assess
    expect(err.message).toMatch(NETWORK_ERROR);
    expect(hidden.name).toBe('MNSMessageNotExistError');
    expect(inFlight).toEqual([expect.objectContaining({ messageId: sent.body?.MessageId, dequeueCount: 1, state: 'inactive' })]);
    expect(again.body?.MessageId).toBe(sent.body?.MessageId);
    expect(again.body?.DequeueCount).toBe('2');
  });

  it('answerLost on DeleteMessage: the message is gone, and the retried delete is refused with MessageNotExist', async () => {
    // Prepare
    const q = await newQueue();
    await f.client.sendMessage(q, { MessageBody: b64('x') });
    const handle = (await f.client.receiveMessage(q)).body?.ReceiptHandle as string;
    f.mns.control.addFault({ effect: { kind: 'answerLost' }, operation: MnsOperation.DeleteMessage, count: 1 });
    // Act
    const lost = await rejectionOf(f.client.deleteMessage(q, handle));
    const retried = await rejectionOf(f.client.deleteMessage(q, handle));
    // Assess
    expect(lost.message).toMatch(NETWORK_ERROR);
    expect(f.mns.queues.counts(q)?.total).toBe(0);
    expect(retried.name).toBe('MNSMessageNotExistError');
    expect(statusOf(retried)).toBe(404);
  });

  it('answerLost does not fire on an error answer (an empty receive), so its count is kept for a real one', async () => {
    // Prepare
    const q = await newQueue();
    const rule = f.mns.control.addFault({ effect: { kind: 'answerLost' }, operation: MnsOperation.ReceiveMessage, queue: q, count: 1 });
    // Act
    const empty = await rejectionOf(f.client.receiveMessage(q));
    await f.client.sendMessage(q, { MessageBody: b64('now') });
    const lost = await rejectionOf(f.client.receiveMessage(q));
    // Assess
    expect(empty.name).toBe('MNSMessageNotExistError');
    expect(lost.message).toMatch(NETWORK_ERROR);
    expect(rule.fired).toBe(1);
    expect(rule.active).toBe(false);
  });

  it('scopes a rule to its operation and queue: other queues and operations are served', async () => {
    // Prepare
    const target = await newQueue();
    const other = await newQueue();
    f.mns.control.addFault({ effect: { kind: 'connectionReset' }, operation: [MnsOperation.SendMessage], queue: target });
    // Act
    const refused = await rejectionOf(f.client.sendMessage(target, { MessageBody: b64('t') }));
    const otherQueue = await f.client.sendMessage(other, { MessageBody: b64('o') });
    const attributes = await f.client.getQueueAttributes(target);
    // Assess
    expect(refused.message).toMatch(NETWORK_ERROR);
    expect(f.mns.queues.counts(target)?.total).toBe(0); // reset before acting: nothing applied
    expect(otherQueue.code).toBe(201);
    expect(attributes.code).toBe(200);
  });

  it('fires a counted rule exactly count times, and an uncounted one until cleared', async () => {
    // Prepare
    const q = await newQueue();
    const counted = f.mns.control.addFault({ effect: { kind: 'connectionReset' }, operation: MnsOperation.GetQueueAttributes, queue: q, count: 2 });
    // Act
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i += 1) outcomes.push(await f.client.getQueueAttributes(q).then(() => 'ok', () => 'fault'));
    const forever = f.mns.control.addFault({ effect: { kind: 'connectionReset' }, operation: MnsOperation.GetQueueAttributes, queue: q });
    for (let i = 0; i < 3; i += 1) outcomes.push(await f.client.getQueueAttributes(q).then(() => 'ok', () => 'fault'));
    forever.clear();
    outcomes.push(await f.client.getQueueAttributes(q).then(() => 'ok', () => 'fault'));
    // Assess
    expect(outcomes).toEqual(['fault', 'fault', 'ok', 'fault', 'fault', 'fault', 'ok']);
    expect({ fired: counted.fired, remaining: counted.remaining, active: counted.active }).toEqual({ fired: 2, remaining: 0, active: false });
    expect(forever.fired).toBe(3);
  });

  it('draws probabilistic faults from a seeded RNG: the same seed loses the same answers, and every send was applied', async () => {
    // Prepare
    const run = async (seed: number): Promise<{ pattern: string; stored: number }> => {
      const q = await newQueue();
      const rule = f.mns.control.addFault({ effect: { kind: 'answerLost' }, operation: MnsOperation.SendMessage, queue: q, probability: 0.5, seed });
      let pattern = '';
      for (let i = 0; i < 16; i += 1) pattern += await f.client.sendMessage(q, { MessageBody: b64(`m${i}`) }).then(() => '.', () => 'x');
      rule.clear();
      return { pattern, stored: f.mns.queues.counts(q)?.total ?? -1 };
    };
    const firedBefore = f.mns.control.firedFaults().length;
    // Act
    const first = await run(42);
    const second = await run(42);
    const other = await run(7);
    // Assess
    expect(second.pattern).toBe(first.pattern);
    expect(first.pattern).toMatch(/x/);
    expect(first.pattern).toMatch(/\./);
    expect(other.pattern).not.toBe(first.pattern);
    expect([first.stored, second.stored, other.stored]).toEqual([16, 16, 16]);
    expect(f.mns.control.firedFaults().length - firedBefore).toBe(
      [first, second, other].reduce((sum, r) => sum + r.pattern.split('x').length - 1, 0),
    );
  });

  it('answers a 5xx fault with MNS error XML (InternalError 500, ServiceUnavailable 503), not applied by default', async () => {
    // Prepare
    const q = await newQueue();
    f.mns.control.addFault({ effect: { kind: 'serverError' }, operation: MnsOperation.SendMessage, queue: q, count: 1 });
    f.mns.control.addFault({ effect: { kind: 'serverError', code: 'ServiceUnavailable' }, operation: MnsOperation.SendMessage, queue: q, count: 1 });
    // Act
    const internal = await rejectionOf(f.client.sendMessage(q, { MessageBody: b64('a') }));
    const unavailable = await rejectionOf(f.client.sendMessage(q, { MessageBody: b64('b') }));
    // Assess
    expect(internal.name).toBe('MNSInternalErrorError');
    expect(statusOf(internal)).toBe(500);
    expect(internal.message).toMatch(/requestid: [0-9A-F]{24}, hostid: http:\/\/\d+\.mns\.cn-hangzhou\.aliyuncs\.com, message: Interal error\.$/);
    expect(unavailable.name).toBe('MNSServiceUnavailableError');
    expect(statusOf(unavailable)).toBe(503);
    expect(unavailable.message).toMatch(/message: The request has failed due to a temporary failure of the server\.$/);
    expect(f.mns.queues.counts(q)?.total).toBe(0);
  });

  it('answers a 5xx after applying the request when the fault says applied: true', async () => {
    // Prepare
    const q = await newQueue();
    await f.client.sendMessage(q, { MessageBody: b64('x') });
    const handle = (await f.client.receiveMessage(q)).body?.ReceiptHandle as string;
    f.mns.control.addFault({ effect: { kind: 'serverError', code: 'InternalServerError', applied: true }, operation: MnsOperation.DeleteMessage, count: 1 });
    // Act
    const err = await rejectionOf(f.client.deleteMessage(q, handle));
    // Assess
    expect(err.name).toBe('MNSInternalServerErrorError');
    expect(statusOf(err)).toBe(500);
    expect(f.mns.queues.counts(q)?.total).toBe(0);
  });
});

describe('Local MNS control: redelivery and late duplicates', () => {
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
    const name = `redeliver-${n}`;
    await f.client.createQueue(name, attributes as Record<string, number>);
    return name;
  };

  it('redeliverNow makes the chosen in-flight message visible: DequeueCount 2, the old handle refused with MessageNotExist', async () => {
    // Prepare
    const q = await newQueue({ VisibilityTimeout: 120 });
    await f.client.sendMessage(q, { MessageBody: b64('first') });
    await f.client.sendMessage(q, { MessageBody: b64('second') });
    const a = (await f.client.receiveMessage(q)).body!;
    const b = (await f.client.receiveMessage(q)).body!;
    // Act
    const redelivered = f.mns.control.redeliverNow(q, { messageId: a.MessageId as string });
    const stale = await rejectionOf(f.client.deleteMessage(q, a.ReceiptHandle as string));
    const again = (await f.client.receiveMessage(q)).body!;
    const nothingElse = await rejectionOf(f.client.receiveMessage(q));
    // Assess
    expect(redelivered).toEqual([expect.objectContaining({ messageId: a.MessageId, dequeueCount: 1, state: 'active' })]);
    expect(stale.name).toBe('MNSMessageNotExistError');
    expect(statusOf(stale)).toBe(404);
    expect(again.MessageId).toBe(a.MessageId);
    expect(again.DequeueCount).toBe('2');
    expect(again.ReceiptHandle).not.toBe(a.ReceiptHandle);
    expect(nothingElse.name).toBe('MNSMessageNotExistError'); // b is still in flight
    expect((await f.client.deleteMessage(q, b.ReceiptHandle as string)).code).toBe(204);
    expect((await f.client.deleteMessage(q, again.ReceiptHandle as string)).code).toBe(204);
  });

  it('lists in-flight messages with their DequeueCount and current handle, and picks by predicate', async () => {
    // Prepare
    const q = await newQueue({ VisibilityTimeout: 60 });
    await f.client.batchSendMessage(q, [{ MessageBody: b64('keep') }, { MessageBody: b64('redo') }, { MessageBody: b64('idle') }]);
    const got = await f.client.batchReceiveMessage(q, 2);
    // Act
    const listed = f.mns.control.inFlight(q);
    const picked = f.mns.control.redeliverNow(q, (m) => Buffer.from(m.body, 'base64').toString() === 'redo');
    const after = f.mns.control.inFlight(q);
    // Assess
    expect(listed.map((m) => [Buffer.from(m.body, 'base64').toString(), m.dequeueCount])).toEqual([['keep', 1], ['redo', 1]]);
    expect(listed.map((m) => m.receiptHandle).sort()).toEqual((got.body ?? []).map((m) => m.ReceiptHandle).sort());
    expect(picked.map((m) => Buffer.from(m.body, 'base64').toString())).toEqual(['redo']);
    expect(after.map((m) => Buffer.from(m.body, 'base64').toString())).toEqual(['keep']);
  });

  it('redeliverNow wakes a long poll at once', async () => {
    // Prepare
    const q = await newQueue({ VisibilityTimeout: 600 });
    await f.client.sendMessage(q, { MessageBody: b64('lost-delete') });
    await f.client.receiveMessage(q);
    const started = Date.now();
    const polling = f.client.receiveMessage(q, 10);
    await new Promise((r) => setTimeout(r, 100));
    // Act
    f.mns.control.redeliverNow(q);
    const got = await polling;
    // Assess
    expect(got.body?.DequeueCount).toBe('2');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('resendDeleted puts a late duplicate of a deleted message back: same MessageId and body, DequeueCount 2', async () => {
    // Prepare
    const q = await newQueue();
    const sent = await f.client.sendMessage(q, { MessageBody: b64('handled') });
    const first = (await f.client.receiveMessage(q)).body!;
    await f.client.deleteMessage(q, first.ReceiptHandle as string);
    // Act
    const copies = f.mns.control.resendDeleted(q, { messageId: sent.body?.MessageId as string });
    const duplicate = (await f.client.receiveMessage(q)).body!;
    const deleted = await f.client.deleteMessage(q, duplicate.ReceiptHandle as string);
    // Assess
    expect(copies).toHaveLength(1);
    expect(duplicate.MessageId).toBe(sent.body?.MessageId);
    expect(duplicate.MessageBody).toBe(b64('handled'));
    expect(duplicate.EnqueueTime).toBe(first.EnqueueTime);
    expect(duplicate.DequeueCount).toBe('2');
    expect(deleted.code).toBe(204);
    expect(f.mns.control.deletedMessages(q).map((m) => m.messageId)).toEqual([sent.body?.MessageId, sent.body?.MessageId]);
  });

  it('resendDeleted by predicate, delayed: the duplicate stays hidden for DelaySeconds', async () => {
    // Prepare
    const q = await newQueue();
    await f.client.batchSendMessage(q, [{ MessageBody: b64('one') }, { MessageBody: b64('two') }]);
    for (const m of (await f.client.batchReceiveMessage(q, 2)).body ?? []) await f.client.deleteMessage(q, m.ReceiptHandle as string);
    // Act
    const copies = f.mns.control.resendDeleted(q, (m) => Buffer.from(m.body, 'base64').toString() === 'two', { delaySeconds: 5 });
    const early = await rejectionOf(f.client.receiveMessage(q));
    f.clock.advance(5_000);
    const late = (await f.client.receiveMessage(q)).body!;
    // Assess
    expect(copies).toHaveLength(1);
    expect(early.name).toBe('MNSMessageNotExistError');
    expect(Buffer.from(late.MessageBody as string, 'base64').toString()).toBe('two');
  });
});

describe('Local MNS control: message time scale', () => {
  let f: MnsFixture;
  beforeAll(async () => {
    f = await startMnsFixture({ messageTimeScale: 0.01 });
  });
  afterAll(async () => {
    await f.mns.close();
  });

  it('scales VisibilityTimeout: 120 s at x0.01 redelivers after 1.2 s, the attribute still reads 120', async () => {
    // Prepare
    await f.client.createQueue('scaled-visibility', { VisibilityTimeout: 120 });
    await f.client.sendMessage('scaled-visibility', { MessageBody: b64('v') });
    const receivedAt = f.clock.now();
    // Act
    const first = (await f.client.receiveMessage('scaled-visibility')).body!;
    f.clock.advance(1_199);
    const early = await rejectionOf(f.client.receiveMessage('scaled-visibility'));
    f.clock.advance(1);
    const second = (await f.client.receiveMessage('scaled-visibility')).body!;
    const attributes = await f.client.getQueueAttributes('scaled-visibility');
    // Assess
    expect(Number(first.NextVisibleTime)).toBe(receivedAt + 1_200);
    expect(early.name).toBe('MNSMessageNotExistError');
    expect(second.DequeueCount).toBe('2');
    expect(attributes.body?.VisibilityTimeout).toBe('120');
  });

  it('scales DelaySeconds (message and queue level) and ChangeMessageVisibility', async () => {
    // Prepare
    await f.client.createQueue('scaled-delay', { DelaySeconds: 300, VisibilityTimeout: 30 });
    await f.client.sendMessage('scaled-delay', { MessageBody: b64('d'), DelaySeconds: 60 });
    // Act
    f.clock.advance(599);
    const early = await rejectionOf(f.client.receiveMessage('scaled-delay'));
    f.clock.advance(1);
    const got = (await f.client.receiveMessage('scaled-delay')).body!;
    const changed = await f.client.changeMessageVisibility('scaled-delay', got.ReceiptHandle as string, 100);
    await f.client.sendMessage('scaled-delay', { MessageBody: b64('queue-default') });
    // Assess
    expect(early.name).toBe('MNSMessageNotExistError');
    expect(Number(changed.body?.NextVisibleTime)).toBe(f.clock.now() + 1_000);
    expect(f.mns.queues.messages('scaled-delay')[1]?.nextVisibleTime).toBe(f.clock.now() + 3_000);
  });
});
