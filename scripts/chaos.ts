/**
 * `npm run chaos -- --runs N [--seed S] [--kind] [--verbose]`: N randomized whole-system runs on the local cloud
 * (test/chaos/harness.ts), each checked against the invariants of issue 9 (test/chaos/invariants.ts).
 * Run i uses seed S + i (S defaults to the clock), so any run is replayed alone with
 * `npm run chaos -- --runs 1 --seed <its seed> --verbose`. Exit code 1 when any invariant broke.
 */
import { FullProfile, runOnce, type RunResult } from '../test/chaos/harness';
import { InvariantKeys, Invariants } from '../test/chaos/invariants';

function args(argv: string[]) {
  const out = { runs: 10, seed: Date.now() % 1_000_000_000, verbose: false, settleMs: 90_000, minutes: Infinity, realistic: FullProfile.realistic };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) throw new Error(`${a} needs a number`);
      return v;
    };
    if (a === '--runs') out.runs = value();
    else if (a === '--seed') out.seed = value();
    else if (a === '--settle-ms') out.settleMs = value();
    else if (a === '--minutes') out.minutes = value();
    else if (a === '--verbose' || a === '-v') out.verbose = true;
    else if (a === '--kind') out.realistic = 0;
    else throw new Error(`unknown argument ${a} (known: --runs N, --seed S, --settle-ms MS, --minutes M, --kind (the kind ECS, not the realistic one), --verbose)`);
  }
  return out;
}

export const replay = (seed: number) => `npm run chaos -- --runs 1 --seed ${seed} --verbose`;

export function table(results: RunResult[]): string {
  const lines: string[] = [];
  const times = results.map((r) => r.durationMs).sort((a, b) => a - b);
  const median = times.length ? times[Math.floor((times.length - 1) / 2)]! : 0;
  const broken = results.filter((r) => r.violations.length > 0).length;
  lines.push('| runs | runs with a violation | median run time | max run time |', '|---|---|---|---|');
  lines.push(`| ${results.length} | ${broken} | ${(median / 1000).toFixed(1)} s | ${((times[times.length - 1] ?? 0) / 1000).toFixed(1)} s |`, '');
  const mix = new Map<string, { runs: number; total: number }>();
  for (const r of results) for (const [k, n] of Object.entries(r.faults)) {
    const m = mix.get(k) ?? { runs: 0, total: 0 };
    if (n > 0) m.runs++;
    m.total += n;
    mix.set(k, m);
  }
  lines.push('| fault / entry | runs | total |', '|---|---|---|');
  for (const [k, m] of [...mix].sort((a, b) => a[0].localeCompare(b[0]))) lines.push(`| ${k} | ${m.runs} | ${m.total} |`);
  lines.push('');
  lines.push('| invariant | violations | runs | seeds |', '|---|---|---|---|');
  for (const k of InvariantKeys) {
    const hit = results.filter((r) => r.violations.some((v) => v.invariant === k));
    const n = results.reduce((a, r) => a + r.violations.filter((v) => v.invariant === k).length, 0);
    lines.push(`| ${Invariants[k]} | ${n} | ${hit.length} | ${hit.map((r) => r.seed).slice(0, 8).join(' ')}${hit.length > 8 ? ' ...' : ''} |`);
  }
  lines.push('');
  const outcomes = new Map<string, number>();
  for (const r of results) for (const [k, n] of Object.entries(r.outcomes)) outcomes.set(k, (outcomes.get(k) ?? 0) + n);
  const dup = results.reduce((a, r) => a + r.duplicatePublications, 0);
  lines.push(`Outcomes: ${[...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}; repeated publications of one outcome (same operationId, consumers dedupe): ${dup}`);
  return lines.join('\n');
}

async function main() {
  const a = args(process.argv.slice(2));
  const results: RunResult[] = [];
  console.log(`chaos: ${a.runs} runs, seeds ${a.seed}..${a.seed + a.runs - 1}`);
  const stopAt = Date.now() + a.minutes * 60_000;
  for (let i = 0; i < a.runs; i++) {
    const seed = a.seed + i;
    if (Date.now() > stopAt) {
      console.log(`--minutes ${a.minutes} used up: stopping after ${i} runs`);
      a.runs = i;
      break;
    }
    let r: RunResult;
    try {
      r = await runOnce(seed, { verbose: a.verbose, settleMs: a.settleMs, profile: { ...FullProfile, realistic: a.realistic } });
    } catch (err) {
      console.log(`run ${i + 1}/${a.runs} seed ${seed}: the harness failed: ${(err as Error).stack}`);
      continue;
    }
    results.push(r);
    const status = r.violations.length === 0 ? 'ok' : `${r.violations.length} VIOLATION(S)`;
    console.log(`run ${i + 1}/${a.runs} seed ${seed}: ${status} in ${(r.durationMs / 1000).toFixed(1)} s; ${Object.entries(r.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    for (const v of r.violations) console.log(`  [${Invariants[v.invariant]}] ${v.detail}\n    replay: ${replay(seed)}`);
    if (r.violations.length > 0 && !a.verbose) for (const l of r.log) console.log(`    | ${l}`);
  }
  console.log(`\n${table(results)}`);
  process.exitCode = results.some((r) => r.violations.length > 0) || results.length < a.runs ? 1 : 0;
}

void main();
