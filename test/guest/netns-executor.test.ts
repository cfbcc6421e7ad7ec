// The namespace guest executor the local Cloud Assistant runs commands with.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NetnsExecutor, TIMEOUT_EXIT_CODE } from '../../local/guest/netns-executor';
import { NetnsTopology, assertCanBuildNamespaces } from '../../local/guest/netns-topology';

/** Gone, or a zombie waiting for init to reap it (state Z): either way it runs no more. */
async function deadWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    let state: string | undefined;
    try {
      state = /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    } catch {
      return true;
    }
    if (state === 'Z' || state === 'X') return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('NetnsExecutor', () => {
  let topo: NetnsTopology | undefined;
  let executor: NetnsExecutor;

  beforeAll(async () => {
    assertCanBuildNamespaces();
    topo = await NetnsTopology.create();
    const ns = topo.vswitch;
    executor = new NetnsExecutor((id) => (id === 'i-guest' ? ns : undefined));
  });
  afterAll(async () => {
    await topo?.destroy();
  });

  const run = (script: string, timeoutSeconds = 10, instanceId = 'i-guest', commandType = 'RunShellScript') =>
    executor.run({ instanceId, commandType, script, timeoutSeconds });

  it('runs the script inside the instance namespace, fed on stdin rather than the command line', async () => {
    // Prepare
    const expectedNs = execFileSync('ip', ['netns', 'exec', topo?.vswitch ?? '', 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }).trim();
    const hostNs = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).trim();

    // Act
    const r = await run('readlink /proc/self/ns/net\ntr "\\0" " " < /proc/$$/cmdline; echo\n');

    // Assess
    expect(r.exitCode).toBe(0);
    const [ns, cmdline] = r.output.trim().split('\n');
    expect(ns).toBe(expectedNs);
    expect(ns).not.toBe(hostNs);
    expect(cmdline?.trim()).toBe('sh -s');
  });

  it('returns the exit code and stdout and stderr interleaved in order', async () => {
    // Act
    const r = await run('echo one; echo two >&2; sleep 0.05; echo three; exit 7');

    // Assess
    expect(r).toEqual({ exitCode: 7, output: 'one\ntwo\nthree\n' });
  });

  it('kills the whole process group past the timeout and reports exit code 124 with the output so far', async () => {
    // Prepare: a background child that would outlive a naive kill of the shell alone.
    const t0 = performance.now();

    // Act
    const r = await run('sleep 30 & echo "child $!"; echo started; wait', 0.4);

    // Assess
    const elapsed = performance.now() - t0;
    expect(r.exitCode).toBe(TIMEOUT_EXIT_CODE);
    expect(r.output).toContain('started');
    expect(elapsed).toBeLessThan(3000);
    const pid = Number(/child (\d+)/.exec(r.output)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(await deadWithin(pid, 1000)).toBe(true);
  });

  it('refuses an instance it has no namespace for, and command types a Linux guest cannot run', async () => {
    await expect(run('true', 5, 'i-unknown')).rejects.toThrow('no namespace for instance i-unknown');
    await expect(run('dir', 5, 'i-guest', 'RunBatScript')).rejects.toThrow(/RunBatScript is not supported/);
  });
});
