// Where the guest script gets the ENI's values: metadata (token mode, no token API, lag) and the workflow's fallback.
import { assertCanBuildNamespaces } from '../../local/guest/netns-topology';
import { ENI_IPS, ENI_MAC, GATEWAY, GuestWorld, expectSuccess } from './helpers';

describe('Guest script: metadata and fallback values', () => {
  let world: GuestWorld | undefined;

  beforeAll(() => assertCanBuildNamespaces());
  afterEach(async () => {
    await world?.destroy();
    world = undefined;
  });

  it('reads the ENI from metadata in token mode when the service requires a token', async () => {
    // Prepare
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-a');
    world.topo.setMetadataMode('i-a', { requireToken: true });

    // Act: no fallback values at all, so everything must come from metadata.
    const r = await world.configureRaw('i-a', { ENI_MAC, ENI_WAIT_SECONDS: '0' });

    // Assess
    expect(expectSuccess(r)).toMatchObject({ ips: [...ENI_IPS], prefix: 24, gateway: GATEWAY });
    const reqs = world.topo.metadataRequests('i-a');
    expect(reqs[0]).toMatchObject({ method: 'PUT', path: '/latest/api/token', status: 200 });
    const gets = reqs.filter((q) => q.method === 'GET');
    expect(gets.length).toBeGreaterThanOrEqual(4);
    expect(gets.every((q) => q.token && q.status === 200)).toBe(true);
  });

  it('falls back to requests without a token when the token API is absent', async () => {
    // Prepare
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-a');
    world.topo.setMetadataMode('i-a', { tokenApi: false });

    // Act
    const r = await world.configureRaw('i-a', { ENI_MAC, ENI_WAIT_SECONDS: '0' });

    // Assess
    expect(expectSuccess(r)).toMatchObject({ ips: [...ENI_IPS], gateway: GATEWAY });
    const gets = world.topo.metadataRequests('i-a').filter((q) => q.method === 'GET');
    expect(gets.length).toBeGreaterThanOrEqual(4);
    expect(gets.every((q) => !q.token && q.status === 200)).toBe(true);
  });

  it('prefers metadata over the workflow values, and adds IPs only metadata knows', async () => {
    // Prepare: the workflow knows only the primary IP and a wrong gateway.
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-a');

    // Act
    const r = await world.configure('i-a', { ips: ['10.0.1.10'], gateway: '10.0.1.1', prefix: 16 });

    // Assess
    expect(expectSuccess(r)).toMatchObject({ ips: ['10.0.1.10', '10.0.1.11'], prefix: 24, gateway: GATEWAY });
    expect(r.output).toContain('warning: metadata gateway 10.0.1.253 differs from ENI_GATEWAY 10.0.1.1');
  });

  it('configures from the workflow values when metadata is down', async () => {
    // Prepare
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-a');
    await world.topo.stopMetadata('i-a');

    // Act
    const r = await world.configure('i-a');

    // Assess
    expect(expectSuccess(r)).toMatchObject({ ips: [...ENI_IPS], prefix: 24, gateway: GATEWAY });
    expect(r.output).toContain('metadata at http://100.100.100.200: unreachable');
  });

  it('configures from the workflow values while metadata does not list the moved ENI yet', async () => {
    // Prepare
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-b');
    world.topo.setMetadataMode('i-b', { hiddenMacs: [ENI_MAC] });

    // Act
    const r = await world.configure('i-b');

    // Assess
    expect(expectSuccess(r)).toMatchObject({ ips: [...ENI_IPS], gateway: GATEWAY });
    expect(r.output).toContain(`has no entry for ${ENI_MAC}`);
  });
});
