import { createHash, randomBytes } from 'node:crypto';
import { MnsFault } from './errors';

/**
 * The queues of one local MNS account: their attributes, their messages and every state change, with
 * MNS's rules. Time is read from an injected clock; state transitions that only depend on time
 * (a delay or a visibility timeout running out, retention) are computed from timestamps whenever a
 * queue is touched, so nothing needs a timer and a restart resumes exactly where it stopped.
 */

/** Queue attribute ranges and defaults (ROS ALIYUN::MNS::Queue and the MNS CreateQueue reference). */
export const QueueAttributeLimits = {
  VisibilityTimeout: { min: 1, max: 43200, default: 30 },
  DelaySeconds: { min: 0, max: 604800, default: 0 },
  MaximumMessageSize: { min: 1024, max: 65536, default: 65536 },
  MessageRetentionPeriod: { min: 60, max: 604800, default: 345600 },
  PollingWaitSeconds: { min: 0, max: 30, default: 0 },
} as const;
export type NumericQueueAttribute = keyof typeof QueueAttributeLimits;

/**
 * Dead-letter policy. MNS's OpenAPI (mns-open 2022-01-19 CreateQueue/GetQueueAttributes) and ROS
 * (ALIYUN::MNS::Queue) call it `DlqPolicy{Enabled, DeadLetterTargetQueue, MaxReceiveCount}`; the XML API
 * element is not documented, so the local server accepts the same names nested as
 * `<Queue><DlqPolicy><Enabled>true</Enabled><DeadLetterTargetQueue>q</DeadLetterTargetQueue>
 * <MaxReceiveCount>3</MaxReceiveCount></DlqPolicy></Queue>`. "When a message's receive count exceeds
 * the configured maximum receive count, the system moves it to the dead-letter queue"
 * (help.aliyun.com/en/mns/developer-reference/dead-letter-queue): a message is delivered at most
 * MaxReceiveCount times. The 1..1000 range is an assumption.
 */
export const DlqLimits = { MaxReceiveCount: { min: 1, max: 1000 } } as const;

/** Message-level limits (SendMessage / BatchSendMessage / ReceiveMessage references). */
export const MessageLimits = {
  Priority: { min: 1, max: 16, default: 8 },
  BatchSize: 16,
  BatchTotalBytes: 65536,
  WaitSeconds: { min: 0, max: 30 },
} as const;

export interface DlqPolicy {
  Enabled: boolean;
  DeadLetterTargetQueue: string;
  MaxReceiveCount: number;
}

export interface QueueConfig {
  VisibilityTimeout: number;
  DelaySeconds: number;
  MaximumMessageSize: number;
  MessageRetentionPeriod: number;
  PollingWaitSeconds: number;
  LoggingEnabled: boolean;
  DlqPolicy?: DlqPolicy;
}

export type QueueConfigInput = Partial<QueueConfig>;

export interface StoredMessage {
  messageId: string;
  body: string;
  /** Uppercase hex MD5 of the body as sent, as MNS reports `MessageBodyMD5`. */
  bodyMd5: string;
  priority: number;
  seq: number;
  enqueueTime: number;
  /** 0 until the first receive. */
  firstDequeueTime: number;
  nextVisibleTime: number;
  dequeueCount: number;
  /** The only receipt handle that is valid, while the message is in flight. */
  receiptHandle?: string;
}

export interface QueueState {
  name: string;
  config: QueueConfig;
  createTime: number;
  lastModifyTime: number;
  messages: StoredMessage[];
}

export type MessageState = 'active' | 'inactive' | 'delayed';

export type SendResult =
  | { ok: true; messageId: string; bodyMd5: string }
  | { ok: false; code: 'InvalidArgument'; message: string };

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

function md5Upper(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex').toUpperCase();
}

function checkRange(name: string, value: number, min: number, max: number, unit = 'seconds/bytes'): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MnsFault('InvalidArgument', `The value of ${name} should between ${min} and ${max} ${unit}.`);
  }
}

/** How many deleted messages per queue the model remembers for {@link MnsModel.resendDeleted}. */
export const DELETED_MEMORY = 1000;

export class MnsModel {
  private readonly queues = new Map<string, QueueState>();
  private seq = 0;
  private readonly listeners = new Set<(queueName: string) => void>();
  /** Recently deleted messages per queue, oldest first (memory only: a test device, never persisted). */
  private readonly deleted = new Map<string, StoredMessage[]>();

  constructor(
    private readonly now: () => number,
    /** Called after every change of state, to persist it. */
    private readonly onChange: () => void = () => {},
    /**
     * Multiplies the message times MNS counts in seconds (VisibilityTimeout, DelaySeconds,
     * ChangeMessageVisibility's timeout) into milliseconds. Attributes keep their unscaled values.
     */
    private readonly timeScale = 1,
  ) {
    if (!(timeScale > 0)) throw new RangeError(`the MNS message time scale must be > 0, got ${timeScale}`);
  }

  /** `seconds` of message time as milliseconds on the clock: scaled, and at least 1 ms unless 0. */
  private messageMs(seconds: number): number {
    if (seconds === 0) return 0;
    return Math.max(1, Math.round(seconds * 1000 * this.timeScale));
  }

  /** Subscribes to "a message may have become receivable in this queue". */
  onMessageAvailable(listener: (queueName: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(queueName: string): void {
    for (const listener of [...this.listeners]) listener(queueName);
  }

  private changed(queueName?: string): void {
    this.onChange();
    if (queueName !== undefined) this.notify(queueName);
  }

  // ---- queues ------------------------------------------------------------------------------------

  static validateQueueName(name: string): void {
    if (name.length < 1 || name.length > 256) throw new MnsFault('QueueNameLengthError');
    if (!QUEUE_NAME.test(name)) throw new MnsFault('InvalidQueueName');
  }

  private normalise(name: string, base: QueueConfig | undefined, input: QueueConfigInput): QueueConfig {
    const config: QueueConfig = {
      VisibilityTimeout: input.VisibilityTimeout ?? base?.VisibilityTimeout ?? QueueAttributeLimits.VisibilityTimeout.default,
      DelaySeconds: input.DelaySeconds ?? base?.DelaySeconds ?? QueueAttributeLimits.DelaySeconds.default,
      MaximumMessageSize:
        input.MaximumMessageSize ?? base?.MaximumMessageSize ?? QueueAttributeLimits.MaximumMessageSize.default,
      MessageRetentionPeriod:
        input.MessageRetentionPeriod ?? base?.MessageRetentionPeriod ?? QueueAttributeLimits.MessageRetentionPeriod.default,
      PollingWaitSeconds:
        input.PollingWaitSeconds ?? base?.PollingWaitSeconds ?? QueueAttributeLimits.PollingWaitSeconds.default,
      LoggingEnabled: input.LoggingEnabled ?? base?.LoggingEnabled ?? false,
    };
    for (const key of Object.keys(QueueAttributeLimits) as NumericQueueAttribute[]) {
      const limits = QueueAttributeLimits[key];
      checkRange(key, config[key], limits.min, limits.max);
    }
    const dlq = 'DlqPolicy' in input ? input.DlqPolicy : base?.DlqPolicy;
    if (dlq !== undefined && dlq.Enabled) {
      checkRange('MaxReceiveCount', dlq.MaxReceiveCount, DlqLimits.MaxReceiveCount.min, DlqLimits.MaxReceiveCount.max, 'times');
      if (dlq.DeadLetterTargetQueue === name) {
        throw new MnsFault('InvalidArgument', 'A queue cannot be its own dead-letter queue: name another queue in DeadLetterTargetQueue.');
      }
      if (!this.queues.has(dlq.DeadLetterTargetQueue)) {
        throw new MnsFault(
          'InvalidArgument',
          `DeadLetterTargetQueue "${dlq.DeadLetterTargetQueue}" does not exist: create the dead-letter queue first.`,
        );
      }
      config.DlqPolicy = { ...dlq };
    }
    return config;
  }

  /** Creates a queue. Same name and same attributes: `existed` (MNS answers 204); different: QueueAlreadyExist. */
  createQueue(name: string, input: QueueConfigInput): 'created' | 'existed' {
    MnsModel.validateQueueName(name);
    const existing = this.queues.get(name);
    const config = this.normalise(name, undefined, input);
    if (existing !== undefined) {
      if (JSON.stringify(existing.config) === JSON.stringify(config)) return 'existed';
      throw new MnsFault('QueueAlreadyExist', `The queue ${name} already exists with different attributes.`);
    }
    const now = this.now();
    this.queues.set(name, { name, config, createTime: now, lastModifyTime: now, messages: [] });
    this.changed();
    return 'created';
  }

  setQueueAttributes(name: string, input: QueueConfigInput): void {
    const queue = this.queue(name);
    queue.config = this.normalise(name, queue.config, input);
    queue.lastModifyTime = this.now();
    this.changed(name);
  }

  deleteQueue(name: string): void {
    this.queue(name);
    this.queues.delete(name);
    this.deleted.delete(name);
    this.changed(name);
  }

  /** Queue names in order, after `marker` (exclusive), with the prefix. */
  listQueues(prefix: string, marker: string, limit: number): { names: string[]; nextMarker?: string } {
    const all = [...this.queues.keys()].filter((n) => n.startsWith(prefix) && n > marker).sort();
    const names = all.slice(0, limit);
    return all.length > limit ? { names, nextMarker: names[names.length - 1] as string } : { names };
  }

  /** The queue, settled to the current time; QueueNotExist when absent. */
  queue(name: string): QueueState {
    const queue = this.queues.get(name);
    if (queue === undefined) throw new MnsFault('QueueNotExist', `The queue ${name} does not exist: create it first.`);
    this.settle(queue);
    return queue;
  }

  hasQueue(name: string): boolean {
    return this.queues.has(name);
  }

  queueNames(): string[] {
    return [...this.queues.keys()].sort();
  }

  stateOf(message: StoredMessage, now = this.now()): MessageState {
    if (message.nextVisibleTime <= now) return 'active';
    return message.dequeueCount === 0 ? 'delayed' : 'inactive';
  }

  counts(name: string): { active: number; inactive: number; delayed: number } {
    const queue = this.queue(name);
    const now = this.now();
    const counts = { active: 0, inactive: 0, delayed: 0 };
    for (const m of queue.messages) counts[this.stateOf(m, now)] += 1;
    return counts;
  }

  /** Milliseconds until the next message of the queue becomes receivable, if any waits. */
  msUntilNextVisible(name: string): number | undefined {
    const queue = this.queues.get(name);
    if (queue === undefined) return undefined;
    const now = this.now();
    let soonest: number | undefined;
    for (const m of queue.messages) {
      if (m.nextVisibleTime > now && (soonest === undefined || m.nextVisibleTime < soonest)) soonest = m.nextVisibleTime;
    }
    return soonest === undefined ? undefined : soonest - now;
  }

  /**
   * Applies what time alone changes: retention expiry, and moving messages that were delivered
   * MaxReceiveCount times (and are visible again) to the dead-letter queue.
   */
  private settle(queue: QueueState): void {
    const now = this.now();
    const retentionMs = queue.config.MessageRetentionPeriod * 1000;
    const dlq = queue.config.DlqPolicy;
    const target = dlq?.Enabled ? this.queues.get(dlq.DeadLetterTargetQueue) : undefined;
    let changed = false;
    const kept: StoredMessage[] = [];
    for (const m of queue.messages) {
      if (now >= m.enqueueTime + retentionMs) {
        changed = true;
        continue;
      }
      if (dlq !== undefined && target !== undefined && m.nextVisibleTime <= now && m.dequeueCount >= dlq.MaxReceiveCount) {
        // Retention is not reset by the move (MNS dead-letter doc); the dead-letter queue counts its own receives.
        this.seq += 1;
        target.messages.push({
          ...m,
          seq: this.seq,
          dequeueCount: 0,
          firstDequeueTime: 0,
          nextVisibleTime: now,
          receiptHandle: undefined,
        });
        changed = true;
        this.notify(target.name);
        continue;
      }
      kept.push(m);
    }
    if (changed) {
      queue.messages = kept;
      this.onChange();
    }
  }

  // ---- messages ----------------------------------------------------------------------------------

  /** Sends each entry; every entry gets its own result (BatchSendMessage reports per message). */
  send(name: string, entries: ReadonlyArray<{ body: string; delaySeconds?: number; priority?: number }>): SendResult[] {
    const queue = this.queue(name);
    const now = this.now();
    let sentVisible = false;
    const results = entries.map((entry): SendResult => {
      try {
        const bytes = Buffer.byteLength(entry.body, 'utf8');
        checkRange('MessageBody length', bytes, 1, queue.config.MaximumMessageSize, 'bytes');
        const delay = entry.delaySeconds ?? queue.config.DelaySeconds;
        checkRange('DelaySeconds', delay, QueueAttributeLimits.DelaySeconds.min, QueueAttributeLimits.DelaySeconds.max);
        const priority = entry.priority ?? MessageLimits.Priority.default;
        checkRange('Priority', priority, MessageLimits.Priority.min, MessageLimits.Priority.max, '');
        this.seq += 1;
        const message: StoredMessage = {
          messageId: `${randomBytes(8).toString('hex').toUpperCase()}-1-${now.toString(16).toUpperCase()}-${String(this.seq).padStart(9, '0')}`,
          body: entry.body,
          bodyMd5: md5Upper(entry.body),
          priority,
          seq: this.seq,
          enqueueTime: now,
          firstDequeueTime: 0,
          nextVisibleTime: now + this.messageMs(delay),
          dequeueCount: 0,
        };
        queue.messages.push(message);
        if (delay === 0) sentVisible = true;
        return { ok: true, messageId: message.messageId, bodyMd5: message.bodyMd5 };
      } catch (err) {
        if (err instanceof MnsFault && err.code === 'InvalidArgument') return { ok: false, code: err.code, message: err.message };
        throw err;
      }
    });
    if (results.some((r) => r.ok)) {
      this.onChange();
      // A delayed message wakes pollers through msUntilNextVisible instead.
      if (sentVisible) this.notify(name);
    }
    return results;
  }

  /** Takes up to `max` visible messages in flight (priority, then send order); [] when none. */
  receive(name: string, max: number): StoredMessage[] {
    const queue = this.queue(name);
    const now = this.now();
    const visible = queue.messages
      .filter((m) => m.nextVisibleTime <= now)
      .sort((a, b) => a.priority - b.priority || a.seq - b.seq)
      .slice(0, max);
    for (const m of visible) {
      m.dequeueCount += 1;
      if (m.firstDequeueTime === 0) m.firstDequeueTime = now;
      m.nextVisibleTime = now + this.messageMs(queue.config.VisibilityTimeout);
      m.receiptHandle = newReceiptHandle(m.messageId, m.dequeueCount);
    }
    if (visible.length > 0) this.onChange();
    return visible.map((m) => ({ ...m }));
  }

  /** Visible messages without changing them. */
  peek(name: string, max: number): StoredMessage[] {
    const now = this.now();
    return this.queue(name)
      .messages.filter((m) => m.nextVisibleTime <= now)
      .sort((a, b) => a.priority - b.priority || a.seq - b.seq)
      .slice(0, max)
      .map((m) => ({ ...m }));
  }

  /**
   * The in-flight message a receipt handle names. A handle that cannot be one is ReceiptHandleError; a
   * well-formed handle that is no longer current (the message was deleted, redelivered, or its
   * visibility timeout ran out) is MessageNotExist, as MNS answers ("message not exist appears when you
   * delete a message in MNS": the handle becomes invalid when the visibility timeout ends).
   */
  private inFlight(queue: QueueState, handle: string): StoredMessage {
    const messageId = parseReceiptHandle(handle);
    if (messageId === undefined) throw new MnsFault('ReceiptHandleError', `The receipt handle "${handle}" is not valid.`);
    // By id and handle: a late duplicate (resendDeleted) may share the MessageId with another copy.
    const message = queue.messages.find((m) => m.messageId === messageId && m.receiptHandle === handle);
    if (message === undefined || message.nextVisibleTime <= this.now()) {
      throw new MnsFault('MessageNotExist', 'Message not exist: the receipt handle is no longer current; receive the message again.');
    }
    return message;
  }

  deleteMessage(name: string, handle: string): void {
    const queue = this.queue(name);
    const message = this.inFlight(queue, handle);
    queue.messages = queue.messages.filter((m) => m !== message);
    const memory = this.deleted.get(name) ?? [];
    memory.push({ ...message, receiptHandle: undefined });
    if (memory.length > DELETED_MEMORY) memory.splice(0, memory.length - DELETED_MEMORY);
    this.deleted.set(name, memory);
    this.onChange();
  }

  // ---- control hooks (test devices, see README "Control hooks") ---------------------------------

  /** Messages received and not yet deleted whose visibility has not run out, in send order. */
  inFlightMessages(name: string): StoredMessage[] {
    const now = this.now();
    return this.queue(name)
      .messages.filter((m) => m.receiptHandle !== undefined && m.nextVisibleTime > now)
      .map((m) => ({ ...m }));
  }

  /**
   * Ends the visibility timeout of the in-flight messages `select` picks, now: as when MNS's timer runs out
   * (or a DeleteMessage never arrived). Each is receivable at once; its receipt handle stops working
   * (MessageNotExist) and the next receive counts DequeueCount + 1. Returns the messages made visible.
   */
  redeliverNow(name: string, select: (m: StoredMessage) => boolean): StoredMessage[] {
    const queue = this.queue(name);
    const now = this.now();
    const picked = queue.messages.filter((m) => m.receiptHandle !== undefined && m.nextVisibleTime > now && select({ ...m }));
    for (const m of picked) {
      m.nextVisibleTime = now;
      m.receiptHandle = undefined;
    }
    if (picked.length > 0) this.changed(name);
    return picked.map((m) => ({ ...m }));
  }

  /** Messages deleted from the queue (the last {@link DELETED_MEMORY}), oldest first. */
  deletedMessages(name: string): StoredMessage[] {
    this.queue(name);
    return (this.deleted.get(name) ?? []).map((m) => ({ ...m }));
  }

  /**
   * Puts a copy of each deleted message `select` picks back in the queue: a late duplicate of a message
   * already handled (same MessageId, body, EnqueueTime and FirstDequeueTime; DequeueCount continues),
   * receivable after `delaySeconds` (scaled). Returns the copies.
   */
  resendDeleted(name: string, select: (m: StoredMessage) => boolean, delaySeconds = 0): StoredMessage[] {
    const queue = this.queue(name);
    checkRange('DelaySeconds', delaySeconds, QueueAttributeLimits.DelaySeconds.min, QueueAttributeLimits.DelaySeconds.max);
    const now = this.now();
    const copies = (this.deleted.get(name) ?? []).filter((m) => select({ ...m })).map((m): StoredMessage => {
      this.seq += 1;
      return { ...m, seq: this.seq, nextVisibleTime: now + this.messageMs(delaySeconds), receiptHandle: undefined };
    });
    queue.messages.push(...copies);
    if (copies.length > 0) this.changed(name);
    return copies.map((m) => ({ ...m }));
  }

  changeVisibility(name: string, handle: string, visibilityTimeout: number): { receiptHandle: string; nextVisibleTime: number } {
    const queue = this.queue(name);
    checkRange('VisibilityTimeout', visibilityTimeout, QueueAttributeLimits.VisibilityTimeout.min, QueueAttributeLimits.VisibilityTimeout.max);
    const message = this.inFlight(queue, handle);
    message.nextVisibleTime = this.now() + this.messageMs(visibilityTimeout);
    // The old handle stops working: ChangeMessageVisibility hands out a new one.
    message.receiptHandle = newReceiptHandle(message.messageId, message.dequeueCount, randomBytes(2).toString('hex'));
    this.onChange();
    return { receiptHandle: message.receiptHandle, nextVisibleTime: message.nextVisibleTime };
  }

  // ---- persistence -------------------------------------------------------------------------------

  /** The whole state, by reference: serialise it at once. */
  snapshot(): PersistedState {
    return { version: 1, seq: this.seq, queues: [...this.queues.values()] };
  }

  restore(state: PersistedState): void {
    if (state.version !== 1) throw new Error(`local MNS data has version ${String(state.version)}, expected 1`);
    this.seq = state.seq;
    this.queues.clear();
    for (const q of state.queues) this.queues.set(q.name, q);
  }
}

export interface PersistedState {
  version: 1;
  seq: number;
  queues: QueueState[];
}

/**
 * Receipt handles look like MNS's (`<n>-<base64>`, so they contain `+`, `/` and `=`) and carry the
 * message id and delivery, so a handle from an earlier delivery is recognisably stale, not malformed.
 */
function newReceiptHandle(messageId: string, delivery: number, salt = ''): string {
  const payload = Buffer.concat([Buffer.from(`${messageId}:${delivery}:${salt}`, 'latin1'), randomBytes(12)]);
  return `1-${payload.toString('base64')}`;
}

function parseReceiptHandle(handle: string): string | undefined {
  const match = /^1-([A-Za-z0-9+/]+={0,2})$/.exec(handle);
  if (match === null) return undefined;
  const text = Buffer.from(match[1] as string, 'base64').toString('latin1');
  const first = text.indexOf(':');
  const second = first < 0 ? -1 : text.indexOf(':', first + 1);
  if (second < 0) return undefined;
  const messageId = text.slice(0, first);
  if (!/^[0-9A-F-]+$/.test(messageId) || !/^\d+$/.test(text.slice(first + 1, second))) return undefined;
  return messageId;
}
