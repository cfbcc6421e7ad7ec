import { join } from 'node:path';
import { MnsQueues } from '../../cloud/mns';
import { Keyring, type AccessKey } from '../../local/credentials';
import { startLocalFc, type InvocationRecord, type LocalFc, type StartLocalFcOptions } from '../../local/fc';
import type { InvocationResult } from '../../local/fc';
import { startLocalMns, type LocalMns } from '../../local/mns';

export const fixtureDir = join(__dirname, 'fixtures');
export const fixtureYaml = join(fixtureDir, 's.yaml');
export const accountId = '1234567890123456';
export const regionId = 'cn-hangzhou';
export const fixtureQueues = ['fc-events', 'fc-stream', 'fc-raw', 'fc-failing', 'fc-dead'];

export interface TestCloud {
  readonly root: AccessKey;
  readonly keyring: Keyring;
  readonly mns: LocalMns;
  /** A producer on the local MNS, through the real SDK. */
  readonly queues: MnsQueues;
  readonly fc: LocalFc;
  /** Every JSON line the runtime logged, parsed. */
  readonly records: InvocationRecord[];
  /** Every other sink line (function logs). */
  readonly functionLogs: string[];
  /** Resolves when `count` invocations matching `pred` were recorded. */
  waitForInvocations(pred: (r: InvocationRecord) => boolean, count: number, timeoutMs?: number): Promise<Array<{ record: InvocationRecord; result: InvocationResult }>>;
  close(): Promise<void>;
}

/** Local MNS + the local FC runtime on the fixture s.yaml, with fast EventBridge retry intervals. */
export async function startTestCloud(overrides: Partial<StartLocalFcOptions> = {}): Promise<TestCloud> {
  const { keyring, root } = Keyring.generate();
  const mns = await startLocalMns({ keyring, accountId, regionId });
  const queues = new MnsQueues({ endpoint: mns.endpoint, accountId, credentials: root });
  await queues.ensureQueues(fixtureQueues.map((name) => ({ name })));
  // The fixture's mns_topic trigger subscribes to this topic at start, as fc3 needs it to exist.
  await queues.ensureTopics([{ name: 'alarms' }]);
  const records: InvocationRecord[] = [];
  const functionLogs: string[] = [];
  const seen: Array<{ record: InvocationRecord; result: InvocationResult }> = [];
  const fc = await startLocalFc({
    sYamlPath: fixtureYaml,
    vars: { accountId },
    keyring,
    accountId,
    regionId,
    mns: { endpoint: mns.endpoint, credentials: root },
    queues: fixtureQueues,
    timeScale: 0.001,
    logSink: (line) => {
      const parsed = JSON.parse(line) as InvocationRecord;
      records.push(parsed);
    },
    functionLogSink: (line) => functionLogs.push(line),
    ...overrides,
  });
  fc.events.on('invocation', (record: InvocationRecord, result: InvocationResult) => seen.push({ record, result }));
  return {
    root,
    keyring,
    mns,
    queues,
    fc,
    records,
    functionLogs,
    async waitForInvocations(pred, count, timeoutMs = 8000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = seen.filter((s) => pred(s.record));
        if (matching.length >= count) return matching;
        if (Date.now() > deadline) {
          throw new Error(`waited ${timeoutMs} ms for ${count} invocations, saw ${matching.length}: ${JSON.stringify(seen.map((s) => s.record))}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      await fc.close();
      await mns.close();
    },
  };
}

/** The events the recorder fixture logged (`EVENT {...}` lines), in order. */
export function recordedEvents(cloud: TestCloud): Array<{ isBuffer: boolean; event: string; requestId: string; credentials: Record<string, string> }> {
  return cloud.functionLogs
    .map((line) => /\[INFO\] EVENT (.*)$/.exec(line)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((json) => JSON.parse(json));
}

/** Resolves once `pred` holds (checked every 20 ms); fails the test with `what` after `timeoutMs`. */
export async function waitUntil(pred: () => boolean, timeoutMs = 5000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
