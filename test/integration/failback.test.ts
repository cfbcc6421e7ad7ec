import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../cli/usage';
import type { LocalCloud } from '../../local/cloud';
import { ManualClock } from '../../local/fc';
import { failbackClockId } from '../../workflow/ledger';
import { Realistic, TimeScale, alarmFields, entryCloud, eniState, eventually, instanceState, ledgerOf, postAlarm, twoNode, waitForOutcome, writes } from './helpers';
import { runCliCaptured as cli } from '../helpers/cli';

/**
 * Failback with hysteresis (workflow/failback.ts) through the local cloud: the built functions of s.yaml,
 * CloudMonitor's callbacks on on-alarm, the reconcile timer fired on a manual clock at the exact times a
 * test names, the clock in the ledger (Tablestore) and the failback run by the five steps. The alarm
 * timestamps and the timer fire times are the manual clock's, so "the hold" is exact to the second.
 */
const Hold = 600;
const S = 1000;

describe('Failback with hysteresis', () => {
  let cloud: LocalCloud | undefined;
  let clock: ManualClock;
  let t0: number;

  const groups = (failback: 'auto' | 'manual', extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      version: 1,
      groups: [{ name: 'web', enis: ['eni-service'], members: ['i-primary', 'i-standby'], policy: { fenceSource: true }, failback, holdSeconds: Hold, ...extra }],
    });

  const start = async (failback: 'auto' | 'manual', extra: Record<string, unknown> = {}) => {
    // Whole seconds (a timer's fire time is), an hour ago: every time the test names stays behind the
    // functions' own clock (an observation dated ahead of it counts as of now), within an alarm's day.
    clock = new ManualClock(Math.floor((Date.now() - 3600 * S) / S) * S);
    cloud = await entryCloud(twoNode(), { clock, failoverGroups: groups(failback, extra) });
    return cloud;
  };
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
  });

  /** Reads lag writes by at most the realistic profile's 2 s (scaled): wait that out after changing an instance by hand. */
  const pastReadLag = () => new Promise((r) => setTimeout(r, Realistic ? 2 * S * TimeScale + 20 : 0));
  const alarm = (state: 'ALARM' | 'OK', at: number) => postAlarm(cloud!, alarmFields({ alertState: state, timestamp: String(at) }));
  const reconcileAt = async (at: number) => {
    const result = await cloud!.fc!.fireTimer('eni-failover-on-schedule', 'reconcile', at);
    expect(result.ok).toBe(true);
    return JSON.parse(result.body.toString()) as { enqueued: any[]; skipped: any[]; failed: any[] };
  };
  const failbackNote = (body: { skipped: any[] }) => body.skipped.find((s) => String(s.reason).startsWith('failback'))?.reason as string | undefined;
  const failbackOps = async () => (await ledgerOf(cloud!).list()).filter((r) => r.request.origin.kind === 'failback');
  const clockRow = async () => (await ledgerOf(cloud!).getLease(failbackClockId('web')))?.failback;

  /** The primary crashes; the alarm fails the ENI over to the standby. */
  const failOver = async (at: number) => {
    cloud!.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const res = await alarm('ALARM', at);
    expect(res.status).toBe(202);
    expect((await waitForOutcome(cloud!, res.body.operationIds[0])).outcome).toBe('succeeded');
    expect(eniState(cloud!, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
  };
  /** The primary runs again and its alarm rule says OK at `at`. */
  const recover = async (at: number) => {
    cloud!.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Running' });
    await pastReadLag();
    return alarm('OK', at);
  };
  /** The primary fails again at `at`: Stopped, and its alarm says so. */
  const failAgain = async (at: number) => {
    cloud!.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    await pastReadLag();
    return alarm('ALARM', at);
  };

  it('auto: after the primary recovers, nothing at hold - 1 s; at exactly the hold the failback runs and the ENI is back on the primary', async () => {
    // Prepare: failed over at t, recovered (OK) a minute later.
    const c = await start('auto');
    await failOver(clock.now());
    t0 = clock.now() + 60 * S;
    const ok = await recover(t0);
    expect(ok).toEqual({ status: 200, body: { ignored: expect.stringContaining(`failback in ${Hold} s (the hold of ${Hold} s)`) } });
    const before = writes(c).length;
    // Act 1: the reconcile pass one second before the hold ends.
    const early = await reconcileAt(t0 + (Hold - 1) * S);
    // Assess 1: nothing started, and it says when.
    expect(early.enqueued).toEqual([]);
    expect(failbackNote(early)).toMatch(/^failback \(auto\): eni-service on i-standby; i-primary healthy since .*; failback in 1 s/);
    expect(writes(c).length).toBe(before);
    expect(await failbackOps()).toEqual([]);
    // Act 2: the pass at exactly the hold.
    const due = await reconcileAt(t0 + Hold * S);
    // Assess 2: one failback operation, from the standby to the primary, origin failback; it succeeds.
    expect(due.enqueued).toEqual([expect.objectContaining({ eniId: 'eni-service', instanceId: 'i-primary', sourceInstanceId: 'i-standby', note: expect.stringMatching(/^failback: eni-service from i-standby back to i-primary/) })]);
    const event = await waitForOutcome(c, due.enqueued[0].operationId);
    expect(event).toMatchObject({ outcome: 'succeeded', request: { origin: { kind: 'failback', id: `failback/web/${new Date(t0 + Hold * S).toISOString()}` }, policy: { fenceSource: false } } });
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-primary' });
    expect(writes(c).slice(before)).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface', 'RunCommand']);
    expect(c.ecs.control.scripts().filter((s) => s.instanceId === 'i-primary' && s.exitCode === 0).length).toBeGreaterThan(0);
    // A later pass finds nothing to fail back and starts nothing.
    const after = await reconcileAt(t0 + (Hold + 300) * S);
    expect(after.enqueued).toEqual([]);
    expect(failbackNote(after)).toBeUndefined();
    expect(await failbackOps()).toHaveLength(1);
  });

  it('a flapping primary never gets the ENI back: every failure inside the hold resets the clock', async () => {
    // Prepare
    const c = await start('auto');
    await failOver(clock.now());
    t0 = clock.now() + 60 * S;
    // Act: four times the primary recovers and fails again 300 s later (an ALARM, or only a reconcile pass
    // that finds it Stopped), and recovers again 100 s after that; a pass looks 200 s into each recovery,
    // when the hold counted from the recovery before would have ended.
    const notes: string[] = [];
    for (let cycle = 0; cycle < 4; cycle++) {
      const up = t0 + cycle * 400 * S;
      expect((await recover(up)).status).toBe(200);
      if (cycle > 0) {
        const body = await reconcileAt(up + 200 * S);
        expect(body.enqueued).toEqual([]);
        notes.push(failbackNote(body)!);
      }
      if (cycle % 2 === 0) expect((await failAgain(up + 300 * S)).body).toMatchObject({ ignored: 'nothing to move' });
      else {
        c.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
        await pastReadLag();
        expect(failbackNote(await reconcileAt(up + 300 * S))).toMatch(/i-primary is not healthy \(a look found it unhealthy: i-primary is Stopped\)/);
      }
    }
    // Assess: healthy at every pass, but never for a whole hold: never a failback; the ENI stayed on the
    // standby and nothing was written to ECS after the failover.
    expect(notes).toHaveLength(3);
    notes.forEach((n, i) => expect(n).toBe(`failback (auto): eni-service on i-standby; i-primary healthy since ${new Date(t0 + (i + 1) * 400 * S).toISOString()}; failback in 400 s (the hold of 600 s)`));
    expect(await failbackOps()).toEqual([]);
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(writes(c)).toEqual(['DetachNetworkInterface', 'AttachNetworkInterface', 'RunCommand']);
    expect(await clockRow()).toMatchObject({ lastFailure: 'a look found it unhealthy: i-primary is Stopped' });
    expect((await clockRow())?.healthySince).toBeUndefined();
    // Many function invocations in a row: on a loaded machine this takes longer than the default 30 s.
  }, 60_000);

  it('manual: only reports "failback possible" (status too); eni-failover failback --group web does it', async () => {
    // Prepare
    const c = await start('manual');
    await failOver(clock.now());
    t0 = clock.now() + 60 * S;
    await recover(t0);
    // Act 1: passes at the hold and long after it.
    const atHold = await reconcileAt(t0 + Hold * S);
    const later = await reconcileAt(t0 + 3 * Hold * S);
    // Assess 1: reported, not done.
    for (const body of [atHold, later]) {
      expect(body.enqueued).toEqual([]);
      expect(failbackNote(body)).toMatch(/^failback \(manual\): failback possible: eni-service on i-standby; i-primary healthy since /);
    }
    expect(await failbackOps()).toEqual([]);
    expect(eniState(c, 'eni-service')).toMatchObject({ instanceId: 'i-standby' });
    // Act 2: the operator looks, then fails back.
    const dir = mkdtempSync(join(tmpdir(), 'failback-cli-'));
    try {
      writeFileSync(join(dir, 'groups.yaml'), groups('manual'));
      writeFileSync(join(dir, 'cloud.json'), JSON.stringify(c.info));
      const args = ['--groups', join(dir, 'groups.yaml'), '--local-file', join(dir, 'cloud.json')];
      const status = await cli(['status', ...args], dir);
      const done = await cli(['failback', '--group', 'web', '--wait', '--timeout', '30', ...args], dir);
      // Assess 2
      expect(status.stdout).toMatch(/\n {2}failback possible: eni-service on i-standby; i-primary healthy since \S+ \(held 600 s\) \(manual: eni-failover failback --group web\)\n/);
      expect([done.code, done.stderr]).toEqual([ExitCode.Succeeded, '']);
      expect(done.stdout).toMatch(/^failback of eni-service from i-standby to i-primary: operation op-[0-9a-f]{16}; waiting/);
      expect(done.stdout).toMatch(/\nsucceeded: /);
      expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-primary' });
      const [op] = await failbackOps();
      expect(op).toMatchObject({ status: 'succeeded', request: { origin: { kind: 'failback', id: expect.stringMatching(/^failback\/web\/req\/cli-/) }, sourceInstanceId: 'i-standby' } });
      // Once back, there is nothing to fail back: the command says so and sends nothing.
      const again = await cli(['failback', '--group', 'web', ...args], dir);
      expect([again.code, again.stdout]).toEqual([ExitCode.Failed, 'failback of group web is not possible now (none): every ENI of group web is on i-primary (or unbound): nothing to fail back\n']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a failback that meets a new failure of the primary is superseded cleanly: the ENI back on the standby, no instance stopped, the clock reset', async () => {
    // Prepare: the standby's guest holds its detach (hung), so the failback is caught mid-move.
    const c = await start('auto');
    await failOver(clock.now());
    t0 = clock.now() + 60 * S;
    await recover(t0);
    c.ecs.control.setGuestResponsive({ instanceId: 'i-standby', responsive: false });
    const due = await reconcileAt(t0 + Hold * S);
    const failbackId = due.enqueued[0].operationId as string;
    await eventually(() => eniState(c, 'eni-service')?.status === 'Detaching');
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'Detaching', instanceId: 'i-standby' });
    // Act: the primary fails again while the ENI leaves the standby; then the standby lets go.
    expect((await failAgain(t0 + (Hold + 1) * S)).status).toBe(200);
    c.ecs.control.setGuestResponsive({ instanceId: 'i-standby', responsive: true });
    // Assess: superseded with its reason; its rescue binds the ENI to the standby again.
    const event = await waitForOutcome(c, failbackId);
    expect(event).toMatchObject({ outcome: 'superseded', reason: 'FailbackTargetUnhealthy', rescue: expect.stringMatching(/binds it to i-standby/) });
    const rescueId = /operation (op-[0-9a-f]{16})/.exec(event.rescue!)![1]!;
    expect((await waitForOutcome(c, rescueId)).outcome).toBe('succeeded');
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-standby' });
    expect(instanceState(c, 'i-standby')?.status).toBe('Running');
    expect(writes(c).filter((w) => w === 'StopInstance' || w === 'RebootInstance')).toEqual([]);
    expect(c.ecs.control.calls().filter((x) => x.action === 'AttachNetworkInterface' && x.code === undefined).length).toBe(2);
    // The clock: reset by the new failure; the next pass records how the failback ended, and a
    // recovery starts a whole new hold (not the rest of the old one).
    const pass = await reconcileAt(t0 + (Hold + 60) * S);
    expect(pass.enqueued).toEqual([]);
    expect(await clockRow()).toMatchObject({ lastOutcome: { outcome: 'superseded', reason: 'FailbackTargetUnhealthy' } });
    const back = t0 + (Hold + 120) * S;
    expect((await recover(back)).body).toEqual({ ignored: expect.stringContaining(`failback in ${Hold} s (the hold of ${Hold} s)`) });
    expect((await reconcileAt(back + (Hold - 1) * S)).enqueued).toEqual([]);
    const next = (await reconcileAt(back + Hold * S)).enqueued;
    expect(next).toHaveLength(1);
    expect((await waitForOutcome(c, next[0].operationId)).outcome).toBe('succeeded');
    expect(eniState(c, 'eni-service')).toMatchObject({ status: 'InUse', instanceId: 'i-primary' });
  });
});


