// buildGuestCommand / parseGuestResult: the workflow's side of the guest script, table-driven.
import { spawnSync } from 'node:child_process';
import {
  GuestCommandInputError,
  MAX_COMMAND_BASE64_BYTES,
  buildGuestCommand,
  parseGuestResult,
  type GuestEniConfig,
} from '../../workflow/guest-command';
import { SCRIPT } from './helpers';

const VALID: GuestEniConfig = { mac: '00:16:3e:12:34:56', ips: ['10.0.1.10', '10.0.1.11'], prefix: 24, gateway: '10.0.1.253', persist: true };

/** Runs a built command whose "script" prints the variables it received, one per line. */
function echoVars(command: string): string[] {
  const r = spawnSync('sh', ['-s'], { input: command, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sh failed: ${r.stderr}`);
  return r.stdout.split('\n').slice(0, -1);
}
const ECHO_SCRIPT = '#!/bin/sh\nprintf "%s\\n" "$ENI_MAC" "$ENI_IPS" "${ENI_PREFIX-unset}" "${ENI_GATEWAY-unset}" "$ENI_PERSIST" "${ENI_METADATA_URL-unset}" "${ENI_WAIT_SECONDS-unset}"\n';

describe('buildGuestCommand', () => {
  it.each<[string, Partial<GuestEniConfig>, string[]]>([
    ['all values', {}, ['00:16:3e:12:34:56', '10.0.1.10,10.0.1.11', '24', '10.0.1.253', '1', 'unset', 'unset']],
    ['no persistence', { persist: false }, ['00:16:3e:12:34:56', '10.0.1.10,10.0.1.11', '24', '10.0.1.253', '0', 'unset', 'unset']],
    ['no fallback values', { prefix: undefined, gateway: undefined }, ['00:16:3e:12:34:56', '10.0.1.10,10.0.1.11', 'unset', 'unset', '1', 'unset', 'unset']],
    ['metadata URL and wait', { metadataUrl: 'http://169.254.0.9:8080', waitSeconds: 0 }, ['00:16:3e:12:34:56', '10.0.1.10,10.0.1.11', '24', '10.0.1.253', '1', 'http://169.254.0.9:8080', '0']],
    ['edge values', { ips: ['0.0.0.1', '255.255.255.254'], prefix: 1, gateway: '255.255.255.253' }, ['00:16:3e:12:34:56', '0.0.0.1,255.255.255.254', '1', '255.255.255.253', '1', 'unset', 'unset']],
  ])('hands %s to the shell verbatim', (_name, overrides, expected) => {
    // Act
    const command = buildGuestCommand({ ...VALID, ...overrides }, ECHO_SCRIPT);

    // Assess
    expect(command.startsWith('#!/bin/sh\nENI_MAC=\'00:16:3e:12:34:56\'\n')).toBe(true);
    expect(echoVars(command)).toEqual(expected);
  });

  it.each<[string, Partial<GuestEniConfig> & Record<string, unknown>, string]>([
    ['an uppercase MAC', { mac: '00:16:3E:12:34:56' }, 'mac'],
    ['a short MAC', { mac: '00:16:3e:12:34' }, 'mac'],
    ['a MAC with a quote', { mac: "00:16:3e:12:34:5'" }, 'mac'],
    ['a MAC with a newline', { mac: '00:16:3e:12:34:56\nreboot' }, 'mac'],
    ['no IPs', { ips: [] }, 'ips'],
    ['an octet over 255', { ips: ['10.0.1.256'] }, 'ips'],
    ['a leading-zero octet', { ips: ['10.0.1.010'] }, 'ips'],
    ['three octets', { ips: ['10.0.1'] }, 'ips'],
    ['an IPv6 address', { ips: ['fe80::1'] }, 'ips'],
    ['a repeated IP', { ips: ['10.0.1.10', '10.0.1.10'] }, 'ips'],
    ['shell after an IP', { ips: ["10.0.1.10'; rm -rf /; '"] }, 'ips'],
    ['a command substitution', { ips: ['$(reboot)'] }, 'ips'],
    ['backticks', { ips: ['`reboot`'] }, 'ips'],
    ['a newline in an IP', { ips: ['10.0.1.10\nreboot'] }, 'ips'],
    ['a non-string IP', { ips: [167837962 as unknown as string] }, 'ips'],
    ['prefix 0', { prefix: 0 }, 'prefix'],
    ['prefix 33', { prefix: 33 }, 'prefix'],
    ['a fractional prefix', { prefix: 24.5 }, 'prefix'],
    ['a gateway with shell', { gateway: '10.0.1.253; reboot' }, 'gateway'],
    ['a gateway equal to an ENI IP', { gateway: '10.0.1.10' }, 'gateway'],
    ['persist as a string', { persist: '1' as unknown as boolean }, 'persist'],
    ['a metadata URL with $()', { metadataUrl: 'http://$(reboot)' }, 'metadataUrl'],
    ['an https metadata URL', { metadataUrl: 'https://100.100.100.200' }, 'metadataUrl'],
    ['a wait over 600 s', { waitSeconds: 601 }, 'waitSeconds'],
  ])('refuses %s, naming the field', (_name, overrides, field) => {
    // Act
    const act = () => buildGuestCommand({ ...VALID, ...overrides } as GuestEniConfig, ECHO_SCRIPT);

    // Assess
    expect(act).toThrow(GuestCommandInputError);
    expect(act).toThrow(expect.objectContaining({ field }));
  });

  it('builds the real script into a command sh accepts and Cloud Assistant takes (24 KB in base64)', () => {
    // Act
    const command = buildGuestCommand(VALID, SCRIPT);

    // Assess
    const base64 = Buffer.from(command, 'utf8').toString('base64');
    expect(base64.length).toBeLessThanOrEqual(MAX_COMMAND_BASE64_BYTES);
    for (const shell of ['dash', 'bash']) {
      expect(spawnSync(shell, ['-n'], { input: command }).status).toBe(0);
    }
    expect(command.split('\n').filter((l) => l.startsWith('#'))).toEqual(['#!/bin/sh']);
    expect(command).toContain('eni-failover-result:');
  });

  it('refuses to build a command over the Cloud Assistant limit', () => {
    const huge = `#!/bin/sh\n${'true\n'.repeat(5000)}`;
    expect(() => buildGuestCommand(VALID, huge)).toThrow(/over Cloud Assistant's 24576/);
  });
});

describe('parseGuestResult', () => {
  const ok = '{"device":"eth1","mac":"00:16:3e:12:34:56","ips":["10.0.1.10"],"prefix":24,"gateway":"10.0.1.253","table":1003,"priority":1003,"persisted":"none","changes":0}';
  const okResult = { device: 'eth1', mac: '00:16:3e:12:34:56', ips: ['10.0.1.10'], prefix: 24, gateway: '10.0.1.253', table: 1003, priority: 1003, persisted: 'none', changes: 0 };

  it.each<[string, string, unknown]>([
    ['a result line after log lines', `eni-failover: + ip link set dev eth1 up\neni-failover-result: ${ok}\n`, { ok: true, result: okResult }],
    ['a result without the changes count', `eni-failover-result: ${ok.replace(',"changes":0', '')}`, { ok: true, result: { ...okResult, changes: undefined } }],
    ['CRLF line ends', `x\r\neni-failover-result: ${ok}\r\n`, { ok: true, result: okResult }],
    ['an error line', 'eni-failover-error: 10 mac-not-found: no network device has MAC 00:16:3e:12:34:56 after 30s\n', { ok: false, code: 10, message: 'mac-not-found: no network device has MAC 00:16:3e:12:34:56 after 30s' }],
    ['the last of a result then an error', `eni-failover-result: ${ok}\neni-failover-error: 12 gateway-unreachable: x`, { ok: false, code: 12, message: 'gateway-unreachable: x' }],
    ['the last of an error then a result', `eni-failover-error: 12 gateway-unreachable: x\neni-failover-result: ${ok}`, { ok: true, result: okResult }],
    ['no verdict line', 'Killed\n', { ok: false, code: -1, message: expect.stringMatching(/no eni-failover-result/) }],
    ['an empty output', '', { ok: false, code: -1, message: expect.stringMatching(/no eni-failover-result/) }],
    ['truncated JSON', `eni-failover-result: ${ok.slice(0, 40)}`, { ok: false, code: -1, message: expect.stringMatching(/not JSON/) }],
    ['a JSON array', 'eni-failover-result: []', { ok: false, code: -1, message: expect.stringMatching(/not an object/) }],
    ['an unknown persisted value', `eni-failover-result: ${ok.replace('"none"', '"ifupdown"')}`, { ok: false, code: -1, message: expect.stringMatching(/persisted/) }],
    ['an IP that is not one', `eni-failover-result: ${ok.replace('10.0.1.10', '10.0.1.300')}`, { ok: false, code: -1, message: expect.stringMatching(/ips/) }],
    ['no IPs', `eni-failover-result: ${ok.replace('["10.0.1.10"]', '[]')}`, { ok: false, code: -1, message: expect.stringMatching(/ips/) }],
    ['a string table', `eni-failover-result: ${ok.replace('"table":1003', '"table":"1003"')}`, { ok: false, code: -1, message: expect.stringMatching(/table/) }],
    ['a priority at main', `eni-failover-result: ${ok.replace('"priority":1003', '"priority":32766')}`, { ok: false, code: -1, message: expect.stringMatching(/priority/) }],
    ['an uppercase MAC', `eni-failover-result: ${ok.replace('00:16:3e', '00:16:3E')}`, { ok: false, code: -1, message: expect.stringMatching(/mac/) }],
    ['an error line without a code', 'eni-failover-error: oops', { ok: false, code: -1, message: expect.stringMatching(/malformed error line/) }],
  ])('reads %s', (_name, output, expected) => {
    expect(parseGuestResult(output)).toEqual(expected);
  });
});
