/**
 * The guest side of configure-guest-routes: builds the Cloud Assistant command that runs
 * guest/configure-eni.sh with this ENI's values, and reads the script's verdict back from the output.
 * Pure: no environment, no I/O; the script text is passed in (the function bundles embed it at build time).
 */

/** What the guest script needs to configure one ENI. */
export interface GuestEniConfig {
  /** The ENI's MAC, lowercase `00:16:3e:12:34:56`. */
  readonly mac: string;
  /** Every private IP of the ENI, its primary IP first. */
  readonly ips: readonly string[];
  /**
   * The vSwitch prefix length, used only when metadata cannot tell (unreachable, or lagging after a move).
   * Optional: without it and without metadata the script exits 11 (metadata-unreachable-no-fallback).
   */
  readonly prefix?: number;
  /** The vSwitch gateway (its `.253`), the fallback when metadata cannot tell; optional like `prefix`. */
  readonly gateway?: string;
  /** Also write the distro's network configuration so it survives a reboot. */
  readonly persist: boolean;
  /** Metadata service base URL; the script defaults to http://100.100.100.200. */
  readonly metadataUrl?: string;
  /** How long the script waits for the hot-plugged NIC to appear (0..600 s; script default 30). */
  readonly waitSeconds?: number;
  /**
   * A prepared standby (group `prepare: true`): the hot-plug hook of this version (workflow/prepare.ts) may
   * have configured the NIC already; the script then verifies the hook's record against the live state and
   * configures only when the hook did not (its result says `by: hook` or `by: command`).
   */
  readonly verifyHook?: string;
}

/** What the script reports on success (its `eni-failover-result:` line). */
export interface GuestResult {
  readonly device: string;
  readonly mac: string;
  readonly ips: readonly string[];
  readonly prefix: number;
  readonly gateway: string;
  readonly table: number;
  readonly priority: number;
  readonly persisted: GuestPersisted;
  /** Changes the run made; 0 when everything was already in place (present since the first version). */
  readonly changes?: number;
  /** With `verifyHook`: who configured the NIC - the hot-plug hook (verified here) or this command. */
  readonly by?: 'hook' | 'command';
  /** With `by: command`: why the hook's work was not taken (no-record, still-running, hook-failed, stale). */
  readonly hook?: string;
}

export const GuestPersisted = {
  None: 'none',
  NetworkManager: 'networkmanager',
  Netplan: 'netplan',
  Ifcfg: 'ifcfg',
  Networkd: 'networkd',
} as const;
export type GuestPersisted = (typeof GuestPersisted)[keyof typeof GuestPersisted];

/** The script's exit codes (guest/README.md), as data. */
export const GuestExitCode = {
  Ok: 0,
  BadInput: 2,
  MacNotFound: 10,
  MetadataUnreachableNoFallback: 11,
  GatewayUnreachable: 12,
  UnsupportedOs: 13,
  MissingTool: 14,
  ApplyFailed: 20,
} as const;
export type GuestExitCode = (typeof GuestExitCode)[keyof typeof GuestExitCode];

/** Failures worth another attempt later: the NIC or its gateway may appear, metadata may come back. */
export const RetryableGuestExitCodes: ReadonlySet<number> = new Set([
  GuestExitCode.MacNotFound,
  GuestExitCode.MetadataUnreachableNoFallback,
  GuestExitCode.GatewayUnreachable,
]);

/** Why a value was refused; `field` names the input. */
export class GuestCommandInputError extends Error {
  override readonly name = 'GuestCommandInputError';
  constructor(
    readonly field: keyof GuestEniConfig,
    message: string,
  ) {
    super(message);
  }
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** A hook version: the first 12 hex digits of the installed script's sha256 (workflow/prepare.ts). */
export const HOOK_VERSION = /^[0-9a-f]{12}$/;
const METADATA_URL = /^http:\/\/[A-Za-z0-9.:/_-]+$/;
/** Characters a value may have once validated: nothing a single-quoted shell word cannot hold verbatim. */
const SHELL_SAFE = /^[A-Za-z0-9.:,/_-]*$/;

/** Cloud Assistant refuses base64 CommandContent over 24 KB (ecs-api.md, RunCommand). */
export const MAX_COMMAND_BASE64_BYTES = 24 * 1024;

function check(ok: boolean, field: keyof GuestEniConfig, message: string): void {
  if (!ok) throw new GuestCommandInputError(field, message);
}

/**
 * Builds the RunShellScript content: `#!/bin/sh`, one `ENI_*='value'` line per input, then the script.
 *
 * Guarantees: every value is validated (MAC lowercase colon form, dotted-quad IPv4 with octets 0-255, prefix
 * 1-32 and the gateway - not one of the IPs - when given) and refused with a {@link GuestCommandInputError} otherwise, so no
 * value can carry a quote, `$`, backtick, space or newline into the shell; the script's own shebang and its
 * comment-only lines are dropped (Cloud Assistant limits content to 24 KB in base64); throws when the result
 * would still exceed that limit.
 */
export function buildGuestCommand(config: GuestEniConfig, scriptText: string): string {
  const mac: unknown = config.mac;
  check(typeof mac === 'string' && MAC.test(mac), 'mac', `mac must be lowercase like 00:16:3e:12:34:56, got ${JSON.stringify(mac)}`);
  check(Array.isArray(config.ips) && config.ips.length > 0, 'ips', 'ips must list at least the primary private IP');
  for (const a of config.ips as unknown[]) {
    check(typeof a === 'string' && IPV4.test(a), 'ips', `ips must be IPv4 dotted quads, got ${JSON.stringify(a)}`);
  }
  check(new Set(config.ips).size === config.ips.length, 'ips', 'ips must not repeat an address');
  if (config.prefix !== undefined) {
    const p = config.prefix;
    check(Number.isInteger(p) && p >= 1 && p <= 32, 'prefix', `prefix must be an integer 1..32, got ${String(p)}`);
  }
  if (config.gateway !== undefined) {
    const gw: unknown = config.gateway;
    check(typeof gw === 'string' && IPV4.test(gw), 'gateway', `gateway must be an IPv4 dotted quad, got ${JSON.stringify(gw)}`);
    check(!config.ips.includes(config.gateway), 'gateway', 'gateway must not be one of the ENI IPs');
  }
  check(typeof config.persist === 'boolean', 'persist', 'persist must be true or false');
  if (config.metadataUrl !== undefined) {
    check(METADATA_URL.test(config.metadataUrl), 'metadataUrl', 'metadataUrl must be http:// followed by [A-Za-z0-9.:/_-] only');
  }
  if (config.waitSeconds !== undefined) {
    check(Number.isInteger(config.waitSeconds) && config.waitSeconds >= 0 && config.waitSeconds <= 600, 'waitSeconds', 'waitSeconds must be an integer 0..600');
  }
  if (config.verifyHook !== undefined) check(HOOK_VERSION.test(config.verifyHook), 'verifyHook', 'verifyHook must be a hook version: 12 lowercase hex digits');

  const vars: Array<[string, string]> = [
    ['ENI_MAC', config.mac],
    ['ENI_IPS', config.ips.join(',')],
    ['ENI_PERSIST', config.persist ? '1' : '0'],
  ];
  if (config.prefix !== undefined) vars.push(['ENI_PREFIX', String(config.prefix)]);
  if (config.gateway !== undefined) vars.push(['ENI_GATEWAY', config.gateway]);
  if (config.metadataUrl !== undefined) vars.push(['ENI_METADATA_URL', config.metadataUrl]);
  if (config.waitSeconds !== undefined) vars.push(['ENI_WAIT_SECONDS', String(config.waitSeconds)]);
  if (config.verifyHook !== undefined) vars.push(['ENI_VERIFY_HOOK', config.verifyHook]);
  // Defence in depth: the checks above already exclude anything that could end the single quotes.
  for (const [name, value] of vars) {
    if (!SHELL_SAFE.test(value)) throw new GuestCommandInputError('mac', `internal: ${name} is not shell-safe`);
  }

  const command = ['#!/bin/sh', ...vars.map(([k, v]) => `${k}='${v}'`), scriptBody(scriptText)].join('\n');
  const size = 4 * Math.ceil(new TextEncoder().encode(command).length / 3);
  if (size > MAX_COMMAND_BASE64_BYTES) {
    throw new Error(`guest command is ${size} bytes in base64, over Cloud Assistant's ${MAX_COMMAND_BASE64_BYTES}; shorten guest/configure-eni.sh`);
  }
  return command;
}

/**
 * A guest script as it is sent: its shebang and comment-only lines dropped (the scripts keep no '#' at the
 * start of a line inside a string); trailing comments and blank lines stay, so line numbers in errors stay
 * close to the source.
 */
export function scriptBody(scriptText: string): string {
  return scriptText
    .replace(/^#![^\n]*\n/, '')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
}

/** The script's verdict read from a command output. */
export type GuestOutcome =
  | { readonly ok: true; readonly result: GuestResult }
  | { readonly ok: false; readonly code: number; readonly message: string };

const RESULT = 'eni-failover-result:';
const ERROR = 'eni-failover-error:';
const PERSISTED = new Set<string>(Object.values(GuestPersisted));

/**
 * Finds the LAST `eni-failover-result:` or `eni-failover-error:` line of an output (Cloud Assistant output
 * may carry anything before it) and checks its shape. An output with neither line, or with a malformed
 * one, is reported as `{ok: false, code: -1}` with the reason: the workflow must never mistake it for success.
 */
export function parseGuestResult(output: string): GuestOutcome {
  const lines = output.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trim();
    if (line.startsWith(ERROR)) {
      const m = /^(\d{1,3})\s+(.*)$/.exec(line.slice(ERROR.length).trim());
      if (!m) return { ok: false, code: -1, message: `malformed error line: ${line}` };
      return { ok: false, code: Number(m[1]), message: m[2] ?? '' };
    }
    if (line.startsWith(RESULT)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line.slice(RESULT.length));
      } catch {
        return { ok: false, code: -1, message: `result line is not JSON: ${line}` };
      }
      const problem = resultProblem(parsed);
      return problem ? { ok: false, code: -1, message: `result line ${problem}: ${line}` } : { ok: true, result: parsed as GuestResult };
    }
  }
  return { ok: false, code: -1, message: 'no eni-failover-result or eni-failover-error line in the output' };
}

function resultProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'is not an object';
  const r = v as Record<string, unknown>;
  const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
  if (typeof r.device !== 'string' || !/^[A-Za-z0-9_.@-]{1,15}$/.test(r.device)) return 'has no valid device';
  if (typeof r.mac !== 'string' || !MAC.test(r.mac)) return 'has no valid mac';
  if (!Array.isArray(r.ips) || r.ips.length === 0 || !r.ips.every((a) => typeof a === 'string' && IPV4.test(a))) return 'has no valid ips';
  if (!isInt(r.prefix) || r.prefix < 1 || r.prefix > 32) return 'has no valid prefix';
  if (typeof r.gateway !== 'string' || !IPV4.test(r.gateway)) return 'has no valid gateway';
  if (!isInt(r.table) || r.table < 1) return 'has no valid table';
  if (!isInt(r.priority) || r.priority < 1 || r.priority > 32765) return 'has no valid priority';
  if (typeof r.persisted !== 'string' || !PERSISTED.has(r.persisted)) return 'has no valid persisted';
  if (r.changes !== undefined && (!isInt(r.changes) || r.changes < 0)) return 'has an invalid changes count';
  if (r.by !== undefined && r.by !== 'hook' && r.by !== 'command') return 'has an invalid by';
  if (r.hook !== undefined && (typeof r.hook !== 'string' || !/^[a-z-]{0,20}$/.test(r.hook))) return 'has an invalid hook';
  return undefined;
}
