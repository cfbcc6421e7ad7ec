import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliDefaults, type CliIo } from '../../cli/app';
import type { LocalCloud } from '../../local/cloud';

/** The repository root, and what the CLI bundle embeds (cli/main.ts): the shipped groups and guest script. */
export const repo = join(__dirname, '../..');
export const cliDefaults: CliDefaults = {
  groupsYaml: readFileSync(join(repo, 'config/groups.yaml'), 'utf8'),
  guestScript: readFileSync(join(repo, 'guest/configure-eni.sh'), 'utf8'),
};

export interface CliRunOptions {
  /** Whether stdout claims to be a terminal (colour); default false. */
  readonly tty?: boolean;
  /** The environment the CLI sees; default empty. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs one command line in process, as an operator would type it in `cwd`; answers the exit code and both streams. */
export async function runCliCaptured(args: readonly string[], cwd: string, opts: CliRunOptions = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (t: string) => (stdout += t), isTTY: opts.tty ?? false }, stderr: { write: (t: string) => (stderr += t) }, env: opts.env ?? {}, cwd };
  const code = await runCli(args, io, cliDefaults);
  return { code, stdout, stderr };
}

/** A local cloud for CLI tests, with the `--local-file` that points the CLI at it in a fresh temp dir. */
export interface CliCloud {
  readonly cloud: LocalCloud;
  readonly dir: string;
  /** `['--local-file', <dir>/cloud.json]`, to append to a command line. */
  readonly local: string[];
}

/** Starts the cloud `start` makes and writes its connection file, as `eni-failover local up` would. */
export async function cliCloud(start: () => Promise<LocalCloud>, dirPrefix: string): Promise<CliCloud> {
  const cloud = await start();
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  writeFileSync(join(dir, 'cloud.json'), JSON.stringify(cloud.info));
  return { cloud, dir, local: ['--local-file', join(dir, 'cloud.json')] };
}

/** Stops what {@link cliCloud} started and removes its directory. */
export async function dropCliCloud(c: Pick<CliCloud, 'cloud' | 'dir'>): Promise<void> {
  await c.cloud.close();
  rmSync(c.dir, { recursive: true, force: true });
}
