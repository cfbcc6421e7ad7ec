// Installs what the test suite needs from the operating system, so a clean CI machine needs nothing by hand.
// The guest-networking tests build network namespaces with iproute2 and therefore run as root.
import { execFileSync, spawnSync } from 'node:child_process';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

const needed = [
  ['ip', 'iproute2'],
  ['curl', 'curl'],
].filter(([cmd]) => !has(cmd));

if (needed.length === 0) process.exit(0);
const packages = needed.map(([, pkg]) => pkg);
if (!isRoot) {
  console.warn(`test-prereqs: missing ${packages.join(', ')}; not root, so the tests that need them will say so.`);
  process.exit(0);
}
console.log(`test-prereqs: installing ${packages.join(', ')} with apt-get`);
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
  stdio: 'inherit',
  env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
});
