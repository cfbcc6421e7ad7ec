// `npm run bench` (after `npm run build`): runs bench/run.ts with tsx.
import { spawnSync } from 'node:child_process';
const r = spawnSync('npx', ['tsx', 'bench/run.ts'], { stdio: 'inherit', cwd: new URL('..', import.meta.url).pathname });
process.exit(r.status ?? 1);
