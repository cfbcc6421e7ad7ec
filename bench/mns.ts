/**
 * Round trips through the MNS port (cloud/mns.ts over the real @alicloud/mns client) against the local
 * MNS on loopback: what one workflow hop costs in queue calls, without the network of a region.
 * Run: `npx tsx bench/mns.ts` (optionally `--iterations N`). In memory, and again with a data directory
 * (every change written as an atomic snapshot).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MnsQueues } from '../cloud/mns';
import { Keyring } from '../local/credentials';
import { startLocalMns } from '../local/mns';

export interface Row {
  readonly operation: string;
  readonly storage: 'memory' | 'dataDir';
  readonly iterations: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly maxMs: number;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function benchOne(storage: Row['storage'], iterations: number): Promise<Row[]> {
  const { keyring, root } = Keyring.generate();
  const dataDir = storage === 'dataDir' ? mkdtempSync(join(tmpdir(), 'bench-mns-')) : undefined;
  const mns = await startLocalMns({ keyring, accountId: '1234567890', ...(dataDir === undefined ? {} : { dataDir }) });
  try {
    const port = new MnsQueues({ endpoint: mns.endpoint, accountId: '1234567890', credentials: root });
    await port.createQueue('bench');
    const body = JSON.stringify({ operationId: 'op-0001', eniId: 'eni-bench', instanceId: 'i-bench', attempt: 1, note: 'x'.repeat(400) });
    const samples = { send: [] as number[], receive: [] as number[], delete: [] as number[], roundTrip: [] as number[], batch: [] as number[] };
    const warmup = Math.min(20, iterations);
    for (let i = 0; i < warmup + iterations; i += 1) {
      let handle = '';
      const tSend = await timed(() => port.send('bench', body));
      const tReceive = await timed(async () => {
        const [m] = await port.receive('bench');
        if (m === undefined) throw new Error('bench: the message just sent was not received');
        handle = m.receiptHandle;
      });
      const tDelete = await timed(() => port.delete('bench', handle));
      if (i >= warmup) {
        samples.send.push(tSend);
        samples.receive.push(tReceive);
        samples.delete.push(tDelete);
        samples.roundTrip.push(tSend + tReceive + tDelete);
      }
    }
    const batchRuns = Math.max(5, Math.floor(iterations / 10));
    for (let i = 0; i < batchRuns; i += 1) {
      samples.batch.push(
        await timed(async () => {
          await port.sendBatch('bench', Array.from({ length: 16 }, () => body));
          const got = await port.receive('bench', { max: 16 });
          for (const m of got) await port.delete('bench', m.receiptHandle);
        }),
      );
    }
    const row = (operation: string, values: number[]): Row => ({
      operation,
      storage,
      iterations: values.length,
      medianMs: percentile(values, 50),
      p90Ms: percentile(values, 90),
      maxMs: Math.max(...values),
    });
    return [
      row('send + receive + delete (round trip)', samples.roundTrip),
      row('send', samples.send),
      row('receive (message waiting)', samples.receive),
      row('delete', samples.delete),
      row('sendBatch 16 + receive 16 + 16 deletes', samples.batch),
    ];
  } finally {
    await mns.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Medians of MNS port operations against the local MNS, in memory and with a data directory. */
export async function benchLocalMns(iterations = 200): Promise<Row[]> {
  return [...(await benchOne('memory', iterations)), ...(await benchOne('dataDir', iterations))];
}

/** The rows as a markdown table. */
export function toMarkdown(rows: readonly Row[]): string {
  return [
    '| operation | storage | runs | median ms | p90 ms | max ms |',
    '|---|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) => `| ${r.operation} | ${r.storage} | ${r.iterations} | ${r.medianMs.toFixed(2)} | ${r.p90Ms.toFixed(2)} | ${r.maxMs.toFixed(2)} |`,
    ),
  ].join('\n');
}

if (require.main === module) {
  const flag = process.argv.indexOf('--iterations');
  const iterations = flag >= 0 ? Number(process.argv[flag + 1]) : 200;
  benchLocalMns(iterations)
    .then((rows) => console.log(toMarkdown(rows)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
