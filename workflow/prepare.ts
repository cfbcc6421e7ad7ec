/**
 * Prepared standbys (a group's `prepare: true`): the Cloud Assistant command that installs, on a standby,
 * the hot-plug hook of guest/install-hook.sh - a udev rule per group ENI MAC that runs guest/configure-eni.sh
 * the moment the NIC appears - and the reading of what it reports. Pure: no environment, no I/O; the
 * script texts are passed in (the function bundles embed them at build time).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { MAX_COMMAND_BASE64_BYTES, scriptBody } from './guest-command';

/** One ENI the hook is to configure when its NIC appears. */
export interface HookEni {
  /** Lowercase `00:16:3e:12:34:56`. */
  readonly mac: string;
  /** Every private IP, the primary first. */
  readonly ips: readonly string[];
}

/** What a standby's hook should be: its script version, the ENIs (sorted by MAC), whether it persists. */
export interface HookSpec {
  readonly version: string;
  /** `HOOK_ENIS`: `<mac>/<ip>,<ip>` joined by `+`, sorted by MAC - also the manifest's `enis=` line. */
  readonly enis: string;
  readonly persist: boolean;
}

/** Why a hook input was refused. */
export class HookInputError extends Error {
  override readonly name = 'HookInputError';
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The copy of configure-eni.sh the hook runs, byte for byte as install-hook.sh writes it. */
function installedScript(guestScript: string): string {
  return `${scriptBody(guestScript).replace(/\n+$/, '')}\n`;
}

/**
 * The hook's version: the first 12 hex digits of the sha256 of the installed configure-eni.sh. A standby
 * whose hook has another version runs another script (drift: outdated); install-hook.sh checks the copy it
 * writes against it.
 */
export function hookVersion(guestScript: string): string {
  return createHash('sha256').update(installedScript(guestScript)).digest('hex').slice(0, 12);
}

/**
 * The hook a group's standbys should have. Guarantees: every MAC and IP validated (so `enis` holds only
 * `[0-9a-f:./,+]`), MACs unique, sorted by MAC so the same group always gives the same spec; throws
 * {@link HookInputError} naming the bad value otherwise.
 */
export function hookSpec(enis: readonly HookEni[], persist: boolean, guestScript: string): HookSpec {
  if (enis.length === 0) throw new HookInputError('a hook needs at least one ENI');
  const seen = new Set<string>();
  for (const e of enis) {
    if (typeof e.mac !== 'string' || !MAC.test(e.mac)) throw new HookInputError(`MAC ${JSON.stringify(e.mac)} must be lowercase like 00:16:3e:12:34:56`);
    if (seen.has(e.mac)) throw new HookInputError(`MAC ${e.mac} is listed twice`);
    seen.add(e.mac);
    if (!Array.isArray(e.ips) || e.ips.length === 0) throw new HookInputError(`ENI ${e.mac} needs at least its primary private IP`);
    for (const a of e.ips) if (typeof a !== 'string' || !IPV4.test(a)) throw new HookInputError(`IP ${JSON.stringify(a)} of ${e.mac} is not an IPv4 dotted quad`);
  }
  const sorted = [...enis].sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
  return { version: hookVersion(guestScript), enis: sorted.map((e) => `${e.mac}/${e.ips.join(',')}`).join('+'), persist };
}

/**
 * Builds the RunShellScript content that installs (or finds current) the hook of `spec` on a standby:
 * `#!/bin/sh`, the `HOOK_*` assignments, then install-hook.sh; configure-eni.sh travels gzipped in base64.
 * Guarantees: every value is shell-safe inside single quotes (checked again here); throws when the command
 * would exceed Cloud Assistant's 24 KB of base64.
 */
export function buildPrepareCommand(spec: HookSpec, guestScript: string, installScript: string): string {
  if (spec.version !== hookVersion(guestScript)) throw new HookInputError(`spec version ${spec.version} is not the script's ${hookVersion(guestScript)}`);
  const packed = gzipSync(installedScript(guestScript), { level: 9 }).toString('base64');
  const vars: Array<[string, string, RegExp]> = [
    ['HOOK_VERSION', spec.version, /^[0-9a-f]{12}$/],
    ['HOOK_ENIS', spec.enis, /^[0-9a-f:./,+]+$/],
    ['HOOK_PERSIST', spec.persist ? '1' : '0', /^[01]$/],
    ['HOOK_SCRIPT', packed, /^[A-Za-z0-9+/=]+$/],
  ];
  for (const [name, value, safe] of vars) if (!safe.test(value)) throw new HookInputError(`${name} is not shell-safe: ${value.slice(0, 80)}`);
  const command = ['#!/bin/sh', ...vars.map(([k, v]) => `${k}='${v}'`), scriptBody(installScript)].join('\n');
  const size = 4 * Math.ceil(new TextEncoder().encode(command).length / 3);
  if (size > MAX_COMMAND_BASE64_BYTES) throw new Error(`prepare command is ${size} bytes in base64, over Cloud Assistant's ${MAX_COMMAND_BASE64_BYTES}`);
  return command;
}

/** What install-hook.sh found before it wrote anything. */
export const HookFound = { Missing: 'missing', Outdated: 'outdated', Current: 'current' } as const;
export type HookFound = (typeof HookFound)[keyof typeof HookFound];

export type PrepareOutcome =
  | { readonly ok: true; readonly found: HookFound; readonly version: string; readonly macs: readonly string[]; readonly changes: number }
  | { readonly ok: false; readonly code: number; readonly message: string };

const PREPARED = 'eni-failover-prepared:';
const ERROR = 'eni-failover-error:';
const FOUND = new Set<string>(Object.values(HookFound));

/**
 * Reads install-hook.sh's verdict: the LAST `eni-failover-prepared:` or `eni-failover-error:` line. Anything
 * else (no line, bad JSON, a wrong shape) is `{ok: false, code: -1}` with the reason, never success.
 */
export function parsePrepareResult(output: string): PrepareOutcome {
  const lines = output.split(/\r?\n/).map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (line.startsWith(ERROR)) {
      const m = /^(\d{1,3})\s+(.*)$/.exec(line.slice(ERROR.length).trim());
      return m ? { ok: false, code: Number(m[1]), message: m[2] ?? '' } : { ok: false, code: -1, message: `malformed error line: ${line}` };
    }
    if (!line.startsWith(PREPARED)) continue;
    let v: unknown;
    try {
      v = JSON.parse(line.slice(PREPARED.length));
    } catch {
      return { ok: false, code: -1, message: `prepared line is not JSON: ${line}` };
    }
    const r = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    const macsOk = Array.isArray(r.macs) && r.macs.every((m) => typeof m === 'string' && MAC.test(m));
    if (typeof r.was !== 'string' || !FOUND.has(r.was) || typeof r.version !== 'string' || !/^[0-9a-f]{12}$/.test(r.version) || !macsOk || !Number.isInteger(r.changes)) {
      return { ok: false, code: -1, message: `prepared line has the wrong shape: ${line}` };
    }
    return { ok: true, found: r.was as HookFound, version: r.version, macs: r.macs as string[], changes: r.changes as number };
  }
  return { ok: false, code: -1, message: 'no eni-failover-prepared or eni-failover-error line in the output' };
}
