import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** `npm start` is dist/demo.js (scripts/start.mjs builds, then runs it); npm test builds before jest. */
const root = join(__dirname, '..', '..');
const demo = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist', 'demo.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });

describe('npm start: bad usage is exit 2, on stderr, with the usage and no stack', () => {
  it.each([
    [['--bogus'], /^npm start: Unknown option '--bogus'/],
    [['--time-scale'], /^npm start: Option '--time-scale <value>' argument missing/],
    [['--time-scale', 'abc'], /^npm start: --time-scale must be a number in \(0, 1\], got abc/],
    [['--failure', 'melted'], /^npm start: --failure must be stopped or unresponsive/],
    [['--scenario', '/nonexistent.yaml'], /^npm start: Invalid \/nonexistent\.yaml/],
  ])('%j', (args, message) => {
    const r = demo(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/usage: npm start --/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('every shipped scenario either runs as the demo or is refused as a rule fixture', () => {
  const scenarios = readdirSync(join(root, 'local', 'scenarios')).filter((f) => f.endsWith('.yaml'));
  it.each(scenarios)('%s', (file) => {
    const r = demo('--scenario', join('local', 'scenarios', file), '--time-scale', '0.02');
    if (file.startsWith('rule-')) {
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/is a fixture of one binding rule of the seed document/);
    } else {
      expect({ status: r.status, stderr: r.stderr.replace(/.*DEP0005.*\n|.*trace-deprecation.*\n/g, '') }).toEqual({ status: 0, stderr: '' });
      expect(r.stdout).toMatch(/outcome: SUCCEEDED/);
    }
  }, 120_000);
});
