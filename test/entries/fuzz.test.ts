// Generated malformed inputs against every entry point and a step function: no crash, nothing lost (each
// input is answered or dead-lettered with a reason), and nothing written to ECS.
import { createAlarmFunction, createEcsEventFunction, createRequestFunction, createScheduleFunction, type EntryFunctionDeps } from '../../functions/_shared/entry-function';
import { createStepFunction } from '../../functions/_shared/step-function';
import { loadConfig } from '../../functions/_shared/config';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { defaultQueueNames } from '../../workflow/pipeline';
import { topicDeliveringTo } from '../../workflow/ports';
import { seededRandom as rng } from '../../local/mns/faults';
import { alarmBody, GROUPS_YAML, world } from './helpers';

const queues = defaultQueueNames();
const TOKEN = 'a-long-enough-alarm-token-for-fuzzing-0123';
const context = { requestId: 'fuzz', region: 'cn-hangzhou', accountId: '123' };

const Hostile: unknown[] = [
  null, 0, -1, 1e309, 'NaN', '', ' ', 'x'.repeat(70_000), '$(reboot)', '`id`', "'; rm -rf / #", '\u0000', '\ud800', '../../etc/passwd',
  [], [[[]]], {}, { __proto__: { polluted: true } }, { constructor: { prototype: { polluted: true } } }, true, '9'.repeat(400), 'i-', 'eni-', 'I-PRIMARY',
];

/** Mutates a valid object: drops, retypes, replaces or adds fields with hostile values. */
function mutate(valid: Record<string, unknown>, next: () => number): Record<string, unknown> {
  const out: Record<string, unknown> = JSON.parse(JSON.stringify(valid));
  const keys = Object.keys(out);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const edits = 1 + Math.floor(next() * 3);
  for (let i = 0; i < edits; i++) {
    const r = next();
    if (r < 0.3 && keys.length) delete out[pick(keys)];
    else if (r < 0.8 && keys.length) out[pick(keys)] = pick(Hostile);
    else out[pick(['__proto__', 'extra', 'force', 'allowUnmanaged', 'policy'])] = pick(Hostile);
  }
  return out;
}

function generated(count: number, seed: number, make: (next: () => number, i: number) => unknown): [number, unknown][] {
  const next = rng(seed);
  return Array.from({ length: count }, (_, i) => [i, make(next, i)] as [number, unknown]);
}

function setup() {
  const w = world();
  const ledger = new MemoryLedger();
  const lines: Record<string, unknown>[] = [];
  const deps: EntryFunctionDeps = { queues, groups: w.groups, ports: () => ({ ecs: w.ecs, queue: w.queue, topic: topicDeliveringTo(w.queue, queues.events), ledger, regionId: 'cn-hangzhou' }), clock: w.clock, log: (l) => lines.push(l) };
  return { ...w, deps, ledger, lines };
}

const Writes = /attach|detach|stop|start|reboot|run/;

describe('Fuzz: on-alarm answers every malformed callback with a 4xx and moves nothing', () => {
  const valid = Object.fromEntries(new URLSearchParams(alarmBody({})));
  const inputs = generated(40, 11, (next, i) => {
    const fields = mutate(valid, next);
    const body = i % 3 === 0 ? JSON.stringify(fields) : new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : String(JSON.stringify(v))])).toString();
    return { body, json: i % 3 === 0 };
  });
  it.each(inputs)('input %i', async (_i, input) => {
    const { deps, ecs } = setup();
    const { body, json } = input as { body: string; json: boolean };
    const event = Buffer.from(JSON.stringify({ headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' }, queryParameters: { token: TOKEN }, body, requestContext: { http: { method: 'POST' } } }));
    const res = await createAlarmFunction({ ...deps, token: TOKEN })(event, context);
    // Answered: 4xx with a reason, or 200 ignored / 202 when the mutation left a valid callback.
    expect([200, 202, 400, 413]).toContain(res.statusCode);
    const parsed = JSON.parse(res.body);
    if (res.statusCode >= 400) expect(typeof parsed.error).toBe('string');
    expect(ecs.writes.filter((w) => Writes.test(w))).toEqual([]);
  });

  it('a 10 MB body answers 413 unread and a year-10000 timestamp 400', async () => {
    const { deps } = setup();
    const handler = createAlarmFunction({ ...deps, token: TOKEN });
    const huge = await handler(Buffer.from(JSON.stringify({ queryParameters: { token: TOKEN }, body: 'x'.repeat(10 * 1024 * 1024) })), context);
    expect(huge.statusCode).toBe(413);
    const future = alarmBody({ timestamp: String(Date.parse('+010000-01-01T00:00:00Z')) });
    const res = await handler(Buffer.from(JSON.stringify({ queryParameters: { token: TOKEN }, body: future, requestContext: { http: { method: 'POST' } } })), context);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/more than a day from now/);
  });
});

describe('Fuzz: on-ecs-event ignores every malformed event with a reason and moves nothing', () => {
  const valid = { type: 'ecs:Instance:StateChange', time: '2026-11-26T03:01:00Z', data: { name: 'Instance:StateChange', content: { resourceId: 'i-primary', state: 'Stopped' } } };
  const inputs = generated(40, 12, (next, i) => (i % 4 === 0 ? { ...valid, data: mutate(valid.data as Record<string, unknown>, next) } : mutate(valid, next)));
  it.each(inputs)('input %i', async (_i, input) => {
    const { deps, ecs, queue } = setup();
    ecs.instances.get('i-primary')!.status = 'Running';
    const out = await createEcsEventFunction(deps)(Buffer.from(JSON.stringify(input)), context);
    expect(out).toHaveLength(1);
    // The primary is Running, so even a mutation that still reads as a failure is ignored, with a reason.
    expect(out[0]).toEqual({ ignored: expect.any(String) });
    expect(queue.sent).toEqual([]);
    expect(ecs.writes).toEqual([]);
  });
});

describe('Fuzz: on-schedule reports every malformed timer payload and moves nothing', () => {
  const inputs = generated(35, 13, (next) => {
    const payload = mutate({ mode: 'reconcile' }, next);
    return { triggerName: 'reconcile', triggerTime: '2026-11-26T03:00:00Z', payload: next() < 0.5 ? JSON.stringify(payload) : JSON.stringify([mutate({ eniId: 'eni-web', instanceId: 'i-standby' }, next)]) };
  });
  it.each(inputs)('input %i', async (_i, input) => {
    const { deps, ecs } = setup();
    const out = (await createScheduleFunction(deps)(Buffer.from(JSON.stringify(input)), context)) as Record<string, unknown>;
    // Either the payload error, or a decision per item (a switch-over item that does not parse is a skip with its reason).
    if ('error' in out) expect(typeof out.error).toBe('string');
    else expect(out).toMatchObject({ mode: expect.any(String) });
    expect(ecs.writes).toEqual([]);
  });
});

describe('Fuzz: on-request dead-letters every malformed request with its reason', () => {
  const valid = { request: { eniId: 'eni-web', instanceId: 'i-standby', sourceInstanceId: 'i-primary' } };
  const inputs = generated(40, 14, (next, i) => (i % 2 === 0 ? { request: mutate(valid.request, next) } : mutate(valid as unknown as Record<string, unknown>, next)));
  it.each(inputs)('input %i', async (_i, input) => {
    const { deps, ecs, queue } = setup();
    const body = JSON.stringify(input);
    const event = Buffer.from(JSON.stringify([{ id: 'e', source: 'MNS', data: { messageId: 'M1', messageBody: body } }]));
    const out = await createRequestFunction(deps)(event, context);
    expect(out).toHaveLength(1);
    const dead = queue.on(queues.deadLetter);
    const started = queue.on(queues.validate);
    // Nothing lost: exactly one of a dead letter with a reason or a started operation.
    expect(dead.length + started.length).toBe(1);
    if (dead.length) expect(dead[0]).toMatchObject({ kind: 'eni-failover.rejected', messageId: 'M1', error: expect.any(String) });
    expect(ecs.writes).toEqual([]);
  });
});

describe('Fuzz: a step function dead-letters every malformed or forged wake-up and writes nothing', () => {
  const valid = { kind: 'eni-failover.wake', operationId: 'op-0123456789abcdef', step: 'attach', attempt: 0 };
  const inputs = generated(40, 15, (next) => mutate(valid, next));
  it.each(inputs)('input %i', async (_i, input) => {
    const w = world();
    const ledger = new MemoryLedger();
    const config = loadConfig({}, GROUPS_YAML);
    const handler = createStepFunction({
      step: 'attach',
      config,
      clock: w.clock,
      log: () => {},
      ports: () => ({ ecs: Object.assign(w.ecs, { withDeadline: () => w.ecs, stats: () => ({}) }) as never, queue: w.queue, topic: topicDeliveringTo(w.queue, queues.events), ledger }),
    });
    const event = Buffer.from(JSON.stringify([{ id: 'e', data: { messageId: 'M1', messageBody: JSON.stringify(input) } }]));
    const out = await handler(event, context);
    expect(out).toHaveLength(1);
    // No operation exists in this ledger: every input is malformed, for another step, or unknown.
    expect(out[0]).toMatchObject({ kind: 'rejected', error: expect.any(String) });
    expect(w.queue.on(queues.deadLetter)).toHaveLength(1);
    expect(w.ecs.writes).toEqual([]);
  });
});
