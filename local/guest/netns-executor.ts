/**
 * Runs Cloud Assistant commands inside the network namespace that stands for an instance, so the local
 * ECS executes the real guest script against real links, addresses, routes and rules.
 */
import { spawn } from 'node:child_process';

/** What the local Cloud Assistant needs from a guest. */
export interface GuestExecutor {
  run(args: { instanceId: string; commandType: string; script: string; timeoutSeconds: number }): Promise<{ exitCode: number; output: string }>;
}

/** Exit code reported when the command ran past its timeout and was killed (the convention of timeout(1)). */
export const TIMEOUT_EXIT_CODE = 124;

/** Output kept per run; Cloud Assistant itself keeps 24 KB and reports the rest as dropped. */
const MAX_OUTPUT_BYTES = 1024 * 1024;

/**
 * Executes `RunShellScript` commands with `ip netns exec <ns> sh -s`: the script goes in on stdin (never on
 * the command line, where other users could read it and its length is limited), stdout and stderr are
 * interleaved into one output in arrival order as Cloud Assistant shows them.
 *
 * Guarantees: resolves with the shell's exit code (128 + signal number when a signal ended it); past
 * `timeoutSeconds` the whole process group (the shell and everything it started) gets SIGKILL and the
 * result is exit code {@link TIMEOUT_EXIT_CODE} with the output so far. Rejects only when the command
 * cannot be run at all: an unknown instance or a command type other than RunShellScript.
 */
export class NetnsExecutor implements GuestExecutor {
  /**
   * `namespaceOf` maps an instance id to its namespace (e.g. `(id) => topology.namespaceOf(id)`); `shell` is
   * the guest's /bin/sh (dash on Debian/Ubuntu, bash on CentOS and Alibaba Cloud Linux), `sh` by default.
   * `rootOf` gives an instance's sandbox root (NetnsTopology.guestRoot): a namespace shares the host's
   * filesystem, so the scripts get it as ENI_ROOT in their environment and keep their files under it; a
   * real instance's Cloud Assistant sets no ENI_ROOT (the scripts default to /).
   */
  constructor(
    private readonly namespaceOf: (instanceId: string) => string | undefined,
    private readonly options: { readonly shell?: string; readonly rootOf?: (instanceId: string) => string | undefined } = {},
  ) {}

  run(args: { instanceId: string; commandType: string; script: string; timeoutSeconds: number }): Promise<{ exitCode: number; output: string }> {
    const ns = this.namespaceOf(args.instanceId);
    if (ns === undefined) return Promise.reject(new Error(`no namespace for instance ${args.instanceId}`));
    if (args.commandType !== 'RunShellScript') {
      return Promise.reject(new Error(`command type ${args.commandType} is not supported by a Linux guest; use RunShellScript`));
    }
    return new Promise((resolve, reject) => {
      // detached: the shell leads its own process group, so a timeout kills its children too.
      const root = this.options.rootOf?.(args.instanceId);
      const env = root === undefined ? process.env : { ...process.env, ENI_ROOT: root };
      const child = spawn('ip', ['netns', 'exec', ns, this.options.shell ?? 'sh', '-s'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
      const chunks: Buffer[] = [];
      let size = 0;
      const keep = (d: Buffer): void => {
        if (size >= MAX_OUTPUT_BYTES) return;
        chunks.push(d);
        size += d.length;
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-(child.pid ?? 0), 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, Math.max(0, args.timeoutSeconds) * 1000);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const output = Buffer.concat(chunks).toString('utf8');
        if (timedOut) resolve({ exitCode: TIMEOUT_EXIT_CODE, output });
        else resolve({ exitCode: code ?? 128 + signalNumber(signal), output });
      });
      child.stdin.on('error', () => undefined); // the shell may exit before reading everything
      child.stdin.end(args.script);
    });
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };
  return (signal && table[signal]) ?? 0;
}
