import MNSClient from '@alicloud/mns';
// The SDK's own response parser (xml2js), for prime().
import { parseXML } from '@alicloud/mns/lib/helper';
import { CloudError, CloudErrorKind } from '../workflow/errors';
import type { QueuePort, TopicPort } from '../workflow/ports';
import { classifyError } from './errors';
import { backoffDelayMs, type RetryPolicy } from './retry';

/**
 * The MNS port over the real `@alicloud/mns` 1.2.0 client. It turns every failure, including the
 * ones that SDK resolves silently (a 503 text/plain resolves as `{code: 503}`, batch partial failures
 * resolve with a 500 body), into a classified {@link CloudError}, and retries the transient ones.
 * Bodies are base64-encoded UTF-8 on the wire: the SDK does not escape XML, and an EventBridge MNS
 * trigger with `IsBase64Decode: true` hands the function the decoded text.
 */

export interface MnsCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

export interface MnsOptions {
  /** `http(s)://host[:port]`, e.g. `https://<account>.mns.cn-hangzhou-internal.aliyuncs.com`. */
  endpoint: string;
  accountId: string;
  /** A function is called before every request, so a caller can hand out refreshed STS credentials. */
  credentials: MnsCredentials | (() => MnsCredentials);
  /** Timeout of a request that does not long-poll (default 10 000 ms); long polls get their wait + 5 s. */
  readTimeoutMs?: number;
  /** Attempts count the first call (default 3 attempts, 200 ms base, full jitter, waits capped at 5 s). */
  retry?: { attempts: number; baseDelayMs: number };
}

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  /** The body exactly as it travelled. */
  rawBody: string;
  /** `rawBody` base64-decoded as UTF-8 (meaningful when the producer used {@link MnsQueues.send}). */
  body: string;
  dequeueCount: number;
  enqueueTime: number;
  firstDequeueTime: number;
  nextVisibleTime: number;
}

export interface QueueAttributes {
  visibilityTimeout?: number;
  delaySeconds?: number;
  maximumMessageSize?: number;
  messageRetentionPeriod?: number;
  pollingWaitSeconds?: number;
  /** Messages received `maxReceiveCount` times without being deleted move to `queueName`. */
  deadLetter?: { queueName: string; maxReceiveCount: number };
}

/** MNS limits the port checks before calling (MNS API reference; shared/reference/sdk-wire.md). */
export const MnsLimits = {
  batchSize: 16,
  maxWaitSeconds: 30,
} as const;

/**
 * MNS error codes by kind. MNS errors carry only a code in the XML (`MNS<Code>Error` in the SDK); codes
 * not listed are fatal unless their HTTP status is 5xx (transient) or 429 (throttling).
 * Source: Alibaba Cloud MNS error-code table (help/en/mns/error-codes).
 */
export const MnsErrorKinds: Readonly<Record<string, CloudErrorKind>> = {
  QueueNotExist: CloudErrorKind.NotFound,
  MessageNotExist: CloudErrorKind.NotFound,
  TopicNotExist: CloudErrorKind.NotFound,
  SubscriptionNotExist: CloudErrorKind.NotFound,
  QpsLimitExceeded: CloudErrorKind.Throttling,
  InternalError: CloudErrorKind.Transient,
  InternalServerError: CloudErrorKind.Transient,
  ServiceUnavailable: CloudErrorKind.Transient,
  // The request's Date was too old: a retry signs again with a fresh date. A skewed clock fails again
  // and stops after the attempts.
  TimeExpired: CloudErrorKind.Transient,
  // A queue name is blocked for a while after deletion; creating it later succeeds.
  QueueDeletedRecently: CloudErrorKind.InvalidState,
};

/** Names for statuses answered without an MNS XML error (proxies, load balancers, overload). */
export const MnsBareStatusCodes: Readonly<Record<number, string>> = {
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

function kindOf(code: string, statusCode: number | undefined): CloudErrorKind {
  const known = MnsErrorKinds[code];
  if (known !== undefined) return known;
  if (statusCode === 429) return CloudErrorKind.Throttling;
  if (statusCode !== undefined && statusCode >= 500) return CloudErrorKind.Transient;
  return CloudErrorKind.Fatal;
}

/**
 * Classifies anything an MNS call threw. Guarantees: never throws; a CloudError passes through; the
 * message names the API, code and status, never credentials.
 */
export function classifyMnsError(err: unknown, api: string): CloudError {
  if (err instanceof CloudError) return err;
  if (err instanceof Error) {
    const named = /^MNS(\w+?)Error$/.exec(err.name);
    if (named !== null) {
      const code = named[1] as string;
      const status = /failed with (\d{3})\./.exec(err.message);
      const statusCode = status === null ? undefined : Number(status[1]);
      const requestId = /requestid: ([^,\s]+)/.exec(err.message)?.[1];
      const detail = /message: ([^]*)$/.exec(err.message)?.[1] ?? err.message;
      const kind = kindOf(code, statusCode);
      return new CloudError(kind, code, `MNS ${api} failed with ${code}${statusCode === undefined ? '' : ` (HTTP ${statusCode})`}: ${detail}`, {
        api,
        ...(statusCode === undefined ? {} : { statusCode }),
        ...(requestId === undefined || requestId === 'undefined' ? {} : { requestId }),
        cause: err,
      });
    }
    // xml2js refusing a body the server labelled XML: garbled on the way (a proxy page), worth a retry.
    if (/\nLine: \d+\s*\nColumn: \d+/.test(err.message)) {
      return new CloudError(CloudErrorKind.Transient, 'MalformedResponse', `MNS ${api} answered unparsable XML: ${err.message}`, {
        api,
        cause: err,
      });
    }
  }
  // Network failures and timeouts (httpx's RequestTimeoutError, ECONNRESET, ...) use the shared tables.
  return classifyError(err, `MNS ${api}`);
}

/** A non-2xx the SDK resolved instead of throwing. */
function bareStatusError(api: string, statusCode: number): CloudError {
  const code = MnsBareStatusCodes[statusCode] ?? `Http${statusCode}`;
  return new CloudError(kindOf(code, statusCode), code, `MNS ${api} answered HTTP ${statusCode} without an MNS error body`, {
    api,
    statusCode,
  });
}

function malformed(api: string, what: string): CloudError {
  return new CloudError(CloudErrorKind.Transient, 'MalformedResponse', `MNS ${api} answered without ${what}`, { api });
}

function toInt(value: string | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function attributesToXml(attributes: QueueAttributes | undefined): Record<string, string | number | Record<string, string | number>> {
  const params: Record<string, string | number | Record<string, string | number>> = {};
  if (attributes === undefined) return params;
  // The SDK writes every key it gets (`undefined` included), so only defined values go in.
  const pairs: Array<[string, number | undefined]> = [
    ['VisibilityTimeout', attributes.visibilityTimeout],
    ['DelaySeconds', attributes.delaySeconds],
    ['MaximumMessageSize', attributes.maximumMessageSize],
    ['MessageRetentionPeriod', attributes.messageRetentionPeriod],
    ['PollingWaitSeconds', attributes.pollingWaitSeconds],
  ];
  for (const [key, value] of pairs) if (value !== undefined) params[key] = value;
  if (attributes.deadLetter !== undefined) {
    // DlqPolicy as MNS's OpenAPI and ROS name it (see local/mns/model.ts for what is verified).
    params.DlqPolicy = {
      Enabled: 'true',
      DeadLetterTargetQueue: attributes.deadLetter.queueName,
      MaxReceiveCount: attributes.deadLetter.maxReceiveCount,
    };
  }
  return params;
}

function toReceived(api: string, fields: Record<string, string | undefined> | undefined): ReceivedMessage {
  const messageId = fields?.MessageId;
  const receiptHandle = fields?.ReceiptHandle;
  if (fields === undefined || messageId === undefined || receiptHandle === undefined) throw malformed(api, 'MessageId/ReceiptHandle');
  const rawBody = fields.MessageBody ?? '';
  return {
    messageId,
    receiptHandle,
    rawBody,
    body: Buffer.from(rawBody, 'base64').toString('utf8'),
    dequeueCount: toInt(fields.DequeueCount),
    enqueueTime: toInt(fields.EnqueueTime),
    firstDequeueTime: toInt(fields.FirstDequeueTime),
    nextVisibleTime: toInt(fields.NextVisibleTime),
  };
}

function localArgumentError(api: string, message: string): CloudError {
  return new CloudError(CloudErrorKind.Fatal, 'InvalidArgument', `MNS ${api}: ${message}`, { api });
}

const DEFAULT_READ_TIMEOUT_MS = 10_000;
const LONG_POLL_MARGIN_MS = 5_000;

/** A subscription of an MNS topic (MNS Subscription reference; shared/reference notes in local/mns/topics.ts). */
export interface TopicSubscriptionSpec {
  readonly name: string;
  /** A queue of this account (pushed as `acs:mns:{region}:{account}:queues/{queue}`) or an `http(s)://` URL. */
  readonly endpoint: { readonly queue: string } | { readonly url: string };
  /** SIMPLIFIED (the body as published), XML or JSON (the notification document). Default SIMPLIFIED here. */
  readonly notifyContentFormat?: 'SIMPLIFIED' | 'XML' | 'JSON';
  readonly notifyStrategy?: 'BACKOFF_RETRY' | 'EXPONENTIAL_DECAY_RETRY';
  readonly filterTag?: string;
}

const xmlText = (text: string): string => text.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);

/** The queues (and topics) of one MNS account, through the real SDK. */
export class MnsQueues implements QueuePort, TopicPort {
  private readonly policy: RetryPolicy;
  private clients = new Map<string, MNSClient>();
  private clientsFor = '';

  constructor(private readonly options: MnsOptions & { regionId?: string }) {
    const attempts = options.retry?.attempts ?? 3;
    const base = options.retry?.baseDelayMs ?? 200;
    this.policy = { maxAttempts: attempts, baseDelayMs: base, maxDelayMs: 5_000, throttlingBaseDelayMs: Math.max(base, 500) };
  }

  /**
   * A client for the current credentials and this timeout. Both SDK timeouts get the same value:
   * httpx's connectTimeout is really a socket idle timer and would cut a long poll short.
   */
  private client(timeoutMs: number): MNSClient {
    const c = typeof this.options.credentials === 'function' ? this.options.credentials() : this.options.credentials;
    const identity = `${c.accessKeyId}\0${c.accessKeySecret}\0${c.securityToken ?? ''}`;
    if (identity !== this.clientsFor) {
      this.clients = new Map();
      this.clientsFor = identity;
    }
    const key = String(timeoutMs);
    let client = this.clients.get(key);
    if (client === undefined) {
      client = new MNSClient(this.options.accountId, {
        endpoint: this.options.endpoint,
        accessKeyId: c.accessKeyId,
        accessKeySecret: c.accessKeySecret,
        ...(c.securityToken === undefined ? {} : { securityToken: c.securityToken }),
        readTimeout: timeoutMs,
        connectTimeout: timeoutMs,
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /**
   * Calls the SDK until success, a non-retryable failure, or the attempts are spent. A resolved non-2xx
   * is turned into an error here (so it is retried when transient), except the statuses `accept` names.
   */
  private async call<B>(
    api: string,
    run: (client: MNSClient) => Promise<{ code: number; body: B }>,
    options: { timeoutMs?: number; accept?: (response: { code: number; body: B }) => boolean } = {},
  ): Promise<{ code: number; body: B }> {
    const timeoutMs = options.timeoutMs ?? this.options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response = await run(this.client(timeoutMs));
        if ((response.code < 200 || response.code >= 300) && !(options.accept?.(response) ?? false)) {
          throw bareStatusError(api, response.code);
        }
        return response;
      } catch (raw) {
        const err = classifyMnsError(raw, api);
        if (!err.retryable || attempt >= this.policy.maxAttempts) throw err;
        await new Promise((resolve) => setTimeout(resolve, backoffDelayMs(this.policy, attempt, err)));
      }
    }
  }

  /**
   * Runs the SDK's response parser (xml2js and sax, the bulk of a request's work) once on a SendMessage
   * answer as MNS writes it (help.aliyun.com/document_detail/35134.html), with no request: a function
   * instance's first send then does not pay for compiling it. Never fails.
   */
  async prime(): Promise<void> {
    await parseXML('<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageId>5F290C926D472878-2-14D9529A8FA-200000001</MessageId><MessageBodyMD5>C5DD56A39F5F7BB8B3337C6D11B6D8C7</MessageBodyMD5></Message>').catch(() => undefined);
  }

  /** Sends `body` base64-encoded (UTF-8). A retried send may deliver twice (MNS is at-least-once anyway). */
  send(queueName: string, body: string, options?: { delaySeconds?: number }): Promise<{ messageId: string }> {
    return this.sendRaw(queueName, Buffer.from(body, 'utf8').toString('base64'), options);
  }

  /** Sends the body as-is; the SDK does not escape XML, so `<` or `&` make MNS answer MalformedXML. */
  async sendRaw(queueName: string, rawBody: string, options?: { delaySeconds?: number }): Promise<{ messageId: string }> {
    const params: Record<string, string | number> = { MessageBody: rawBody };
    if (options?.delaySeconds !== undefined) params.DelaySeconds = options.delaySeconds;
    const { body } = await this.call('SendMessage', (c) => c.sendMessage(queueName, params));
    const messageId = body?.MessageId;
    if (messageId === undefined) throw malformed('SendMessage', 'MessageId');
    return { messageId };
  }

  /**
   * Sends in batches of 16, in order. Throws when any entry failed: a partial failure is never retried
   * (that would duplicate the entries that did go in); the error names the failed indexes.
   */
  async sendBatch(queueName: string, bodies: string[], options?: { delaySeconds?: number }): Promise<{ messageId: string }[]> {
    const ids: { messageId: string }[] = [];
    for (let start = 0; start < bodies.length; start += MnsLimits.batchSize) {
      const chunk = bodies.slice(start, start + MnsLimits.batchSize).map((b) => {
        const entry: Record<string, string | number> = { MessageBody: Buffer.from(b, 'utf8').toString('base64') };
        if (options?.delaySeconds !== undefined) entry.DelaySeconds = options.delaySeconds;
        return entry;
      });
      // A 500 with a result per entry is a partial failure (handled below, never retried); a bare 500 is
      // a server failure like any other.
      const { code, body } = await this.call('BatchSendMessage', (c) => c.batchSendMessage(queueName, chunk), {
        accept: (r) => r.code === 500 && Array.isArray(r.body),
      });
      const entries = body ?? [];
      const failed = entries.map((e, i) => ({ e, i })).filter(({ e }) => e.ErrorCode !== undefined || e.MessageId === undefined);
      if (failed.length > 0 || entries.length !== chunk.length) {
        const first = failed[0]?.e;
        const errorCode = first?.ErrorCode ?? 'MalformedResponse';
        const list = failed.map(({ e, i }) => `#${start + i}: ${e.ErrorCode ?? '?'} ${e.ErrorMessage ?? ''}`.trim()).join('; ');
        // The 500 is the envelope of a partial failure, not the entry's status: classify by the entry's code.
        throw new CloudError(
          kindOf(errorCode, undefined),
          errorCode,
          `MNS BatchSendMessage: ${failed.length} of ${chunk.length} messages were not sent (${list}); ${
            entries.length - failed.length
          } were sent, ${start} before this batch`,
          { api: 'BatchSendMessage', statusCode: code },
        );
      }
      for (const e of entries) ids.push({ messageId: e.MessageId as string });
    }
    return ids;
  }

  /**
   * Up to `max` (1..16, default 1) messages, waiting up to `waitSeconds` (0..30) for the first. [] when
   * none arrived (MNS answers MessageNotExist). Without `waitSeconds` (or with 0) the queue's
   * PollingWaitSeconds applies: the SDK cannot send `waitseconds=0`.
   */
  async receive(queueName: string, options?: { waitSeconds?: number; max?: number }): Promise<ReceivedMessage[]> {
    const max = options?.max ?? 1;
    const wait = options?.waitSeconds ?? 0;
    if (!Number.isInteger(max) || max < 1 || max > MnsLimits.batchSize) {
      throw localArgumentError('ReceiveMessage', `max must be 1..${MnsLimits.batchSize}, got ${max}`);
    }
    if (!Number.isInteger(wait) || wait < 0 || wait > MnsLimits.maxWaitSeconds) {
      throw localArgumentError('ReceiveMessage', `waitSeconds must be 0..${MnsLimits.maxWaitSeconds}, got ${wait}`);
    }
    // The queue's own PollingWaitSeconds (up to 30 s) may apply when wait is 0, so always allow 30 s.
    const timeoutMs = Math.max(this.options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS, MnsLimits.maxWaitSeconds * 1000 + LONG_POLL_MARGIN_MS);
    try {
      if (max === 1) {
        const { body } = await this.call('ReceiveMessage', (c) => c.receiveMessage(queueName, wait === 0 ? undefined : wait), { timeoutMs });
        return [toReceived('ReceiveMessage', body)];
      }
      const { body } = await this.call('BatchReceiveMessage', (c) => c.batchReceiveMessage(queueName, max, wait === 0 ? undefined : wait), {
        timeoutMs,
      });
      return (body ?? []).map((m) => toReceived('BatchReceiveMessage', m));
    } catch (err) {
      if (err instanceof CloudError && err.code === 'MessageNotExist') return [];
      throw err;
    }
  }

  /** Deletes a received message. A stale handle (visibility ran out) is a `notFound` MessageNotExist. */
  async delete(queueName: string, receiptHandle: string): Promise<void> {
    await this.call('DeleteMessage', (c) => c.deleteMessage(queueName, receiptHandle));
  }

  /** Hides an in-flight message for `visibilityTimeoutSeconds` more; only the returned handle stays valid. */
  async changeVisibility(
    queueName: string,
    receiptHandle: string,
    visibilityTimeoutSeconds: number,
  ): Promise<{ receiptHandle: string; nextVisibleTime: number }> {
    const { body } = await this.call('ChangeMessageVisibility', (c) =>
      c.changeMessageVisibility(queueName, receiptHandle, visibilityTimeoutSeconds),
    );
    const handle = body?.ReceiptHandle;
    if (handle === undefined) throw malformed('ChangeMessageVisibility', 'ReceiptHandle');
    return { receiptHandle: handle, nextVisibleTime: toInt(body?.NextVisibleTime) };
  }

  /** Creates a queue; succeeds when it exists with the same attributes, QueueAlreadyExist (fatal) when not. */
  async createQueue(queueName: string, attributes?: QueueAttributes): Promise<void> {
    await this.call('CreateQueue', (c) => c.createQueue(queueName, attributesToXml(attributes)));
  }

  /**
   * Makes every queue exist with at least the given attributes: dead-letter targets first, existing
   * queues with other attributes are updated (attributes not given keep their values).
   */
  async ensureQueues(specs: { name: string; attributes?: QueueAttributes }[]): Promise<void> {
    const byName = new Map(specs.map((s) => [s.name, s]));
    const done = new Set<string>();
    const visiting = new Set<string>();
    const ensure = async (spec: { name: string; attributes?: QueueAttributes }): Promise<void> => {
      if (done.has(spec.name)) return;
      if (visiting.has(spec.name)) throw localArgumentError('CreateQueue', `dead-letter queues form a cycle through ${spec.name}`);
      visiting.add(spec.name);
      const target = spec.attributes?.deadLetter?.queueName;
      const targetSpec = target === undefined ? undefined : byName.get(target);
      if (targetSpec !== undefined) await ensure(targetSpec);
      try {
        await this.createQueue(spec.name, spec.attributes);
      } catch (err) {
        if (!(err instanceof CloudError) || err.code !== 'QueueAlreadyExist') throw err;
        await this.call('SetQueueAttributes', (c) => c.setQueueAttributes(spec.name, attributesToXml(spec.attributes)));
      }
      visiting.delete(spec.name);
      done.add(spec.name);
    };
    for (const spec of specs) await ensure(spec);
  }

  async getQueueAttributes(
    queueName: string,
  ): Promise<QueueAttributes & { activeMessages: number; inactiveMessages: number; delayMessages: number }> {
    const { body } = await this.call('GetQueueAttributes', (c) => c.getQueueAttributes(queueName));
    if (body === undefined) throw malformed('GetQueueAttributes', 'a Queue element');
    const num = (key: string): number | undefined => {
      const v = body[key];
      return typeof v === 'string' && v !== '' ? Number(v) : undefined;
    };
    const result: QueueAttributes & { activeMessages: number; inactiveMessages: number; delayMessages: number } = {
      activeMessages: num('ActiveMessages') ?? 0,
      inactiveMessages: num('InactiveMessages') ?? 0,
      delayMessages: num('DelayMessages') ?? 0,
    };
    const optional: Array<[Exclude<keyof QueueAttributes, 'deadLetter'>, string]> = [
      ['visibilityTimeout', 'VisibilityTimeout'],
      ['delaySeconds', 'DelaySeconds'],
      ['maximumMessageSize', 'MaximumMessageSize'],
      ['messageRetentionPeriod', 'MessageRetentionPeriod'],
      ['pollingWaitSeconds', 'PollingWaitSeconds'],
    ];
    for (const [key, wire] of optional) {
      const v = num(wire);
      if (v !== undefined) result[key] = v;
    }
    const dlqRaw = body.DlqPolicy;
    const dlq = Array.isArray(dlqRaw) ? dlqRaw[0] : undefined;
    if (dlq !== undefined && dlq.Enabled?.toLowerCase() === 'true' && dlq.DeadLetterTargetQueue !== undefined) {
      result.deadLetter = { queueName: dlq.DeadLetterTargetQueue, maxReceiveCount: toInt(dlq.MaxReceiveCount) };
    }
    return result;
  }

  /**
   * Publishes `body` to a topic, base64-encoded UTF-8 like {@link send} (the SDK does not escape XML), so
   * a queue subscribed with SIMPLIFIED format holds exactly what {@link send} would have put there.
   * A retried publish may deliver twice: subscribers deduplicate (the outcome's operationId).
   */
  async publish(topicName: string, body: string, options?: { tag?: string }): Promise<{ messageId: string }> {
    const params: Record<string, string> = { MessageBody: Buffer.from(body, 'utf8').toString('base64') };
    if (options?.tag !== undefined) params.MessageTag = xmlText(options.tag);
    const { body: answer } = await this.call('PublishMessage', (c) => c.publishMessage(topicName, params));
    const messageId = answer?.MessageId;
    if (messageId === undefined) throw malformed('PublishMessage', 'MessageId');
    return { messageId };
  }

  /** Creates a topic; an existing one with the same attributes is a success. */
  async createTopic(topicName: string, attributes: { maximumMessageSize?: number } = {}): Promise<void> {
    const params: Record<string, number> = attributes.maximumMessageSize === undefined ? {} : { MaximumMessageSize: attributes.maximumMessageSize };
    await this.call('CreateTopic', (c) => c.createTopic(topicName, params));
  }

  /**
   * Subscribes an endpoint to a topic (Subscribe: PUT /topics/T/subscriptions/S, an XML `<Subscription>`).
   * A queue endpoint needs the region (options.regionId). Succeeds when it exists with the same attributes.
   */
  async subscribe(topicName: string, spec: TopicSubscriptionSpec): Promise<void> {
    let endpoint: string;
    if ('queue' in spec.endpoint) {
      if (this.options.regionId === undefined) throw localArgumentError('Subscribe', `a queue endpoint needs the region: construct MnsQueues with regionId`);
      endpoint = `acs:mns:${this.options.regionId}:${this.options.accountId}:queues/${spec.endpoint.queue}`;
    } else endpoint = spec.endpoint.url;
    const fields: Array<[string, string | undefined]> = [
      ['Endpoint', endpoint],
      ['NotifyStrategy', spec.notifyStrategy],
      ['NotifyContentFormat', spec.notifyContentFormat ?? 'SIMPLIFIED'],
      ['FilterTag', spec.filterTag],
    ];
    const inner = fields.filter((f): f is [string, string] => f[1] !== undefined).map(([k, v]) => `<${k}>${xmlText(v)}</${k}>`).join('');
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Subscription xmlns="http://mns.aliyuncs.com/doc/v1/">${inner}</Subscription>`;
    await this.call('Subscribe', (c) => c.put(`/topics/${topicName}/subscriptions/${spec.name}`, 'Subscription', Buffer.from(xml, 'utf8'), ['location']));
  }

  /** Makes each topic exist with its subscriptions (the queues they name must exist first). */
  async ensureTopics(specs: readonly { name: string; maximumMessageSize?: number; subscriptions?: readonly TopicSubscriptionSpec[] }[]): Promise<void> {
    for (const t of specs) {
      await this.createTopic(t.name, t.maximumMessageSize === undefined ? {} : { maximumMessageSize: t.maximumMessageSize });
      for (const sub of t.subscriptions ?? []) await this.subscribe(t.name, sub);
    }
  }

  /** Deletes a queue; an absent queue counts as deleted. */
  async deleteQueue(queueName: string): Promise<void> {
    try {
      await this.call('DeleteQueue', (c) => c.deleteQueue(queueName));
    } catch (err) {
      if (err instanceof CloudError && err.code === 'QueueNotExist') return;
      throw err;
    }
  }

  /**
   * Queue names with the prefix, at most 1000: the SDK drops `NextMarker` from the answer, so further
   * pages cannot be asked for.
   */
  async listQueues(prefix?: string): Promise<string[]> {
    const { body } = await this.call('ListQueue', (c) => c.listQueue(undefined, 1000, prefix ?? ''));
    return (body ?? [])
      .map((q) => q.QueueURL)
      .filter((url): url is string => url !== undefined)
      .map((url) => decodeURIComponent(url.slice(url.lastIndexOf('/') + 1)));
  }
}
