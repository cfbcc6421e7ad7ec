import { WakeableSleeps } from './clock';
import { randomUUID } from 'node:crypto';
import type { InvocationResult } from './function-runtime';
import { DeliveryMode, ErrorsTolerance, EventSchema, PushRetryStrategy, type MnsQueueTrigger } from './syaml';

/**
 * An EventBridge event stream from an MNS queue to a function, as the fc3 `eventbridge` trigger with
 * `eventSourceType: MNS` deploys it.
 */

/** What the consumer needs from MNS; `MnsQueues` of cloud/mns.ts provides it. */
export interface MnsQueueClient {
  receive(queue: string, options: { waitSeconds: number; max: number }): Promise<readonly ReceivedMnsMessage[]>;
  delete(queue: string, receiptHandle: string): Promise<unknown>;
  sendRaw(queue: string, rawBody: string): Promise<unknown>;
  /** Returns the new receipt handle (MNS issues one on every visibility change). */
  changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<unknown>;
}

export interface ReceivedMnsMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  /** The body as it is on the wire (base64 when the producer encoded it). */
  readonly rawBody: string;
  /** The body base64-decoded (equal to rawBody when it was not base64). */
  readonly body: string;
  readonly dequeueCount: number;
  readonly enqueueTime?: number;
  readonly requestId?: string;
}

/** The CloudEvent EventBridge wraps an MNS message in (function-compute.md, "MNS queue"). */
export interface MnsCloudEvent {
  readonly id: string;
  readonly source: string;
  readonly specversion: '1.0';
  readonly type: 'mns:Queue:SendMessage';
  readonly subject: string;
  readonly time: string;
  readonly datacontenttype: 'application/json; charset=utf-8';
  readonly aliyunaccountid: string;
  readonly aliyunregionid: string;
  readonly aliyunpublishtime: string;
  readonly aliyuneventbusname: string;
  readonly data: { readonly requestId: string; readonly messageId: string; readonly messageBody: string };
}

/**
 * Real retry intervals (EventBridge "Retry policies and dead-letter queues"): BACKOFF_RETRY retries 3
 * times, a random 10-20 s apart; EXPONENTIAL_DECAY_RETRY retries 176 times, 1 s doubling up to 512 s
 * (then 512 s), about a day in all. `timeScale` multiplies every interval.
 */
export const RetryPolicies = {
  [PushRetryStrategy.BackoffRetry]: { retries: 3, intervalMs: (_retry: number) => 10_000 + Math.random() * 10_000 },
  [PushRetryStrategy.ExponentialDecayRetry]: { retries: 176, intervalMs: (retry: number) => Math.min(512, 2 ** (retry - 1)) * 1000 },
} as const;

export interface MnsTriggerDeps {
  readonly functionName: string;
  readonly trigger: MnsQueueTrigger;
  readonly accountId: string;
  readonly regionId: string;
  readonly client: MnsQueueClient;
  readonly invoke: (event: Buffer) => Promise<InvocationResult>;
  /** Function timeout in seconds, to keep a message invisible while it is being retried. */
  readonly functionTimeoutSeconds: number;
  readonly timeScale: number;
  /** Parallel consumers (each holds one batch at a time). */
  readonly concurrency: number;
  /** Long-poll wait of an idle consumer; also bounds how long close() waits. */
  readonly pollWaitSeconds: number;
  readonly report: (event: MnsTriggerReport) => void;
}

export type MnsTriggerReport =
  /** pickupMs: from the oldest message's enqueue to its first invocation (the trigger's pickup; none on a retry). */
  | { kind: 'delivered'; attempt: number; result: InvocationResult; messageIds: string[]; pickupMs?: number }
  | { kind: 'failedAttempt'; attempt: number; result: InvocationResult; messageIds: string[]; nextRetryMs?: number }
  | { kind: 'deadLettered'; messageId: string; deadLetterQueue: string }
  | { kind: 'dropped'; messageId: string; reason: string }
  | { kind: 'blocked'; messageIds: string[]; reason: string }
  | { kind: 'consumerError'; error: string };

/** Builds the CloudEvent for one received message. */
export function mnsCloudEvent(m: ReceivedMnsMessage, deps: Pick<MnsTriggerDeps, 'functionName' | 'trigger' | 'accountId' | 'regionId'>, now = Date.now()): MnsCloudEvent {
  const bus = `MNS-${deps.functionName}-${deps.trigger.triggerName}`;
  const publish = new Date(now).toISOString();
  return {
    id: randomUUID(),
    source: bus,
    specversion: '1.0',
    type: 'mns:Queue:SendMessage',
    subject: `acs:mns:${deps.regionId}:${deps.accountId}:queues/${deps.trigger.queueName}`,
    time: m.enqueueTime === undefined ? publish : new Date(m.enqueueTime).toISOString(),
    datacontenttype: 'application/json; charset=utf-8',
    aliyunaccountid: deps.accountId,
    aliyunregionid: deps.regionId,
    aliyunpublishtime: publish,
    aliyuneventbusname: bus,
    data: {
      requestId: m.requestId ?? randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase(),
      messageId: m.messageId,
      messageBody: deps.trigger.isBase64Decode ? m.body : m.rawBody,
    },
  };
}

/** The payload one invocation gets: an array in event-streaming mode, one event otherwise; only `data` for RawData. */
export function mnsTriggerPayload(messages: readonly ReceivedMnsMessage[], deps: Pick<MnsTriggerDeps, 'functionName' | 'trigger' | 'accountId' | 'regionId'>): unknown {
  const events = messages.map((m) => {
    const ce = mnsCloudEvent(m, deps);
    return deps.trigger.eventSchema === EventSchema.RawData ? ce.data : ce;
  });
  return deps.trigger.mode === DeliveryMode.EventStreaming ? events : events[0];
}

/**
 * Consumes the trigger's queue. Guarantees: a message is deleted only after an invocation that carried it
 * succeeded, or after it was sent to the dead-letter queue, or after it was dropped under
 * errorsTolerance ALL with no DLQ (reported as `dropped`). Under NONE the stream stops at the first
 * event that exhausts its retries and leaves it in the queue (EventBridge sets the task to Ready).
 */
export class MnsTriggerConsumer {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly sleeps = new WakeableSleeps();

  constructor(private readonly deps: MnsTriggerDeps) {}

  start(): void {
    if (!this.deps.trigger.enabled) return;
    for (let i = 0; i < this.deps.concurrency; i++) this.loops.push(this.loop());
  }

  /** Stops receiving; resolves when every consumer finished its current batch or poll. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeps.wakeAll();
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const batch = await this.collect();
        if (this.stopped) {
          // Received while the stream stopped (closed or blocked): hand them back to the queue soon.
          await Promise.all(batch.map((m) => this.deps.client.changeVisibility(this.deps.trigger.queueName, m.receiptHandle, 1).catch(() => undefined)));
          break;
        }
        if (batch.length === 0) {
          // waitSeconds 0 means "the queue's PollingWaitSeconds", possibly 0: do not spin on an empty queue.
          if (this.deps.pollWaitSeconds === 0) await this.sleep(50);
          continue;
        }
        if (this.deps.trigger.mode === DeliveryMode.EventStreaming) await this.deliver(batch);
        else await Promise.all(batch.map((m) => this.deliver([m])));
      } catch (err) {
        this.deps.report({ kind: 'consumerError', error: String((err as Error)?.stack ?? err) });
        await this.sleep(Math.max(50, 1000 * this.deps.timeScale));
      }
    }
  }

  /** Event streaming: until CountBasedWindow events or TimeBasedWindow (scaled) since the first one. */
  private async collect(): Promise<ReceivedMnsMessage[]> {
    const { client, trigger } = this.deps;
    const streaming = trigger.mode === DeliveryMode.EventStreaming;
    const want = streaming ? trigger.batchCount : Math.min(16, Math.max(1, this.deps.concurrency));
    const first = await client.receive(trigger.queueName, { waitSeconds: this.deps.pollWaitSeconds, max: Math.min(16, want) });
    const batch = [...first];
    if (!streaming || batch.length === 0) return batch;
    const deadline = Date.now() + trigger.batchWindowSeconds * 1000 * this.deps.timeScale;
    while (batch.length < want && !this.stopped) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const waitSeconds = Math.min(30, Math.floor(remaining / 1000));
      const more = await client.receive(trigger.queueName, { waitSeconds, max: Math.min(16, want - batch.length) });
      batch.push(...more);
      if (more.length === 0 && waitSeconds === 0) await this.sleep(Math.min(remaining, 25));
    }
    return batch;
  }

  private async deliver(messages: ReceivedMnsMessage[]): Promise<void> {
    const { trigger, client } = this.deps;
    const policy = RetryPolicies[trigger.retryStrategy];
    const handles = new Map(messages.map((m) => [m.messageId, m.receiptHandle]));
    const ids = messages.map((m) => m.messageId);
    const payload = Buffer.from(JSON.stringify(mnsTriggerPayload(messages, this.deps)));
    const enqueued = Math.min(...messages.map((m) => m.enqueueTime ?? Number.POSITIVE_INFINITY));
    for (let attempt = 1; attempt <= policy.retries + 1; attempt++) {
      const invokedAt = Date.now();
      const result = await this.deps.invoke(payload);
      if (result.ok) {
        const pickupMs = attempt === 1 && Number.isFinite(enqueued) ? Math.max(0, invokedAt - enqueued) : undefined;
        this.deps.report({ kind: 'delivered', attempt, result, messageIds: ids, ...(pickupMs === undefined ? {} : { pickupMs }) });
        await Promise.all([...handles.values()].map((h) => client.delete(trigger.queueName, h)));
        return;
      }
      const last = attempt === policy.retries + 1 || this.stopped;
      const waitMs = last ? 0 : policy.intervalMs(attempt) * this.deps.timeScale;
      this.deps.report({ kind: 'failedAttempt', attempt, result, messageIds: ids, nextRetryMs: last ? undefined : Math.round(waitMs) });
      if (this.stopped) return; // left invisible; MNS makes it visible again after its visibility timeout
      if (last) break;
      // Keep the messages invisible across the wait and the next attempt, so MNS does not hand them out again.
      const holdSeconds = Math.min(43200, Math.ceil(waitMs / 1000 + this.deps.functionTimeoutSeconds + 10));
      for (const [id, handle] of handles) {
        const changed = await client.changeVisibility(trigger.queueName, handle, holdSeconds);
        const next = typeof changed === 'string' ? changed : (changed as { receiptHandle?: string } | undefined)?.receiptHandle;
        if (next !== undefined) handles.set(id, next);
      }
      await this.sleep(waitMs);
    }
    if (trigger.errorsTolerance === ErrorsTolerance.None) {
      this.stopped = true;
      this.deps.report({
        kind: 'blocked',
        messageIds: ids,
        reason: `retries exhausted under errorsTolerance NONE: the stream from queue ${trigger.queueName} is blocked (left in the queue)`,
      });
      return;
    }
    for (const m of messages) {
      const handle = handles.get(m.messageId) ?? m.receiptHandle;
      if (trigger.deadLetterQueue !== undefined) {
        await client.sendRaw(trigger.deadLetterQueue, m.rawBody);
        await client.delete(trigger.queueName, handle);
        this.deps.report({ kind: 'deadLettered', messageId: m.messageId, deadLetterQueue: trigger.deadLetterQueue });
      } else {
        await client.delete(trigger.queueName, handle);
        this.deps.report({ kind: 'dropped', messageId: m.messageId, reason: `retries exhausted (${trigger.retryStrategy}) and the trigger has no deadLetterQueue` });
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeps.sleep(ms);
  }
}
