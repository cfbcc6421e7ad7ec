import { listenOnLoopback } from '../loopback';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type Keyring, safeEqual } from '../credentials';
import { MnsErrorTable, MnsFault } from './errors';
import { FaultRules, MnsOperation, type FiredFault, type MnsFaultEffect, type MnsFaultHandle, type MnsFaultRule, type RequestTarget } from './faults';
import {
  MessageLimits,
  MnsModel,
  type MessageState,
  type QueueConfigInput,
  type QueueState,
  type StoredMessage,
} from './model';
import { SnapshotFile } from './persist';
import { TopicModel, type NotificationRecord, type TopicState } from './topics';
import { child, elements, mnsDocument, parseXml, XmlSyntaxError, type XmlElement } from './xml';

export { MnsErrorTable, MnsFault } from './errors';
export { DlqLimits, MessageLimits, QueueAttributeLimits } from './model';
export { NotifyContentFormat, NotifyStrategy, TopicLimits, type NotificationRecord } from './topics';
export {
  MnsOperation,
  MnsServerErrorCodes,
  seededRandom,
  type FiredFault,
  type MnsFaultEffect,
  type MnsFaultHandle,
  type MnsFaultRule,
  type MnsServerErrorCode,
} from './faults';

/** Options of {@link startLocalMns}. */
export interface LocalMnsOptions {
  /** The access keys (long-term and STS) whose signatures the server accepts. */
  keyring: Keyring;
  accountId: string;
  regionId?: string;
  /** 0 or absent: an ephemeral port. */
  port?: number;
  /** When given, queues and messages (in-flight state included) survive a restart from the same directory. */
  dataDir?: string;
  /** The clock for message timing and request-date freshness. Long-poll waits always run on real time. */
  now?: () => number;
  /**
   * Multiplies VisibilityTimeout, DelaySeconds and ChangeMessageVisibility's timeout (default 1: off), so a
   * campaign at x0.01 sees redeliveries and delays at production's ratios. Attributes still read unscaled;
   * retention and long-poll waits are never scaled.
   */
  messageTimeScale?: number;
}

/** What the next requests answer instead of being served (test hook). */
export type FaultSpec =
  | { status: number; contentType?: string; body?: string }
  /** Drops the connection without an answer (a network failure seen by the client). */
  | { resetConnection: true };

/** One message as the tests and the demo see it. */
export interface MessageView {
  messageId: string;
  body: string;
  state: MessageState;
  dequeueCount: number;
  enqueueTime: number;
  nextVisibleTime: number;
  priority: number;
}

/** Picks messages for a control hook: by MessageId, or by a predicate over the message. */
export type MessageSelector = { messageId: string } | ((m: MessageView) => boolean);

/** A message received and not yet deleted, within its visibility timeout. */
export interface InFlightMessage extends MessageView {
  /** The only receipt handle that works now. */
  receiptHandle: string;
  firstDequeueTime: number;
}

/**
 * Control hooks for fault campaigns (local/mns/README.md, "Control hooks"). Test devices: none is an MNS
 * API; each imitates something MNS or the network does on its own.
 */
export interface LocalMnsControl {
  /** Adds a fault rule (answer lost, connection reset, 5xx) scoped by operation, queue, probability, count. */
  addFault(rule: MnsFaultRule): MnsFaultHandle;
  /** Removes every fault rule (the `failNext` queue too). */
  clearFaults(): void;
  /** Every fault that fired, in order. */
  firedFaults(): readonly FiredFault[];
  /** In-flight messages (received, not deleted, visibility not over) with their DequeueCount and handle. */
  inFlight(queue: string): InFlightMessage[];
  /**
   * Makes in-flight messages (all, or those `select` picks) visible now, as after a lost DeleteMessage and
   * the visibility timeout: the old handle answers MessageNotExist, the next receive has DequeueCount + 1.
   */
  redeliverNow(queue: string, select?: MessageSelector): MessageView[];
  /** Messages deleted from the queue (the last 1000; memory only), oldest first. */
  deletedMessages(queue: string): MessageView[];
  /** Puts a late duplicate of each deleted message `select` picks back in the queue (same MessageId). */
  resendDeleted(queue: string, select: MessageSelector, options?: { delaySeconds?: number }): MessageView[];
}

/** In-process read access to the queues, for tests and the demo. Reads never change delivery state. */
export interface LocalMnsQueues {
  list(): string[];
  exists(name: string): boolean;
  /** The queue's attributes as MNS names them (defaults filled in); undefined when absent. */
  attributes(name: string): Readonly<QueueState['config']> | undefined;
  counts(name: string): { active: number; inactive: number; delayed: number; total: number } | undefined;
  messages(name: string): MessageView[];
  /** Raw bodies (as sent on the wire, still base64 when the producer encoded them), in send order. */
  peekBodies(name: string): string[];
}

/** In-process read access to topics and the pushes their messages caused. */
export interface LocalMnsTopics {
  list(): string[];
  /** Subscriptions of a topic (name, endpoint, format, strategy, filter tag); [] when there is no such topic. */
  subscriptions(topic: string): { name: string; endpoint: string; notifyContentFormat: string; notifyStrategy: string; filterTag?: string }[];
  /** Every push to a subscription (queue sends and HTTP attempts), oldest first. */
  notifications(): readonly NotificationRecord[];
  /** Where x-mns-signing-cert-url points: the PEM public key the HTTP pushes are signed with. */
  readonly signingCertUrl: string;
}

/** A running local MNS. */
export interface LocalMns {
  /** `http://127.0.0.1:PORT`, what `new MNS(accountId, { endpoint })` takes. */
  readonly endpoint: string;
  readonly port: number;
  readonly accountId: string;
  readonly regionId: string;
  readonly queues: LocalMnsQueues;
  /** The next `count` requests get `fault` instead of being served (after their body is read). */
  failNext(count: number, fault: FaultSpec): void;
  /** Fault rules, redelivery and duplicates for fault campaigns. */
  readonly control: LocalMnsControl;
  /** In-process read access to topics (memory only: topics are not in the snapshot). */
  readonly topics: LocalMnsTopics;
  /** Requests answered so far (faults included), for tests that count round trips. */
  readonly requestCount: number;
  /** Ends pending long polls (they answer MessageNotExist), closes every connection, flushes state. */
  close(): Promise<void>;
}

/**
 * MNS signs with the request's Date; requests older or newer than this are TimeExpired (408). MNS does
 * not publish the window; 15 minutes is what Alibaba's other HMAC APIs (OSS) allow.
 */
const DATE_SKEW_MS = 15 * 60_000;
/** Where the local MNS serves the key its HTTP pushes are signed with (see handle()). */
const SIGNING_CERT_PATH = '/_local/mns/signing-cert.pem';
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

type Query = Map<string, string>;

/**
 * Query strings are parsed by hand: the SDK puts receipt handles into the URL unencoded, so `+` must
 * stay `+` (URLSearchParams would turn it into a space). Keys are matched case-insensitively because
 * the SDK itself spells `ReceiptHandle` and `receiptHandle` in different calls.
 */
function parseQuery(raw: string): Query {
  const query: Query = new Map();
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    let decoded = value;
    try {
      decoded = decodeURIComponent(value);
    } catch {
      throw new MnsFault('InvalidQueryString', `Http request URL contains invalid querystring item "${key}".`);
    }
    query.set(key.toLowerCase(), decoded);
  }
  return query;
}

interface ParsedUrl {
  path: string;
  query: Query;
  segments: string[];
  method: string;
}

function parseUrl(req: IncomingMessage): ParsedUrl {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = parseQuery(q < 0 ? '' : url.slice(q + 1));
  const segments = path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  return { path, query, segments, method: req.method ?? 'GET' };
}

/**
 * The operation and queue a request addresses, for fault rules; never throws (a request the API does not
 * know has no operation, and route() answers it with the proper error).
 */
function targetOf(req: IncomingMessage, bodyText: string): RequestTarget {
  let parsed: ParsedUrl;
  try {
    parsed = parseUrl(req);
  } catch {
    return {};
  }
  const { segments, query, method } = parsed;
  if (segments[0] === 'topics') return topicTargetOf(segments, method);
  if (segments[0] !== 'queues') return {};
  const queue = segments[1];
  if (queue === undefined) return method === 'GET' ? { operation: MnsOperation.ListQueue } : {};
  const op = (operation: MnsOperation): RequestTarget => ({ operation, queue });
  if (segments.length === 2) {
    if (method === 'PUT') return op(query.get('metaoverride') === 'true' ? MnsOperation.SetQueueAttributes : MnsOperation.CreateQueue);
    if (method === 'GET') return op(MnsOperation.GetQueueAttributes);
    if (method === 'DELETE') return op(MnsOperation.DeleteQueue);
    return { queue };
  }
  if (segments.length !== 3 || segments[2] !== 'messages') return { queue };
  const batch = query.has('numofmessages');
  switch (method) {
    case 'POST':
      return op(/<Messages[\s>]/.test(bodyText) ? MnsOperation.BatchSendMessage : MnsOperation.SendMessage);
    case 'GET':
      if (query.get('peekonly') === 'true') return op(batch ? MnsOperation.BatchPeekMessage : MnsOperation.PeekMessage);
      return op(batch ? MnsOperation.BatchReceiveMessage : MnsOperation.ReceiveMessage);
    case 'DELETE':
      return op(query.has('receipthandle') ? MnsOperation.DeleteMessage : MnsOperation.BatchDeleteMessage);
    case 'PUT':
      return op(MnsOperation.ChangeMessageVisibility);
    default:
      return { queue };
  }
}

/** A topic request's operation, for fault rules (the topic's name in the `queue` scope). */
function topicTargetOf(segments: string[], method: string): RequestTarget {
  const queue = segments[1];
  if (queue === undefined) return {};
  const op = (operation: MnsOperation): RequestTarget => ({ operation, queue });
  if (segments.length === 2) return method === 'PUT' ? op(MnsOperation.CreateTopic) : method === 'GET' ? op(MnsOperation.GetTopicAttributes) : { queue };
  if (segments[2] === 'messages' && method === 'POST') return op(MnsOperation.PublishMessage);
  if (segments[2] === 'subscriptions') return method === 'PUT' ? op(MnsOperation.Subscribe) : method === 'DELETE' ? op(MnsOperation.Unsubscribe) : { queue };
  return { queue };
}

function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw new MnsFault('InvalidArgument', `The value of ${name} must be an integer, got "${value}".`);
  return Number.parseInt(value, 10);
}

function parseBodyXml(body: string, expectedRoots: readonly string[]): XmlElement {
  let root: XmlElement;
  try {
    root = parseXml(body);
  } catch (err) {
    if (err instanceof XmlSyntaxError) {
      throw new MnsFault('MalformedXML', `The XML you provided was not well-formed: ${err.message}. Escape or base64-encode message bodies.`);
    }
    throw err;
  }
  if (!expectedRoots.includes(root.name)) {
    throw new MnsFault('InvalidArgument', `The XML you provided did not validate against our published schema, cause by Element ${root.name}.`);
  }
  return root;
}

const NUMERIC_QUEUE_ELEMENTS = [
  'VisibilityTimeout',
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'PollingWaitSeconds',
] as const;

function parseQueueAttributes(body: string): QueueConfigInput {
  if (body.trim() === '') return {};
  const root = parseBodyXml(body, ['Queue']);
  const input: QueueConfigInput = {};
  for (const name of NUMERIC_QUEUE_ELEMENTS) {
    const value = intParam(child(root, name)?.text, name);
    if (value !== undefined) input[name] = value;
  }
  const logging = child(root, 'LoggingEnabled')?.text;
  if (logging !== undefined) input.LoggingEnabled = logging.toLowerCase() === 'true';
  const dlq = child(root, 'DlqPolicy');
  if (dlq !== undefined) {
    const enabled = (child(dlq, 'Enabled')?.text ?? 'true').toLowerCase() === 'true';
    if (!enabled) input.DlqPolicy = undefined;
    else {
      const target = child(dlq, 'DeadLetterTargetQueue')?.text;
      const maxReceiveCount = intParam(child(dlq, 'MaxReceiveCount')?.text, 'MaxReceiveCount');
      if (target === undefined || target === '' || maxReceiveCount === undefined) {
        throw new MnsFault('InvalidArgument', 'DlqPolicy needs DeadLetterTargetQueue and MaxReceiveCount.');
      }
      input.DlqPolicy = { Enabled: true, DeadLetterTargetQueue: target, MaxReceiveCount: maxReceiveCount };
    }
  }
  return input;
}

function parseMessageEntry(element: XmlElement): { body: string; delaySeconds?: number; priority?: number } {
  const body = child(element, 'MessageBody');
  if (body === undefined) throw new MnsFault('InvalidArgument', 'MessageBody is required.');
  const entry: { body: string; delaySeconds?: number; priority?: number } = { body: body.text };
  const delay = intParam(child(element, 'DelaySeconds')?.text, 'DelaySeconds');
  if (delay !== undefined) entry.delaySeconds = delay;
  const priority = intParam(child(element, 'Priority')?.text, 'Priority');
  if (priority !== undefined) entry.priority = priority;
  return entry;
}

function receivedMessageXml(m: StoredMessage): string {
  return elements([
    ['MessageId', m.messageId],
    ['ReceiptHandle', m.receiptHandle],
    ['MessageBodyMD5', m.bodyMd5],
    ['MessageBody', m.body],
    ['EnqueueTime', m.enqueueTime],
    ['NextVisibleTime', m.nextVisibleTime],
    ['FirstDequeueTime', m.firstDequeueTime === 0 ? undefined : m.firstDequeueTime],
    ['DequeueCount', m.dequeueCount],
    ['Priority', m.priority],
  ]);
}

function peekedMessageXml(m: StoredMessage): string {
  return elements([
    ['MessageId', m.messageId],
    ['MessageBodyMD5', m.bodyMd5],
    ['MessageBody', m.body],
    ['EnqueueTime', m.enqueueTime],
    ['FirstDequeueTime', m.firstDequeueTime === 0 ? undefined : m.firstDequeueTime],
    ['DequeueCount', m.dequeueCount],
    ['Priority', m.priority],
  ]);
}

/** GetTopicAttributes' answer: the attributes the Topic reference lists (retention is MNS's fixed 1 day, a guess). */
function topicXml(t: TopicState): string {
  return elements([
    ['TopicName', t.name],
    ['CreateTime', Math.floor(t.createTime / 1000)],
    ['LastModifyTime', Math.floor(t.createTime / 1000)],
    ['MaximumMessageSize', t.maximumMessageSize],
    ['MessageRetentionPeriod', 86400],
    ['MessageCount', t.messageCount],
    ['LoggingEnabled', 'False'],
  ]);
}

interface Answer {
  status: number;
  root?: string;
  xml?: string;
  headers?: Record<string, string>;
}

/**
 * Starts a local MNS on 127.0.0.1 that the real `@alicloud/mns` client talks to: queue and message
 * APIs with MNS's wire format, signature and STS checks, MNS error codes and statuses, long polling
 * that returns as soon as a message arrives, and (with `dataDir`) state that survives a restart.
 */
export async function startLocalMns(options: LocalMnsOptions): Promise<LocalMns> {
  const now = options.now ?? Date.now;
  const regionId = options.regionId ?? 'cn-hangzhou';
  const hostId = `http://${options.accountId}.mns.${regionId}.aliyuncs.com`;
  const file = options.dataDir === undefined ? undefined : new SnapshotFile(options.dataDir);

  let dirty = false;
  let flushScheduled = false;
  const flush = (): void => {
    if (!dirty || file === undefined) return;
    dirty = false;
    file.save(model.snapshot());
  };
  const model: MnsModel = new MnsModel(
    now,
    () => {
    if (file === undefined) return;
    dirty = true;
    // Changes made outside a request (in-process reads settling time) are flushed soon; requests
    // flush synchronously before they answer.
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(() => {
        flushScheduled = false;
        flush();
      });
    }
    },
    options.messageTimeScale ?? 1,
  );
  const saved = file?.load();
  if (saved !== undefined) model.restore(saved);

  const faults: FaultSpec[] = [];
  const rules = new FaultRules();
  const wakeOnClose = new Set<() => void>();
  const sockets = new Set<Socket>();
  let closing = false;
  let requestCount = 0;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  const authenticate = (req: IncomingMessage, body: Buffer): void => {
    const authorization = req.headers.authorization;
    if (authorization === undefined || authorization === '') throw new MnsFault('MissingAuthorizationHeader');
    const match = /^MNS ([^:\s]+):(\S+)$/.exec(authorization);
    if (match === null) throw new MnsFault('InvalidAuthorizationHeader', 'The Authorization header must read "MNS AccessKeyId:Signature".');
    const [, accessKeyId, signature] = match as unknown as [string, string, string];
    const date = req.headers.date;
    if (date === undefined || date === '') throw new MnsFault('MissingDateHeader');
    const sentAt = Date.parse(date);
    if (Number.isNaN(sentAt)) throw new MnsFault('InvalidDateHeader', `The Date header "${date}" is not an HTTP date.`);
    if (Math.abs(now() - sentAt) > DATE_SKEW_MS) {
      throw new MnsFault('TimeExpired', 'The http request you sent is expired: check the clock of the caller (allowed skew 15 minutes).');
    }
    const tokenHeader = req.headers['security-token'];
    const token = Array.isArray(tokenHeader) ? tokenHeader[0] : tokenHeader;
    const found = options.keyring.lookup(accessKeyId, token, now());
    if (!found.ok) {
      // MNS documents no dedicated STS codes; a key it does not know is InvalidAccessKeyId and an STS key
      // without its valid token is refused as AccessDenied.
      if (found.reason === 'unknownKey') throw new MnsFault('InvalidAccessKeyId', `The AccessKey Id ${accessKeyId} is not known to this MNS.`);
      const why = { tokenMissing: 'needs its security-token header', tokenMismatch: 'came with a security token that does not match', tokenExpired: 'has an expired security token' }[found.reason];
      throw new MnsFault('AccessDenied', `The STS AccessKey ${accessKeyId} ${why}: refresh the STS credentials.`);
    }
    const contentMd5Header = req.headers['content-md5'];
    const contentMd5 = Array.isArray(contentMd5Header) ? contentMd5Header[0] : contentMd5Header;
    if (contentMd5 !== undefined) {
      // MNS's Content-MD5 is base64 of the hex digest (not of the raw digest as in RFC 1864).
      const expected = Buffer.from(createHash('md5').update(body).digest('hex')).toString('base64');
      if (!safeEqual(expected, contentMd5)) throw new MnsFault('InvalidDegist');
    }
    const mnsHeaders = Object.keys(req.headers)
      .filter((k) => k.startsWith('x-mns-'))
      .sort()
      .map((k) => `${k}:${String(req.headers[k])}\n`)
      .join('');
    const stringToSign = `${req.method ?? ''}\n${contentMd5 ?? ''}\n${req.headers['content-type'] ?? ''}\n${date}\n${mnsHeaders}${req.url ?? ''}`;
    const expected = createHmac('sha1', found.key.accessKeySecret).update(stringToSign, 'utf8').digest('base64');
    if (!safeEqual(expected, signature)) throw new MnsFault('SignatureDoesNotMatch');
  };

  /** Receives, waiting on real time up to `waitMs` for a message to become receivable. */
  const receiveWaiting = async (queueName: string, max: number, waitMs: number, res: ServerResponse): Promise<StoredMessage[]> => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (res.destroyed) return []; // the caller went away: do not put messages in flight for nobody
      const got = model.receive(queueName, max);
      if (got.length > 0 || closing) return got;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return [];
      // A delayed or in-flight message becomes receivable on the injected clock, which may run faster
      // than real time in tests: look again at least every 200 ms while one is pending.
      const untilVisible = model.msUntilNextVisible(queueName);
      const sleepMs = Math.max(1, Math.min(remaining, untilVisible === undefined ? remaining : Math.min(untilVisible, 200)));
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          unsubscribe();
          wakeOnClose.delete(done);
          res.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, sleepMs);
        const unsubscribe = model.onMessageAvailable((name) => {
          if (name === queueName) done();
        });
        wakeOnClose.add(done);
        res.once('close', done);
      });
    }
  };

  let signingCertUrl = '';
  const topics = new TopicModel({
    now,
    accountId: options.accountId,
    regionId,
    timeScale: options.messageTimeScale ?? 1,
    signingCertUrl: () => signingCertUrl,
    sendToQueue(queue, body) {
      const [result] = model.send(queue, [{ body }]);
      if (result === undefined || !result.ok) throw new MnsFault('InvalidArgument', result?.message);
      flush();
    },
  });

  const route = async (req: IncomingMessage, res: ServerResponse, bodyText: string): Promise<Answer> => {
    const { path, query, segments, method } = parseUrl(req);
    if (segments[0] === 'topics') return routeTopic(req, segments, method, bodyText);
    if (segments[0] !== 'queues' || segments.length > 3 || (segments.length === 3 && segments[2] !== 'messages')) {
      throw new MnsFault('InvalidRequestURL', `Http request URL format invalid: ${method} ${path}.`);
    }
    const queueName = segments[1];

    if (queueName === undefined) {
      if (method !== 'GET') throw new MnsFault('InvalidRequestURL');
      const header = (name: string): string => {
        const value = req.headers[name];
        return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
      };
      const limitText = header('x-mns-ret-number');
      const limit = limitText === '' ? 1000 : (intParam(limitText, 'x-mns-ret-number') as number);
      if (limit < 1 || limit > 1000) throw new MnsFault('InvalidArgument', 'The value of x-mns-ret-number should between 1 and 1000.');
      const { names, nextMarker } = model.listQueues(header('x-mns-prefix'), header('x-mns-marker'), limit);
      const endpoint = `http://${req.headers.host ?? '127.0.0.1'}`;
      const inner =
        names.map((n) => `<Queue>${elements([['QueueURL', `${endpoint}/queues/${n}`]])}</Queue>`).join('') +
        elements([['NextMarker', nextMarker]]);
      return { status: 200, root: 'Queues', xml: inner };
    }

    if (segments.length === 2) {
      switch (method) {
        case 'PUT': {
          const input = parseQueueAttributes(bodyText);
          if (query.get('metaoverride') === 'true') {
            model.setQueueAttributes(queueName, input);
            return { status: 204 };
          }
          const outcome = model.createQueue(queueName, input);
          const location = `http://${req.headers.host ?? '127.0.0.1'}/queues/${queueName}`;
          return { status: outcome === 'created' ? 201 : 204, headers: { location } };
        }
        case 'GET': {
          const queue = model.queue(queueName);
          const counts = model.counts(queueName);
          const c = queue.config;
          const dlq =
            c.DlqPolicy === undefined
              ? ''
              : `<DlqPolicy>${elements([
                  ['Enabled', String(c.DlqPolicy.Enabled)],
                  ['DeadLetterTargetQueue', c.DlqPolicy.DeadLetterTargetQueue],
                  ['MaxReceiveCount', c.DlqPolicy.MaxReceiveCount],
                ])}</DlqPolicy>`;
          const inner =
            elements([
              ['QueueName', queue.name],
              ['CreateTime', Math.floor(queue.createTime / 1000)],
              ['LastModifyTime', Math.floor(queue.lastModifyTime / 1000)],
              ['VisibilityTimeout', c.VisibilityTimeout],
              ['MaximumMessageSize', c.MaximumMessageSize],
              ['MessageRetentionPeriod', c.MessageRetentionPeriod],
              ['DelaySeconds', c.DelaySeconds],
              ['PollingWaitSeconds', c.PollingWaitSeconds],
              ['ActiveMessages', counts.active],
              ['InactiveMessages', counts.inactive],
              ['DelayMessages', counts.delayed],
              ['LoggingEnabled', c.LoggingEnabled ? 'True' : 'False'],
            ]) + dlq;
          return { status: 200, root: 'Queue', xml: inner };
        }
        case 'DELETE':
          model.deleteQueue(queueName);
          return { status: 204 };
        default:
          throw new MnsFault('InvalidRequestURL');
      }
    }

    // /queues/<name>/messages
    switch (method) {
      case 'POST': {
        const root = parseBodyXml(bodyText, ['Message', 'Messages']);
        if (root.name === 'Message') {
          const [result] = model.send(queueName, [parseMessageEntry(root)]);
          if (result === undefined || !result.ok) throw new MnsFault('InvalidArgument', result?.message);
          return { status: 201, root: 'Message', xml: elements([['MessageId', result.messageId], ['MessageBodyMD5', result.bodyMd5]]) };
        }
        const entries = root.children.filter((c) => c.name === 'Message');
        if (entries.length < 1 || entries.length > MessageLimits.BatchSize) {
          throw new MnsFault('InvalidArgument', `The number of messages in a batch should between 1 and ${MessageLimits.BatchSize}, got ${entries.length}.`);
        }
        const parsed = entries.map(parseMessageEntry);
        const totalBytes = parsed.reduce((sum, e) => sum + Buffer.byteLength(e.body, 'utf8'), 0);
        if (totalBytes > MessageLimits.BatchTotalBytes) {
          throw new MnsFault('InvalidArgument', `The total size of a batch should not exceed ${MessageLimits.BatchTotalBytes} bytes, got ${totalBytes}.`);
        }
        const results = model.send(queueName, parsed);
        const inner = results
          .map((r) =>
            r.ok
              ? `<Message>${elements([['MessageId', r.messageId], ['MessageBodyMD5', r.bodyMd5]])}</Message>`
              : `<Message>${elements([['ErrorCode', r.code], ['ErrorMessage', r.message]])}</Message>`,
          )
          .join('');
        // A batch with any failed entry answers 500 with a result per entry (how the MNS SDKs detect
        // partial failure; the Node SDK resolves it without throwing).
        return { status: results.every((r) => r.ok) ? 201 : 500, root: 'Messages', xml: inner };
      }
      case 'GET': {
        const batchSize = intParam(query.get('numofmessages'), 'numOfMessages');
        if (batchSize !== undefined && (batchSize < 1 || batchSize > MessageLimits.BatchSize)) {
          throw new MnsFault('InvalidArgument', `The value of numOfMessages should between 1 and ${MessageLimits.BatchSize}.`);
        }
        const max = batchSize ?? 1;
        if (query.get('peekonly') === 'true') {
          const peeked = model.peek(queueName, max);
          if (peeked.length === 0) throw new MnsFault('MessageNotExist');
          if (batchSize === undefined) return { status: 200, root: 'Message', xml: peekedMessageXml(peeked[0] as StoredMessage) };
          return { status: 200, root: 'Messages', xml: peeked.map((m) => `<Message>${peekedMessageXml(m)}</Message>`).join('') };
        }
        const queue = model.queue(queueName);
        const wait = intParam(query.get('waitseconds'), 'waitseconds') ?? queue.config.PollingWaitSeconds;
        if (wait < MessageLimits.WaitSeconds.min || wait > MessageLimits.WaitSeconds.max) {
          throw new MnsFault('InvalidArgument', `The value of waitseconds should between 0 and ${MessageLimits.WaitSeconds.max} seconds.`);
        }
        const got = await receiveWaiting(queueName, max, wait * 1000, res);
        if (got.length === 0) throw new MnsFault('MessageNotExist');
        if (batchSize === undefined) return { status: 200, root: 'Message', xml: receivedMessageXml(got[0] as StoredMessage) };
        return { status: 200, root: 'Messages', xml: got.map((m) => `<Message>${receivedMessageXml(m)}</Message>`).join('') };
      }
      case 'DELETE': {
        if (query.has('receipthandle')) {
          const handle = query.get('receipthandle') ?? '';
          if (handle === '') throw new MnsFault('MissingReceiptHandle');
          model.deleteMessage(queueName, handle);
          return { status: 204 };
        }
        if (bodyText.trim() === '') throw new MnsFault('MissingReceiptHandle');
        const root = parseBodyXml(bodyText, ['ReceiptHandles']);
        const handles = root.children.filter((c) => c.name === 'ReceiptHandle').map((c) => c.text);
        if (handles.length < 1 || handles.length > MessageLimits.BatchSize) {
          throw new MnsFault('InvalidArgument', `The number of receipt handles should between 1 and ${MessageLimits.BatchSize}.`);
        }
        model.queue(queueName);
        const errors: string[] = [];
        for (const handle of handles) {
          try {
            model.deleteMessage(queueName, handle);
          } catch (err) {
            if (!(err instanceof MnsFault)) throw err;
            errors.push(`<Error>${elements([['ErrorCode', err.code], ['ErrorMessage', err.message], ['ReceiptHandle', handle]])}</Error>`);
          }
        }
        // 204 only when every handle was deleted (BatchDeleteMessage reference); otherwise one error each.
        return errors.length === 0 ? { status: 204 } : { status: 404, root: 'Errors', xml: errors.join('') };
      }
      case 'PUT': {
        const handle = query.get('receipthandle');
        if (handle === undefined || handle === '') throw new MnsFault('MissingReceiptHandle');
        const timeout = intParam(query.get('visibilitytimeout'), 'visibilityTimeout');
        if (timeout === undefined) throw new MnsFault('MissingVisibilityTimeout');
        const changed = model.changeVisibility(queueName, handle, timeout);
        return {
          status: 200,
          root: 'ChangeVisibility',
          xml: elements([['ReceiptHandle', changed.receiptHandle], ['NextVisibleTime', changed.nextVisibleTime]]),
        };
      }
      default:
        throw new MnsFault('InvalidRequestURL');
    }
  };

  /**
   * The topic API (MNS API reference: CreateTopic, GetTopicAttributes, Subscribe, Unsubscribe,
   * PublishMessage): `/topics/T`, `/topics/T/subscriptions/S`, `/topics/T/messages`, XML bodies as for
   * queues. `@alicloud/mns` 1.2.0 sends CreateTopic, GetTopicAttributes and PublishMessage itself
   * (lib/client.js); its subscribe() is an empty stub, so cloud/mns.ts sends Subscribe through the
   * client's signed put().
   */
  const routeTopic = (req: IncomingMessage, segments: string[], method: string, bodyText: string): Answer => {
    const topicName = segments[1];
    const host = `http://${req.headers.host ?? '127.0.0.1'}`;
    if (topicName === undefined || segments.length > 4) throw new MnsFault('InvalidRequestURL', `Http request URL format invalid: ${method} /${segments.join('/')}.`);
    if (segments.length === 2) {
      if (method === 'PUT') {
        const root = bodyText.trim() === '' ? undefined : parseBodyXml(bodyText, ['Topic']);
        const size = root === undefined ? undefined : intParam(child(root, 'MaximumMessageSize')?.text, 'MaximumMessageSize');
        const outcome = topics.createTopic(topicName, size);
        return { status: outcome === 'created' ? 201 : 204, headers: { location: `${host}/topics/${topicName}` } };
      }
      if (method === 'GET') return { status: 200, root: 'Topic', xml: topicXml(topics.topic(topicName)) };
      throw new MnsFault('InvalidRequestURL');
    }
    if (segments.length === 3 && segments[2] === 'messages' && method === 'POST') {
      const root = parseBodyXml(bodyText, ['Message']);
      const body = child(root, 'MessageBody')?.text;
      if (body === undefined) throw new MnsFault('InvalidArgument', 'MessageBody is required.');
      const tag = child(root, 'MessageTag')?.text;
      const published = topics.publish(topicName, { body, ...(tag === undefined ? {} : { tag }) });
      return { status: 201, root: 'Message', xml: elements([['MessageId', published.messageId], ['MessageBodyMD5', published.bodyMd5]]) };
    }
    const subscription = segments[3];
    if (segments[2] !== 'subscriptions' || subscription === undefined) throw new MnsFault('InvalidRequestURL', `Http request URL format invalid: ${method} /${segments.join('/')}.`);
    if (method === 'PUT') {
      const root = parseBodyXml(bodyText, ['Subscription']);
      const endpoint = child(root, 'Endpoint')?.text;
      if (endpoint === undefined || endpoint === '') throw new MnsFault('InvalidArgument', 'Endpoint is required.');
      const text = (name: string) => child(root, name)?.text;
      const input = {
        name: subscription,
        endpoint,
        ...(text('NotifyStrategy') === undefined ? {} : { notifyStrategy: text('NotifyStrategy') as string }),
        ...(text('NotifyContentFormat') === undefined ? {} : { notifyContentFormat: text('NotifyContentFormat') as string }),
        ...(text('FilterTag') === undefined ? {} : { filterTag: text('FilterTag') as string }),
      };
      const outcome = topics.subscribe(topicName, input);
      return { status: outcome === 'created' ? 201 : 204, headers: { location: `${host}/topics/${topicName}/subscriptions/${subscription}` } };
    }
    if (method === 'DELETE') {
      topics.unsubscribe(topicName, subscription);
      return { status: 204 };
    }
    throw new MnsFault('InvalidRequestURL');
  };

  const send = (res: ServerResponse, requestId: string, answer: Answer): void => {
    flush();
    if (res.destroyed) return;
    const headers: Record<string, string> = { 'x-mns-request-id': requestId, 'x-mns-version': '2015-06-06', ...answer.headers };
    if (answer.root === undefined) {
      res.writeHead(answer.status, headers);
      res.end();
      return;
    }
    const payload = Buffer.from(mnsDocument(answer.root, answer.xml ?? ''), 'utf8');
    res.writeHead(answer.status, { ...headers, 'content-type': 'text/xml;charset=utf-8', 'content-length': String(payload.length) });
    res.end(payload);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomBytes(12).toString('hex').toUpperCase();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_REQUEST_BYTES) {
        send(res, requestId, errorAnswer(new MnsFault('InvalidArgument', `The request body exceeds ${MAX_REQUEST_BYTES} bytes.`), requestId));
        req.destroy();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    requestCount += 1;
    if (req.method === 'GET' && req.url === SIGNING_CERT_PATH) {
      // Not an MNS API: where x-mns-signing-cert-url points. MNS serves an X.509 certificate from
      // https://mnstest.oss-cn-hangzhou.aliyuncs.com/...; the local MNS serves the PEM public key, which
      // crypto.createPublicKey reads as it reads a certificate.
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(topics.signingKey.publicKeyPem);
      return;
    }
    const fault = faults.shift();
    if (fault !== undefined) {
      if ('resetConnection' in fault) {
        req.socket.destroy();
        return;
      }
      res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'text/plain', 'x-mns-request-id': requestId });
      res.end(fault.body ?? '');
      return;
    }
    const body = Buffer.concat(chunks);
    try {
      authenticate(req, body);
      const bodyText = body.toString('utf8');
      const target = targetOf(req, bodyText);
      const before = rules.pick('before', target, requestId, now());
      if (before !== undefined) {
        injectFault(req, res, requestId, before);
        return;
      }
      const answer = await route(req, res, bodyText);
      const after = answer.status < 300 ? rules.pick('after', target, requestId, now()) : undefined;
      if (after !== undefined) {
        injectFault(req, res, requestId, after);
        return;
      }
      send(res, requestId, answer);
    } catch (err) {
      if (err instanceof MnsFault) send(res, requestId, errorAnswer(err, requestId));
      else {
        send(res, requestId, errorAnswer(new MnsFault('InternalError', `Interal error: ${(err as Error).message}`), requestId));
      }
    }
  };

  /** Answers a request with a fault rule's effect; whatever the request changed is persisted first. */
  const injectFault = (req: IncomingMessage, res: ServerResponse, requestId: string, effect: MnsFaultEffect): void => {
    flush();
    if (effect.kind === 'serverError') {
      send(res, requestId, errorAnswer(new MnsFault(effect.code ?? 'InternalError'), requestId));
      return;
    }
    // answerLost and connectionReset: no status line, no body; the client's socket closes under it.
    req.socket.destroy();
  };

  const errorAnswer = (fault: MnsFault, requestId: string): Answer => ({
    status: fault.status,
    root: 'Error',
    xml: elements([['Code', fault.code], ['Message', fault.message], ['RequestId', requestId], ['HostId', hostId]]),
  });

  const server: Server = createServer((req, res) => {
    inFlight += 1;
    void handle(req, res).finally(() => {
      inFlight -= 1;
      if (inFlight === 0) idle?.();
    });
  });
  const port = await listenOnLoopback(server, sockets, options.port);
  signingCertUrl = `http://127.0.0.1:${port}${SIGNING_CERT_PATH}`;

  const viewOf = (m: StoredMessage, t = now()): MessageView => ({
    messageId: m.messageId,
    body: m.body,
    state: model.stateOf(m, t),
    dequeueCount: m.dequeueCount,
    enqueueTime: m.enqueueTime,
    nextVisibleTime: m.nextVisibleTime,
    priority: m.priority,
  });
  const view = (name: string): MessageView[] => {
    if (!model.hasQueue(name)) return [];
    const t = now();
    return model.queue(name).messages.map((m) => viewOf(m, t));
  };
  const predicate = (select: MessageSelector | undefined): ((m: StoredMessage) => boolean) => {
    if (select === undefined) return () => true;
    if (typeof select === 'function') return (m) => select(viewOf(m));
    return (m) => m.messageId === select.messageId;
  };
  /** Control hooks act on the model directly; a request may be waiting for what they change, so persist now. */
  const controlled = <T>(result: T): T => {
    flush();
    return result;
  };
  const control: LocalMnsControl = {
    addFault: (rule) => rules.add(rule),
    clearFaults() {
      rules.clear();
      faults.length = 0;
    },
    firedFaults: () => rules.fired(),
    inFlight: (name) =>
      model.inFlightMessages(name).map((m) => ({ ...viewOf(m), receiptHandle: m.receiptHandle as string, firstDequeueTime: m.firstDequeueTime })),
    redeliverNow: (name, select) => controlled(model.redeliverNow(name, predicate(select)).map((m) => viewOf(m))),
    deletedMessages: (name) => model.deletedMessages(name).map((m) => viewOf(m)),
    resendDeleted: (name, select, opts = {}) => controlled(model.resendDeleted(name, predicate(select), opts.delaySeconds ?? 0).map((m) => viewOf(m))),
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    accountId: options.accountId,
    regionId,
    get requestCount() {
      return requestCount;
    },
    queues: {
      list: () => model.queueNames(),
      exists: (name) => model.hasQueue(name),
      attributes: (name) => (model.hasQueue(name) ? { ...model.queue(name).config } : undefined),
      counts: (name) => {
        if (!model.hasQueue(name)) return undefined;
        const c = model.counts(name);
        return { ...c, total: c.active + c.inactive + c.delayed };
      },
      messages: view,
      peekBodies: (name) => view(name).map((m) => m.body),
    },
    failNext(count, fault) {
      for (let i = 0; i < count; i += 1) faults.push(fault);
    },
    control,
    topics: {
      list: () => topics.topicNames(),
      subscriptions: (name) => {
        if (!topics.topicNames().includes(name)) return [];
        return [...topics.topic(name).subscriptions.values()].map((s) => ({
          name: s.name,
          endpoint: s.endpoint,
          notifyContentFormat: s.notifyContentFormat,
          notifyStrategy: s.notifyStrategy,
          ...(s.filterTag === undefined ? {} : { filterTag: s.filterTag }),
        }));
      },
      notifications: () => topics.notifications(),
      get signingCertUrl() {
        return signingCertUrl;
      },
    },
    async close() {
      if (closing) return;
      closing = true;
      await topics.close();
      for (const wake of [...wakeOnClose]) wake();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([new Promise<void>((resolve) => (idle = resolve)), new Promise((r) => setTimeout(r, 1000).unref())]);
      }
      for (const socket of sockets) socket.destroy();
      await closed;
      flush();
    },
  };
}

/** The MNS error codes the local server can answer, with their statuses (for docs and tests). */
export const localMnsErrorCodes = Object.keys(MnsErrorTable) as (keyof typeof MnsErrorTable)[];
