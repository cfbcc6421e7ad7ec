/**
 * Cold-start cost of the ECS port vs. the generated ECS client, as Function Compute would pay it: each
 * entry is bundled the way functions are (esbuild, minify, node20, cjs), then `require`d in fresh
 * `node -e` processes and timed. Run: `npx tsx bench/cold-start.ts`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

export interface Row {
  readonly entry: string;
  readonly bundleBytes: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly runs: number;
}

const projectRoot = resolve(__dirname, '..');

const Entries: ReadonlyArray<{ name: string; contents: string }> = [
  {
    name: 'createEcsPort (cloud/ecs.ts, openapi-core callApi)',
    contents: `export { createEcsPort } from ${JSON.stringify(join(projectRoot, 'cloud/ecs'))};`,
  },
  {
    name: 'full client (@alicloud/ecs20140526)',
    contents: `export { default as Ecs } from '@alicloud/ecs20140526';`,
  },
];

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Time of `require(file)` in a fresh node process, in ms (module loading only, not node's own boot). */
function timeRequire(file: string): number {
  const script =
    'const t=process.hrtime.bigint();require(process.argv[1]);' +
    'process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))';
  const out = execFileSync(process.execPath, ['-e', script, file], {
    encoding: 'utf8',
    // A bundle may log at load (on-alarm says its token is unset): timing only, not the bench's output.
    stdio: ['ignore', 'pipe', 'ignore'],
    // No metadata-service probing or other surprises from the environment while loading.
    env: { PATH: process.env['PATH'] ?? '', ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' },
  });
  return Number(out);
}

/** Bundles each entry and measures size and median require time over `runs` fresh processes. */
export async function benchColdStart(runs = 7): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cold-start-'));
  try {
    const rows: Row[] = [];
    for (const [i, entry] of Entries.entries()) {
      const outfile = join(dir, `entry-${i}.js`);
      await build({
        stdin: { contents: entry.contents, resolveDir: projectRoot, loader: 'ts', sourcefile: `entry-${i}.ts` },
        bundle: true,
        minify: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        outfile,
        logLevel: 'silent',
      });
      timeRequire(outfile); // warm the OS file cache once; not counted
      const times = Array.from({ length: runs }, () => timeRequire(outfile));
      rows.push({
        entry: entry.name,
        bundleBytes: statSync(outfile).size,
        medianMs: median(times),
        minMs: Math.min(...times),
        maxMs: Math.max(...times),
        runs,
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One function of `npm run build`: its bundle and code cache, and its load timed both ways. */
export interface BundleRow {
  readonly entry: string;
  readonly bundleBytes: number;
  readonly cacheBytes: number;
  /** `require` of index.js, the loader FC runs: the bundle compiled from its code cache. */
  readonly medianMs: number;
  /** `require` of bundle.js itself: compiled from source, as before the code cache. */
  readonly uncachedMedianMs: number;
  readonly runs: number;
}

/**
 * Every function bundle of `npm run build` (dist/functions/<fn>/), as FC loads it on a cold start:
 * index.js (the loader, with bundle.js's code cache) and bundle.js alone (no cache), each `require`d in
 * `runs` fresh node processes, after one untimed load that warms the file cache.
 */
export function benchFunctionBundles(runs = 7): BundleRow[] {
  const dir = join(projectRoot, 'dist', 'functions');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const loader = join(dir, d.name, 'index.js');
      const bundle = join(dir, d.name, 'bundle.js');
      const timed = (file: string) => {
        timeRequire(file);
        return median(Array.from({ length: runs }, () => timeRequire(file)));
      };
      return { entry: d.name, bundleBytes: statSync(bundle).size, cacheBytes: statSync(`${bundle}.cache`).size, medianMs: timed(loader), uncachedMedianMs: timed(bundle), runs };
    });
}

/** The function bundles as a markdown table. */
export function bundlesToMarkdown(rows: readonly BundleRow[]): string {
  return [
    '| function | bundle.js KB | code cache KB | median require ms (code cache) | median require ms (no cache) | runs |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.entry} | ${(r.bundleBytes / 1024).toFixed(0)} | ${(r.cacheBytes / 1024).toFixed(0)} | ${r.medianMs.toFixed(0)} | ${r.uncachedMedianMs.toFixed(0)} | ${r.runs} |`),
  ].join('\n');
}

/** The rows as a markdown table. */
export function toMarkdown(rows: readonly Row[]): string {
  const lines = [
    '| entry | bundle KB | median require ms | min | max | runs |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.entry} | ${(r.bundleBytes / 1024).toFixed(0)} | ${r.medianMs.toFixed(0)} | ${r.minMs.toFixed(0)} | ${r.maxMs.toFixed(0)} | ${r.runs} |`,
    ),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  benchColdStart()
    .then((rows) => console.log(toMarkdown(rows)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
