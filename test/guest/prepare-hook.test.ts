// Prepared standbys on the namespace guests: the prepare job installs the hot-plug hook through Cloud
// Assistant; an attach makes the NIC appear, the emulated udev runs the hook, and the IP answers with no
// RunCommand; the failover's command then only verifies. Drift (hook removed, script changed) is found and
// repaired by the next pass.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { assertCanBuildNamespaces, inNamespace } from '../../local/guest/netns-topology';
import { hookVersion } from '../../workflow/prepare';
import { preparedId } from '../../workflow/ledger';
import { SCRIPT } from './helpers';
import { CLIENT, ENI, INSTALL_SCRIPT, PreparedWorld } from './prepared-world';

const RULES = 'etc/udev/rules.d/99-eni-failover.rules';

describe('Prepared standby: the hot-plug hook on namespace guests', () => {
  let world: PreparedWorld | undefined;
  const w = (): PreparedWorld => {
    if (!world) throw new Error('no world');
    return world;
  };

  beforeAll(async () => {
    assertCanBuildNamespaces();
    world = await PreparedWorld.create();
    await w().topo.startService('i-standby', '0.0.0.0', 8080, 'served by i-standby');
  }, 60_000);
  afterAll(async () => {
    await world?.destroy();
  });

  it('installs the hook on the standby only, through one RunCommand, and records it in the ledger', async () => {
    // Act
    const reports = await w().prepare();

    // Assess
    expect(reports.map((r) => [r.instanceId, r.action, r.found])).toEqual([
      ['i-primary', 'skipped', undefined],
      ['i-standby', 'installed', 'missing'],
    ]);
    expect(reports[0]?.detail).toMatch(/serving eni-service/);
    expect(w().runCommands()).toBe(1);
    const rules = readFileSync(w().guestFile('i-standby', RULES), 'utf8');
    expect(rules).toContain(`ACTION=="add", SUBSYSTEM=="net", ATTR{address}=="${ENI.mac}", RUN+="${w().guestFile('i-standby', 'etc/eni-failover/hook')} ${ENI.mac12}"`);
    const row = await w().ledger.getLease(preparedId('i-standby'));
    expect(row?.prepared).toMatchObject({ state: 'prepared', found: 'missing', version: hookVersion(SCRIPT), enis: `${ENI.mac}/${ENI.ips.join(',')}` });
    expect(await w().ledger.getLease(preparedId('i-primary'))).toBeUndefined();
  }, 60_000);

  it('a second pass finds the hook current and writes nothing', async () => {
    // Prepare
    const rulesBefore = readFileSync(w().guestFile('i-standby', RULES), 'utf8');

    // Act
    const reports = await w().prepare();

    // Assess
    expect(reports.find((r) => r.instanceId === 'i-standby')).toMatchObject({ action: 'current', found: 'current' });
    expect(readFileSync(w().guestFile('i-standby', RULES), 'utf8')).toBe(rulesBefore);
  }, 60_000);

  it('attach -> the NIC appears -> the hook configures it and the IP answers, with no RunCommand for it', async () => {
    // Prepare
    const commandsBefore = w().runCommands();

    // Act
    await w().moveToStandby();
    await w().until(() => w().hookState('i-standby')?.state === 'done', 'the hook to finish');
    await w().udev.settle();

    // Assess: the hook ran once, on the add of the ENI's NIC, with udev's environment, and succeeded.
    const runs = w().udev.runs.filter((r) => r.instanceId === 'i-standby');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ mac: ENI.mac, exitCode: 0 });
    const state = w().hookState('i-standby')!;
    expect(state.exit).toBe('0');
    expect(state.interface).toBe(w().topo.nic(ENI.mac).device);
    expect(JSON.parse(state.result ?? '{}')).toMatchObject({ ips: [...ENI.ips], device: w().topo.nic(ENI.mac).device });
    // Real packets: a client on another subnet reaches the service on both IPs of the ENI.
    for (const ip of ENI.ips) expect(await w().topo.httpGet(CLIENT, `http://${ip}:8080/`, 2000)).toBe('served by i-standby');
    expect(w().runCommands()).toBe(commandsBefore);
  }, 60_000);

  it('the failover command verifies what the hook did and changes nothing', async () => {
    // Prepare
    const rulesBefore = await inNamespace(w().topo.instance('i-standby').namespace, ['ip', '-4', 'rule', 'show']);

    // Act
    const { result, parsed } = await w().verifyCommand('i-standby', hookVersion(SCRIPT));

    // Assess
    expect(result.exitCode).toBe(0);
    expect(parsed.ok && parsed.result).toMatchObject({ by: 'hook', ips: [...ENI.ips] });
    expect(result.output).toMatch(/verified: the hot-plug hook \(version [0-9a-f]{12}\) configured/);
    expect(await inNamespace(w().topo.instance('i-standby').namespace, ['ip', '-4', 'rule', 'show'])).toBe(rulesBefore);
  }, 60_000);

  it('the failover command configures by itself when the hook left no record, and says so', async () => {
    // Prepare: the hook's record gone and the live configuration undone (rules deleted).
    rmSync(w().guestFile('i-standby', `var/lib/eni-failover/${ENI.mac12}.state`));
    const ns = w().topo.instance('i-standby').namespace;
    for (const ip of ENI.ips) await inNamespace(ns, ['sh', '-c', `ip -4 rule del from ${ip} || true`]);

    // Act
    const { result, parsed } = await w().verifyCommand('i-standby', hookVersion(SCRIPT));

    // Assess
    expect(result.exitCode).toBe(0);
    expect(parsed.ok && parsed.result).toMatchObject({ by: 'command', hook: 'no-record' });
    expect(parsed.ok && (parsed.result.changes ?? 0)).toBeGreaterThan(0);
    for (const ip of ENI.ips) expect(await w().topo.httpGet(CLIENT, `http://${ip}:8080/`, 2000)).toBe('served by i-standby');
  }, 60_000);

  it('a stale record (the live state no longer matches) is not believed: the command configures', async () => {
    // Prepare: a record claiming success, but a source rule is missing.
    const ns = w().topo.instance('i-standby').namespace;
    const state = w().guestFile('i-standby', `var/lib/eni-failover/${ENI.mac12}.state`);
    const device = w().topo.nic(ENI.mac).device!;
    const ifindex = /^(\d+):/.exec(await inNamespace(ns, ['ip', '-o', 'link', 'show', 'dev', device]))?.[1];
    const table = 1000 + Number(ifindex);
    writeFileSync(state, `state=done\nversion=${hookVersion(SCRIPT)}\nexit=0\nat=x\nresult={"device":"${device}","mac":"${ENI.mac}","ips":["${ENI.ips.join('","')}"],"prefix":24,"gateway":"10.0.1.253","table":${table},"priority":${table},"persisted":"none","changes":5}\n`);
    await inNamespace(ns, ['ip', '-4', 'rule', 'del', 'from', ENI.ips[1]]);

    // Act
    const { parsed } = await w().verifyCommand('i-standby', hookVersion(SCRIPT));

    // Assess
    expect(parsed.ok && parsed.result).toMatchObject({ by: 'command', hook: 'stale' });
    expect(await w().topo.httpGet(CLIENT, `http://${ENI.ips[1]}:8080/`, 2000)).toBe('served by i-standby');
  }, 60_000);
});

describe('Prepared standby: drift found and repaired by the prepare pass', () => {
  let world: PreparedWorld | undefined;
  const w = (): PreparedWorld => {
    if (!world) throw new Error('no world');
    return world;
  };

  beforeAll(async () => {
    assertCanBuildNamespaces();
    world = await PreparedWorld.create();
    await w().prepare();
  }, 60_000);
  afterAll(async () => {
    await world?.destroy();
  });

  it('a removed udev rule is drift "missing": the pass reinstalls it', async () => {
    // Prepare
    rmSync(w().guestFile('i-standby', RULES));

    // Act
    const reports = await w().prepare();

    // Assess
    expect(reports.find((r) => r.instanceId === 'i-standby')).toMatchObject({ action: 'installed', found: 'missing' });
    expect(reports.find((r) => r.instanceId === 'i-standby')?.detail).toMatch(/^drift: hook missing/);
    expect(readFileSync(w().guestFile('i-standby', RULES), 'utf8')).toContain(ENI.mac);
    expect((await w().ledger.getLease(preparedId('i-standby')))?.prepared?.found).toBe('missing');
  }, 60_000);

  it('a new script version is drift "outdated": the pass installs the new copy', async () => {
    // Prepare: the next release of the guest script.
    const next = `${SCRIPT}\n: next release\n`;
    expect(hookVersion(next)).not.toBe(hookVersion(SCRIPT));

    // Act
    const reports = await w().prepare(next);

    // Assess
    expect(reports.find((r) => r.instanceId === 'i-standby')).toMatchObject({ action: 'installed', found: 'outdated' });
    expect(readFileSync(w().guestFile('i-standby', 'etc/eni-failover/manifest'), 'utf8')).toContain(`version=${hookVersion(next)}`);
    expect(readFileSync(w().guestFile('i-standby', 'etc/eni-failover/configure-eni.sh'), 'utf8')).toContain(': next release');
    expect((await w().ledger.getLease(preparedId('i-standby')))?.prepared).toMatchObject({ version: hookVersion(next), found: 'outdated' });
  }, 60_000);

  it('a tampered copy of the script is drift "outdated" too', async () => {
    // Prepare
    const copy = w().guestFile('i-standby', 'etc/eni-failover/configure-eni.sh');
    writeFileSync(copy, `${readFileSync(copy, 'utf8')}echo tampered\n`);

    // Act
    const reports = await w().prepare();

    // Assess
    expect(reports.find((r) => r.instanceId === 'i-standby')).toMatchObject({ action: 'installed', found: 'outdated' });
    expect(readFileSync(copy, 'utf8')).not.toContain('echo tampered');
  }, 60_000);
});

describe('install-hook.sh trusts nobody: it checks its own inputs', () => {
  let world: PreparedWorld | undefined;
  beforeAll(async () => {
    assertCanBuildNamespaces();
    world = await PreparedWorld.create();
  }, 60_000);
  afterAll(async () => {
    await world?.destroy();
  });

  it.each([
    ['a MAC with a shell word', { HOOK_ENIS: '00:16:3e:12:34:56;touch /tmp/x/10.0.1.5' }, /bad-input: HOOK_ENIS/],
    ['an ENI without IPs', { HOOK_ENIS: '00:16:3e:12:34:56/' }, /bad-input: the IPs of/],
    ['a version that is not hex', { HOOK_VERSION: 'zzzzzzzzzzzz' }, /bad-input: HOOK_VERSION/],
    ['a script that is not base64', { HOOK_SCRIPT: 'not base64!' }, /bad-input: HOOK_SCRIPT must be base64/],
    ['a script that is not gzip', { HOOK_SCRIPT: Buffer.from('x').toString('base64') }, /bad-input: HOOK_SCRIPT is not gzip/],
    ['a script of another version', { HOOK_SCRIPT: gzipSync('echo another script\n').toString('base64') }, /bad-input: HOOK_SCRIPT has version [0-9a-f]{12}, not /],
  ])('refuses %s with exit 2 and writes no rule', async (_name, override, message) => {
    // Prepare
    const vars: Record<string, string> = { HOOK_VERSION: hookVersion(SCRIPT), HOOK_ENIS: `${ENI.mac}/${ENI.ips.join(',')}`, HOOK_PERSIST: '0', HOOK_SCRIPT: 'H4sIAAAAAAAAAwMAAAAAAAAAAAA=', ...override };
    const script = [...Object.entries(vars).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`), INSTALL_SCRIPT].join('\n');

    // Act
    const r = await w().executor.run({ instanceId: 'i-standby', commandType: 'RunShellScript', script, timeoutSeconds: 20 });

    // Assess
    expect(r.exitCode).toBe(2);
    expect(r.output.trim().split('\n').at(-1)).toMatch(message);
    expect(existsSync(w().guestFile('i-standby', RULES))).toBe(false);
  }, 30_000);

  function w(): PreparedWorld {
    if (!world) throw new Error('no world');
    return world;
  }
});
