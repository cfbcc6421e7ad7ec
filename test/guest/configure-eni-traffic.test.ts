// Packets through the configured ENI: asymmetric replies leave by the ENI, and a failover move to another owner.
import { assertCanBuildNamespaces, ip } from '../../local/guest/netns-topology';
import { ENI_IPS, ENI_MAC, GATEWAY, GuestWorld, expectSuccess } from './helpers';

describe('Guest script: traffic through the ENI and failover between owners', () => {
  let world: GuestWorld | undefined;

  beforeAll(() => assertCanBuildNamespaces());
  afterEach(async () => {
    await world?.destroy();
    world = undefined;
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
