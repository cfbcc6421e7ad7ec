/**
 * What happens after the last retry when there is no dead-letter queue: errorsTolerance ALL drops the
 * message (loudly), NONE blocks the stream and leaves the message in the queue.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MnsQueues } from '../../cloud/mns';
import { Keyring } from '../../local/credentials';
import { startLocalFc, type LocalFc } from '../../local/fc';
import { startLocalMns, type LocalMns } from '../../local/mns';
import { accountId, fixtureDir } from './helpers';

const fn = (name: string, queue: string, tolerance: string) => `
  ${name}:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: ${name}
      runtime: nodejs20
      code: ${join(fixtureDir, 'failer')}
      handler: index.handler
      timeout: 5
      triggers:
        - triggerName: q
          triggerType: eventbridge
          triggerConfig:
            eventSourceConfig:
              eventSourceType: MNS
              eventSourceParameters:
                sourceMNSParameters:
                  QueueName: ${queue}
            runOptions:
              errorsTolerance: ${tolerance}
              retryStrategy:
                PushRetryStrategy: BACKOFF_RETRY`;

let dir: string;
let mns: LocalMns;
let queues: MnsQueues;
let fc: LocalFc;
const lines: string[] = [];
let stderr: jest.SpyInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'local-fc-tolerance-'));
  writeFileSync(join(dir, 's.yaml'), `edition: 3.0.0\nname: t\nresources:${fn('tolerant', 'q-all', 'ALL')}${fn('strict', 'q-none', 'NONE')}\n`);
  const { keyring, root } = Keyring.generate();
  mns = await startLocalMns({ keyring, accountId });
  queues = new MnsQueues({ endpoint: mns.endpoint, accountId, credentials: root });
  await queues.ensureQueues([{ name: 'q-all' }, { name: 'q-none', attributes: { visibilityTimeout: 60 } }]);
  // The runtime shouts about lost and parked messages on stderr; keep the test output clean.
  stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  fc = await startLocalFc({
    sYamlPath: join(dir, 's.yaml'),
    keyring,
    accountId,
    regionId: 'cn-hangzhou',
    mns: { endpoint: mns.endpoint, credentials: root },
    queues: ['q-all', 'q-none'],
    timeScale: 0.001,
    logSink: (l) => lines.push(l),
    functionLogSink: () => undefined,
  });
});
afterAll(async () => {
  await fc.close();
  await mns.close();
  stderr.mockRestore();
  rmSync(dir, { recursive: true, force: true });
});

describe('errorsTolerance without a dead-letter queue', () => {
  it('ALL: drops the message after the retries, reports it as dropped at ERROR level', async () => {
    const dropped = new Promise<{ messageId: string; reason: string }>((resolve) => fc.events.once('dropped', resolve));
    const { messageId } = await queues.send('q-all', 'lost');
    const report = await dropped;
    expect(report.messageId).toBe(messageId);
    expect(report.reason).toContain('no deadLetterQueue');
    expect(lines.filter((l) => l.includes('"trigger":"q"') && l.includes('"function":"tolerant"') && l.includes('"outcome":"failed"'))).toHaveLength(4);
    expect(lines.some((l) => l.includes('"level":"ERROR"') && l.includes('"kind":"dropped"'))).toBe(true);
    expect(mns.queues.counts('q-all')?.total).toBe(0);
  });

  it('NONE: blocks the stream after the retries and leaves the message in the queue', async () => {
    const blocked = new Promise<{ messageIds: string[] }>((resolve) => fc.events.once('blocked', resolve));
    const { messageId } = await queues.send('q-none', 'parked');
    const report = await blocked;
    expect(report.messageIds).toEqual([messageId]);
    // Still in the queue (invisible until its visibility timeout), and nothing consumes the next one.
    expect(mns.queues.counts('q-none')?.total).toBe(1);
    const next = await queues.send('q-none', 'behind the block');
    await new Promise((r) => setTimeout(r, 300));
    expect(mns.queues.counts('q-none')?.total).toBe(2);
    expect(lines.some((l) => l.includes(next.messageId))).toBe(false);
    expect(lines.filter((l) => l.includes('"function":"strict"') && l.includes('"outcome":"failed"'))).toHaveLength(4);
  });
});
