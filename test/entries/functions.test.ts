import { createAlarmFunction, createEcsEventFunction, createRequestFunction, createScheduleFunction, entryHandlerFromEnvironment, tokenMatches, EntryKind, type EntryFunctionDeps } from '../../functions/_shared/entry-function';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { parseWake } from '../../workflow/operation';
import { defaultQueueNames } from '../../workflow/pipeline';
import { topicDeliveringTo } from '../../workflow/ports';
import { WarmAheadKind, warmAheadGate } from '../../workflow/warm-ahead';
import { alarmBody, world } from './helpers';

const queues = defaultQueueNames();
const TOKEN = 's3cret-token-of-some-length';
const context = { requestId: 'req-1', region: 'cn-hangzhou', accountId: '123' };

function fns() {
  const w = world();
  const lines: Record<string, unknown>[] = [];
  const ledger = new MemoryLedger();
  const deps: EntryFunctionDeps = {
    queues,
    groups: w.groups,
    ports: () => ({ ecs: w.ecs, queue: w.queue, topic: topicDeliveringTo(w.queue, queues.events), ledger, regionId: 'cn-hangzhou' }),
    clock: w.clock,
    log: (l) => lines.push(l),
  };
  return { ...w, deps, lines, ledger };
}

function httpEvent(over: { body?: string; query?: Record<string, string>; headers?: Record<string, string>; method?: string; base64?: boolean } = {}) {
  const body = over.body ?? alarmBody({});
  return Buffer.from(
    JSON.stringify({
      version: 'v1',
      rawPath: '/',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...over.headers },
      queryParameters: over.query ?? { token: TOKEN },
      body: over.base64 ? Buffer.from(body).toString('base64') : body,
      isBase64Encoded: over.base64 ?? false,
      requestContext: { accountId: '123', domainName: 'x', http: { method: over.method ?? 'POST', path: '/', sourceIp: '203.0.113.9', userAgent: 'cms' }, requestId: 'r', time: '', timeEpoch: '' },
    }),
  );
}

describe('Function: on-alarm (HTTP trigger)', () => {
  it.each([
    ['no token', { query: {} }],
    ['a wrong token', { query: { token: 'guess' } }],
    ['a token one character short', { query: { token: TOKEN.slice(0, -1) } }],
    ['a wrong header token', { query: {}, headers: { 'X-Eni-Failover-Token': 'nope' } }],
  ])('answers 401 and sends nothing, reads no ECS, with %s', async (_n, over) => {
    const { deps, queue, ecs } = fns();
    const res = await createAlarmFunction({ ...deps, token: TOKEN })(httpEvent(over), context);
    expect(res.statusCode).toBe(401);
    expect(queue.sent).toEqual([]);
    expect(ecs.enisCalls).toEqual([]);
  });

  it('accepts the token in the header too, and a base64 body', async () => {
    const { deps } = fns();
    const res = await createAlarmFunction({ ...deps, token: TOKEN })(httpEvent({ query: {}, headers: { 'X-Eni-Failover-Token': TOKEN }, base64: true }), context);
    expect(res.statusCode).toBe(202);
  });

  it('compares tokens by content only', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(tokenMatches(undefined, TOKEN)).toBe(false);
    expect(tokenMatches('', '')).toBe(false);
  });

  it('records the operation in the ledger, wakes validate and answers 202 with its id', async () => {
    const { deps, queue, clock, ledger } = fns();
    const res = await createAlarmFunction({ ...deps, token: TOKEN })(httpEvent(), context);
    expect(res.statusCode).toBe(202);
    const body = JSON.parse(res.body);
    const sent = queue.on(queues.validate);
    expect(sent).toHaveLength(1);
    const wake = parseWake(JSON.stringify(sent[0]));
    expect(wake.ok && wake.value).toEqual({ kind: 'eni-failover.wake', operationId: body.operationIds[0], step: 'validate', attempt: 0 });
    const record = await ledger.get(body.operationIds[0]);
    expect(record).toMatchObject({ status: 'running', step: 'validate', attempt: 0, startedAt: clock.now(), group: 'web', request: { eniId: 'eni-web', instanceId: 'i-standby', sourceInstanceId: 'i-primary' } });
  });

  it('a repeated alarm is the same operation: recorded and woken once', async () => {
    const { deps, queue, ledger } = fns();
    const alarm = createAlarmFunction({ ...deps, token: TOKEN });
    const first = JSON.parse((await alarm(httpEvent(), context)).body);
    // The first wake-up was taken (validate claimed it), so a repeat must not wake it again.
    const record = (await ledger.get(first.operationIds[0]))!;
    await ledger.update({ ...record, version: record.version + 1, claim: { step: 'validate', attempt: 0, token: 't', until: Date.now() + 60_000 } });
    const second = JSON.parse((await alarm(httpEvent(), context)).body);
    expect(second.operationIds).toEqual(first.operationIds);
    expect(queue.on(queues.validate)).toHaveLength(1);
  });

  it('answers 200 ignored for an OK state and sends nothing', async () => {
    const { deps, queue } = fns();
    const res = await createAlarmFunction({ ...deps, token: TOKEN })(httpEvent({ body: alarmBody({ alertState: 'OK' }) }), context);
    expect(res).toMatchObject({ statusCode: 200, body: JSON.stringify({ ignored: 'OK state' }) });
    expect(queue.sent).toEqual([]);
  });

  it.each([
    ['a body without dimensions', alarmBody({ dimensions: '' }), /dimensions: is required/],
    ['a body that is no callback', 'hello', /alertName: is required/],
  ])('answers 400 for %s', async (_n, body, error) => {
    const { deps, queue } = fns();
    const res = await createAlarmFunction({ ...deps, token: TOKEN })(httpEvent({ body }), context);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(error);
    expect(queue.sent).toEqual([]);
  });

  it('answers 405 for GET', async () => {
    const { deps } = fns();
    expect((await createAlarmFunction({ ...deps, token: TOKEN })(httpEvent({ method: 'GET' }), context)).statusCode).toBe(405);
  });

  it('publishes NoHealthyStandby on the events and dead-letter queues', async () => {
    const { deps, queue, ecs } = fns();
    ecs.instances.get('i-standby')!.status = 'Stopped';
    ecs.instances.get('i-third')!.status = 'Stopped';
    const res = await createAlarmFunction({ ...deps, token: TOKEN })(httpEvent(), context);
    expect(res.statusCode).toBe(200);
    expect(queue.on(queues.events)).toEqual([expect.objectContaining({ outcome: 'failed', reason: 'NoHealthyStandby', eniId: 'eni-web' })]);
    expect(queue.on(queues.deadLetter)).toEqual(queue.on(queues.events));
    expect(queue.on(queues.validate)).toEqual([]);
  });

  it('reports NoHealthyStandby once however many triggers decide it', async () => {
    const { deps, queue, ecs } = fns();
    ecs.instances.get('i-standby')!.status = 'Stopped';
    ecs.instances.get('i-third')!.status = 'Stopped';
    const alarm = createAlarmFunction({ ...deps, token: TOKEN });
    await alarm(httpEvent(), context);
    await alarm(httpEvent(), context);
    expect(queue.on(queues.events)).toHaveLength(1);
    expect(queue.on(queues.deadLetter)).toHaveLength(1);
  });

  it('answers 500 when ECS fails, so CloudMonitor calls again', async () => {
    const { deps, ecs } = fns();
    ecs.describeEnis = async () => {
      throw new Error('ECS unavailable');
    };
    const res = await createAlarmFunction({ ...deps, token: TOKEN })(httpEvent(), context);
    expect(res.statusCode).toBe(500);
  });
});

describe('Function: on-alarm warms attach ahead when the steps keep no instance running', () => {
  it('sends attach one warm-ahead per interval for ALARM, none for OK, none without warmAhead', async () => {
    for (const warm of [true, false]) {
      const { deps, queue, clock } = fns();
      const handler = createAlarmFunction({ ...deps, token: TOKEN, ...(warm ? { warmAhead: warmAheadGate(60_000) } : {}) });
      const ok = await handler(httpEvent({ body: alarmBody({ alertState: 'OK' }) }), context);
      const first = await handler(httpEvent(), context);
      const again = await handler(httpEvent(), context);
      clock.t += 60_000;
      const later = await handler(httpEvent(), context);
      expect([ok.statusCode, first.statusCode, again.statusCode, later.statusCode]).toEqual([200, 202, 202, 202]);
      expect(queue.on(queues.attach)).toEqual(warm ? [{ kind: WarmAheadKind, from: 'on-alarm' }, { kind: WarmAheadKind, from: 'on-alarm' }] : []);
    }
  });
});

describe('Function: on-ecs-event, on-schedule, on-request', () => {
  it('on-ecs-event enqueues a failover for a Stopping event and ignores a Running one', async () => {
    const { deps, queue, ecs } = fns();
    ecs.instances.get('i-primary')!.status = 'Stopping';
    const event = (state: string) => ({ type: 'ecs:Instance:StateChange', time: '2026-11-26T03:01:00Z', data: { name: 'Instance:StateChange', content: { resourceId: 'i-primary', state } } });
    const out = await createEcsEventFunction(deps)(Buffer.from(JSON.stringify([event('Running'), event('Stopping')])), context);
    expect(out[0]).toEqual({ ignored: expect.stringMatching(/Running/) });
    expect(queue.on(queues.validate)).toHaveLength(1);
  });

  it('on-schedule reconciles: reports healthy and sends nothing', async () => {
    const { deps, queue } = fns();
    const out = await createScheduleFunction(deps)(Buffer.from(JSON.stringify({ triggerTime: '2026-11-26T03:00:00Z', triggerName: 'reconcile', payload: '{"mode":"reconcile"}' })), context);
    expect(out).toMatchObject({ mode: 'reconcile', enqueued: [], skipped: [{ eniId: 'eni-web', reason: expect.stringMatching(/^healthy/) }] });
    expect(queue.sent).toEqual([]);
  });

  it('on-schedule reconcile wakes a running operation whose wake-up was lost, and only that one', async () => {
    const { deps, queue, ledger, clock } = fns();
    const request = { eniId: 'eni-web', instanceId: 'i-standby', regionId: 'cn-hangzhou', policy: {}, origin: { kind: 'cli', id: 'lost', time: '2026-11-26T02:00:00Z' } };
    const { newRecord } = await import('../../workflow/operation');
    const { BindRequest } = await import('../../workflow/messages');
    const stalled = { ...newRecord(BindRequest.parse(request), clock.now() - 600_000), step: 'attach' as const, attempt: 2 };
    const fresh = newRecord(BindRequest.parse({ ...request, origin: { ...request.origin, id: 'fresh' } }), clock.now());
    await ledger.create(stalled);
    await ledger.create(fresh);
    const out = await createScheduleFunction(deps)(Buffer.from(JSON.stringify({ triggerTime: '2026-11-26T03:00:00Z', triggerName: 'reconcile', payload: '{"mode":"reconcile"}' })), context);
    expect(out).toMatchObject({ rewoken: [stalled.operationId] });
    expect(queue.on(queues.attach)).toEqual([{ kind: 'eni-failover.wake', operationId: stalled.operationId, step: 'attach', attempt: 2 }]);
    expect(queue.on(queues.validate)).toEqual([]);
  });

  it('on-schedule reports a bad payload and sends nothing', async () => {
    const { deps, queue } = fns();
    const out = await createScheduleFunction(deps)(Buffer.from(JSON.stringify({ triggerName: 't', payload: '{"mode":"x"}' })), context);
    expect(out).toEqual({ error: expect.stringMatching(/payload\.mode/) });
    expect(queue.sent).toEqual([]);
  });

  const mnsEvent = (bodies: string[]) =>
    Buffer.from(JSON.stringify(bodies.map((b, i) => ({ id: `e${i}`, source: 'MNS-q', specversion: '1.0', type: 'mns:Queue:SendMessage', data: { requestId: 'r', messageId: `M${i}`, messageBody: b } }))));

  it('on-request enqueues a valid request and dead-letters an invalid and a refused one, with the error', async () => {
    const { deps, queue } = fns();
    const out = await createRequestFunction(deps)(
      mnsEvent([
        JSON.stringify({ request: { eniId: 'eni-web', instanceId: 'i-standby', sourceInstanceId: 'i-primary' } }),
        '{"request":{"eniId":"eni-web"}}',
        JSON.stringify({ request: { eniId: 'eni-loose', instanceId: 'i-standby' } }),
      ]),
      context,
    );
    expect(queue.on(queues.validate)).toHaveLength(1);
    expect(queue.on(queues.deadLetter)).toEqual([
      expect.objectContaining({ kind: 'eni-failover.rejected', messageId: 'M1', error: expect.stringMatching(/invalid request: request\.instanceId: Required/) }),
      expect.objectContaining({ kind: 'eni-failover.rejected', messageId: 'M2', error: expect.stringMatching(/refused: eni-loose is in no failover group/) }),
    ]);
    expect(out.map((o) => ('rejected' in o ? 'rejected' : 'enqueued'))).toEqual(['enqueued', 'rejected', 'rejected']);
  });
});

describe('Functions from the environment', () => {
  it('refuses a bad FAILOVER_GROUPS at load, naming the variable and the field', () => {
    expect(() => entryHandlerFromEnvironment(EntryKind.Schedule, '', { FAILOVER_GROUPS: 'groups:\n  - {name: web, enis: [eni-a], members: [i-a, web-2]}\n' })).toThrow(
      'FAILOVER_GROUPS: groups[0].members[1]: must look like i-xxxx',
    );
  });

  it('refuses a bad bundled file at load, naming it', () => {
    expect(() => entryHandlerFromEnvironment(EntryKind.Schedule, 'groups: 3', {})).toThrow(/config\/groups\.yaml \(bundled\): groups: Expected array/);
  });

  it('an alarm endpoint without ALARM_TOKEN answers 503 to everyone and sends nothing', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const handler = entryHandlerFromEnvironment(EntryKind.Alarm, '', { ALARM_TOKEN: '' });
      expect(errors).toHaveBeenCalledWith(expect.stringMatching(/ALARM_TOKEN is empty/));
      const res = (await handler(httpEvent({ query: { token: '' } }), context)) as { statusCode: number; body: string };
      expect(res.statusCode).toBe(503);
      expect(res.body).toMatch(/ALARM_TOKEN/);
    } finally {
      errors.mockRestore();
    }
  });
});
