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

  it('lets a client in another subnet reach each ENI IP, with replies leaving by the ENI, and only thanks to the source rules', async () => {
    // Prepare
    world = await GuestWorld.create();
    const device = await world.topo.attachEni(ENI_MAC, 'i-a');
    const result = expectSuccess(await world.configure('i-a'));
    const primaryService = await world.topo.startService('i-a', '10.0.1.10', 8080, 'i-a via 10.0.1.10');
    const secondaryService = await world.topo.startService('i-a', '10.0.1.11', 8080, 'i-a via 10.0.1.11');
    const eniBefore = await world.topo.counters('i-a', device);
    const eth0Before = await world.topo.counters('i-a', 'eth0');

    // Act
    const viaPrimaryIp = await world.topo.httpGet('i-c', 'http://10.0.1.10:8080/');
    const viaSecondaryIp = await world.topo.httpGet('i-c', 'http://10.0.1.11:8080/');

    // Assess: answered, every reply packet sent by the ENI and none by the primary NIC.
    expect(viaPrimaryIp).toBe('i-a via 10.0.1.10');
    expect(viaSecondaryIp).toBe('i-a via 10.0.1.11');
    const eniAfter = await world.topo.counters('i-a', device);
    const eth0After = await world.topo.counters('i-a', 'eth0');
    expect(eniAfter.txPackets - eniBefore.txPackets).toBeGreaterThanOrEqual(6);
    expect(eniAfter.rxPackets - eniBefore.rxPackets).toBeGreaterThanOrEqual(6);
    expect(eth0After.txPackets - eth0Before.txPackets).toBe(0);

    // Without the source rules the replies leave by eth0, where the VPC drops them (source not its IP).
    for (const a of ENI_IPS) await ip('-n', world.ns('i-a'), 'rule', 'del', 'from', a, 'lookup', String(result.table));
    expect(await world.topo.httpGet('i-c', 'http://10.0.1.10:8080/', 500)).toBeUndefined();
    expect(await world.topo.httpGet('i-c', 'http://10.0.1.11:8080/', 500)).toBeUndefined();

    // Running the script again repairs exactly that.
    const repaired = expectSuccess(await world.configure('i-a'));
    expect(repaired.changes).toBe(2);
    expect(await world.topo.httpGet('i-c', 'http://10.0.1.11:8080/')).toBe('i-a via 10.0.1.11');
    await primaryService.close();
    await secondaryService.close();
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

  it('serves from the new owner after the ENI moves, and cleans the stale rules on the old owner', async () => {
    // Prepare: the ENI serves from i-a, then fails over to i-b (hot-unplug, hot-plug).
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-a');
    const onA = expectSuccess(await world.configure('i-a'));
    const serviceA = await world.topo.startService('i-a', '10.0.1.10', 8080, 'served by i-a');
    expect(await world.topo.httpGet('i-c', 'http://10.0.1.10:8080/')).toBe('served by i-a');
    await serviceA.close();
    await world.topo.detachEni(ENI_MAC);
    const deviceB = await world.topo.attachEni(ENI_MAC, 'i-b');
    const mainB = await ip('-n', world.ns('i-b'), '-4', 'route', 'show', 'table', 'main');

    // Act: configure the new owner
    const onB = expectSuccess(await world.configure('i-b'));
    const serviceB = await world.topo.startService('i-b', '10.0.1.10', 8080, 'served by i-b');

    // Assess
    expect(onB.device).toBe(deviceB);
    expect(await world.topo.httpGet('i-c', 'http://10.0.1.10:8080/')).toBe('served by i-b');
    expect(await ip('-n', world.ns('i-b'), '-4', 'route', 'show', 'table', 'main')).toBe(mainB);
    await serviceB.close();

    // The old owner still has its rules, pointing at a table the kernel emptied when the device left.
    const staleBefore = (await world.rules('i-a')).filter((x) => x.table === String(onA.table));
    expect(staleBefore.map((x) => x.src)).toEqual([...ENI_IPS]);
    expect(await world.routes('i-a', onA.table)).toEqual([]);

    // Act: the script on the old owner (as a reconcile would run it)
    const onOldOwner = await world.configure('i-a');

    // Assess: the MAC is not there (exit 10), and the stale rules are gone; eth0 untouched.
    expect(onOldOwner.exitCode).toBe(10);
    expect(onOldOwner.parsed).toEqual({ ok: false, code: 10, message: expect.stringMatching(/^mac-not-found/) });
    expect((await world.rules('i-a')).filter((x) => x.table === String(onA.table))).toEqual([]);
    expect(await world.rules('i-a')).toHaveLength(3); // local, main, default
    expect(await ip('-n', world.ns('i-a'), '-4', 'route', 'show', 'table', 'main')).toContain(`default via ${GATEWAY} dev eth0`);
  });
});
