// on-schedule's prepare pass (with reconcile, or alone): which members get the install command, what the
// ledger records, and how drift the guest reports reaches the output and the journal.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createScheduleFunction, type EntryFunctionDeps } from '../../functions/_shared/entry-function';
import { topicDeliveringTo } from '../../workflow/ports';
import { preparedId } from '../../workflow/ledger';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { defaultQueueNames } from '../../workflow/pipeline';
import { hookVersion } from '../../workflow/prepare';
import { prepareStandbys } from '../../workflow/entries/prepare';
import { world } from './helpers';

const GUEST = readFileSync(join(__dirname, '..', '..', 'guest', 'configure-eni.sh'), 'utf8');
const INSTALL = readFileSync(join(__dirname, '..', '..', 'guest', 'install-hook.sh'), 'utf8');
const context = { requestId: 'req-1', region: 'cn-hangzhou', accountId: '123' };
const fire = (mode: string, at = '2026-11-26T03:00:00Z') => Buffer.from(JSON.stringify({ triggerTime: at, triggerName: 'reconcile', payload: JSON.stringify({ mode }) }));

function setUp(prepare: boolean) {
  const w = world(`groups: [{name: web, enis: [eni-web], members: [i-primary, i-standby, i-third], prepare: ${prepare}}]`);
  const ledger = new MemoryLedger();
  const lines: Record<string, unknown>[] = [];
  // What install-hook.sh answers: per instance, the state it found.
  const found = new Map<string, string>([['i-standby', 'missing'], ['i-third', 'current']]);
  w.ecs.guest = (instanceId, script) => {
    const version = /HOOK_VERSION='([0-9a-f]{12})'/.exec(script)?.[1];
    if (version === undefined) return { exitCode: 2, output: 'eni-failover-error: 2 bad-input: not a prepare command\n' };
    const was = found.get(instanceId) ?? 'missing';
    found.set(instanceId, 'current');
    return { exitCode: 0, output: `eni-failover-prepared: {"was":"${was}","version":"${version}","macs":["00:16:3e:aa:bb:cc"],"changes":${was === 'current' ? 0 : 6}}\n` };
  };
  const deps: EntryFunctionDeps = {
    queues: defaultQueueNames(),
    groups: w.groups,
    ports: () => ({ ecs: w.ecs, queue: w.queue, topic: topicDeliveringTo(w.queue, defaultQueueNames().events), ledger, regionId: 'cn-hangzhou' }),
    clock: w.clock,
    log: (l) => lines.push(l),
    prepareScripts: { guestScript: GUEST, installScript: INSTALL },
  };
  return { ...w, ledger, lines, found, handler: createScheduleFunction(deps) };
}

describe('Function: on-schedule prepare pass', () => {
  it('reconcile installs the hook on every Running standby, not on the serving primary, and records it', async () => {
    // Prepare
    const { handler, ecs, ledger } = setUp(true);

    // Act
    const out = (await handler(fire('reconcile'), context)) as { prepared?: Array<{ instanceId: string; action: string; found?: string }> };

    // Assess
    expect(out.prepared?.map((r) => [r.instanceId, r.action, r.found])).toEqual([
      ['i-primary', 'skipped', undefined],
      ['i-standby', 'installed', 'missing'],
      ['i-third', 'current', 'current'],
    ]);
    expect(ecs.writes.filter((w) => w.startsWith('run '))).toEqual(['run i-standby', 'run i-third']);
    expect((await ledger.getLease(preparedId('i-standby')))?.prepared).toMatchObject({ state: 'prepared', found: 'missing', version: hookVersion(GUEST), enis: '00:16:3e:aa:bb:cc/10.0.1.100' });
  });

  it('journals drift per standby: a hook found missing is named', async () => {
    // Prepare
    const { handler, lines } = setUp(true);

    // Act
    await handler(fire('prepare'), context);

    // Assess
    expect(lines.filter((l) => l.decision === 'prepare' && l.drift !== undefined).map((l) => [l.instanceId, l.drift])).toEqual([['i-standby', 'missing']]);
  });

  it('a Stopped standby is not applicable and gets no command', async () => {
    // Prepare
    const { handler, ecs } = setUp(true);
    ecs.instances.get('i-third')!.status = 'Stopped';

    // Act
    const out = (await handler(fire('prepare'), context)) as { prepared?: Array<{ instanceId: string; action: string; detail: string }> };

    // Assess
    expect(out.prepared?.find((r) => r.instanceId === 'i-third')).toMatchObject({ action: 'skipped', detail: expect.stringMatching(/Stopped/) });
    expect(ecs.writes.filter((w) => w.startsWith('run '))).toEqual(['run i-standby']);
  });

  it('a failed install is recorded as failed, so status shows drift', async () => {
    // Prepare
    const { handler, ecs, ledger } = setUp(true);
    ecs.guest = () => ({ exitCode: 14, output: 'eni-failover-error: 14 missing-tool: gzip is required\n' });

    // Act
    await handler(fire('prepare'), context);

    // Assess
    expect((await ledger.getLease(preparedId('i-standby')))?.prepared).toMatchObject({ state: 'failed', detail: expect.stringMatching(/14: missing-tool: gzip/) });
  });

  it('groups without prepare: no command, no prepared key in the answer', async () => {
    // Prepare
    const { handler, ecs } = setUp(false);

    // Act
    const out = (await handler(fire('reconcile'), context)) as Record<string, unknown>;

    // Assess
    expect(out.prepared).toBeUndefined();
    expect(ecs.writes).toEqual([]);
  });

  it('an install still running when the wait budget of the pass ends is reported, and nothing is recorded', async () => {
    // Prepare
    const { ecs, ledger, groups, clock } = setUp(true);

    // Act: no wait at all - the command is Running on its first look.
    const reports = await prepareStandbys({ ecs, groups, ledger, now: () => clock.now(), sleep: (ms) => clock.sleep(ms), guestScript: GUEST, installScript: INSTALL, passId: 'p', waitMs: 0 });

    // Assess
    expect(reports.find((r) => r.instanceId === 'i-standby')).toMatchObject({ action: 'failed', detail: expect.stringMatching(/is still Running; the next pass looks again/) });
    expect(await ledger.getLease(preparedId('i-standby'))).toBeUndefined();
  });
});
