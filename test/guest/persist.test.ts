// Persistence writers: the files the script leaves for the next boot, per distro, under a temporary ENI_ROOT.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { assertCanBuildNamespaces, ip } from '../../local/guest/netns-topology';
import { ENI_IPS, ENI_MAC, GATEWAY, GuestWorld, expectSuccess, type RunOutcome } from './helpers';

const MAC12 = ENI_MAC.replace(/:/g, '');
const MARKER = /^# Managed by eni-failover /;

type Section = { name: string; entries: Record<string, string> };

/** INI as NetworkManager keyfiles and systemd units use it: sections may repeat, '#' and ';' comment. */
function parseIni(text: string): Section[] {
  const sections: Section[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[([^\]]+)\]$/.exec(line);
    if (head) {
      sections.push({ name: head[1] ?? '', entries: {} });
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+)=(.*)$/.exec(line);
    const current = sections[sections.length - 1];
    if (!kv || !current) throw new Error(`not an INI line: ${raw}`);
    if ((kv[1] ?? '') in current.entries) throw new Error(`duplicate key ${kv[1]} in [${current.name}]`);
    current.entries[kv[1] ?? ''] = kv[2] ?? '';
  }
  return sections;
}

/** An ifcfg file is sourced by a shell: read it the same way. */
function sourceIfcfg(file: string, keys: string[]): Record<string, string> {
  const out = execFileSync('sh', ['-c', `. "$1" && for k in ${keys.join(' ')}; do eval "printf '%s=%s\\n' \\"\\$k\\" \\"\\\${$k-}\\""; done`, 'sh', file], { encoding: 'utf8' });
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe('Guest script: persisting the configuration for the next boot', () => {
  let world: GuestWorld | undefined;
  let device = '';
  let table = 0;
  const roots: string[] = [];

  beforeAll(async () => {
    assertCanBuildNamespaces();
    world = await GuestWorld.create();
    device = await world.topo.attachEni(ENI_MAC, 'i-a');
    table = expectSuccess(await world.configure('i-a')).table;
  });
  afterAll(async () => {
    await world?.destroy();
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  /** A fake root with an os-release and the given directories and files. */
  function fakeRoot(osRelease: string, extra: Record<string, string | null> = {}): string {
    const root = mkdtempSync(join(tmpdir(), 'eni-root-'));
    roots.push(root);
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc', 'os-release'), osRelease);
    for (const [path, content] of Object.entries(extra)) {
      if (content === null) mkdirSync(join(root, path), { recursive: true });
      else {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), content);
      }
    }
    return root;
  }

  function persist(root: string): Promise<RunOutcome> {
    if (!world) throw new Error('no world');
    return world.configureRaw('i-a', {
      ENI_MAC,
      ENI_IPS: ENI_IPS.join(','),
      ENI_PREFIX: '24',
      ENI_GATEWAY: GATEWAY,
      ENI_PERSIST: '1',
      ENI_ROOT: root,
      ENI_WAIT_SECONDS: '0',
    });
  }

  function filesUnder(root: string): string[] {
    return (readdirSync(root, { recursive: true }) as string[]).filter((p) => statSync(join(root, p)).isFile()).sort();
  }

  it('writes a NetworkManager keyfile on Alibaba Cloud Linux 3, readable only by root', async () => {
    // Prepare
    const root = fakeRoot('NAME="Alibaba Cloud Linux"\nID="alinux"\nVERSION_ID="3"\n', { 'etc/NetworkManager/system-connections': null });

    // Act
    const r = await persist(root);

    // Assess
    expect(expectSuccess(r).persisted).toBe('networkmanager');
    const file = join(root, `etc/NetworkManager/system-connections/eni-failover-${MAC12}.nmconnection`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(MARKER);
    const ini = parseIni(text);
    expect(ini.map((s) => s.name)).toEqual(['connection', 'ethernet', 'ipv4', 'ipv6']);
    const [connection, ethernet, ipv4, ipv6] = ini.map((s) => s.entries);
    expect(connection).toMatchObject({ type: 'ethernet', autoconnect: 'true', id: `eni-failover-${MAC12}` });
    expect(connection?.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ethernet).toEqual({ 'mac-address': ENI_MAC });
    expect(ipv4).toEqual({
      method: 'manual',
      address1: '10.0.1.10/24',
      address2: '10.0.1.11/24',
      'never-default': 'true',
      'route-metric': String(table),
      route1: `0.0.0.0/0,${GATEWAY}`,
      route1_options: `table=${table}`,
      route2: '10.0.1.0/24',
      route2_options: `src=10.0.1.10,table=${table}`,
      'routing-rule1': `priority ${table} from 10.0.1.10 table ${table}`,
      'routing-rule2': `priority ${table} from 10.0.1.11 table ${table}`,
    });
    expect(ipv6).toEqual({ method: 'ignore' });
  });

  it.each([
    ['Ubuntu 22.04', 'ID=ubuntu\nVERSION_ID="22.04"\n', {}],
    ['Debian 12 with netplan', 'ID=debian\nVERSION_ID="12"\n', { 'etc/netplan': null }],
  ])('writes netplan YAML with per-table routes and routing-policy on %s', async (_name, osRelease, extra) => {
    // Prepare
    const root = fakeRoot(osRelease, extra);

    // Act
    const r = await persist(root);

    // Assess
    expect(expectSuccess(r).persisted).toBe('netplan');
    const file = join(root, `etc/netplan/90-eni-failover-${MAC12}.yaml`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(MARKER);
    expect(parseYaml(text)).toEqual({
      network: {
        version: 2,
        ethernets: {
          [`eni-${MAC12}`]: {
            match: { macaddress: ENI_MAC },
            dhcp4: false,
            dhcp6: false,
            addresses: ['10.0.1.10/24', '10.0.1.11/24'],
            routes: [
              { to: '0.0.0.0/0', via: GATEWAY, table },
              { to: '10.0.1.0/24', scope: 'link', from: '10.0.1.10', table },
            ],
            'routing-policy': [
              { from: '10.0.1.10', table, priority: table },
              { from: '10.0.1.11', table, priority: table },
            ],
          },
        },
      },
    });
  });

  it.each([
    ['Alibaba Cloud Linux 2', 'ID="alinux"\nVERSION_ID="2.1903"\n', {}],
    ['Debian 12 running systemd-networkd', 'ID=debian\nVERSION_ID="12"\n', { 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service': '' }],
  ])('writes a systemd-networkd .network file on %s', async (_name, osRelease, extra) => {
    // Prepare
    const root = fakeRoot(osRelease, extra);

    // Act
    const r = await persist(root);

    // Assess
    expect(expectSuccess(r).persisted).toBe('networkd');
    const text = readFileSync(join(root, `etc/systemd/network/70-eni-failover-${MAC12}.network`), 'utf8');
    expect(text).toMatch(MARKER);
    expect(parseIni(text)).toEqual([
      { name: 'Match', entries: { MACAddress: ENI_MAC } },
      { name: 'Network', entries: { DHCP: 'no', LinkLocalAddressing: 'no', IPv6AcceptRA: 'no' } },
      { name: 'Address', entries: { Address: '10.0.1.10/24', AddPrefixRoute: 'no' } },
      { name: 'Address', entries: { Address: '10.0.1.11/24', AddPrefixRoute: 'no' } },
      { name: 'Route', entries: { Gateway: GATEWAY, Table: String(table) } },
      { name: 'Route', entries: { Destination: '10.0.1.0/24', Scope: 'link', PreferredSource: '10.0.1.10', Table: String(table) } },
      { name: 'RoutingPolicyRule', entries: { From: '10.0.1.10', Table: String(table), Priority: String(table) } },
      { name: 'RoutingPolicyRule', entries: { From: '10.0.1.11', Table: String(table), Priority: String(table) } },
    ]);
  });

  it('writes ifcfg, route- and rule- files on CentOS 7 whose lines rebuild the working policy routing', async () => {
    // Prepare
    const root = fakeRoot('ID="centos"\nVERSION_ID="7"\n');

    // Act
    const r = await persist(root);

    // Assess: the ifcfg file as network-scripts reads it (sourced by sh).
    expect(expectSuccess(r).persisted).toBe('ifcfg');
    const dir = join(root, 'etc/sysconfig/network-scripts');
    expect(readFileSync(join(dir, `ifcfg-${device}`), 'utf8')).toMatch(MARKER);
    expect(sourceIfcfg(join(dir, `ifcfg-${device}`), ['DEVICE', 'HWADDR', 'BOOTPROTO', 'ONBOOT', 'DEFROUTE', 'IPADDR0', 'PREFIX0', 'IPADDR1', 'PREFIX1', 'GATEWAY'])).toEqual({
      DEVICE: device,
      HWADDR: ENI_MAC,
      BOOTPROTO: 'none',
      ONBOOT: 'yes',
      DEFROUTE: 'no',
      IPADDR0: '10.0.1.10',
      PREFIX0: '24',
      IPADDR1: '10.0.1.11',
      PREFIX1: '24',
      GATEWAY: '',
    });
    // route-/rule- lines are `ip route add` / `ip rule add` arguments (initscripts' handle_ip_file skips
    // comments): wipe the live table and rules, replay the files, and the ENI answers again.
    const lines = (name: string) => readFileSync(join(dir, `${name}-${device}`), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const w = world;
    if (!w) throw new Error('no world');
    const ns = w.ns('i-a');
    await ip('-n', ns, 'route', 'flush', 'table', String(table));
    for (const a of ENI_IPS) await ip('-n', ns, 'rule', 'del', 'from', a, 'lookup', String(table));
    for (const l of lines('route')) await ip('-n', ns, 'route', 'add', ...l.split(/\s+/));
    for (const l of lines('rule')) await ip('-n', ns, 'rule', 'add', ...l.split(/\s+/));
    const service = await w.topo.startService('i-a', '10.0.1.11', 8081, 'restored from files');
    expect(await w.topo.httpGet('i-c', 'http://10.0.1.11:8081/')).toBe('restored from files');
    await service.close();
    // ... and it is exactly what the script wants: the next run changes nothing.
    expect(expectSuccess(await persist(root)).changes).toBe(0);
  });

  it('changes no file on a second run', async () => {
    // Prepare
    const root = fakeRoot('ID=ubuntu\nVERSION_ID="20.04"\n');
    const first = expectSuccess(await persist(root));
    const file = join(root, `etc/netplan/90-eni-failover-${MAC12}.yaml`);
    const before = { text: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs };

    // Act
    const second = expectSuccess(await persist(root));

    // Assess
    expect(first.changes).toBe(1);
    expect(second).toEqual({ ...first, changes: 0 });
    expect({ text: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs }).toEqual(before);
  });

  it.each([
    ['netplan', 'ID=ubuntu\nVERSION_ID="22.04"\n', `etc/netplan/90-eni-failover-${MAC12}.yaml`],
    ['ifcfg', 'ID="centos"\nVERSION_ID="7"\n', 'etc/sysconfig/network-scripts/ifcfg-eth1'],
  ])('never overwrites a %s file it did not write, and says so', async (_flavour, osRelease, path) => {
    // Prepare
    const foreign = '# written by cloud-init\nsomething: else\n';
    const root = fakeRoot(osRelease, { [path]: foreign });

    // Act
    const r = await persist(root);

    // Assess: the live configuration is fine; nothing persisted; the foreign file intact; no partial set.
    expect(expectSuccess(r).persisted).toBe('none');
    expect(r.output).toContain(`warning: not persisting, these files exist and were not written by eni-failover: ${join(root, path)}`);
    expect(readFileSync(join(root, path), 'utf8')).toBe(foreign);
    expect(filesUnder(root)).toEqual(['etc/os-release', path].sort());
  });

  it.each([
    ['openSUSE', 'ID="opensuse-leap"\nVERSION_ID="15.5"\n', {}],
    ['Ubuntu 16.04', 'ID=ubuntu\nVERSION_ID="16.04"\n', {}],
    ['Debian 12 on ifupdown', 'ID=debian\nVERSION_ID="12"\n', {}],
    ['no os-release at all', '', {}],
  ])('exits 13 before changing anything on %s when asked to persist', async (_name, osRelease, extra) => {
    // Prepare
    const root = fakeRoot(osRelease, extra);
    const w = world;
    if (!w) throw new Error('no world');
    await ip('-n', w.ns('i-a'), 'rule', 'del', 'from', '10.0.1.11', 'lookup', String(table)); // drift a run would repair
    const before = await w.netState('i-a');

    // Act
    const r = await persist(root);

    // Assess
    expect(r.exitCode).toBe(13);
    expect(r.parsed).toEqual({ ok: false, code: 13, message: expect.stringMatching(/^unsupported-os: cannot persist on .*run with ENI_PERSIST=0$/) });
    expect(await w.netState('i-a')).toBe(before);
    expect(filesUnder(root)).toEqual(['etc/os-release']);
    expectSuccess(await w.configure('i-a')); // repair for the next case
  });
});
