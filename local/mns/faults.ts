/**
 * Fault rules of the local MNS: what fault campaigns inject between the real `@alicloud/mns` client and
 * the server. A rule names an effect and a scope (operation, queue, probability with a seeded RNG, a count
 * or until cleared). Test devices: MNS offers nothing like them; each effect imitates something a real
 * network or a real MNS front end does (see local/mns/README.md, "Control hooks").
 */

/** The MNS queue API operations (and the topic ones), as the MNS API reference names them. */
export const MnsOperation = {
  CreateQueue: 'CreateQueue',
  SetQueueAttributes: 'SetQueueAttributes',
  GetQueueAttributes: 'GetQueueAttributes',
  DeleteQueue: 'DeleteQueue',
  ListQueue: 'ListQueue',
  SendMessage: 'SendMessage',
  BatchSendMessage: 'BatchSendMessage',
  ReceiveMessage: 'ReceiveMessage',
  BatchReceiveMessage: 'BatchReceiveMessage',
  PeekMessage: 'PeekMessage',
  BatchPeekMessage: 'BatchPeekMessage',
  DeleteMessage: 'DeleteMessage',
  BatchDeleteMessage: 'BatchDeleteMessage',
  ChangeMessageVisibility: 'ChangeMessageVisibility',
  CreateTopic: 'CreateTopic',
  GetTopicAttributes: 'GetTopicAttributes',
  Subscribe: 'Subscribe',
  Unsubscribe: 'Unsubscribe',
  /** A rule's `queue` scope matches the topic's name for topic operations. */
  PublishMessage: 'PublishMessage',
} as const;
export type MnsOperation = (typeof MnsOperation)[keyof typeof MnsOperation];

/**
 * The 5xx codes a fault can answer. InternalError and InternalServerError (500, "Interal error.") are in
 * MNS's error table (help/en/mns/error-codes, doc-detail/27501); ServiceUnavailable (503) is from Alibaba
 * Cloud's common server-error table (doc-detail/25964), see errors.ts.
 */
export const MnsServerErrorCodes = ['InternalError', 'InternalServerError', 'ServiceUnavailable'] as const;
export type MnsServerErrorCode = (typeof MnsServerErrorCodes)[number];

/** What a matching request gets. */
export type MnsFaultEffect =
  /**
   * Executed, but the answer was lost: the server applies the operation (and persists it), then destroys
   * the socket without answering. The client sees a network error (`socket hang up` / ECONNRESET) for a
   * send that went in, a receive that put the message in flight, a delete that deleted it. Fires only on
   * requests the server answered 2xx (an error answer lost changes nothing: that is `connectionReset`).
   */
  | { readonly kind: 'answerLost' }
  /** The connection drops before the server acts: nothing is applied, the client sees a network error. */
  | { readonly kind: 'connectionReset' }
  /**
   * A 5xx with MNS's XML error body (`<Error><Code/><Message/><RequestId/><HostId/></Error>`, text/xml:
   * the SDK throws `MNS<Code>Error`). Not applied by default; `applied: true` serves the request first
   * and answers the error instead of its 2xx (a server that failed after committing).
   */
  | { readonly kind: 'serverError'; readonly code?: MnsServerErrorCode; readonly applied?: boolean };

/** A fault and where it applies. Every given scope must match; an absent one matches everything. */
export interface MnsFaultRule {
  readonly effect: MnsFaultEffect;
  readonly operation?: MnsOperation | readonly MnsOperation[];
  readonly queue?: string;
  /** Chance that a matching request gets the fault, 0..1 (default 1), drawn from a seeded RNG. */
  readonly probability?: number;
  /** Seed of this rule's RNG (default 1): the same requests in the same order draw the same faults. */
  readonly seed?: number;
  /** How many times it fires, then it is spent; absent: until cleared. */
  readonly count?: number;
  /** Shown in {@link FiredFault} records. */
  readonly label?: string;
}

/** A rule that was added; `clear()` removes it. */
export interface MnsFaultHandle {
  readonly id: number;
  /** Times it fired so far. */
  readonly fired: number;
  /** Fires left (undefined: until cleared). */
  readonly remaining: number | undefined;
  /** False once cleared or spent. */
  readonly active: boolean;
  clear(): void;
}

/** One fault that fired, for a campaign's log. */
export interface FiredFault {
  readonly ruleId: number;
  readonly label?: string;
  readonly kind: MnsFaultEffect['kind'];
  readonly operation?: MnsOperation;
  readonly queue?: string;
  readonly requestId: string;
  /** The server clock when it fired. */
  readonly time: number;
}

/** The operation and queue a request addresses (undefined operation: not a request the API knows). */
export interface RequestTarget {
  readonly operation?: MnsOperation;
  readonly queue?: string;
}

/** mulberry32: small, fast, and the same sequence for the same seed on every platform. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveRule {
  readonly id: number;
  readonly rule: MnsFaultRule;
  readonly operations?: ReadonlySet<MnsOperation>;
  readonly random: () => number;
  fired: number;
  active: boolean;
}

/**
 * Whether a request is served before it can fail (`before`: connectionReset, serverError not applied) or
 * after (`after`: answerLost, serverError applied).
 */
export type FaultPhase = 'before' | 'after';

function phaseOf(effect: MnsFaultEffect): FaultPhase {
  if (effect.kind === 'answerLost') return 'after';
  if (effect.kind === 'serverError' && effect.applied === true) return 'after';
  return 'before';
}

/** The rules of one server, in the order they were added: the first matching rule that draws a hit fires. */
export class FaultRules {
  private readonly rules: ActiveRule[] = [];
  private readonly log: FiredFault[] = [];
  private nextId = 1;

  add(rule: MnsFaultRule): MnsFaultHandle {
    const p = rule.probability ?? 1;
    if (!(p >= 0 && p <= 1)) throw new RangeError(`fault probability must be in 0..1, got ${String(rule.probability)}`);
    if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count >= 1)) {
      throw new RangeError(`fault count must be a positive integer, got ${String(rule.count)}`);
    }
    const ops = rule.operation === undefined ? undefined : new Set(typeof rule.operation === 'string' ? [rule.operation] : rule.operation);
    const active: ActiveRule = { id: this.nextId++, rule, operations: ops as ReadonlySet<MnsOperation> | undefined, random: seededRandom(rule.seed ?? 1), fired: 0, active: true };
    this.rules.push(active);
    const rules = this.rules;
    return {
      id: active.id,
      get fired() {
        return active.fired;
      },
      get remaining() {
        return rule.count === undefined ? undefined : rule.count - active.fired;
      },
      get active() {
        return active.active;
      },
      clear() {
        active.active = false;
        const at = rules.indexOf(active);
        if (at >= 0) rules.splice(at, 1);
      },
    };
  }

  clear(): void {
    for (const r of this.rules) r.active = false;
    this.rules.length = 0;
  }

  fired(): readonly FiredFault[] {
    return [...this.log];
  }

  /**
   * The effect this request gets in this phase, if any (drawing from the RNG of each matching rule in
   * turn). `after` is asked only for requests answered 2xx.
   */
  pick(phase: FaultPhase, target: RequestTarget, requestId: string, time: number): MnsFaultEffect | undefined {
    for (const r of [...this.rules]) {
      if (!r.active || phaseOf(r.rule.effect) !== phase) continue;
      if (r.operations !== undefined && (target.operation === undefined || !r.operations.has(target.operation))) continue;
      if (r.rule.queue !== undefined && r.rule.queue !== target.queue) continue;
      const p = r.rule.probability ?? 1;
      if (p < 1 && !(r.random() < p)) continue;
      r.fired += 1;
      if (r.rule.count !== undefined && r.fired >= r.rule.count) {
        r.active = false;
        this.rules.splice(this.rules.indexOf(r), 1);
      }
      this.log.push({
        ruleId: r.id,
        ...(r.rule.label === undefined ? {} : { label: r.rule.label }),
        kind: r.rule.effect.kind,
        ...(target.operation === undefined ? {} : { operation: target.operation }),
        ...(target.queue === undefined ? {} : { queue: target.queue }),
        requestId,
        time,
      });
      return r.rule.effect;
    }
    return undefined;
  }
}
