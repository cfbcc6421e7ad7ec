// configure-guest-routes on a prepared target: the command asks the guest to verify the hot-plug hook's work
// (ENI_VERIFY_HOOK = the hook version of this very script) and the outcome says who configured the NIC.
import type { Authority } from '../../workflow/authority';
import { parseGroups } from '../../workflow/groups';
import { runInProcess } from '../../workflow/in-process';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { parseBindRequest } from '../../workflow/messages';
import { hookVersion } from '../../workflow/prepare';
import { FakeClock, FakeEcs } from '../helpers/fake-ecs';

const GUEST_SCRIPT = 'echo configuring\n';

function setUp(prepare: boolean, by: 'hook' | 'command') {
  const clock = new FakeClock();
  const ecs = new FakeEcs(clock)
    .addType('ecs.g7.large', 3)
    .addInstance({ instanceId: 'i-primary' })
    .addInstance({ instanceId: 'i-standby' })
    .addEni({ eniId: 'eni-service', instanceId: 'i-primary', macAddress: '00:16:3e:aa:bb:cc', privateIps: ['10.0.1.100'] });
  const plain = ecs.guest;
  // The guest answers as configure-eni.sh does: with ENI_VERIFY_HOOK its result names who configured the NIC.
  ecs.guest = (instanceId, script) => {
    const r = plain(instanceId, script);
    if (r.exitCode !== 0 || !/ENI_VERIFY_HOOK='/.test(script)) return r;
    const extra = by === 'hook' ? ',"by":"hook"' : ',"by":"command","hook":"no-record"';
    return { ...r, output: r.output.replace(/}\n$/, `${extra}}\n`) };
  };
  const authority: Authority = {
    groups: parseGroups(`groups: [{name: web, enis: [eni-service], members: [i-primary, i-standby], prepare: ${prepare}}]`, 'test'),
    allowUnmanaged: false,
  };
  const parsed = parseBindRequest({ eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary', regionId: 'cn-hangzhou', origin: { kind: 'cli', id: 't', time: '2026-11-26T03:00:00Z' } });
  if (!parsed.ok) throw new Error(parsed.error);
  return { run: () => runInProcess(parsed.value, { ecs, clock, guestScript: GUEST_SCRIPT, authority, ledger: new MemoryLedger() }), ecs };
}

describe('Step: configure-guest-routes on a prepared target', () => {
  it('asks the guest to verify the hook of this script version, and says the hook configured it', async () => {
    // Prepare
    const { run, ecs } = setUp(true, 'hook');

    // Act
    const event = await run();

    // Assess
    expect(event.outcome).toBe('succeeded');
    const script = [...ecs.invocations.values()][0]!.script;
    expect(script).toContain(`ENI_VERIFY_HOOK='${hookVersion(GUEST_SCRIPT)}'`);
    expect(event.message).toMatch(/^guest verified \(configured by the hot-plug hook when the NIC appeared\)/);
    expect(event.guest).toMatchObject({ by: 'hook' });
  });

  it('says the command configured it when the hook had not, and why', async () => {
    // Prepare
    const { run } = setUp(true, 'command');

    // Act
    const event = await run();

    // Assess
    expect(event.outcome).toBe('succeeded');
    expect(event.message).toMatch(/^guest configured by the command \(the hot-plug hook had not: no-record\)/);
  });

  it('a group without prepare sends the plain command', async () => {
    // Prepare
    const { run, ecs } = setUp(false, 'hook');

    // Act
    const event = await run();

    // Assess
    expect(event.outcome).toBe('succeeded');
    expect([...ecs.invocations.values()][0]!.script).not.toContain('ENI_VERIFY_HOOK');
    expect(event.message).toMatch(/^guest configured: /);
  });
});
