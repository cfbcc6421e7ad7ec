import MNSClient from '@alicloud/mns';
import { type AccessKey, Keyring } from '../../local/credentials';
import { type LocalMns, type LocalMnsOptions, startLocalMns } from '../../local/mns';

export const ACCOUNT_ID = '1234567890123456';

/** A settable clock: message timing on the server follows it, so tests skip time instead of sleeping. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(start = Date.now()): TestClock {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

export interface MnsFixture {
  mns: LocalMns;
  keyring: Keyring;
  root: AccessKey;
  clock: TestClock;
  /** The real SDK client with the root key. */
  client: MNSClient;
  clientWith(key: { accessKeyId: string; accessKeySecret: string; securityToken?: string }): MNSClient;
}

export async function startMnsFixture(options: Partial<LocalMnsOptions> = {}, clock = testClock()): Promise<MnsFixture> {
  const { keyring, root } = Keyring.generate();
  const mns = await startLocalMns({ keyring, accountId: ACCOUNT_ID, now: clock.now, ...options });
  const clientWith = (key: { accessKeyId: string; accessKeySecret: string; securityToken?: string }): MNSClient =>
    new MNSClient(ACCOUNT_ID, { endpoint: mns.endpoint, ...key, readTimeout: 40_000, connectTimeout: 40_000 });
  return { mns, keyring, root, clock, client: clientWith(root), clientWith };
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('expected a rejection')) throw err;
    return err as Error;
  }
}

/** The HTTP status the SDK puts into an MNS error's message ("... failed with 404. ..."). */
export function statusOf(err: Error): number | undefined {
  const m = /failed with (\d{3})\./.exec(err.message);
  return m === null ? undefined : Number(m[1]);
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
