import { type MnsCredentials, MnsQueues, classifyMnsError } from '../../cloud/mns';
import { CloudError, CloudErrorKind } from '../../workflow/errors';
import { ACCOUNT_ID, type MnsFixture, rejectionOf, startMnsFixture } from '../local-mns/helpers';

describe('MnsQueues over the real @alicloud/mns client and the local MNS', () => {
  let f: MnsFixture;
  let port: MnsQueues;

  beforeAll(async () => {
    f = await startMnsFixture();
    port = new MnsQueues({
      endpoint: f.mns.endpoint,
      accountId: ACCOUNT_ID,
      credentials: f.root,
      readTimeoutMs: 5_000,
      retry: { attempts: 3, baseDelayMs: 1 },
    });
  });
  afterAll(async () => {
    await f.mns.close();
  });

  let n = 0;
  const newQueue = async (attributes?: Parameters<MnsQueues['createQueue']>[1]): Promise<string> => {
    n += 1;
    const name = `port-${n}`;
    await port.createQueue(name, attributes);
    return name;
  };

  describe('bodies', () => {
    it('round-trips JSON with <, & and unicode as base64 on the wire', async () => {
      // Prepare
      const q = await newQueue();
      const payload = { note: 'a < b && c > d', name: 'Zürich 東京 🚀', quote: `"'` };
      // Act
      const sent = await port.send(q, JSON.stringify(payload));
      const onWire = f.mns.queues.peekBodies(q)[0] as string;
      const [got] = await port.receive(q);
      // Assess
      expect(onWire).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(got?.messageId).toBe(sent.messageId);
      expect(got?.rawBody).toBe(onWire);
      expect(JSON.parse(got?.body as string)).toEqual(payload);
      expect(got?.dequeueCount).toBe(1);
      expect(got?.enqueueTime).toBeGreaterThan(0);
      expect(got?.nextVisibleTime).toBeGreaterThan(got?.enqueueTime as number);
    });

    it('sends a raw body as-is, and one that breaks the XML fails as a fatal MalformedXML', async () => {
      // Prepare
      const q = await newQueue();
      // Act
      await port.sendRaw(q, 'not-base64 {');
      const err = await rejectionOf(port.sendRaw(q, '<oops>'));
      const [got] = await port.receive(q);
      // Assess
      expect(got?.rawBody).toBe('not-base64 {');
      expect(err).toBeInstanceOf(CloudError);
      expect(err).toMatchObject({ code: 'MalformedXML', kind: CloudErrorKind.Fatal });
    });
  });

  describe('messages', () => {
    it('receives [] from an empty queue and deletes a received message', async () => {
      // Prepare
      const q = await newQueue();
      // Act
      const empty = await port.receive(q);
      await port.send(q, 'one');
      const [msg] = await port.receive(q);
      await port.delete(q, msg?.receiptHandle as string);
      // Assess
      expect(empty).toEqual([]);
      expect(f.mns.queues.counts(q)?.total).toBe(0);
    });

    it('delays a message by delaySeconds', async () => {
      // Prepare
      const q = await newQueue();
      // Act
      await port.send(q, 'later', { delaySeconds: 20 });
      const before = await port.receive(q);
      f.clock.advance(20_000);
      const after = await port.receive(q);
      // Assess
      expect(before).toEqual([]);
      expect(after.map((m) => m.body)).toEqual(['later']);
    });

    it('sends 40 bodies in batches of 16 and receives them in batches', async () => {
      // Prepare
      const q = await newQueue();
      const bodies = Array.from({ length: 40 }, (_, i) => `m${i}`);
      const before = f.mns.requestCount;
      // Act
      const ids = await port.sendBatch(q, bodies);
      const sendRequests = f.mns.requestCount - before;
      const got = [...(await port.receive(q, { max: 16 })), ...(await port.receive(q, { max: 16 })), ...(await port.receive(q, { max: 16 }))];
      // Assess
      expect(ids).toHaveLength(40);
      expect(new Set(ids.map((i) => i.messageId)).size).toBe(40);
      expect(sendRequests).toBe(3);
      expect(got.map((m) => m.body).sort()).toEqual([...bodies].sort());
    });

    it('throws a CloudError naming the failed entries of a partially failed batch, without retrying it', async () => {
      // Prepare
      const q = await newQueue({ maximumMessageSize: 1024 });
      const before = f.mns.requestCount;
      // Act
      const err = await rejectionOf(port.sendBatch(q, ['ok-1', 'x'.repeat(2000), 'ok-2']));
      // Assess
      expect(err).toMatchObject({ code: 'InvalidArgument', kind: CloudErrorKind.Fatal });
      expect(err.message).toContain('#1: InvalidArgument');
      expect(f.mns.requestCount - before).toBe(1);
      expect(f.mns.queues.counts(q)?.total).toBe(2);
    });

    it('changes visibility: only the new handle deletes, the old one is a notFound MessageNotExist', async () => {
      // Prepare
      const q = await newQueue({ visibilityTimeout: 30 });
      await port.send(q, 'x');
      const [msg] = await port.receive(q);
      // Act
      const changed = await port.changeVisibility(q, msg?.receiptHandle as string, 300);
      const oldErr = await rejectionOf(port.delete(q, msg?.receiptHandle as string));
      await port.delete(q, changed.receiptHandle);
      // Assess
      expect(changed.nextVisibleTime).toBe(f.clock.now() + 300_000);
      expect(oldErr).toMatchObject({ code: 'MessageNotExist', kind: CloudErrorKind.NotFound, details: { statusCode: 404 } });
      expect(f.mns.queues.counts(q)?.total).toBe(0);
    });

    it('refuses max > 16 and waitSeconds > 30 before calling MNS', async () => {
      // Prepare
      const before = f.mns.requestCount;
      // Act
      const tooMany = await rejectionOf(port.receive('whatever', { max: 17 }));
      const tooLong = await rejectionOf(port.receive('whatever', { waitSeconds: 31 }));
      // Assess
      expect(tooMany).toMatchObject({ code: 'InvalidArgument', kind: CloudErrorKind.Fatal });
      expect(tooLong).toMatchObject({ code: 'InvalidArgument', kind: CloudErrorKind.Fatal });
      expect(f.mns.requestCount).toBe(before);
    });

    it('returns a long poll through the port as soon as a message is sent', async () => {
      // Prepare
      const q = await newQueue();
      const started = Date.now();
      // Act
      const polling = port.receive(q, { waitSeconds: 20 });
      setTimeout(() => void port.send(q, 'ping'), 100);
      const got = await polling;
      // Assess
      expect(got.map((m) => m.body)).toEqual(['ping']);
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });

  describe('errors and retries', () => {
    it('turns a silent 503 text/plain (which the SDK resolves) into a transient CloudError', async () => {
      // Prepare
      const q = await newQueue();
      const once = new MnsQueues({ endpoint: f.mns.endpoint, accountId: ACCOUNT_ID, credentials: f.root, retry: { attempts: 1, baseDelayMs: 1 } });
      f.mns.failNext(1, { status: 503, contentType: 'text/plain', body: 'Service Unavailable' });
      // Act
      const err = await rejectionOf(once.send(q, 'x'));
      // Assess
      expect(err).toBeInstanceOf(CloudError);
      expect(err).toMatchObject({ code: 'ServiceUnavailable', kind: CloudErrorKind.Transient, details: { statusCode: 503 } });
      expect(f.mns.queues.counts(q)?.total).toBe(0);
    });

    it('retries transient failures (503, dropped connection) and then succeeds', async () => {
      // Prepare
      const q = await newQueue();
      f.mns.failNext(1, { status: 503, contentType: 'text/plain', body: 'busy' });
      f.mns.failNext(1, { resetConnection: true });
      const before = f.mns.requestCount;
      // Act
      const sent = await port.send(q, 'eventually');
      // Assess
      expect(sent.messageId).toBeTruthy();
      expect(f.mns.requestCount - before).toBe(3);
      expect(f.mns.queues.counts(q)?.total).toBe(1);
    });

    it('gives up after the configured attempts with the last transient error', async () => {
      // Prepare
      const q = await newQueue();
      f.mns.failNext(3, { status: 500, contentType: 'text/xml', body: '<?xml version="1.0"?><Error><Code>InternalError</Code><Message>boom</Message><RequestId>R</RequestId><HostId>H</HostId></Error>' });
      const before = f.mns.requestCount;
      // Act
      const err = await rejectionOf(port.send(q, 'x'));
      // Assess
      expect(err).toMatchObject({ code: 'InternalError', kind: CloudErrorKind.Transient, details: { statusCode: 500 } });
      expect(f.mns.requestCount - before).toBe(3);
    });

    it('does not retry a fatal error and classifies QueueNotExist as notFound', async () => {
      // Prepare
      const before = f.mns.requestCount;
      // Act
      const err = await rejectionOf(port.send('missing-queue', 'x'));
      // Assess
      expect(err).toMatchObject({ code: 'QueueNotExist', kind: CloudErrorKind.NotFound, details: { statusCode: 404 } });
      expect(f.mns.requestCount - before).toBe(1);
    });

    it('uses refreshed credentials from a credentials function after the old STS key expired', async () => {
      // Prepare
      const q = await newQueue();
      const old = f.keyring.mintSts(60_000, f.clock.now());
      let current: MnsCredentials = old;
      const rotating = new MnsQueues({ endpoint: f.mns.endpoint, accountId: ACCOUNT_ID, credentials: () => current, retry: { attempts: 1, baseDelayMs: 1 } });
      await rotating.send(q, 'with old key');
      f.clock.advance(60_001);
      // Act
      const expired = await rejectionOf(rotating.send(q, 'refused'));
      current = f.keyring.mintSts(3600_000, f.clock.now());
      await rotating.send(q, 'with new key');
      // Assess
      expect(expired).toMatchObject({ code: 'AccessDenied', kind: CloudErrorKind.Fatal });
      expect(f.mns.queues.counts(q)?.total).toBe(2);
    });

    it.each([
      ['MNSQueueNotExistError', 'failed with 404.', CloudErrorKind.NotFound],
      ['MNSQpsLimitExceededError', 'failed with 400.', CloudErrorKind.Throttling],
      ['MNSSignatureDoesNotMatchError', 'failed with 403.', CloudErrorKind.Fatal],
      ['MNSSomethingNewError', 'failed with 502.', CloudErrorKind.Transient],
    ])('classifies %s (%s) as %s', (name, status, kind) => {
      // Prepare
      const err = Object.assign(new Error(`GET http://x/queues/q failed with ${status.slice(12, 15)}. requestid: R1, hostid: h, message: m`), { name });
      // Act
      const classified = classifyMnsError(err, 'ReceiveMessage');
      // Assess
      expect(classified.kind).toBe(kind);
      expect(classified.code).toBe(name.slice(3, -5));
      expect(classified.details.requestId).toBe('R1');
    });
  });

  describe('queues', () => {
    it('creates a queue idempotently for the same attributes and refuses different ones', async () => {
      // Act
      await port.createQueue('port-same', { visibilityTimeout: 45 });
      await port.createQueue('port-same', { visibilityTimeout: 45 });
      const err = await rejectionOf(port.createQueue('port-same', { visibilityTimeout: 46 }));
      // Assess
      expect(err).toMatchObject({ code: 'QueueAlreadyExist', kind: CloudErrorKind.Fatal, details: { statusCode: 409 } });
    });

    it('ensures queues: dead-letter targets first, existing queues converged to the given attributes', async () => {
      // Prepare
      await port.createQueue('ens-main', { visibilityTimeout: 10 });
      // Act
      await port.ensureQueues([
        { name: 'ens-main', attributes: { visibilityTimeout: 60, deadLetter: { queueName: 'ens-dlq', maxReceiveCount: 5 } } },
        { name: 'ens-dlq' },
      ]);
      const attrs = await port.getQueueAttributes('ens-main');
      // Assess
      expect(attrs).toMatchObject({
        visibilityTimeout: 60,
        delaySeconds: 0,
        maximumMessageSize: 65536,
        messageRetentionPeriod: 345600,
        pollingWaitSeconds: 0,
        deadLetter: { queueName: 'ens-dlq', maxReceiveCount: 5 },
        activeMessages: 0,
        inactiveMessages: 0,
        delayMessages: 0,
      });
      expect(f.mns.queues.exists('ens-dlq')).toBe(true);
    });

    it('dead-letters a message through the port after maxReceiveCount deliveries', async () => {
      // Prepare
      await port.ensureQueues([
        { name: 'dl-src', attributes: { visibilityTimeout: 5, deadLetter: { queueName: 'dl-dead', maxReceiveCount: 1 } } },
        { name: 'dl-dead' },
      ]);
      await port.send('dl-src', 'poison');
      // Act
      const first = await port.receive('dl-src');
      f.clock.advance(5_000);
      const second = await port.receive('dl-src');
      const dead = await port.receive('dl-dead');
      // Assess
      expect(first.map((m) => m.body)).toEqual(['poison']);
      expect(second).toEqual([]);
      expect(dead.map((m) => [m.body, m.dequeueCount])).toEqual([['poison', 1]]);
    });

    it('lists queues by prefix and deletes idempotently', async () => {
      // Prepare
      await port.createQueue('lst-1');
      await port.createQueue('lst-2');
      // Act
      const listed = await port.listQueues('lst-');
      await port.deleteQueue('lst-1');
      await port.deleteQueue('lst-1');
      const after = await port.listQueues('lst-');
      const all = await port.listQueues();
      // Assess
      expect(listed).toEqual(['lst-1', 'lst-2']);
      expect(after).toEqual(['lst-2']);
      expect(all).toEqual(expect.arrayContaining(['lst-2', 'ens-main']));
    });
  });
});
