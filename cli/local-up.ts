import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { startLocalCloud, type LocalCloudInfo } from '../local/cloud';
import { loadScenario, type Scenario } from '../local/ecs';
import type { CliCommand, CliContext } from './app';
import { DefaultLocalFile } from './connection';
import { ExitCode, UsageError } from './usage';

/**
 * `eni-failover local up | down | status`: the whole local cloud (ECS, MNS, Tablestore, FC running s.yaml)
 * in one process, and the file that lets every other command find it with `--local`.
 *
 * The file (.local-cloud/cloud.json, or --local-file / ENI_FAILOVER_LOCAL_FILE) holds the endpoints, the
 * generated keys and the alarm URL (mode 0600), plus the owner's pid. Guarantees: `up` never overwrites the
 * file of a local cloud that is still running (it says how to stop it or where else to start one); it
 * prints no secret (keys and the alarm token stay in the file); the file is removed when the cloud stops.
 */

/** What `local up` writes: the cloud's info plus who owns it. */
interface OwnedInfo extends LocalCloudInfo {
  readonly pid: number;
  readonly startedAt: string;
}

const Usage = `eni-failover local up [--scenario FILE] [--time-scale X] [--data DIR] [--local-file PATH] [--json]
       eni-failover local status [--local-file PATH] [--json]
       eni-failover local down [--local-file PATH]

  up       run the local Alibaba cloud (ECS, MNS, Tablestore, Function Compute running s.yaml) in this
           process until Ctrl-C or \`local down\`; other commands reach it with --local
  status   whether a local cloud runs for this directory, its pid and endpoints (exit 0 running, 4 not)
  down     stop the local cloud that owns the file (SIGTERM to its pid), and wait until it has stopped

  --scenario FILE   the ECS world to start with (local/scenarios/*.yaml; default: two-node failover)
  --time-scale X    run the cloud's transitions faster, 0 < X <= 1 (default 1: real time)
  --data DIR        keep MNS queues and Tablestore rows in DIR across restarts
  --local-file PATH where the connection file goes (default ${DefaultLocalFile}, or $ENI_FAILOVER_LOCAL_FILE)
  --json            one JSON document on stdout (secrets masked; the file has them)
  -h, --help        this help
Exit codes: 0 done, 1 error, 2 bad usage (including: a local cloud already runs on that file), 4 not running.`;

const Subcommands = ['up', 'down', 'status'] as const;
type Subcommand = (typeof Subcommands)[number];

export const localUp: CliCommand = {
  summary: 'run, inspect or stop the local Alibaba cloud (local up | status | down)',
  usage: Usage,
  common: 'help',
  options: {
    scenario: { type: 'string' },
    'time-scale': { type: 'string' },
    data: { type: 'string' },
    'local-file': { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(ctx) {
    const [sub, ...extra] = ctx.positionals;
    if (!Subcommands.includes(sub as Subcommand)) throw new UsageError(`say what to do: local up, local status or local down${sub ? ` (not "${sub}")` : ''}; eni-failover local --help`);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" after local ${sub}`);
    const file = resolve(ctx.io.cwd, (ctx.values['local-file'] as string | undefined) ?? ctx.io.env.ENI_FAILOVER_LOCAL_FILE ?? DefaultLocalFile);
    if (sub !== 'up') {
      for (const name of ['scenario', 'time-scale', 'data'] as const) {
        if (ctx.values[name] !== undefined) throw new UsageError(`--${name} is an option of local up, not of local ${sub}`);
      }
    }
    if (sub === 'status') return status(ctx, file);
    if (sub === 'down') return down(ctx, file);
    return up(ctx, file);
  },
};

/** The owner recorded in the file, and whether that process still exists; undefined when there is no file. */
function owner(file: string): { info: Partial<OwnedInfo>; alive: boolean } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let info: Partial<OwnedInfo> = {};
  try {
    info = JSON.parse(text) as Partial<OwnedInfo>;
  } catch {
    // A torn or foreign file: nobody owns it.
  }
  return { info, alive: typeof info.pid === 'number' && processExists(info.pid) };
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The alarm callback URL as it may be shown: its `token` (the on-alarm secret) replaced by ***. */
export const maskAlarmToken = (url: string): string => url.replace(/token=[^&]*/, 'token=***');

/** The info as it may be shown: the key secret and the alarm token replaced by ***. */
export function masked<T extends Partial<LocalCloudInfo>>(info: T): T {
  return {
    ...info,
    ...(info.accessKeySecret !== undefined ? { accessKeySecret: '***' } : {}),
    ...(info.alarmUrl !== undefined ? { alarmUrl: maskAlarmToken(info.alarmUrl) } : {}),
  };
}

async function up(ctx: CliContext, file: string): Promise<number> {
  const timeScale = ctx.values['time-scale'] === undefined ? 1 : Number(ctx.values['time-scale']);
  if (!(timeScale > 0 && timeScale <= 1)) throw new UsageError(`--time-scale must be a number in (0, 1], got ${String(ctx.values['time-scale'])}`);
  let scenario: Scenario | undefined;
  try {
    // Read and checked first: a bad scenario file is the caller's mistake (exit 2), not a crash.
    if (typeof ctx.values.scenario === 'string') scenario = loadScenario(resolve(ctx.io.cwd, ctx.values.scenario));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const existing = owner(file);
  if (existing?.alive) {
    throw new UsageError(
      `a local cloud is already running on ${file} (pid ${existing.info.pid}, since ${existing.info.startedAt ?? 'unknown'}): ` +
        'use it with --local, stop it with `eni-failover local down`, or start another with --local-file OTHER.json',
    );
  }
  if (existing) {
    ctx.io.stderr.write(`eni-failover local: replacing ${file}: its local cloud (pid ${existing.info.pid ?? 'unknown'}) is gone\n`);
    rmSync(file, { force: true });
  }

  const cloud = await startLocalCloud({
    timeScale,
    // A standing local cloud behaves like the real one: instance state changes reach on-ecs-event.
    ecsEvents: true,
    ...(scenario ? { scenario } : {}),
    ...(typeof ctx.values.data === 'string' ? { dataDir: resolve(ctx.io.cwd, ctx.values.data) } : {}),
  });
  const info: OwnedInfo = { ...cloud.info, pid: process.pid, startedAt: new Date().toISOString() };
  mkdirSync(dirname(file), { recursive: true });
  try {
    // 'wx' fails if the file exists: a `local up` that started since the check above keeps its file.
    writeFileSync(file, JSON.stringify(info, null, 2), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    await cloud.close();
    throw new UsageError(`cannot take ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): another local cloud has just started there; use --local-file OTHER.json`);
  }
  if (ctx.values.json) ctx.json({ ...masked(info), file });
  else ctx.print(banner(info, file, timeScale));
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await cloud.close();
  // Only our own file: a later `local up --local-file` elsewhere is not touched.
  if (owner(file)?.info.pid === process.pid) rmSync(file, { force: true });
  if (!ctx.values.json) ctx.print('local cloud stopped');
  return ExitCode.Succeeded;
}

function banner(info: OwnedInfo, file: string, timeScale: number): string {
  const rows: [string, string][] = [
    ['ECS', info.ecsEndpoint],
    ['MNS', info.mnsEndpoint],
    ['Tablestore', `${info.tablestoreEndpoint} (instance ${info.tablestoreInstance})`],
    ['FC', info.fcEndpoint || '(functions not running)'],
    ['alarm URL', maskAlarmToken(info.alarmUrl) || '(none)'],
    ['access key', `${info.accessKeyId} / *** (the secret and the alarm token are in the file, mode 0600)`],
  ];
  return [
    `local Alibaba cloud up: pid ${info.pid}, region ${info.regionId}, account ${info.accountId}${timeScale === 1 ? '' : `, time x${timeScale}`}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(11)} ${v}`),
    `  file        ${file}`,
    'Use it:  eni-failover status --local    Stop it: Ctrl-C, or eni-failover local down',
  ].join('\n');
}

async function status(ctx: CliContext, file: string): Promise<number> {
  const found = owner(file);
  const running = found?.alive === true;
  if (ctx.values.json) {
    ctx.json({ file, running, ...(found ? { stale: !running, ...masked(found.info) } : {}) });
    return running ? ExitCode.Succeeded : ExitCode.Failed;
  }
  if (found === undefined) ctx.print(`no local cloud: ${file} does not exist (start one with \`eni-failover local up\`)`);
  else if (!running) ctx.print(`no local cloud: ${file} is left from pid ${found.info.pid ?? 'unknown'}, which is gone (\`local up\` will replace it)`);
  else {
    const i = found.info;
    ctx.print(`local cloud running: pid ${i.pid}, since ${i.startedAt}, region ${i.regionId}`);
    ctx.print(`  ECS ${i.ecsEndpoint}  MNS ${i.mnsEndpoint}  Tablestore ${i.tablestoreEndpoint}  FC ${i.fcEndpoint || '(none)'}`);
  }
  return running ? ExitCode.Succeeded : ExitCode.Failed;
}

/** How long `local down` waits for the cloud to close and remove its file. */
const DownWaitMs = 15_000;

async function down(ctx: CliContext, file: string): Promise<number> {
  const found = owner(file);
  if (found === undefined) {
    ctx.print(`no local cloud to stop: ${file} does not exist`);
    return ExitCode.Failed;
  }
  if (!found.alive || typeof found.info.pid !== 'number') {
    rmSync(file, { force: true });
    ctx.print(`no local cloud to stop: pid ${found.info.pid ?? 'unknown'} is gone; removed the stale ${file}`);
    return ExitCode.Failed;
  }
  const pid = found.info.pid;
  process.kill(pid, 'SIGTERM');
  const until = Date.now() + DownWaitMs;
  while (Date.now() < until && processExists(pid) && owner(file)?.info.pid === pid) await new Promise((r) => setTimeout(r, 100));
  if (owner(file)?.info.pid === pid && processExists(pid)) {
    ctx.io.stderr.write(`eni-failover local: pid ${pid} did not stop within ${DownWaitMs / 1000} s; it still owns ${file}\n`);
    return ExitCode.Error;
  }
  ctx.print(`stopped the local cloud (pid ${pid})`);
  return ExitCode.Succeeded;
}
