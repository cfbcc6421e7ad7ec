// Warm-ahead (workflow/warm-ahead.ts): the message is recognised exactly, a step answers it without
// touching the ledger, the cloud or the dead-letter queue, and a waiting step warms its successor at most
// once per interval, alongside its delivery.
import { createStepFunction } from '../../functions/_shared/step-function';
import { loadConfig } from '../../functions/_shared/config';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { defaultQueueNames } from '../../workflow/pipeline';
import { topicDeliveringTo } from '../../workflow/ports';
import type { LedgerPort } from '../../workflow/ledger';
import { WarmAheadKind, WarmAheadOf, isWarmAhead, warmAheadBody, warmAheadGate, type WarmAheadGate } from '../../workflow/warm-ahead';
import { GROUPS_YAML, world } from './helpers';

const queues = defaultQueueNames();
const context = { requestId: 'warm', region: 'cn-hangzhou', accountId: '123' };
const event = (...bodies: string[]) => Buffer.from(JSON.stringify(bodies.map((b, i) => ({ id: `e${i}`, data: { messageId: `M${i}`, messageBody: b } }))));

/** A ledger that fails the test on any call: a warm-ahead message must not read it. */
const untouchable = new Proxy({} as LedgerPort, {
  get: (_t, prop) => () => {
    throw new Error(`the ledger was called (${String(prop)})`);
  },
});

/** `step`'s FC handler over the fake world, with `ledger`, warming ahead when `warmAhead` says. */
function stepHandler(w: ReturnType<typeof world>, step: 'attach' | 'verify-bound', ledger: LedgerPort, warmAhead?: WarmAheadGate) {
  return createStepFunction({
    step,
    config: loadConfig({}, GROUPS_YAML),
    clock: w.clock,
    log: () => {},
    ...(warmAhead ? { warmAhead } : {}),
    ports: () => ({ ecs: Object.assign(w.ecs, { withDeadline: () => w.ecs, stats: () => ({}) }) as never, queue: w.queue, topic: topicDeliveringTo(w.queue, queues.events), ledger }),
  });
}

describe('warm-ahead messages', () => {
  test('exactly {kind, from} with a step name is one; anything else is not', () => {
    expect(isWarmAhead(warmAheadBody('attach'))).toBe(true);
    for (const body of [
      JSON.stringify({ kind: WarmAheadKind }),
      JSON.stringify({ kind: WarmAheadKind, from: 'attach', operationId: 'op-1' }),
      JSON.stringify({ kind: 'eni-failover.wake', from: 'attach' }),
      JSON.stringify({ kind: WarmAheadKind, from: 'Attach; rm -rf /' }),
      JSON.stringify({ kind: WarmAheadKind, from: 'a'.repeat(40) }),
      JSON.stringify([WarmAheadKind, 'attach']),
      'not json',
      '',
    ]) expect(isWarmAhead(body)).toBe(false);
  });

  test('the gate opens once per interval', () => {
    const gate = warmAheadGate(1000);
    expect([gate.due(0), gate.due(999), gate.due(1000), gate.due(1500), gate.due(2001)]).toEqual([true, false, true, false, true]);
  });

  test('a step answers it "warmed": no ledger, no ECS call, nothing dead-lettered', async () => {
    const w = world();
    const handler = stepHandler(w, 'verify-bound', untouchable);
    const out = await handler(event(warmAheadBody('attach')), context);
    expect(out).toEqual([{ messageId: 'M0', kind: 'warmed' }]);
    expect(w.queue.on(queues.deadLetter)).toEqual([]);
    expect(w.ecs.writes).toEqual([]);
  });

  test('with warmAhead, attach warms verify-bound alongside a delivery, once per interval; without it, never', async () => {
    for (const warm of [true, false]) {
      const w = world();
      const handler = stepHandler(w, 'attach', new MemoryLedger(), warm ? warmAheadGate(60_000) : undefined);
      // Wake-ups of operations this ledger does not know: dead-lettered as always, the warm-ahead sent anyway.
      const wake = JSON.stringify({ kind: 'eni-failover.wake', operationId: 'op-0123456789abcdef', step: 'attach', attempt: 0 });
      await handler(event(wake), context);
      w.clock.t += 30_000;
      await handler(event(wake), context);
      w.clock.t += 30_000;
      await handler(event(wake), context);
      const warmed = w.queue.on(queues[WarmAheadOf.attach!]);
      expect(warmed).toEqual(warm ? [{ kind: WarmAheadKind, from: 'attach' }, { kind: WarmAheadKind, from: 'attach' }] : []);
      expect(w.queue.on(queues.deadLetter)).toHaveLength(3);
    }
  });

  test('validate and configure-guest-routes warm nobody', () => {
    expect(WarmAheadOf.validate).toBeUndefined();
    expect(WarmAheadOf['configure-guest-routes']).toBeUndefined();
  });
});
