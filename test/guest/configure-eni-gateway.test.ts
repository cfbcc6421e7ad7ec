// The gateway check (exit 12): the vSwitch gateway must answer ARP on the ENI, from inside the ENI subnet.
import { assertCanBuildNamespaces } from '../../local/guest/netns-topology';
import { ENI_MAC, GuestWorld } from './helpers';

describe('Guest script: gateway reachability', () => {
  let world: GuestWorld | undefined;

  beforeAll(() => assertCanBuildNamespaces());
  afterEach(async () => {
    await world?.destroy();
    world = undefined;
  });

  it('exits 12 when the gateway does not answer ARP on the ENI', async () => {
    // Prepare: metadata down, the fallback names an address nobody holds.
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-a');
    await world.topo.stopMetadata('i-a');

    // Act
    const r = await world.configure('i-a', { gateway: '10.0.1.250' });

    // Assess
    expect(r.exitCode).toBe(12);
    expect(r.parsed).toEqual({ ok: false, code: 12, message: expect.stringMatching(/^gateway-unreachable: no ARP answer from 10\.0\.1\.250 on eth1/) });
  });

  it('exits 12 before changing anything when the gateway lies outside the ENI subnet', async () => {
    // Prepare
    world = await GuestWorld.create();
    const device = await world.topo.attachEni(ENI_MAC, 'i-a');
    await world.topo.stopMetadata('i-a');

    // Act
    const r = await world.configure('i-a', { gateway: '10.0.2.253' });

    // Assess
    expect(r.parsed).toEqual({ ok: false, code: 12, message: 'gateway-unreachable: gateway 10.0.2.253 is outside the ENI subnet 10.0.1.0/24' });
    expect(await world.addresses('i-a', device)).toEqual({ up: false, inet: [] });
  });
});
