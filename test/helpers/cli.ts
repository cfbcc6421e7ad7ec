import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliDefaults, type CliIo } from '../../cli/app';

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
