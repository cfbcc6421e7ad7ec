import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliIo } from '../../cli/app';
import { ExitCode } from '../../cli/usage';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { cliCloud, cliDefaults, dropCliCloud, repo, runCliCaptured as cli } from '../helpers/cli';

/**
 * The operator's side of the CLI: colour only for a terminal (and never with NO_COLOR), --verbose on
 * stderr, --profile credentials, the heartbeat of submit --wait, and `local up | status | down` owning
 * their connection file without printing secrets.
 */
const Sgr = /\u001b\[[0-9;]*m/;


describe('CLI output for people: colour, NO_COLOR, --verbose, --profile', () => {
  let cloud: LocalCloud;
  let dir: string;
  let local: string[];
  beforeAll(async () => void ({ cloud, dir, local } = await cliCloud(() => startLocalCloud({ timeScale: 0.01, functions: false }), 'cli-operator-')));
  afterAll(() => dropCliCloud({ cloud, dir }));

  it('colours a terminal, and the same words stay plain for a pipe, with NO_COLOR, and with --json', async () => {
    const tty = await cli(['status', ...local], dir, { tty: true });
    expect(tty.code).toBe(ExitCode.Succeeded);
    expect(tty.stdout).toMatch(/\u001b\[32mhealthy\u001b\[39m: /);
    const piped = await cli(['status', ...local], dir, { tty: false });
    const noColor = await cli(['status', ...local], dir, { tty: true, env: { NO_COLOR: '1' } });
    const json = await cli(['status', '--json', ...local], dir, { tty: true });
    for (const r of [piped, noColor, json]) expect(r.stdout).not.toMatch(Sgr);
    expect(piped.stdout).toBe(tty.stdout.replace(new RegExp(Sgr.source, 'g'), ''));
    expect(noColor.stdout).toBe(piped.stdout);
    // no-color.org: an empty NO_COLOR does not turn colour off.
    expect((await cli(['status', ...local], dir, { tty: true, env: { NO_COLOR: '' } })).stdout).toMatch(Sgr);
  });

  it('--verbose prints every ECS API attempt on stderr and leaves stdout as it was', async () => {
    const quiet = await cli(['status', '--json', ...local], dir);
    const loud = await cli(['status', '--json', '--verbose', ...local], dir);
    expect(loud.code).toBe(ExitCode.Succeeded);
    expect(JSON.parse(loud.stdout)).toEqual(JSON.parse(quiet.stdout));
    expect(quiet.stderr).toBe('');
    const lines = loud.stderr.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(line).toMatch(/^ {2}ecs (DescribeNetworkInterfaces|DescribeInstances|DescribeCloudAssistantStatus|DescribeInstanceTypes)( \(attempt \d+\))? ok \d+ ms$/);
  });

  it('--verbose shows a refused attempt with its error code', async () => {
    cloud.ecs.control.injectFault({ action: 'DescribeInstances', count: 1, code: 'Throttling.User', status: 400 });
    const r = await cli(['status', '-v', ...local], dir);
    expect(r.stderr).toMatch(/^ {2}ecs DescribeInstances Throttling\.User \d+ ms$/m);
    expect(r.stderr).toMatch(/^ {2}ecs DescribeInstances \(attempt 2\) ok \d+ ms$/m);
  });

  describe('--profile NAME uses that aliyun CLI profile, and only it', () => {
    // A child process: the credentials SDK finds ~/.aliyun/config.json through os.homedir(), i.e. the real
    // HOME of the process (jest's process.env is a copy the native call does not see).
    let home: string;
    // Asynchronous: the local cloud answering it runs in this process.
    const profileCli = (...args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        const child = spawn(process.execPath, [join(repo, 'dist', 'cli.js'), 'status', '--region', cloud.regionId, '--endpoint', `http://${cloud.info.ecsEndpoint.replace(/^https?:\/\//, '')}`, ...args], {
          cwd: dir,
          env: { PATH: process.env.PATH, HOME: home },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => done({ code, stdout, stderr: stderr.replace(/.*DEP0005.*\n|.*trace-deprecation.*\n/g, '') }));
      });
    const writeConfig = (text: string) => writeFileSync(join(home, '.aliyun', 'config.json'), text);
    beforeAll(() => {
      home = mkdtempSync(join(tmpdir(), 'cli-home-'));
      mkdirSync(join(home, '.aliyun'));
    });
    beforeEach(() =>
      // The aliyun CLI's own file format (providers/cli_profile.js of @alicloud/credentials reads it).
      writeConfig(
        JSON.stringify({
          current: 'default',
          profiles: [
            { name: 'default', mode: 'AK', access_key_id: 'LTAIwrongwrongwrong', access_key_secret: 'not-the-secret' },
            { name: 'ops', mode: 'AK', access_key_id: cloud.info.accessKeyId, access_key_secret: cloud.info.accessKeySecret, region_id: cloud.regionId },
          ],
        }),
      ),
    );
    afterAll(() => rmSync(home, { recursive: true, force: true }));

    it('signs with the named profile: ECS accepts it', async () => {
      const r = await profileCli('--json', '--profile', 'ops');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(ExitCode.Succeeded);
      expect(JSON.parse(r.stdout).groups[0]).toMatchObject({ group: 'web', verdict: [{ verdict: 'healthy' }] });
    });

    it('without --profile the current one is used (its keys are wrong here: ECS refuses them, exit 1)', async () => {
      const r = await profileCli();
      expect(r.code).toBe(ExitCode.Error);
      expect(r.stderr).toMatch(/InvalidAccessKeyId/);
      expect(r.stderr).not.toContain('not-the-secret');
    });

    it('an unknown profile says how to list and create profiles (exit 1)', async () => {
      const r = await profileCli('--profile', 'nope');
      expect(r.code).toBe(ExitCode.Error);
      expect(r.stderr).toMatch(/aliyun CLI profile "nope" gave no credentials \(unable to get profile with 'nope'\): list profiles with `aliyun configure list`/);
    });

    it('a broken config file is reported without quoting it (it holds keys)', async () => {
      writeConfig(`{"profiles":[{"name":"ops","mode":"AK","access_key_secret":"SECRETX"`);
      const r = await profileCli('--profile', 'ops');
      expect(r.code).toBe(ExitCode.Error);
      expect(r.stderr).toMatch(/parse aliyun cli config from '.*config\.json' failed\)/);
      expect(r.stderr).not.toContain('SECRETX');
    });

    it.each([
      [['--profile', 'ops', '--local'], /--profile and --local exclude each other/],
      [['--profile', 'a b'], /--profile must be an aliyun CLI profile name, not "a b"/],
    ])('%j is bad usage (exit 2)', async (args, message) => {
      const r = await cli(['status', ...args], dir);
      expect(r.code).toBe(ExitCode.Usage);
      expect(r.stderr).toMatch(message);
    });
  });
});

describe('submit --wait says where the operation is while it waits', () => {
  let cloud: LocalCloud;
  let dir: string;
  beforeAll(async () => void ({ cloud, dir } = await cliCloud(() => startLocalCloud({ timeScale: 0.01 }), 'cli-heartbeat-')));
  afterAll(() => dropCliCloud({ cloud, dir }));

  it('a heartbeat line on stderr names the current step from the ledger; stdout keeps only the result', async () => {
    // Prepare: every attach invocation is held, so the operation sits at attach for longer than a
    // heartbeat. Every one, not just the first: at x0.01 the attach message's visibility timeout is 1.2 s,
    // so a held delivery's message is delivered again, and that copy would carry the operation on.
    const hold = cloud.fc!.control.hold({ functionName: 'eni-failover-attach' });
    let stdout = '';
    let stderr = '';
    const io: CliIo = { stdout: { write: (t: string) => (stdout += t), isTTY: false }, stderr: { write: (t: string) => (stderr += t) }, env: {}, cwd: dir };
    const run = runCli(['submit', '--eni', 'eni-service', '--instance', 'i-standby', '--from', 'i-primary', '--wait', '--timeout', '60', '--local-file', join(dir, 'cloud.json')], io, cliDefaults);
    await hold.whenWaiting(1, 20_000);
    // Act: wait (on the output itself) for a heartbeat while the operation sits at attach, then let it go on.
    const until = Date.now() + 20_000;
    while (!/waiting \d+ s: running at attach#0/.test(stderr) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    hold.release();
    const r = { code: await run, stdout, stderr };
    // Assess
    expect(r.code).toBe(ExitCode.Succeeded);
    expect(r.stderr).toMatch(/^ {2}waiting \d+ s: running at attach#0: /m);
    expect(r.stdout).not.toMatch(/waiting \d+ s/);
    expect(r.stdout).toMatch(/^succeeded: /m);
  }, 60_000);
});

describe('local up | status | down own their connection file', () => {
  let dir: string;
  const file = () => join(dir, 'cloud.json');
  const bin = join(repo, 'dist', 'cli.js');
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  const clean = (text: string) => text.replace(/.*DEP0005.*\n|.*trace-deprecation.*\n/g, '');
  const run = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [bin, 'local', ...args, '--local-file', file()], { cwd: repo, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => done({ code, stdout, stderr: clean(stderr) }));
    });
  /** Starts `local up` in the background; resolves once it has written its file and banner. */
  const up = async () => {
    const child = spawn(process.execPath, [bin, 'local', 'up', '--time-scale', '0.01', '--local-file', file()], { cwd: repo, env });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('close', done));
    const until = Date.now() + 30_000;
    while (!/^Use it:/m.test(out.stdout) && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    return { child, out, exited };
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-local-up-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('up prints a banner without secrets, refuses a second up on the same file, and down stops it', async () => {
    const first = await up();
    expect(first.child.exitCode).toBeNull();
    const info = JSON.parse(readFileSync(file(), 'utf8')) as { pid: number; accessKeySecret: string; alarmUrl: string; ecsEndpoint: string };
    expect(info.pid).toBe(first.child.pid);
    const token = /token=([^&]+)/.exec(info.alarmUrl)?.[1];
    expect(token).toEqual(expect.any(String));
    // The banner: what runs where, no key secret and no alarm token.
    expect(first.out.stdout).toMatch(new RegExp(`^local Alibaba cloud up: pid ${info.pid}, region `, 'm'));
    expect(first.out.stdout).toContain(info.ecsEndpoint);
    expect(first.out.stdout).toMatch(/token=\*\*\*/);
    expect(first.out.stdout).not.toContain(info.accessKeySecret);
    expect(first.out.stdout).not.toContain(token!);

    const second = await run('up', '--time-scale', '0.01');
    expect(second.code).toBe(ExitCode.Usage);
    expect(second.stderr).toMatch(new RegExp(`a local cloud is already running on .*cloud\\.json \\(pid ${info.pid}, .*stop it with \`eni-failover local down\``));
    expect(JSON.parse(readFileSync(file(), 'utf8')).pid).toBe(info.pid);

    const status = await run('status', '--json');
    expect(status.code).toBe(ExitCode.Succeeded);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid: info.pid, accessKeySecret: '***' });

    const down = await run('down');
    expect(down).toMatchObject({ code: ExitCode.Succeeded, stdout: `stopped the local cloud (pid ${info.pid})\n` });
    expect(await first.exited).toBe(0);
    expect(first.out.stdout).toMatch(/local cloud stopped\n$/);
    expect(() => readFileSync(file())).toThrow(/ENOENT/);
    expect((await run('status')).code).toBe(ExitCode.Failed);
    expect((await run('down')).code).toBe(ExitCode.Failed);
  }, 90_000);

  it('a file left by a cloud that died is replaced, with a note', async () => {
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => gone.on('close', r));
    writeFileSync(file(), JSON.stringify({ pid: gone.pid, startedAt: '2026-01-01T00:00:00Z' }));
    expect((await run('status')).stdout).toMatch(new RegExp(`is left from pid ${gone.pid}, which is gone`));
    const next = await up();
    expect(next.out.stderr).toMatch(new RegExp(`replacing .*cloud\\.json: its local cloud \\(pid ${gone.pid}\\) is gone`));
    expect(JSON.parse(readFileSync(file(), 'utf8')).pid).toBe(next.child.pid);
    expect((await run('down')).code).toBe(ExitCode.Succeeded);
    expect(await next.exited).toBe(0);
  }, 90_000);
});
