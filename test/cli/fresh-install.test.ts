import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What a new user gets after `npm ci`: the committed files and node_modules, no dist/. The checkout is the
 * committed tree (git archive HEAD) with this repo's node_modules linked in: exactly what npm ci leaves,
 * without fetching packages again.
 */
describe('a fresh install', () => {
  const repo = join(__dirname, '..', '..');
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eni-failover-fresh-'));
    execFileSync('sh', ['-c', `git -C "${repo}" archive HEAD | tar -x -C "${dir}"`]);
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('npx eni-failover --help works without a build step: the first run builds dist/', () => {
    expect(existsSync(join(dir, 'dist', 'cli.js'))).toBe(false);
    const r = spawnSync(process.execPath, [join(dir, 'bin', 'eni-failover.js'), '--help'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: eni-failover <command>/m);
    expect(r.stderr).toMatch(/first run in this checkout: building dist/);
    expect(existsSync(join(dir, 'dist', 'cli.js'))).toBe(true);
    // The second run uses what the first built, silently.
    const again = spawnSync(process.execPath, [join(dir, 'bin', 'eni-failover.js'), '--version'], { cwd: dir, encoding: 'utf8' });
    expect([again.status, again.stderr]).toEqual([0, '']);
  }, 120_000);
});
