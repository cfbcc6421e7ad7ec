import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerCommand, runCli, type CliIo } from '../../cli/app';
import { localUp } from '../../cli/local-up';
import { ExitCode } from '../../cli/usage';

const repo = join(__dirname, '../..');
const defaults = { groupsYaml: readFileSync(join(repo, 'config/groups.yaml'), 'utf8'), guestScript: readFileSync(join(repo, 'guest/configure-eni.sh'), 'utf8') };
registerCommand('local', localUp);

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (t: string) => (stdout += t), isTTY: false }, stderr: { write: (t: string) => (stderr += t) }, env: {}, cwd: repo };
  return { code: await runCli(args, io, defaults), stdout: () => stdout, stderr: () => stderr };
}

describe('CLI usage', () => {
  it.each(['--version', '-V', 'version'])('%s prints the package version on stdout, exit 0', async (flag) => {
    const r = await cli([flag]);
    const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
    expect([r.code, r.stdout(), r.stderr()]).toEqual([ExitCode.Succeeded, `eni-failover ${version}\n`, '']);
  });

  it('local --help says "Usage:" once and lists only what works for local (no cloud selection, no --groups)', async () => {
    const r = await cli(['local', '--help']);
    expect(r.code).toBe(ExitCode.Succeeded);
    expect(r.stdout()).toMatch(/^Usage: eni-failover local up /);
    expect(r.stdout()).toMatch(/^ {7}eni-failover local status /m);
    expect(r.stdout()).toMatch(/^ {7}eni-failover local down /m);
    expect(r.stdout()).not.toMatch(/Usage: Usage:|--region|--endpoint|--groups|--ots-instance|--profile/);
  });

  it('local refuses the options that do nothing there (exit 2), where other commands take them', async () => {
    const r = await cli(['local', 'status', '--region', 'cn-hangzhou']);
    expect([r.code, r.stdout()]).toEqual([ExitCode.Usage, '']);
    expect(r.stderr()).toMatch(/Unknown option '--region'/);
  });

  it('an unknown command is exit 2 on stderr, naming the commands', async () => {
    const r = await cli(['frobnicate']);
    expect([r.code, r.stdout()]).toEqual([ExitCode.Usage, '']);
    expect(r.stderr()).toMatch(/unknown command "frobnicate"; commands: .*submit/);
  });

  it.each([
    [['local', 'up', '--time-scale', 'abc'], /^eni-failover local: --time-scale must be a number in \(0, 1\], got abc/],
    [['local', 'up', '--scenario', '/nonexistent.yaml'], /^eni-failover local: Invalid \/nonexistent\.yaml/],
    [['local'], /^eni-failover local: say what to do: local up, local status or local down; eni-failover local --help/],
    [['local', 'start'], /^eni-failover local: say what to do: .* \(not "start"\)/],
    [['local', 'down', '--scenario', 'x.yaml'], /^eni-failover local: --scenario is an option of local up, not of local down/],
    [['local', 'status', 'extra'], /^eni-failover local: unexpected argument "extra" after local status/],
  ])('%j is bad usage: exit 2, on stderr, nothing started', async (args, message) => {
    const r = await cli(args);
    expect([r.code, r.stdout()]).toEqual([ExitCode.Usage, '']);
    expect(r.stderr()).toMatch(message);
  });
});
