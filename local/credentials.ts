import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The access keys the local cloud accepts, shared by its ECS, MNS and FC servers. Long-term keys are
 * fixed per cloud instance; STS keys (id prefix `STS.`) are minted for function invocations and are only
 * valid together with their security token, as on Alibaba Cloud.
 */
export interface AccessKey {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
  /** Epoch ms after which the key is refused (STS only). */
  readonly expiresAt?: number;
}

export type KeyLookup =
  | { ok: true; key: AccessKey }
  | { ok: false; reason: 'unknownKey' | 'tokenMissing' | 'tokenMismatch' | 'tokenExpired' };

export class Keyring {
  private readonly keys = new Map<string, AccessKey>();

  constructor(initial: readonly AccessKey[] = []) {
    for (const key of initial) this.keys.set(key.accessKeyId, key);
  }

  /** A fresh long-term key pair for a local cloud run. */
  static generate(): { keyring: Keyring; root: AccessKey } {
    const root = {
      accessKeyId: `LTAIlocal${randomBytes(6).toString('hex')}`,
      accessKeySecret: randomBytes(15).toString('base64url'),
    };
    return { keyring: new Keyring([root]), root };
  }

  add(key: AccessKey): void {
    this.keys.set(key.accessKeyId, key);
  }

  /** Mints STS credentials like the ones Function Compute puts into `context.credentials`. */
  mintSts(ttlMs = 3600_000, now = Date.now()): Required<Omit<AccessKey, 'expiresAt'>> & { expiresAt: number } {
    const key = {
      accessKeyId: `STS.local${randomBytes(8).toString('hex')}`,
      accessKeySecret: randomBytes(15).toString('base64url'),
      securityToken: randomBytes(32).toString('base64'),
      expiresAt: now + ttlMs,
    };
    this.add(key);
    return key;
  }

  /** Finds the key and checks the STS token that must accompany it. */
  lookup(accessKeyId: string, securityToken: string | undefined, now = Date.now()): KeyLookup {
    const key = this.keys.get(accessKeyId);
    if (key === undefined) return { ok: false, reason: 'unknownKey' };
    if (key.securityToken !== undefined) {
      if (securityToken === undefined || securityToken === '') return { ok: false, reason: 'tokenMissing' };
      if (!safeEqual(key.securityToken, securityToken)) return { ok: false, reason: 'tokenMismatch' };
      if (key.expiresAt !== undefined && now > key.expiresAt) return { ok: false, reason: 'tokenExpired' };
    }
    return { ok: true, key };
  }
}

/** Constant-time comparison of two secrets (signatures, tokens); unequal lengths are simply unequal. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    // Compare anyway so the time taken does not tell where the strings first differ.
    timingSafeEqual(left, Buffer.alloc(left.length));
    return false;
  }
  return timingSafeEqual(left, right);
}
