// The guest script against real links, addresses, routes, rules and packets, in network namespaces.
import { assertCanBuildNamespaces, ip } from '../../local/guest/netns-topology';
import { ENI_IPS, ENI_MAC, GATEWAY, GuestWorld, expectSuccess } from './helpers';

describe('Guest script: configure-eni.sh on a real network stack', () => {
  let world: GuestWorld | undefined;

  beforeAll(() => assertCanBuildNamespaces());
  afterEach(async () => {
    await world?.destroy();
    world = undefined;
  });

  it('brings the ENI up with every IP, a per-ENI table, a source rule per IP and loose rp_filter, leaving the primary NIC alone', async () => {
    // Prepare
    world = await GuestWorld.create();
    const device = await world.topo.attachEni(ENI_MAC, 'i-a');
    const mainBefore = await ip('-n', world.ns('i-a'), '-4', 'route', 'show', 'table', 'main');
    expect(await world.sysctl('i-a', `net.ipv4.conf.${device}.rp_filter`)).toBe('1');

    // Act
    const r = await world.configure('i-a');

    // Assess
    const result = expectSuccess(r);
    const ifindex = Number((await ip('-n', world.ns('i-a'), '-o', 'link', 'show', 'dev', device)).split(':')[0]);
    expect(result).toEqual({
      device,
      mac: ENI_MAC,
      ips: [...ENI_IPS],
      prefix: 24,
      gateway: GATEWAY,
      table: 1000 + ifindex,
      priority: 1000 + ifindex,
      persisted: 'none',
      changes: expect.any(Number),
    });
    expect(await world.addresses('i-a', device)).toEqual({ up: true, inet: ['10.0.1.10/24', '10.0.1.11/24'] });
    const rules = (await world.rules('i-a')).filter((x) => x.table === String(result.table));
    expect(rules).toEqual([
      expect.objectContaining({ priority: result.table, src: '10.0.1.10', table: String(result.table) }),
      expect.objectContaining({ priority: result.table, src: '10.0.1.11', table: String(result.table) }),
    ]);
    const table = await world.routes('i-a', result.table);
    expect(table).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: 'default', gateway: GATEWAY, dev: device }),
        expect.objectContaining({ dst: '10.0.1.0/24', dev: device, prefsrc: '10.0.1.10' }),
      ]),
    );
    expect(table).toHaveLength(2);
    expect(await world.sysctl('i-a', `net.ipv4.conf.${device}.rp_filter`)).toBe('2');
    // 'all' stays strict: effective rp_filter is max(all, dev) = 2, loose.
    expect(await world.sysctl('i-a', 'net.ipv4.conf.all.rp_filter')).toBe('1');
    expect(await ip('-n', world.ns('i-a'), '-4', 'route', 'show', 'table', 'main')).toBe(mainBefore);
    expect(mainBefore).toContain(`default via ${GATEWAY} dev eth0`);
  });

  it('takes back what a DHCP client or an old owner left on the ENI, keeping the primary NIC default route', async () => {
    // Prepare: the main table as the image set it up, then a DHCP client configures the hot-plugged NIC.
    world = await GuestWorld.create();
    const ns = world.ns('i-a');
    const mainBefore = await ip('-n', ns, '-4', 'route', 'show', 'table', 'main');
    const device = await world.topo.attachEni(ENI_MAC, 'i-a');
    await ip('-n', ns, 'link', 'set', device, 'up');
    await ip('-n', ns, 'addr', 'add', '10.0.1.10/24', 'dev', device);
    await ip('-n', ns, 'addr', 'add', '10.0.1.99/24', 'dev', device); // an IP no longer on this ENI
    await ip('-n', ns, 'route', 'add', 'default', 'via', GATEWAY, 'dev', device, 'metric', '101');
    expect(await ip('-n', ns, '-4', 'route', 'show', 'table', 'main')).toContain(`dev ${device}`);

    // Act
    const r = await world.configure('i-a');

    // Assess
    expectSuccess(r);
    expect(await ip('-n', ns, '-4', 'route', 'show', 'table', 'main')).toBe(mainBefore);
    expect(await world.addresses('i-a', device)).toEqual({ up: true, inet: ['10.0.1.10/24', '10.0.1.11/24'] });
  });

  it('changes nothing and exits 0 when run a second time', async () => {
    // Prepare
    world = await GuestWorld.create();
    const device = await world.topo.attachEni(ENI_MAC, 'i-a');
    const first = expectSuccess(await world.configure('i-a'));
    const before = await world.netState('i-a');
    const sysctlsBefore = await world.sysctl('i-a', `net.ipv4.conf.${device}.rp_filter`);

    // Act
    const second = await world.configure('i-a');

    // Assess
    expect(first.changes).toBeGreaterThan(0);
    expect(expectSuccess(second)).toEqual({ ...first, changes: 0 });
    expect(await world.netState('i-a')).toBe(before);
    expect(await world.sysctl('i-a', `net.ipv4.conf.${device}.rp_filter`)).toBe(sysctlsBefore);
  });

  it('recognises its rules when a network manager restored them at boot (proto static) and adds no duplicate', async () => {
    // Prepare
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-a');
    const { table } = expectSuccess(await world.configure('i-a'));
    const ns = world.ns('i-a');
    for (const a of ENI_IPS) {
      await ip('-n', ns, 'rule', 'del', 'from', a, 'lookup', String(table));
      await ip('-n', ns, 'rule', 'add', 'from', a, 'lookup', String(table), 'priority', String(table), 'proto', 'static');
    }

    // Act
    const r = expectSuccess(await world.configure('i-a'));

    // Assess
    expect(r.changes).toBe(0);
    expect((await world.rules('i-a')).filter((x) => x.table === String(table)).map((x) => x.src)).toEqual([...ENI_IPS]);
  });

  it('works the same when /bin/sh is bash (CentOS, Alibaba Cloud Linux)', async () => {
    // Prepare
    world = await GuestWorld.create({ shell: 'bash' });
    await world.topo.attachEni(ENI_MAC, 'i-a');

    // Act
    const first = expectSuccess(await world.configure('i-a'));
    const state = await world.netState('i-a');
    const second = expectSuccess(await world.configure('i-a'));

    // Assess
    expect(first).toMatchObject({ ips: [...ENI_IPS], gateway: GATEWAY, persisted: 'none' });
    expect(second.changes).toBe(0);
    expect(await world.netState('i-a')).toBe(state);
    const service = await world.topo.startService('i-a', '10.0.1.11', 8080, 'bash-configured');
    expect(await world.topo.httpGet('i-c', 'http://10.0.1.11:8080/')).toBe('bash-configured');
    await service.close();
  });
});
