// The guest script's failure modes and exit codes: metadata down, MAC missing, hot-plug wait, primary NIC, bad input.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertCanBuildNamespaces, inNamespace } from '../../local/guest/netns-topology';
import { ENI_IPS, ENI_MAC, GATEWAY, GuestWorld, expectSuccess } from './helpers';

describe('Guest script: failures and exit codes', () => {
  let world: GuestWorld | undefined;

  beforeAll(() => assertCanBuildNamespaces());
  afterEach(async () => {
    await world?.destroy();
    world = undefined;
  });

  it('exits 11 when metadata is down and no fallback was given, changing nothing on the link', async () => {
    // Prepare
    world = await GuestWorld.create();
    const device = await world.topo.attachEni(ENI_MAC, 'i-a');
    await world.topo.stopMetadata('i-a');

    // Act
    const r = await world.configureRaw('i-a', { ENI_MAC, ENI_WAIT_SECONDS: '0' });

    // Assess
    expect(r.exitCode).toBe(11);
    expect(r.parsed).toEqual({ ok: false, code: 11, message: expect.stringMatching(/^metadata-unreachable-no-fallback: .*unreachable.* ENI_IPS ENI_PREFIX ENI_GATEWAY/) });
    expect(await world.addresses('i-a', device)).toEqual({ up: false, inet: [] });
  });

  it('exits 10 when no device carries the MAC, after waiting only as long as told', async () => {
    // Prepare
    world = await GuestWorld.create();
    const before = await world.netState('i-a');

    // Act
    const r = await world.configure('i-a', { waitSeconds: 1 });

    // Assess
    expect(r.exitCode).toBe(10);
    expect(r.parsed).toEqual({ ok: false, code: 10, message: `mac-not-found: no network device has MAC ${ENI_MAC} after 1s` });
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    expect(r.ms).toBeLessThan(4000);
    expect(await world.netState('i-a')).toBe(before);
  });

  it('waits for a NIC that is hot-plugged after the script started', async () => {
    // Prepare
    world = await GuestWorld.create();
    const w = world;

    // Act: start the script, attach once it is seen waiting for the device.
    const running = w.configure('i-a', { waitSeconds: 10 });
    await w.untilScriptWaits('i-a');
    const device = await w.topo.attachEni(ENI_MAC, 'i-a');
    const r = await running;

    // Assess
    expect(expectSuccess(r).device).toBe(device);
    expect(r.output).toContain(`eni-failover: waiting up to 10s for a device with MAC ${ENI_MAC}`);
    expect(await w.addresses('i-a', device)).toEqual({ up: true, inet: ['10.0.1.10/24', '10.0.1.11/24'] });
    expect(r.ms).toBeLessThan(5000);
  });

  it.each(['dash', 'bash'])(
    'follows a hot-plugged NIC that udev renames after the script found it and before it configures it (%s)',
    async (shell) => {
      // Prepare
      world = await GuestWorld.create({ shell });
      const w = world;
      const tempName = `${w.topo.tag}x${w.topo.nic(ENI_MAC).port.slice(w.topo.tag.length + 1)}`;

      // Act: the NIC appears under a temporary name and is renamed while the script asks metadata.
      const running = w.configure('i-a', { waitSeconds: 10 });
      await w.untilScriptWaits('i-a');
      const device = await w.topo.attachEni(ENI_MAC, 'i-a', { renameOnMetadataRequest: true });
      const r = await running;
      const again = await w.configure('i-a');

      // Assess: the script found it under the temporary name, followed the rename and configured the final name.
      const result = expectSuccess(r);
      expect(device).toMatch(/^eth\d$/);
      expect(r.output).toContain(`eni-failover: device ${tempName} `);
      expect(r.output).toContain(`eni-failover: device ${tempName} is now ${device}`);
      expect(result.device).toBe(device);
      const ifindex = Number((await inNamespace(w.ns('i-a'), ['cat', `/sys/class/net/${device}/ifindex`])).trim());
      expect(result.table).toBe(1000 + ifindex);
      expect(await w.addresses('i-a', device)).toEqual({ up: true, inet: ['10.0.1.10/24', '10.0.1.11/24'] });
      expect(await w.routes('i-a', result.table)).toEqual([
        expect.objectContaining({ dst: 'default', gateway: GATEWAY, dev: device }),
        expect.objectContaining({ dst: '10.0.1.0/24', dev: device, prefsrc: '10.0.1.10' }),
      ]);
      expect(expectSuccess(again)).toMatchObject({ device, table: result.table, changes: 0 });
    },
  );

  it('refuses (exit 2) to reconfigure the primary NIC, known from metadata or from the main default route', async () => {
    // Prepare
    world = await GuestWorld.create();
    const before = await world.netState('i-a');
    const primaryMac = world.topo.instance('i-a').primary.mac;

    // Act
    const withMetadata = await world.configureRaw('i-a', { ENI_MAC: primaryMac, ENI_WAIT_SECONDS: '0' });
    await world.topo.stopMetadata('i-a');
    const withoutMetadata = await world.configureRaw('i-a', { ENI_MAC: primaryMac, ENI_IPS: '10.0.1.5', ENI_PREFIX: '24', ENI_GATEWAY: GATEWAY, ENI_WAIT_SECONDS: '0' });

    // Assess
    expect(withMetadata.parsed).toEqual({ ok: false, code: 2, message: `bad-input: ${primaryMac} is the instance's primary NIC; this script configures secondary ENIs only` });
    expect(withoutMetadata.parsed).toEqual({ ok: false, code: 2, message: 'bad-input: eth0 carries the only default route of the main table; it is the primary NIC, not a secondary ENI' });
    expect(await world.netState('i-a')).toBe(before);
  });
});

describe('Guest script: input validation', () => {
  // Unique per run: other runs of this suite on the same host must neither see nor remove this file.
  const PWNED = join(tmpdir(), `eni-pwned-${process.pid}-${randomBytes(4).toString('hex')}`);
  let world: GuestWorld | undefined;

  beforeAll(async () => {
    assertCanBuildNamespaces();
    world = await GuestWorld.create();
    await world.topo.attachEni(ENI_MAC, 'i-a');
    await world.topo.stopMetadata('i-a');
  });
  afterAll(async () => {
    await world?.destroy();
  });

  it.each([
    ['a MAC that is not one', { ENI_MAC: '00:16:3e:aa:00' }, /^bad-input: ENI_MAC/],
    ['an IP with an octet over 255', { ENI_MAC, ENI_IPS: '10.0.1.300' }, /^bad-input: ENI_IPS/],
    ['a command after an IP', { ENI_MAC, ENI_IPS: `10.0.1.10;touch ${PWNED}` }, /^bad-input: ENI_IPS/],
    ['a command substitution', { ENI_MAC, ENI_IPS: `$(touch ${PWNED})` }, /^bad-input: ENI_IPS/],
    ['a newline in an IP list', { ENI_MAC, ENI_IPS: `10.0.1.10\ntouch ${PWNED}` }, /^bad-input: ENI_IPS/],
    ['a leading-zero octet', { ENI_MAC, ENI_IPS: '10.0.1.010' }, /^bad-input: ENI_IPS/],
    ['prefix 33', { ENI_MAC, ENI_PREFIX: '33' }, /^bad-input: ENI_PREFIX/],
    ['a gateway that is not an IP', { ENI_MAC, ENI_GATEWAY: '10.0.1' }, /^bad-input: ENI_GATEWAY/],
    ['persist 2', { ENI_MAC, ENI_PERSIST: '2' }, /^bad-input: ENI_PERSIST/],
    ['a metadata URL with a quote', { ENI_MAC, ENI_METADATA_URL: "http://x'y" }, /^bad-input: ENI_METADATA_URL/],
    ['a relative ENI_ROOT', { ENI_MAC, ENI_ROOT: 'etc' }, /^bad-input: ENI_ROOT/],
    ['an IP that the primary NIC holds', { ENI_MAC, ENI_IPS: '10.0.1.5', ENI_PREFIX: '24', ENI_GATEWAY: GATEWAY }, /^bad-input: 10\.0\.1\.5 is on the primary NIC eth0$/],
    ['an IP outside the subnet', { ENI_MAC, ENI_IPS: '10.0.1.10,10.0.9.9', ENI_PREFIX: '24', ENI_GATEWAY: GATEWAY }, /^bad-input: 10\.0\.9\.9 is outside/],
  ])('exits 2 on %s, changing nothing', async (_name, vars, message) => {
    // Prepare
    if (!world) throw new Error('no world');
    rmSync(PWNED, { force: true });
    const before = await world.netState('i-a');

    // Act
    const r = await world.configureRaw('i-a', { ENI_WAIT_SECONDS: '0', ...vars });

    // Assess
    expect(r.exitCode).toBe(2);
    expect(r.parsed).toEqual({ ok: false, code: 2, message: expect.stringMatching(message) });
    expect(await world.netState('i-a')).toBe(before);
    expect(existsSync(PWNED)).toBe(false);
  });
});
