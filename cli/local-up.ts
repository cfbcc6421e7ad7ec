import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { startLocalCloud } from '../local/cloud';
import { loadScenario, type Scenario } from '../local/ecs';
import type { CliCommand } from './app';
import { UsageError } from './usage';
import { DefaultLocalFile } from './connection';

/**
 * `eni-failover local up`: the whole local cloud (ECS, MNS, FC running s.yaml) in this process, until
 * SIGINT/SIGTERM. Prints one JSON line with the endpoints and keys, and writes it to .local-cloud/cloud.json
 * so every other command works against it with `--local`.
 */
export const localUp: CliCommand = {
  summary: 'run the local Alibaba cloud (ECS, MNS, Function Compute) until interrupted',
  usage: `eni-failover local up [--scenario FILE] [--time-scale X] [--data DIR]`,
  options: { scenario: { type: 'string' }, 'time-scale': { type: 'string' }, data: { type: 'string' } },
  allowPositionals: true,
  async run(ctx) {
    if (ctx.positionals[0] !== 'up') throw new UsageError(`usage: ${this.usage} (the only local command is 'up')`);
    const timeScale = ctx.values['time-scale'] === undefined ? 1 : Number(ctx.values['time-scale']);
    if (!(timeScale > 0 && timeScale <= 1)) throw new UsageError(`--time-scale must be a number in (0, 1], got ${String(ctx.values['time-scale'])}`);
    let scenario: Scenario | undefined;
    try {
      // Read and checked first: a bad scenario file is the caller's mistake (exit 2), not a crash.
      if (typeof ctx.values.scenario === 'string') scenario = loadScenario(resolve(ctx.values.scenario));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const cloud = await startLocalCloud({
      timeScale,
      // A standing local cloud behaves like the real one: instance state changes reach on-ecs-event.
      ecsEvents: true,
      ...(scenario ? { scenario } : {}),
      ...(typeof ctx.values.data === 'string' ? { dataDir: resolve(ctx.values.data) } : {}),
    });
    const file = resolve(DefaultLocalFile);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(cloud.info, null, 2), { mode: 0o600 });
    ctx.io.stdout.write(`${JSON.stringify(cloud.info)}\n`);
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await cloud.close();
    rmSync(file, { force: true });
    return 0;
  },
};
