import groupsYaml from '../config/groups.yaml' with { type: 'text' };
import guestScript from '../guest/configure-eni.sh';
import { registerCommand, runCli } from './app';
import { localUp } from './local-up';

registerCommand('local', localUp);

/**
 * The bundled CLI (`npm run build` -> dist/cli.js; bin/eni-failover.js requires it). Commands are the
 * table in cli/app.ts; more register with `registerCommand` before `runCli` (e.g. `local up`).
 */
void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }, { groupsYaml, guestScript }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`eni-failover: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
