/**
 * Throughput of the local FC runtime: messages/s from an MNS queue (local MNS, real @alicloud/mns client)
 * through an EventBridge trigger to a no-op function in worker threads, until every message is deleted.
 * Event-driven (one invocation per message) and event-streaming (batches of up to 16).
 * Run: `npx tsx bench/fc.ts` (optionally `--messages N`).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MnsQueues } from '../cloud/mns';
import { Keyring } from '../local/credentials';
import { startLocalFc, type InvocationRecord } from '../local/fc';
import { startLocalMns } from '../local/mns';

export interface Row {
  readonly mode: 'event-driven' | 'event-streaming';
  readonly messages: number;
  readonly invocations: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  readonly p50InvocationMs: number;
}

const accountId = '1000000000000001';

function sYaml(): string {
  const trigger = (name: string, queue: string, mode: string) => `
        - triggerName: ${name}
          triggerType: eventbridge
          triggerConfig:
            eventSourceConfig:
              eventSourceType: MNS
              eventSourceParameters:
                sourceMNSParameters:
                  QueueName: ${queue}
            eventSinkConfig:
              deliveryOption:
                mode: ${mode}
                eventSchema: CloudEvents
            runOptions:
              errorsTolerance: ALL
              batchWindow:
                CountBasedWindow: 16
                TimeBasedWindow: 1`;
  return `edition: 3.0.0
name: bench
resources:
  noop:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: noop
      runtime: nodejs20
      code: ./noop
      handler: index.handler
      memorySize: 128
      timeout: 10
      triggers:${trigger('driven', 'bench-driven', 'event-driven')}${trigger('streaming', 'bench-streaming', 'event-streaming')}
`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs both modes once with `messages` messages each; resolves with one row per mode. */
export async function benchLocalFc(messages = 300): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-fc-'));
  mkdirSync(join(dir, 'noop'));
  writeFileSync(join(dir, 'noop', 'index.js'), "'use strict';\nexports.handler = async () => undefined;\n");
  writeFileSync(join(dir, 's.yaml'), sYaml());
  const { keyring, root } = Keyring.generate();
  const mns = await startLocalMns({ keyring, accountId });
  const queues = new MnsQueues({ endpoint: mns.endpoint, accountId, credentials: root });
  const names = ['bench-driven', 'bench-streaming'];
  await queues.ensureQueues(names.map((name) => ({ name })));
  const records: InvocationRecord[] = [];
  const fc = await startLocalFc({
    sYamlPath: join(dir, 's.yaml'),
    keyring,
    accountId,
    regionId: 'cn-hangzhou',
    mns: { endpoint: mns.endpoint, credentials: root },
    queues: names,
    // Batch windows of 1 s become 10 ms: the bench measures the runtime, not the configured wait.
    timeScale: 0.01,
    logSink: (line) => records.push(JSON.parse(line) as InvocationRecord),
    functionLogSink: () => undefined,
  });
  const rows: Row[] = [];
  try {
    for (const [mode, queue, trigger] of [
      ['event-driven', 'bench-driven', 'driven'],
      ['event-streaming', 'bench-streaming', 'streaming'],
    ] as const) {
      const bodies = Array.from({ length: messages }, (_, i) => JSON.stringify({ i, mode }));
      const started = performance.now();
      await queues.sendBatch(queue, bodies);
      for (;;) {
        const done = records.filter((r) => r.trigger === trigger && r.outcome === 'succeeded').reduce((n, r) => n + (r.messageIds?.length ?? 0), 0);
        if (done >= messages && mns.queues.counts(queue)?.total === 0) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const seconds = (performance.now() - started) / 1000;
      const mine = records.filter((r) => r.trigger === trigger && r.outcome !== undefined);
      rows.push({
        mode,
        messages,
        invocations: mine.length,
        seconds: Math.round(seconds * 1000) / 1000,
        messagesPerSecond: Math.round(messages / seconds),
        p50InvocationMs: median(mine.map((r) => r.durationMs)),
      });
    }
  } finally {
    await fc.close();
    await mns.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The rows as a markdown table. */
export function toMarkdown(rows: readonly Row[]): string {
  const lines = [
    '| mode | messages | invocations | seconds | messages/s | p50 invocation ms |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.mode} | ${r.messages} | ${r.invocations} | ${r.seconds} | ${r.messagesPerSecond} | ${r.p50InvocationMs} |`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const at = process.argv.indexOf('--messages');
  const messages = at > 0 ? Number(process.argv[at + 1]) : 300;
  benchLocalFc(messages).then(
    (rows) => console.log(toMarkdown(rows)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
