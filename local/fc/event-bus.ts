import { WakeableSleeps } from './clock';
import { randomUUID } from 'node:crypto';
import type { InvocationResult } from './function-runtime';
import { matchesEventPattern } from './event-pattern';
import { RetryPolicies, type MnsQueueClient } from './mns-trigger';
import { DeliveryMode, ErrorsTolerance, EventSchema, type EventBusTrigger } from './syaml';

/**
 * The default event bus of EventBridge, as far as the functions of one s.yaml see it: an event published
 * with `LocalFc.publishEvent` goes to every enabled `eventbridge` trigger with `eventSourceType: Default`
 * whose `eventRuleFilterPattern` matches it, with the retry and dead-letter behaviour of an MNS-queue
 * trigger (mns-trigger.ts): the same `PushRetryStrategy` intervals (times `timeScale`), then the
 * dead-letter queue (errorsTolerance ALL), a loud drop (ALL, no DLQ) or a blocked rule (NONE).
 */

/**
 * A CloudEvents 1.0 event on the bus, with the `aliyun*` extension attributes EventBridge adds
 * (EventBridge "Event overview": id, source, specversion, type, subject, time, datacontenttype, data,
 * aliyunaccountid, aliyunregionid, aliyunpublishtime, aliyuneventbusname, aliyunoriginalaccountid).
 */
export interface BusCloudEvent {
  readonly id: string;
  readonly source: string;
  readonly specversion: '1.0';
  readonly type: string;
  readonly subject?: string;
  readonly time: string;
  readonly datacontenttype: string;
  readonly aliyunaccountid: string;
  readonly aliyunregionid: string;
  readonly aliyunpublishtime: string;
  readonly aliyuneventbusname: string;
  readonly aliyunoriginalaccountid: string;
  readonly data: unknown;
  readonly [extension: string]: unknown;
}

/** What a publisher gives: `source`, `type` and `data` at least; the bus fills in the rest. */
export interface BusEventInput {
  readonly source: string;
  readonly type: string;
  readonly data: unknown;
  readonly id?: string;
  readonly subject?: string;
  readonly time?: string;
  readonly datacontenttype?: string;
  readonly [extension: string]: unknown;
}

/** The event as the bus stores it: the publisher's fields, plus the ones EventBridge sets on put. */
export function busCloudEvent(input: BusEventInput, ctx: { accountId: string; regionId: string }, now = Date.now()): BusCloudEvent {
  const published = new Date(now).toISOString();
  return {
    ...input,
    id: input.id ?? randomUUID(),
    source: input.source,
    specversion: '1.0',
    type: input.type,
    time: input.time ?? published,
    datacontenttype: input.datacontenttype ?? 'application/json;charset=utf-8',
    aliyunaccountid: ctx.accountId,
    aliyunregionid: ctx.regionId,
    aliyunpublishtime: published,
    aliyuneventbusname: 'default',
    aliyunoriginalaccountid: ctx.accountId,
    data: input.data,
  };
}

/** How one matching rule ended with one event. */
export const BusDeliveryOutcome = { Delivered: 'delivered', DeadLettered: 'deadLettered', Dropped: 'dropped', Blocked: 'blocked' } as const;
export type BusDeliveryOutcome = (typeof BusDeliveryOutcome)[keyof typeof BusDeliveryOutcome];

export interface BusDelivery {
  readonly functionName: string;
  readonly triggerName: string;
  readonly eventId: string;
  readonly outcome: BusDeliveryOutcome;
  /** Invocations made for it (0 when blocked before any). */
  readonly attempts: number;
}

export type EventBusReport =
  | { kind: 'delivered'; attempt: number; result: InvocationResult; eventIds: string[] }
  | { kind: 'failedAttempt'; attempt: number; result: InvocationResult; eventIds: string[]; nextRetryMs?: number }
  | { kind: 'deadLettered'; eventId: string; deadLetterQueue: string }
  | { kind: 'dropped'; eventId: string; reason: string }
  | { kind: 'blocked'; eventIds: string[]; reason: string }
  | { kind: 'consumerError'; error: string };

export interface EventBusRuleDeps {
  readonly functionName: string;
  readonly trigger: EventBusTrigger;
  readonly invoke: (event: Buffer) => Promise<InvocationResult>;
  /** For the dead-letter queue (SendMessage). */
  readonly client: Pick<MnsQueueClient, 'sendRaw'>;
  readonly timeScale: number;
  readonly report: (event: EventBusReport) => void;
}

interface Pending {
  readonly event: BusCloudEvent;
  readonly done: (d: BusDelivery) => void;
}

/** The payload one invocation gets: an array in event-streaming mode, one event otherwise; only `data` for RawData. */
export function busTriggerPayload(events: readonly BusCloudEvent[], trigger: Pick<EventBusTrigger, 'mode' | 'eventSchema'>): unknown {
  const items = events.map((e) => (trigger.eventSchema === EventSchema.RawData ? e.data : e));
  return trigger.mode === DeliveryMode.EventStreaming ? items : items[0];
}

/**
 * One rule (trigger) on the bus. Guarantees: every offered event ends in exactly one {@link BusDelivery}
 * (the promise `offer` returns); event-driven rules deliver each event on its own, event-streaming rules
 * collect up to CountBasedWindow events or TimeBasedWindow (scaled) seconds after the first one, and retry
 * and dead-letter a batch together; after `stop()` nothing new is invoked and waiting events end `blocked`.
 */
export class EventBusRule {
  private stopped = false;
  private blockedReason: string | undefined;
  private buffer: Pending[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly sleeps = new WakeableSleeps();

  constructor(private readonly deps: EventBusRuleDeps) {}

  get trigger(): EventBusTrigger {
    return this.deps.trigger;
  }

  /** Whether this rule takes the event: enabled, and the pattern matches. */
  matches(event: BusCloudEvent): boolean {
    return this.deps.trigger.enabled && matchesEventPattern(this.deps.trigger.pattern, event);
  }

  /** Queues a matching event; resolves when the rule is done with it. */
  offer(event: BusCloudEvent): Promise<BusDelivery> {
    return new Promise((done) => {
      const pending: Pending = { event, done };
      if (this.stopped || this.blockedReason !== undefined) {
        this.finish([pending], 'blocked', 0);
        return;
      }
      const { trigger } = this.deps;
      if (trigger.mode !== DeliveryMode.EventStreaming) {
        this.track(this.deliver([pending]));
        return;
      }
      this.buffer.push(pending);
      if (this.buffer.length >= trigger.batchCount) this.flush();
      else if (this.flushTimer === undefined) {
        this.flushTimer = setTimeout(() => this.flush(), trigger.batchWindowSeconds * 1000 * this.deps.timeScale);
      }
    });
  }

  /** Events this rule still has to deliver: buffered, in an invocation, or waiting for a retry. */
  pending(): number {
    return this.buffer.length + this.inFlight.size;
  }

  /** Stops delivering: waits for invocations in flight; events still waiting end `blocked`. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.sleeps.wakeAll();
    const waiting = this.buffer;
    this.buffer = [];
    this.finish(waiting, 'blocked', 0);
    await Promise.all([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.deps.report({ kind: 'consumerError', error: String((err as Error)?.stack ?? err) }));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.buffer.splice(0, this.deps.trigger.batchCount);
    if (batch.length > 0) this.track(this.deliver(batch));
    if (this.buffer.length > 0) this.flush();
  }

  private finish(batch: readonly Pending[], outcome: BusDeliveryOutcome, attempts: number): void {
    for (const p of batch) p.done({ functionName: this.deps.functionName, triggerName: this.deps.trigger.triggerName, eventId: p.event.id, outcome, attempts });
  }

  private async deliver(batch: Pending[]): Promise<void> {
    const { trigger } = this.deps;
    const policy = RetryPolicies[trigger.retryStrategy];
    const ids = batch.map((p) => p.event.id);
    const payload = Buffer.from(JSON.stringify(busTriggerPayload(batch.map((p) => p.event), trigger)));
    let attempt = 0;
    for (attempt = 1; attempt <= policy.retries + 1; attempt++) {
      if (this.stopped) {
        this.finish(batch, 'blocked', attempt - 1);
        return;
      }
      const result = await this.deps.invoke(payload);
      if (result.ok) {
        this.deps.report({ kind: 'delivered', attempt, result, eventIds: ids });
        this.finish(batch, 'delivered', attempt);
        return;
      }
      const last = attempt === policy.retries + 1 || this.stopped;
      const waitMs = last ? 0 : policy.intervalMs(attempt) * this.deps.timeScale;
      this.deps.report({ kind: 'failedAttempt', attempt, result, eventIds: ids, nextRetryMs: last ? undefined : Math.round(waitMs) });
      if (this.stopped) {
        this.finish(batch, 'blocked', attempt);
        return;
      }
      if (last) break;
      await this.sleep(waitMs);
    }
    const attempts = Math.min(attempt, policy.retries + 1);
    if (trigger.errorsTolerance === ErrorsTolerance.None) {
      // Like an event stream under NONE: the rule stops at the first event that exhausts its retries.
      this.blockedReason = `retries exhausted under errorsTolerance NONE: rule ${trigger.triggerName} is blocked`;
      this.deps.report({ kind: 'blocked', eventIds: ids, reason: this.blockedReason });
      this.finish(batch, 'blocked', attempts);
      const waiting = this.buffer;
      this.buffer = [];
      this.finish(waiting, 'blocked', 0);
      return;
    }
    for (const p of batch) {
      if (trigger.deadLetterQueue !== undefined) {
        try {
          // The event as JSON, base64-encoded like every producer of this project, so a consumer with
          // IsBase64Decode (the default) or MnsQueues.receive reads it back as the JSON text.
          await this.deps.client.sendRaw(trigger.deadLetterQueue, Buffer.from(JSON.stringify(p.event), 'utf8').toString('base64'));
        } catch (err) {
          const reason = `retries exhausted and the dead-letter queue ${trigger.deadLetterQueue} refused the event: ${(err as Error).message}`;
          this.deps.report({ kind: 'dropped', eventId: p.event.id, reason });
          this.finish([p], 'dropped', attempts);
          continue;
        }
        this.deps.report({ kind: 'deadLettered', eventId: p.event.id, deadLetterQueue: trigger.deadLetterQueue });
        this.finish([p], 'deadLettered', attempts);
      } else {
        this.deps.report({ kind: 'dropped', eventId: p.event.id, reason: `retries exhausted (${trigger.retryStrategy}) and the rule has no deadLetterQueue` });
        this.finish([p], 'dropped', attempts);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeps.sleep(ms);
  }
}
