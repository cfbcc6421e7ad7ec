// `npm start`: builds (esbuild, about a second) and runs the failover demo on the local cloud.
// Arguments after `--` go to the demo: `npm start -- --scenario FILE`, `--real-guests`, `--time-scale X`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const demo = spawnSync(process.execPath, ['--enable-source-maps', join(root, 'dist', 'demo.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(demo.status ?? 1);
