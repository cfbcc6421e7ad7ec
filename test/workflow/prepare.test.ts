// The prepare command's builder and reader (workflow/prepare.ts): every value that reaches the guest's shell
// is validated, the command fits Cloud Assistant, and only a well-formed verdict line counts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGuestCommand, GuestCommandInputError, MAX_COMMAND_BASE64_BYTES } from '../../workflow/guest-command';
import { buildPrepareCommand, hookSpec, hookVersion, HookInputError, parsePrepareResult } from '../../workflow/prepare';

const GUEST = readFileSync(join(__dirname, '..', '..', 'guest', 'configure-eni.sh'), 'utf8');
const INSTALL = readFileSync(join(__dirname, '..', '..', 'guest', 'install-hook.sh'), 'utf8');
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64').length;

describe('Prepare: the hook spec and the install command', () => {
  it('sorts the ENIs by MAC, so one group always gives one spec', () => {
    // Act
    const a = hookSpec([{ mac: '00:16:3e:00:00:02', ips: ['10.0.1.7'] }, { mac: '00:16:3e:00:00:01', ips: ['10.0.1.5', '10.0.1.6'] }], false, GUEST);
    const b = hookSpec([{ mac: '00:16:3e:00:00:01', ips: ['10.0.1.5', '10.0.1.6'] }, { mac: '00:16:3e:00:00:02', ips: ['10.0.1.7'] }], false, GUEST);

    // Assess
    expect(a).toEqual(b);
    expect(a.enis).toBe('00:16:3e:00:00:01/10.0.1.5,10.0.1.6+00:16:3e:00:00:02/10.0.1.7');
    expect(a.version).toMatch(/^[0-9a-f]{12}$/);
  });

  it.each([
    ['an upper-case MAC', [{ mac: '00:16:3E:00:00:01', ips: ['10.0.1.5'] }], /must be lowercase/],
    ['a MAC with a quote', [{ mac: "00:16:3e:00:00:0'", ips: ['10.0.1.5'] }], /must be lowercase/],
    ['an IP with a shell word', [{ mac: '00:16:3e:00:00:01', ips: ['10.0.1.5;reboot'] }], /not an IPv4/],
    ['no IP', [{ mac: '00:16:3e:00:00:01', ips: [] }], /at least its primary/],
    ['a MAC twice', [{ mac: '00:16:3e:00:00:01', ips: ['10.0.1.5'] }, { mac: '00:16:3e:00:00:01', ips: ['10.0.1.6'] }], /listed twice/],
    ['no ENI', [], /at least one ENI/],
  ])('refuses %s', (_name, enis, message) => {
    expect(() => hookSpec(enis, false, GUEST)).toThrow(HookInputError);
    expect(() => hookSpec(enis, false, GUEST)).toThrow(message);
  });

  it('builds a command under 24 KB of base64 that carries the script of the spec version', () => {
    // Prepare
    const spec = hookSpec([{ mac: '00:16:3e:00:00:01', ips: ['10.0.1.5', '10.0.1.6'] }], true, GUEST);

    // Act
    const command = buildPrepareCommand(spec, GUEST, INSTALL);

    // Assess
    expect(b64(command)).toBeLessThanOrEqual(MAX_COMMAND_BASE64_BYTES);
    expect(command).toContain(`HOOK_VERSION='${spec.version}'`);
    expect(command).toContain("HOOK_PERSIST='1'");
    expect(() => buildPrepareCommand({ ...spec, version: '0123456789ab' }, GUEST, INSTALL)).toThrow(/is not the script's/);
  });

  it('gives another version to another script', () => {
    expect(hookVersion(`${GUEST}\n: changed\n`)).not.toBe(hookVersion(GUEST));
    // Comment lines are not sent, so they do not change the version.
    expect(hookVersion(`${GUEST}\n# a comment\n`)).toBe(hookVersion(GUEST));
  });
});

describe('Prepare: the verify-or-configure guest command', () => {
  it('fits Cloud Assistant with every optional input set', () => {
    // Act
    const command = buildGuestCommand({ mac: '00:16:3e:00:00:01', ips: ['10.0.1.5', '10.0.1.6'], prefix: 24, gateway: '10.0.1.253', persist: true, metadataUrl: 'http://100.100.100.200', waitSeconds: 30, verifyHook: hookVersion(GUEST) }, GUEST);

    // Assess
    expect(b64(command)).toBeLessThanOrEqual(MAX_COMMAND_BASE64_BYTES);
    expect(command).toContain(`ENI_VERIFY_HOOK='${hookVersion(GUEST)}'`);
  });

  it('refuses a hook version that is not 12 hex digits', () => {
    expect(() => buildGuestCommand({ mac: '00:16:3e:00:00:01', ips: ['10.0.1.5'], persist: false, verifyHook: "abc'; reboot" }, GUEST)).toThrow(GuestCommandInputError);
  });
});

describe('Prepare: reading install-hook.sh verdict', () => {
  it('reads the last verdict line', () => {
    expect(parsePrepareResult('x\neni-failover-prepared: {"was":"outdated","version":"0123456789ab","macs":["00:16:3e:00:00:01"],"changes":3}\n')).toEqual({
      ok: true,
      found: 'outdated',
      version: '0123456789ab',
      macs: ['00:16:3e:00:00:01'],
      changes: 3,
    });
    expect(parsePrepareResult('eni-failover-error: 14 missing-tool: gzip is required\n')).toEqual({ ok: false, code: 14, message: 'missing-tool: gzip is required' });
  });

  it.each([
    ['no line', 'installed\n'],
    ['bad JSON', 'eni-failover-prepared: {was\n'],
    ['an unknown state', 'eni-failover-prepared: {"was":"fine","version":"0123456789ab","macs":[],"changes":0}\n'],
    ['a bad version', 'eni-failover-prepared: {"was":"current","version":"xyz","macs":[],"changes":0}\n'],
  ])('never takes %s for success', (_name, output) => {
    expect(parsePrepareResult(output)).toMatchObject({ ok: false, code: -1 });
  });
});
