import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { request } from 'node:http';
import { MnsFault } from './errors';
import { elements, mnsDocument } from './xml';

/**
 * MNS topics (the publish/subscribe model) for the local MNS: CreateTopic, GetTopicAttributes, Subscribe,
 * Unsubscribe, PublishMessage, and the pushes that follow a publish, to queue endpoints and to HTTP
 * endpoints. Sources, each cited where it is used:
 *   - Topic and Subscription attributes and endpoints: MNS "Subscription" reference (alibabacloud.com
 *     help/doc-detail/209891) and ROS ALIYUN::MNS::Subscription (help/en/ros/developer-reference/aliyun-mns-subscription).
 *   - Notification formats XML / JSON / SIMPLIFIED: MNS "NotifyContentFormat" (help/en/mns/developer-reference/notifycontentformat).
 *   - The HTTP push (POST /notifications, headers, RSA-SHA1 signature, 204 = done): MNS "HttpEndpoint"
 *     (help/en/mns/httpendpoint, doc-detail/27498) and "Verify a signature on an HTTP server"
 *     (help/en/mns/debugging-tool-of-http-endpoints, doc-detail/27488).
 *   - Retry policies: MNS "NotifyStrategy" as quoted by the ROS page: BACKOFF_RETRY (the default) and
 *     EXPONENTIAL_DECAY_RETRY; the intervals are the ones EventBridge documents for the same names (see
 *     local/fc/mns-trigger.ts RetryPolicies): MNS's own NotifyStrategy page was not read, so they are a guess.
 */

export const NotifyStrategy = { BackoffRetry: 'BACKOFF_RETRY', ExponentialDecayRetry: 'EXPONENTIAL_DECAY_RETRY' } as const;
export type NotifyStrategy = (typeof NotifyStrategy)[keyof typeof NotifyStrategy];
export const NotifyContentFormat = { Xml: 'XML', Json: 'JSON', Simplified: 'SIMPLIFIED' } as const;
export type NotifyContentFormat = (typeof NotifyContentFormat)[keyof typeof NotifyContentFormat];

/** Limits of the Subscription reference and the ROS page: names up to 256 (letter first), FilterTag up to 16 characters. */
export const TopicLimits = {
  Name: /^[a-zA-Z][a-zA-Z0-9-]{0,255}$/,
  FilterTagMaxLength: 16,
  /** Topic MaximumMessageSize range and default (the same as a queue's: 1024-65536, default 65536). */
  MaximumMessageSize: { min: 1024, max: 65536, default: 65536 },
} as const;

export interface SubscriptionState {
  readonly name: string;
  /** `http://...` or `acs:mns:{region}:{account}:queues/{name}`. */
  readonly endpoint: string;
  readonly notifyStrategy: NotifyStrategy;
  readonly notifyContentFormat: NotifyContentFormat;
  readonly filterTag?: string;
  readonly createTime: number;
}

export interface TopicState {
  readonly name: string;
  readonly createTime: number;
  readonly maximumMessageSize: number;
  readonly subscriptions: Map<string, SubscriptionState>;
  messageCount: number;
}

export interface PublishedMessage {
  readonly messageId: string;
  readonly bodyMd5: string;
  readonly body: string;
  readonly tag?: string;
  readonly publishTime: number;
}

/** One push of a published message to one subscription, as the tests and the demo see it. */
export interface NotificationRecord {
  readonly topic: string;
  readonly subscription: string;
  readonly endpoint: string;
  readonly messageId: string;
  readonly attempt: number;
  /** `delivered` (queue sent, or HTTP 2xx), `failed` (will be retried), `dropped` (retries spent: MNS discards it). */
  readonly result: 'delivered' | 'failed' | 'dropped';
  readonly status?: number;
  readonly error?: string;
  readonly at: number;
}

/** What a topic needs from the rest of the local MNS. */
export interface TopicDeps {
  readonly now: () => number;
  readonly accountId: string;
  readonly regionId: string;
  /** Sends to a queue of this MNS (throws MnsFault QueueNotExist when there is none). */
  readonly sendToQueue: (queue: string, body: string) => void;
  /** The URL MNS names in x-mns-signing-cert-url (the local MNS serves the public key there). */
  readonly signingCertUrl: () => string;
  /** Multiplies retry intervals (the local MNS's messageTimeScale). */
  readonly timeScale: number;
}

/**
 * Retry schedules by NotifyStrategy (a guess, see above): BACKOFF_RETRY 3 retries a random 10-20 s apart;
 * EXPONENTIAL_DECAY_RETRY 176 retries, 2^n s up to 512 s.
 */
const RetrySchedules: Record<NotifyStrategy, { retries: number; intervalMs: (retry: number) => number }> = {
  BACKOFF_RETRY: { retries: 3, intervalMs: () => 10_000 + Math.random() * 10_000 },
  EXPONENTIAL_DECAY_RETRY: { retries: 176, intervalMs: (retry) => Math.min(512, 2 ** (retry - 1)) * 1000 },
};

/** HttpEndpoint: "more than 5 seconds without a 204 counts as a timeout and the push is retried". */
const PUSH_TIMEOUT_MS = 5_000;

const md5Upper = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex').toUpperCase();

/** The queue a queue endpoint names (`acs:mns:{region}:{account}:queues/{name}`), if it is this MNS's. */
function queueOfEndpoint(endpoint: string, deps: TopicDeps): string | undefined {
  const m = /^acs:mns:([^:]+):([^:]+):queues\/([^/]+)$/.exec(endpoint);
  if (m === null) return undefined;
  if (m[1] !== deps.regionId || m[2] !== deps.accountId) {
    throw new MnsFault('InvalidArgument', `Endpoint ${endpoint} names a queue of another region or account; this MNS is ${deps.regionId}/${deps.accountId}.`);
  }
  return m[3];
}

export class TopicModel {
  private readonly topics = new Map<string, TopicState>();
  private readonly log: NotificationRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pushing = new Set<Promise<void>>();
  private closed = false;
  /** The key MNS signs HTTP pushes with; the verifier gets the public half from x-mns-signing-cert-url. */
  readonly signingKey: { readonly privateKey: KeyObject; readonly publicKeyPem: string };

  constructor(private readonly deps: TopicDeps) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.signingKey = { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }

  createTopic(name: string, maximumMessageSize: number | undefined): 'created' | 'existed' {
    if (!TopicLimits.Name.test(name)) throw new MnsFault('InvalidArgument', `Topic name "${name}" must start with a letter and hold up to 256 letters, digits and hyphens.`);
    const size = maximumMessageSize ?? TopicLimits.MaximumMessageSize.default;
    if (size < TopicLimits.MaximumMessageSize.min || size > TopicLimits.MaximumMessageSize.max) {
      throw new MnsFault('InvalidArgument', `MaximumMessageSize must be ${TopicLimits.MaximumMessageSize.min}-${TopicLimits.MaximumMessageSize.max}, got ${size}.`);
    }
    const existing = this.topics.get(name);
    if (existing !== undefined) {
      // As CreateQueue: the same attributes again is a success (204), different ones a conflict.
      if (existing.maximumMessageSize !== size) throw new MnsFault('TopicAlreadyExist', `Topic ${name} exists with other attributes.`);
      return 'existed';
    }
    this.topics.set(name, { name, createTime: this.deps.now(), maximumMessageSize: size, subscriptions: new Map(), messageCount: 0 });
    return 'created';
  }

  topic(name: string): TopicState {
    const t = this.topics.get(name);
    if (t === undefined) throw new MnsFault('TopicNotExist', `The topic ${name} does not exist: create it first (CreateTopic).`);
    return t;
  }

  topicNames(): string[] {
    return [...this.topics.keys()].sort();
  }

  subscribe(topicName: string, input: { name: string; endpoint: string; notifyStrategy?: string; notifyContentFormat?: string; filterTag?: string }): 'created' | 'existed' {
    const topic = this.topic(topicName);
    if (!TopicLimits.Name.test(input.name)) throw new MnsFault('InvalidArgument', `Subscription name "${input.name}" must start with a letter and hold up to 256 letters, digits and hyphens.`);
    const strategy = input.notifyStrategy ?? NotifyStrategy.BackoffRetry;
    if (!Object.values(NotifyStrategy).includes(strategy as NotifyStrategy)) throw new MnsFault('InvalidArgument', `NotifyStrategy must be BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY, got "${strategy}".`);
    const format = input.notifyContentFormat ?? NotifyContentFormat.Xml;
    if (!Object.values(NotifyContentFormat).includes(format as NotifyContentFormat)) throw new MnsFault('InvalidArgument', `NotifyContentFormat must be XML, JSON or SIMPLIFIED, got "${format}".`);
    if (input.filterTag !== undefined && input.filterTag.length > TopicLimits.FilterTagMaxLength) throw new MnsFault('InvalidArgument', `FilterTag may hold up to ${TopicLimits.FilterTagMaxLength} characters.`);
    const isHttp = /^https?:\/\//.test(input.endpoint);
    if (!isHttp && queueOfEndpoint(input.endpoint, this.deps) === undefined) {
      throw new MnsFault('InvalidArgument', `Endpoint "${input.endpoint}" is neither http(s)://... nor acs:mns:{region}:{account}:queues/{name} (the endpoints this MNS pushes to).`);
    }
    const next: SubscriptionState = {
      name: input.name,
      endpoint: input.endpoint,
      notifyStrategy: strategy as NotifyStrategy,
      notifyContentFormat: format as NotifyContentFormat,
      ...(input.filterTag === undefined || input.filterTag === '' ? {} : { filterTag: input.filterTag }),
      createTime: this.deps.now(),
    };
    const existing = topic.subscriptions.get(input.name);
    if (existing !== undefined) {
      const same = existing.endpoint === next.endpoint && existing.notifyStrategy === next.notifyStrategy && existing.notifyContentFormat === next.notifyContentFormat && existing.filterTag === next.filterTag;
      if (!same) throw new MnsFault('SubscriptionAlreadyExist', `Subscription ${input.name} of topic ${topicName} exists with other attributes.`);
      return 'existed';
    }
    topic.subscriptions.set(input.name, next);
    return 'created';
  }

  unsubscribe(topicName: string, name: string): void {
    // Unsubscribe of a subscription that does not exist succeeds (as DeleteQueue of a missing queue).
    this.topic(topicName).subscriptions.delete(name);
  }

  /**
   * PublishMessage: the message goes to every subscription whose FilterTag is unset or equals the message's
   * tag. A queue endpoint gets it before the answer (the real service pushes asynchronously, within
   * moments; sending at once keeps tests deterministic); an HTTP endpoint is pushed in the background
   * with the subscription's retries.
   */
  publish(topicName: string, input: { body: string; tag?: string }): PublishedMessage {
    const topic = this.topic(topicName);
    const bytes = Buffer.byteLength(input.body, 'utf8');
    if (bytes < 1 || bytes > topic.maximumMessageSize) throw new MnsFault('InvalidArgument', `MessageBody must be 1-${topic.maximumMessageSize} bytes, got ${bytes}.`);
    topic.messageCount += 1;
    const now = this.deps.now();
    const message: PublishedMessage = {
      messageId: `${randomBytes(8).toString('hex').toUpperCase()}-1-${now.toString(16).toUpperCase()}-${String(topic.messageCount).padStart(9, '0')}`,
      bodyMd5: md5Upper(input.body),
      body: input.body,
      ...(input.tag === undefined || input.tag === '' ? {} : { tag: input.tag }),
      publishTime: now,
    };
    for (const sub of topic.subscriptions.values()) {
      if (sub.filterTag !== undefined && sub.filterTag !== message.tag) continue;
      const queue = queueOfEndpoint(sub.endpoint, this.deps);
      if (queue !== undefined) this.deliverToQueue(topic, sub, queue, message);
      else this.track(this.pushHttp(topic, sub, message, 1));
    }
    return message;
  }

  notifications(): readonly NotificationRecord[] {
    return this.log;
  }

  /** Stops retries and waits (briefly) for pushes under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.race([Promise.all([...this.pushing]), new Promise((r) => setTimeout(r, PUSH_TIMEOUT_MS).unref())]);
  }

  private track(p: Promise<void>): void {
    this.pushing.add(p);
    void p.finally(() => this.pushing.delete(p));
  }

  private record(r: Omit<NotificationRecord, 'at'>): void {
    this.log.push({ ...r, at: this.deps.now() });
    if (this.log.length > 10_000) this.log.shift();
  }

  private deliverToQueue(topic: TopicState, sub: SubscriptionState, queue: string, m: PublishedMessage): void {
    const base = { topic: topic.name, subscription: sub.name, endpoint: sub.endpoint, messageId: m.messageId, attempt: 1 };
    try {
      this.deps.sendToQueue(queue, this.content(topic, sub, m));
      this.record({ ...base, result: 'delivered' });
    } catch (err) {
      // A queue that does not exist (any more): MNS would retry, then discard the message. The local MNS
      // says so at once in the notification log rather than retrying a queue that will not appear.
      this.record({ ...base, result: 'dropped', error: (err as Error).message });
    }
  }

  /** The body a subscription gets in its NotifyContentFormat (NotifyContentFormat reference). */
  private content(topic: TopicState, sub: SubscriptionState, m: PublishedMessage): string {
    if (sub.notifyContentFormat === 'SIMPLIFIED') return m.body;
    const fields: Array<[string, string | number | undefined]> = [
      ['TopicOwner', this.deps.accountId],
      ['TopicName', topic.name],
      ['Subscriber', this.deps.accountId],
      ['SubscriptionName', sub.name],
      ['MessageId', m.messageId],
      ['Message', m.body],
      ['MessageMD5', m.bodyMd5],
      ['MessageTag', m.tag],
      ['PublishTime', m.publishTime],
    ];
    if (sub.notifyContentFormat === 'JSON') {
      // The reference's JSON example writes PublishTime as a string.
      return JSON.stringify(Object.fromEntries(fields.filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)])));
    }
    // The reference's XML example has typos (`xlmns`, a closing </MessagePublishTime>); this writes it well-formed.
    return mnsDocument('Notification', elements(fields));
  }

  /**
   * One HTTP push (HttpEndpoint reference): POST to the endpoint's path (`/notifications` when it has
   * none), signed RSA-SHA1 over `POST\nContent-MD5\nContent-Type\nDate\nx-mns-*\npath`, with the
   * certificate URL base64 in x-mns-signing-cert-url. 2xx ends it; anything else, or no answer in 5 s,
   * is retried by the subscription's NotifyStrategy, then dropped.
   */
  private async pushHttp(topic: TopicState, sub: SubscriptionState, m: PublishedMessage, attempt: number): Promise<void> {
    if (this.closed) return;
    const url = new URL(sub.endpoint);
    const path = url.pathname === '/' && url.search === '' ? '/notifications' : `${url.pathname}${url.search}`;
    const body = Buffer.from(this.content(topic, sub, m), 'utf8');
    const contentType = sub.notifyContentFormat === 'XML' ? 'text/xml;charset=utf-8' : 'text/plain;charset=utf-8'; // JSON/SIMPLIFIED: the type is a guess
    const mnsHeaders: Record<string, string> = {
      'x-mns-request-id': randomBytes(12).toString('hex').toUpperCase(),
      'x-mns-signing-cert-url': Buffer.from(this.deps.signingCertUrl(), 'utf8').toString('base64'),
      'x-mns-version': '2015-06-06',
      ...(sub.notifyContentFormat === 'SIMPLIFIED' ? { 'x-mns-message-id': m.messageId, ...(m.tag === undefined ? {} : { 'x-mns-message-tag': m.tag }) } : {}),
    };
    const date = new Date(this.deps.now()).toUTCString();
    // Content-MD5 as in MNS's own request signing: base64 of the hex digest (the reference's example value is that).
    const contentMd5 = Buffer.from(createHash('md5').update(body).digest('hex')).toString('base64');
    const canonical = Object.keys(mnsHeaders).sort().map((k) => `${k}:${mnsHeaders[k]}\n`).join('');
    const stringToSign = `POST\n${contentMd5}\n${contentType}\n${date}\n${canonical}${path}`;
    const authorization = createSign('RSA-SHA1').update(stringToSign, 'utf8').sign(this.signingKey.privateKey, 'base64');
    const base = { topic: topic.name, subscription: sub.name, endpoint: sub.endpoint, messageId: m.messageId, attempt };
    let status: number | undefined;
    let error: string | undefined;
    try {
      status = await new Promise<number>((resolve, reject) => {
        const req = request(
          { hostname: url.hostname, port: url.port, path, method: 'POST', timeout: PUSH_TIMEOUT_MS, headers: { ...mnsHeaders, authorization, date, 'content-md5': contentMd5, 'content-type': contentType, 'content-length': String(body.length) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('timeout', () => req.destroy(new Error(`no answer within ${PUSH_TIMEOUT_MS} ms`)));
        req.on('error', reject);
        req.end(body);
      });
    } catch (err) {
      error = (err as Error).message;
    }
    if (status !== undefined && status >= 200 && status < 300) {
      this.record({ ...base, result: 'delivered', status });
      return;
    }
    const schedule = RetrySchedules[sub.notifyStrategy];
    const spent = attempt > schedule.retries;
    this.record({ ...base, result: spent ? 'dropped' : 'failed', ...(status === undefined ? {} : { status }), ...(error === undefined ? {} : { error }) });
    if (spent || this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.track(this.pushHttp(topic, sub, m, attempt + 1));
    }, Math.max(1, schedule.intervalMs(attempt) * this.deps.timeScale));
    timer.unref();
    this.timers.add(timer);
  }
}
