import { createHash } from 'node:crypto';

/** IPv4 helpers for vSwitch CIDRs (host order numbers). */
export function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Cidr {
  readonly network: number;
  readonly prefix: number;
  readonly size: number;
}

export function parseCidr(cidr: string): Cidr | undefined {
  const [ip, prefixText] = cidr.split('/');
  if (ip === undefined || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const base = ipToNumber(ip);
  if (base === undefined || prefix < 8 || prefix > 29) return undefined;
  const size = 2 ** (32 - prefix);
  return { network: base - (base % size), prefix, size };
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const n = ipToNumber(ip);
  return n !== undefined && n >= cidr.network && n < cidr.network + cidr.size;
}

/**
 * The vSwitch gateway: the `.253` address of a /24 (shared/reference/guest-networking.md), i.e. the
 * broadcast address minus two. Alibaba reserves the first and the last three addresses of a vSwitch.
 */
export function vSwitchGateway(cidr: Cidr): string {
  return numberToIp(cidr.network + cidr.size - 3);
}

/** First free assignable address of the vSwitch, or undefined when it is full. */
export function allocateIp(cidr: Cidr, used: ReadonlySet<string>): string | undefined {
  for (let n = cidr.network + 1; n < cidr.network + cidr.size - 3; n++) {
    const ip = numberToIp(n);
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

/** A stable ECS-looking MAC (`00:16:3e:xx:xx:xx`) derived from a seed string. */
export function macFor(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  return ['00', '16', '3e', ...[0, 1, 2].map((i) => (h[i] ?? 0).toString(16).padStart(2, '0'))].join(':');
}

export const MacPattern = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
