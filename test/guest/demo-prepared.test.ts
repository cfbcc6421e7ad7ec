// `npm start -- --real-guests`: one failover moves a plain ENI and a prepared one; the client's downtime of
// each is printed side by side, and the table says who configured each (the RunCommand vs the hook).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { assertCanBuildNamespaces } from '../../local/guest/netns-topology';

const root = join(__dirname, '..', '..');

function demo(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'demo.js'), ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The cells of a row of the side-by-side table (columns 44 wide after a 28-character label). */
function row(stdout: string, label: string): string[] {
  const table = stdout.slice(stdout.indexOf('client-side downtime of the service IPs'));
  const line = table.split('\n').find((l) => l.startsWith(`  ${label} `));
  if (line === undefined) throw new Error(`no "${label}" row in:\n${stdout}`);
  const rest = line.slice(28);
  return [rest.slice(0, 44).trim(), rest.slice(44).trim()];
}

describe('npm start -- --real-guests: downtime with and without a prepared standby, in one run', () => {
  beforeAll(() => assertCanBuildNamespaces());

  it('prepares the standby, fails both ENIs over, and prints both client-side downtimes side by side', async () => {
    // Act
    const r = await demo('--real-guests', '--time-scale', '0.2');

    // Assess
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/prepare pass \(on-schedule \{"mode":"prepare"\}, [\d.]+ s\): i-standby drift: hook missing; installed hook [0-9a-f]{12} for 00:16:3e:12:34:57/);
    expect(row(r.stdout, 'standby')).toEqual(['not prepared', 'prepared (group prepare: true)']);
    expect(row(r.stdout, 'ENI, IP probed')).toEqual([expect.stringMatching(/^eni-service, /), expect.stringMatching(/^eni-prepared, /)]);
    expect(row(r.stdout, 'downtime')).toEqual([expect.stringMatching(/^\d+\.\d\d s$/), expect.stringMatching(/^\d+\.\d\d s$/)]);
    expect(row(r.stdout, 'configured by')).toEqual(['the RunCommand', 'the hook (udev); the command verified']);
  }, 180_000);
});
