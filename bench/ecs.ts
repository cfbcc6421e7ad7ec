/**
 * Benchmark of the local ECS through the real @alicloud/ecs20140526 client (not a test):
 * median round trip of DescribeNetworkInterfaces (V3 and V2 signatures) and requests per second with 32
 * concurrent callers for about 3 s. Run: `npx tsx bench/ecs.ts`.
 */
import path from 'node:path';
import Ecs, * as $Ecs from '@alicloud/ecs20140526';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { Keyring } from '../local/credentials';
import { loadScenario, startLocalEcs } from '../local/ecs';

export interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** Runs the benchmark against a fresh in-process local ECS and returns the rows. */
export async function benchLocalEcs(options: { durationMs?: number; concurrency?: number; samples?: number } = {}): Promise<Row[]> {
  const durationMs = options.durationMs ?? 3000;
  const concurrency = options.concurrency ?? 32;
  const samples = options.samples ?? 400;
  const { keyring, root } = Keyring.generate();
  // The default scenario without its rate limits: the bench measures the server, not the throttle.
  const scenario = { ...loadScenario(path.join(__dirname, '..', 'local', 'scenarios', 'two-node-failover.yaml')), rateLimits: {} };
  const ecs = await startLocalEcs({ scenario, keyring, timeScale: 0.001 });
  const client = (v2: boolean) =>
    new Ecs(
      new $OpenApiUtil.Config({
        accessKeyId: root.accessKeyId,
        accessKeySecret: root.accessKeySecret,
        endpoint: ecs.endpoint,
        protocol: 'HTTP',
        regionId: ecs.regionId,
        ...(v2 ? { signatureAlgorithm: 'v2' } : {}),
      }),
    );
  const request = () => new $Ecs.DescribeNetworkInterfacesRequest({ regionId: ecs.regionId, networkInterfaceId: ['eni-service'] });
  const call = async (c: Ecs) => {
    const r = await c.describeNetworkInterfaces(request());
    if (r.body?.networkInterfaceSets?.networkInterfaceSet?.[0]?.networkInterfaceId !== 'eni-service') throw new Error('unexpected answer');
  };

  try {
    const rows: Row[] = [];
    for (const [label, c] of [
      ['V3 (ACS3-HMAC-SHA256)', client(false)],
      ['V2 (HMAC-SHA1)', client(true)],
    ] as const) {
      for (let i = 0; i < 50; i++) await call(c); // warm-up
      const times: number[] = [];
      for (let i = 0; i < samples; i++) {
        const t0 = process.hrtime.bigint();
        await call(c);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      times.sort((a, b) => a - b);
      rows.push({ name: `DescribeNetworkInterfaces median round trip, ${label}`, value: percentile(times, 0.5), unit: 'ms', note: `${samples} sequential calls` });
      rows.push({ name: `DescribeNetworkInterfaces p95 round trip, ${label}`, value: percentile(times, 0.95), unit: 'ms' });
    }

    const shared = client(false);
    let done = 0;
    let failed = 0;
    const deadline = Date.now() + durationMs;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < deadline) {
          try {
            await call(shared);
            done++;
          } catch {
            failed++;
          }
        }
      }),
    );
    const elapsed = (Date.now() - started) / 1000;
    rows.push({
      name: `DescribeNetworkInterfaces throughput, ${concurrency} concurrent callers`,
      value: done / elapsed,
      unit: 'req/s',
      note: `${done} ok, ${failed} failed in ${elapsed.toFixed(1)} s`,
    });
    return rows;
  } finally {
    await ecs.close();
  }
}

export function toMarkdown(rows: readonly Row[]): string {
  const lines = ['| metric | value | unit | note |', '|---|---:|---|---|'];
  for (const r of rows) lines.push(`| ${r.name} | ${r.value.toFixed(r.unit === 'ms' ? 2 : 0)} | ${r.unit} | ${r.note ?? ''} |`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && /bench[\\/]ecs\.ts$/.test(process.argv[1])) {
  benchLocalEcs()
    .then((rows) => console.log(toMarkdown(rows)))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
