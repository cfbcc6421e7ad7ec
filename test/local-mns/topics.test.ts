import { createHash, createPublicKey, createVerify } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MnsQueues } from '../../cloud/mns';
import { ACCOUNT_ID, b64, rejectionOf, startMnsFixture, statusOf, type MnsFixture } from './helpers';

/** An HTTP endpoint that records pushes and answers the statuses it is given (then 204). */
async function endpoint(statuses: number[]): Promise<{ url: string; pushes: { path: string; headers: IncomingHttpHeaders; body: string }[]; close(): Promise<void> }> {
  const pushes: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pushes.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(statuses.shift() ?? 204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pushes, close: () => new Promise((r) => server.close(() => r())) };
}

async function waitFor(pred: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 5000;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Local MNS: topics (CreateTopic, Subscribe, PublishMessage, pushes)', () => {
  let f: MnsFixture;
  let port: MnsQueues;
  beforeEach(async () => {
    f = await startMnsFixture({ messageTimeScale: 0.001 });
    port = new MnsQueues({ endpoint: f.mns.endpoint, accountId: ACCOUNT_ID, regionId: 'cn-hangzhou', credentials: f.root });
  });
  afterEach(() => f.mns.close());

  it('creates a topic through the SDK (201, the same again 204) and reads its attributes', async () => {
    // Act
    const created = await f.client.createTopic('outcomes');
    const again = await f.client.createTopic('outcomes');
    const attrs = await f.client.getTopicAttributes('outcomes');
    // Assess
    expect([created.code, again.code]).toEqual([201, 204]);
    expect(created.headers.location).toMatch(/\/topics\/outcomes$/);
    expect(attrs.body).toMatchObject({ TopicName: 'outcomes', MaximumMessageSize: '65536', MessageCount: '0' });
  });

  it('pushes a published message to subscribed queues in their formats, only where the FilterTag matches', async () => {
    // Prepare
    await port.ensureQueues([{ name: 'all' }, { name: 'failures' }]);
    await port.ensureTopics([
      {
        name: 'outcomes',
        subscriptions: [
          { name: 'to-all', endpoint: { queue: 'all' }, notifyContentFormat: 'SIMPLIFIED' },
          { name: 'to-failures', endpoint: { queue: 'failures' }, notifyContentFormat: 'XML', filterTag: 'failed' },
        ],
      },
    ]);
    // Act
    const ok = await port.publish('outcomes', '{"outcome":"succeeded"}', { tag: 'succeeded' });
    const bad = await port.publish('outcomes', '{"outcome":"failed"}', { tag: 'failed' });
    // Assess: the SIMPLIFIED queue holds both bodies as published (base64 by the port)
    expect(f.mns.queues.peekBodies('all')).toEqual([b64('{"outcome":"succeeded"}'), b64('{"outcome":"failed"}')]);
    const [xml] = f.mns.queues.peekBodies('failures');
    expect(f.mns.queues.peekBodies('failures')).toHaveLength(1);
    expect(xml).toContain(`<TopicOwner>${ACCOUNT_ID}</TopicOwner><TopicName>outcomes</TopicName>`);
    expect(xml).toContain(`<SubscriptionName>to-failures</SubscriptionName><MessageId>${bad.messageId}</MessageId><Message>${b64('{"outcome":"failed"}')}</Message>`);
    expect(xml).toContain(`<MessageMD5>${createHash('md5').update(b64('{"outcome":"failed"}')).digest('hex').toUpperCase()}</MessageMD5><MessageTag>failed</MessageTag>`);
    expect(ok.messageId).not.toBe(bad.messageId);
  });

  it('answers TopicNotExist (404) for a topic that does not exist, InvalidArgument (400) for an endpoint it cannot push to, SubscriptionAlreadyExist (409) for a changed subscription', async () => {
    // Prepare
    await port.ensureTopics([{ name: 'outcomes', subscriptions: [] }]);
    // Act
    const missing = await rejectionOf(f.client.publishMessage('nope', { MessageBody: b64('x') }));
    const badEndpoint = await rejectionOf(port.subscribe('outcomes', { name: 's', endpoint: { url: 'ftp://example' } }).then(() => undefined, (e) => Promise.reject(e.cause ?? e)));
    await port.subscribe('outcomes', { name: 'twice', endpoint: { url: 'http://127.0.0.1:9/a' } });
    const changed = await rejectionOf(port.subscribe('outcomes', { name: 'twice', endpoint: { url: 'http://127.0.0.1:9/b' } }).then(() => undefined, (e) => Promise.reject(e.cause ?? e)));
    // Assess
    expect(missing.name).toBe('MNSTopicNotExistError');
    expect(statusOf(missing)).toBe(404);
    expect(badEndpoint.name).toBe('MNSInvalidArgumentError');
    expect(changed.name).toBe('MNSSubscriptionAlreadyExistError');
    expect(statusOf(changed)).toBe(409);
  });

  it('pushes to an HTTP endpoint signed RSA-SHA1 with the key at x-mns-signing-cert-url, and retries a 500 by BACKOFF_RETRY until a 204', async () => {
    // Prepare
    const ep = await endpoint([500, 500]);
    try {
      await port.ensureTopics([{ name: 'outcomes', subscriptions: [{ name: 'web', endpoint: { url: `${ep.url}/hook` }, notifyContentFormat: 'SIMPLIFIED' }] }]);
      // Act
      const { messageId } = await port.publish('outcomes', 'hello', { tag: 'succeeded' });
      await waitFor(() => ep.pushes.length === 3, 'three pushes');
      // Assess: three attempts, the same message, the third answered 204
      expect(ep.pushes.map((p) => p.path)).toEqual(['/hook', '/hook', '/hook']);
      const push = ep.pushes[2]!;
      expect(push.body).toBe(b64('hello'));
      expect(push.headers).toMatchObject({ 'x-mns-message-id': messageId, 'x-mns-message-tag': 'succeeded', 'x-mns-version': '2015-06-06' });
      const certUrl = Buffer.from(String(push.headers['x-mns-signing-cert-url']), 'base64').toString();
      const key = createPublicKey(await (await fetch(certUrl)).text());
      const mnsHeaders = Object.keys(push.headers).filter((k) => k.startsWith('x-mns-')).sort().map((k) => `${k}:${String(push.headers[k])}\n`).join('');
      const stringToSign = `POST\n${push.headers['content-md5']}\n${push.headers['content-type']}\n${push.headers.date}\n${mnsHeaders}/hook`;
      expect(createVerify('RSA-SHA1').update(stringToSign).verify(key, Buffer.from(String(push.headers.authorization), 'base64'))).toBe(true);
      await waitFor(() => f.mns.topics.notifications().some((n) => n.result === 'delivered'), 'the delivery record');
      expect(f.mns.topics.notifications().map((n) => [n.attempt, n.result, n.status])).toEqual([
        [1, 'failed', 500],
        [2, 'failed', 500],
        [3, 'delivered', 204],
      ]);
    } finally {
      await ep.close();
    }
  });

  it('drops a push after BACKOFF_RETRY\'s 3 retries, as MNS discards it', async () => {
    // Prepare
    const ep = await endpoint([500, 500, 500, 500, 500]);
    try {
      await port.ensureTopics([{ name: 'outcomes', subscriptions: [{ name: 'web', endpoint: { url: ep.url }, notifyContentFormat: 'XML' }] }]);
      // Act
      await port.publish('outcomes', 'lost');
      await waitFor(() => f.mns.topics.notifications().some((n) => n.result === 'dropped'), 'the drop');
      // Assess: four attempts to /notifications (an endpoint without a path), the XML notification document
      expect(ep.pushes.map((p) => p.path)).toEqual(['/notifications', '/notifications', '/notifications', '/notifications']);
      expect(ep.pushes[0]!.headers['content-type']).toBe('text/xml;charset=utf-8');
      expect(ep.pushes[0]!.body).toContain(`<Message>${b64('lost')}</Message>`);
    } finally {
      await ep.close();
    }
  });
});
