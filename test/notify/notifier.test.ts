import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchHttp } from '../../cloud/webhook';
import { parseGroups, type GroupsConfig } from '../../workflow/groups';
import { noticeMarkId } from '../../workflow/ledger';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { deliverNotice, type NotifierDeps } from '../../workflow/notifier';
import { dingTalkSign, larkSign, webhookSignature } from '../../workflow/notify';
import type { Clock } from '../../workflow/ports';
import { createNotifierFunction, decodeTopicEvent, resolveTarget } from '../../functions/_shared/notifier-function';
import { loadConfig } from '../../functions/_shared/config';
import { FourTargets, randomSecrets, receiverEnv, startNotifyReceiver, type NotifyReceiver, type ReceiverSecrets } from '../helpers/notify-receiver';

/** A clock whose sleeps return at once and are recorded (the retry schedule is asserted, not waited out). */
function skippingClock(): Clock & { slept: number[] } {
  let t = Date.now();
  const slept: number[] = [];
  return { slept, now: () => t, sleep: async (ms) => void (slept.push(ms), (t += ms)) };
}

const succeeded = (over: Record<string, unknown> = {}) => ({
  kind: 'eni-failover.outcome',
  operationId: 'op-0123456789abcdef',
  outcome: 'succeeded',
  step: 'configure-guest-routes',
  message: 'guest configured: eth1 up with 10.0.1.5',
  group: 'web',
  request: { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', regionId: 'cn-hangzhou' },
  startedAt: Date.now() - 1700,
  finishedAt: Date.now(),
  durationMs: 1700,
  apiCalls: 9,
  timeline: [],
  ...over,
});

const failed = () =>
  succeeded({
    outcome: 'failed',
    reason: 'DetachHung',
    step: 'attach',
    message: 'the detach of eni-service from i-primary hung for 120 s and fenceSource is off: stop i-primary by hand or allow fencing',
    rescue: 'eni-service was left bound nowhere; operation op-1111111111111111 binds it to i-spare',
    restored: 'i-standby is Running',
  });

function groupsWith(targets: readonly object[]): GroupsConfig {
  return parseGroups(JSON.stringify({ groups: [{ name: 'web', enis: ['eni-service'], members: ['i-primary', 'i-standby'], notify: targets }] }), 'test');
}

describe('Notifications: signing (the vectors of shared/reference/notifications.md)', () => {
  it('signs DingTalk, Lark and Standard Webhooks as their documents compute', () => {
    expect(dingTalkSign('SECtest', 1700000000000)).toBe('aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D');
    expect(larkSign('SECtest', 1700000000)).toBe('G7XpBpG8NgG02fJOAhX6FRAObIljmFoxVReo8I62pEk=');
    expect(webhookSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});

describe('Notifier: delivery to a local receiver of every service', () => {
  let receiver: NotifyReceiver;
  let secrets: ReceiverSecrets;
  let env: Record<string, string>;
  beforeEach(async () => {
    secrets = randomSecrets();
    receiver = await startNotifyReceiver(secrets);
    env = receiverEnv(receiver, secrets);
  });
  afterEach(() => receiver.close());

  const deps = (over: Partial<NotifierDeps> & { dead?: string[]; lines?: Record<string, unknown>[] } = {}): NotifierDeps & { dead: string[]; lines: Record<string, unknown>[] } => {
    const dead = over.dead ?? [];
    const lines = over.lines ?? [];
    return {
      groups: groupsWith(FourTargets),
      ledger: new MemoryLedger(),
      http: fetchHttp,
      clock: skippingClock(),
      resolve: (t) => resolveTarget(env, t),
      deadLetter: async (b) => void dead.push(b),
      holder: 'test-delivery',
      log: (l) => lines.push(l),
      ...over,
      dead,
      lines,
    };
  };

  it('sends one message to each target, each passing its service\'s signature and body checks, saying what moved where and how long it took', async () => {
    // Prepare
    const d = deps();
    // Act
    const report = await deliverNotice(JSON.stringify(succeeded()), d);
    // Assess
    expect(report).toMatchObject({ kind: 'delivered', targets: [{ kind: 'sent', attempts: 1 }, { kind: 'sent' }, { kind: 'sent' }, { kind: 'sent' }] });
    expect(receiver.accepted.map((n) => n.service)).toEqual(['dingtalk', 'wecom', 'lark', 'webhook']);
    const texts = receiver.accepted.map((n) => JSON.stringify(n.body));
    for (const text of texts) expect(text).toMatch(/eni-service moved from i-primary to i-standby in 1\.70 s/);
    expect(receiver.accepted[3]!.headers['webhook-id']).toBe('msg_op-0123456789abcdef');
    expect(d.dead).toEqual([]);
  });

  it('a failure says the reason, the workflow\'s advice and what to do', async () => {
    // Act
    await deliverNotice(JSON.stringify(failed()), deps());
    // Assess
    const dingtalk = receiver.accepted.find((n) => n.service === 'dingtalk')!.body.markdown.text as string;
    expect(dingtalk).toContain('FAILED to move eni-service (DetachHung)');
    expect(dingtalk).toContain('Reason: DetachHung at attach: the detach of eni-service from i-primary hung for 120 s and fenceSource is off: stop i-primary by hand or allow fencing');
    expect(dingtalk).toContain('ENI: eni-service was left bound nowhere; operation op-1111111111111111 binds it to i-spare');
    expect(dingtalk).toContain('What to do:');
    expect(dingtalk).toContain('eni-failover status --operation op-0123456789abcdef');
  });

  it('an entry failure (no standby) names the members passed over and why', async () => {
    // Prepare: the shape of workflow/entries/failover.ts EntryFailureEvent
    const entryFailure = {
      kind: 'eni-failover.outcome',
      operationId: 'op-2222222222222222',
      outcome: 'failed',
      reason: 'NoHealthyStandby',
      step: 'select-standby',
      message: 'no member of web can take eni-service',
      group: 'web',
      eniId: 'eni-service',
      sourceInstanceId: 'i-primary',
      origin: { kind: 'alarm', id: 'service-down/i-primary/2026-01-01T00:00:00.000Z', time: '2026-01-01T00:00:00.000Z' },
      passedOver: [{ instanceId: 'i-standby', code: 'NotRunning', detail: 'i-standby is Stopped' }],
      finishedAt: Date.now(),
    };
    // Act
    await deliverNotice(JSON.stringify(entryFailure), deps({ groups: groupsWith([FourTargets[2]]) }));
    // Assess
    const text = receiver.accepted[0]!.body.content.text as string;
    expect(text).toContain('FAILED to move eni-service (NoHealthyStandby)');
    expect(text).toContain('Move: eni-service from i-primary');
    expect(text).toContain('Passed over: i-standby (NotRunning: i-standby is Stopped)');
  });

  it('a duplicate outcome sends nothing twice: again later, and twice at once from two deliveries sharing the ledger', async () => {
    // Prepare
    const ledger = new MemoryLedger();
    const body = JSON.stringify(succeeded());
    // Act
    await deliverNotice(body, deps({ ledger }));
    const again = await deliverNotice(body, deps({ ledger, holder: 'second-delivery' }));
    const other = JSON.stringify(succeeded({ operationId: 'op-fedcba9876543210' }));
    const concurrent = await Promise.all([deliverNotice(other, deps({ ledger, holder: 'a' })), deliverNotice(other, deps({ ledger, holder: 'b' }))]);
    // Assess: one message per target and operation reached the receiver
    expect(receiver.accepted).toHaveLength(8);
    expect(again).toMatchObject({ targets: [{ kind: 'duplicate', state: 'sent' }, { kind: 'duplicate' }, { kind: 'duplicate' }, { kind: 'duplicate' }] });
    const kinds = concurrent.flatMap((r) => (r.kind === 'delivered' ? r.targets.map((t) => t.kind) : []));
    expect(kinds.filter((k) => k === 'sent')).toHaveLength(4);
    expect(kinds.filter((k) => k !== 'sent').every((k) => k === 'inFlight' || k === 'duplicate')).toBe(true);
  });

  it('a receiver that answers 500 three times, then 200, gets exactly one message, after backoff of 1, 2 and 4 s', async () => {
    // Prepare: only the webhook, the first three requests fail
    const clock = skippingClock();
    const d = deps({ groups: groupsWith([FourTargets[3]]), clock });
    receiver.failNext(500, 500, 500);
    // Act
    const report = await deliverNotice(JSON.stringify(succeeded()), d);
    // Assess
    expect(receiver.requests.map((r) => r.status)).toEqual([500, 500, 500, 204]);
    expect(receiver.accepted).toHaveLength(1);
    expect(report).toMatchObject({ targets: [{ kind: 'sent', attempts: 4 }] });
    expect(clock.slept).toEqual([1000, 2000, 4000]);
    expect(d.dead).toEqual([]);
  });

  it('a target that never answers 2xx is dead-lettered once with the reason, its URL masked and its secrets never written; a redelivery sends nothing', async () => {
    // Prepare
    const ledger = new MemoryLedger();
    const d = deps({ ledger, groups: groupsWith([FourTargets[0]]) });
    receiver.failNext(503, 503, 503, 503, 503);
    // Act
    const first = await deliverNotice(JSON.stringify(failed()), d);
    const second = await deliverNotice(JSON.stringify(failed()), deps({ ledger, groups: groupsWith([FourTargets[0]]), dead: d.dead }));
    // Assess
    expect(receiver.requests).toHaveLength(5);
    expect(receiver.accepted).toEqual([]);
    expect(first).toMatchObject({ targets: [{ kind: 'dead-lettered', attempts: 5, why: 'gave up after 5 attempts: HTTP 503' }] });
    expect(second).toMatchObject({ targets: [{ kind: 'duplicate', state: 'dead-lettered' }] });
    expect(d.dead).toHaveLength(1);
    const letter = JSON.parse(d.dead[0]!);
    expect(letter).toMatchObject({ kind: 'eni-failover.notify-failed', operationId: 'op-0123456789abcdef', target: { type: 'dingtalk', urlEnv: 'NOTIFY_DINGTALK_URL', url: `${receiver.base}/…` }, attempts: 5 });
    const written = d.dead.join('\n') + JSON.stringify(d.lines);
    for (const secret of [secrets.dingtalk.token, secrets.dingtalk.secret]) expect(written).not.toContain(secret);
    expect((await ledger.getLease(noticeMarkId('op-0123456789abcdef', 0)))?.notice).toMatchObject({ state: 'dead-lettered', attempts: 5 });
  });

  it('a Lark bot that cannot be reached is dead-lettered without its path token anywhere', async () => {
    // Prepare: the URL points at a port nobody listens on any more, with the real token in the path
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    env.NOTIFY_LARK_URL = `http://127.0.0.1:${port}/open-apis/bot/v2/hook/${secrets.lark.token}${secrets.lark.token}`;
    const d = deps({ groups: groupsWith([FourTargets[2]]) });
    // Act
    const report = await deliverNotice(JSON.stringify(succeeded()), d);
    // Assess
    expect(report).toMatchObject({ targets: [{ kind: 'dead-lettered', attempts: 5, why: `gave up after 5 attempts: no answer from http://127.0.0.1:${port}/…: POST failed: ECONNREFUSED` }] });
    expect(d.dead.join('\n') + JSON.stringify(d.lines)).not.toContain(secrets.lark.token);
  });

  it('a refusal the service answers inside HTTP 200 (a wrong secret) is not retried: dead-lettered with the service\'s code', async () => {
    // Prepare: the DingTalk secret is wrong
    const d = deps({ groups: groupsWith([FourTargets[0]]) });
    env.NOTIFY_DINGTALK_SECRET = 'SECwrong';
    // Act
    const report = await deliverNotice(JSON.stringify(succeeded()), d);
    // Assess
    expect(receiver.requests).toEqual([expect.objectContaining({ status: 200, answer: expect.stringContaining('310000') })]);
    expect(report).toMatchObject({ targets: [{ kind: 'dead-lettered', attempts: 1, why: '310000 sign not match' }] });
    expect(d.dead.join()).not.toContain('SECwrong');
  });

  it('a target whose variable is not set is dead-lettered naming the variable, and the others are still sent', async () => {
    // Prepare
    delete env.NOTIFY_LARK_URL;
    const d = deps();
    // Act
    const report = await deliverNotice(JSON.stringify(succeeded()), d);
    // Assess
    expect(report).toMatchObject({ targets: [{ kind: 'sent' }, { kind: 'sent' }, { kind: 'dead-lettered', why: expect.stringContaining('NOTIFY_LARK_URL is not set') }, { kind: 'sent' }] });
    expect(receiver.accepted.map((n) => n.service)).toEqual(['dingtalk', 'wecom', 'webhook']);
  });

  it('takes over a target whose sending delivery died (its claim ran out), and leaves one under a live claim alone', async () => {
    // Prepare: two notice rows claimed by a delivery that never finished, one expired, one live
    const ledger = new MemoryLedger();
    const clock = skippingClock();
    const claim = (index: number, until: number) =>
      ledger.putLease({ resourceId: noticeMarkId('op-0123456789abcdef', index), version: 1, operationId: 'dead-delivery', until, holders: [], updatedAt: clock.now(), notice: { state: 'sending', target: `x#${index}`, attempts: 1 } });
    await claim(0, clock.now() - 1);
    await claim(1, clock.now() + 60_000);
    // Act
    const report = await deliverNotice(JSON.stringify(succeeded()), deps({ ledger, clock, groups: groupsWith([FourTargets[0], FourTargets[1]]) }));
    // Assess
    expect(report).toMatchObject({ targets: [{ kind: 'sent', attempts: 2 }, { kind: 'inFlight' }] });
    expect(receiver.accepted.map((n) => n.service)).toEqual(['dingtalk']);
  });

  it('only the outcomes a target asks for (`on`), and nothing for an operation in no group', async () => {
    // Prepare
    const d = deps({ groups: groupsWith([{ ...FourTargets[3], on: ['failed'] }]) });
    // Act
    const ok = await deliverNotice(JSON.stringify(succeeded()), d);
    const bad = await deliverNotice(JSON.stringify(failed()), d);
    const none = await deliverNotice(JSON.stringify(succeeded({ group: undefined, operationId: 'op-aaaaaaaaaaaaaaaa' })), d);
    // Assess
    expect(ok).toMatchObject({ targets: [] });
    expect(bad).toMatchObject({ targets: [{ kind: 'sent' }] });
    expect(none).toMatchObject({ targets: [] });
    expect(receiver.accepted).toHaveLength(1);
  });

  it('a message that is not an outcome is dead-lettered with the reason and sends nothing', async () => {
    // Prepare
    const d = deps();
    // Act
    const report = await deliverNotice(Buffer.from('{"kind":"something-else"}').toString('base64'), d);
    // Assess
    expect(report).toMatchObject({ kind: 'rejected', error: expect.stringMatching(/^not an eni-failover outcome: kind:/) });
    expect(JSON.parse(d.dead[0]!)).toMatchObject({ kind: 'eni-failover.notify-rejected' });
    expect(receiver.requests).toEqual([]);
  });
});

describe('Failover groups: notify targets', () => {
  const parse = (notify: unknown) => () => parseGroups(JSON.stringify({ groups: [{ name: 'web', enis: ['eni-a'], members: ['i-a'], notify }] }), 'groups.yaml');
  it('refuses a webhook without a secret, a WeCom secret, and a variable name that is not one, naming the field', () => {
    expect(parse([{ type: 'webhook', urlEnv: 'HOOK' }])).toThrow(/groups\[0\]\.notify\[0\]\.secretEnv: a generic webhook is always signed/);
    expect(parse([{ type: 'wecom', urlEnv: 'W', secretEnv: 'S' }])).toThrow(/groups\[0\]\.notify\[0\]\.secretEnv: WeCom group robots have no signing/);
    expect(parse([{ type: 'dingtalk', urlEnv: 'https://oapi.dingtalk.com/robot/send?access_token=x' }])).toThrow(/notify\[0\]\.urlEnv: must be an environment variable name/);
    expect(parse([{ type: 'slack', urlEnv: 'S' }])).toThrow(/notify\[0\]\.type/);
  });
  it('defaults to no targets', () => {
    expect(parse(undefined)().groups[0]!.notify).toEqual([]);
  });
});

describe('Notifier function (functions/_shared/notifier-function.ts)', () => {
  const config = (groups: GroupsConfig) => ({ ...loadConfig({}, ''), groups });
  const context = { requestId: 'req-1', credentials: { accessKeyId: 'a', accessKeySecret: 'b', securityToken: 'c' } };

  it('reads the outcome from a JSON notification (Message) or a STREAM body, base64 or not', () => {
    const outcome = JSON.stringify(succeeded());
    expect(decodeTopicEvent(Buffer.from(JSON.stringify({ MessageId: 'M1', Message: Buffer.from(outcome).toString('base64') })))).toEqual({ messageId: 'M1', body: Buffer.from(outcome).toString('base64') });
    expect(decodeTopicEvent(Buffer.from(Buffer.from(outcome).toString('base64')))).toEqual({ messageId: 'stream', body: Buffer.from(outcome).toString('base64') });
    expect(decodeTopicEvent(outcome)).toEqual({ messageId: 'stream', body: outcome });
  });

  it('fails the invocation (so the trigger pushes again) when another delivery is sending a target, and sends nothing', async () => {
    // Prepare: a live claim on the only target
    const ledger = new MemoryLedger();
    await ledger.putLease({ resourceId: noticeMarkId('op-0123456789abcdef', 0), version: 1, operationId: 'other', until: Date.now() + 60_000, holders: [], updatedAt: Date.now(), notice: { state: 'sending', target: 'webhook#0', attempts: 0 } });
    const posts: string[] = [];
    const sent: string[] = [];
    const handler = createNotifierFunction({
      config: config(groupsWith([FourTargets[3]])),
      env: { NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:9/webhook', NOTIFY_WEBHOOK_SECRET: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' },
      ports: () => ({ queue: { send: async (_q, b) => (sent.push(b), { messageId: 'd' }) }, ledger, http: { post: async (url) => (posts.push(url), { status: 204, body: '' }) } }),
      log: () => {},
    });
    // Act
    const run = handler(Buffer.from(JSON.stringify({ MessageId: 'M2', Message: JSON.stringify(succeeded()) })), context);
    // Assess
    await expect(run).rejects.toThrow(/op-0123456789abcdef: webhook#0 being sent by another delivery/);
    expect(posts).toEqual([]);
    expect(sent).toEqual([]);
  });
});
