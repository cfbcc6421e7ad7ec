// Bundles every function under functions/<name>/index.ts into dist/functions/<name>/index.js (what s.yaml
// points at, one bundle per function for a small cold start), and the CLI into dist/cli.js.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import tablestoreProto from './tablestore-proto.cjs';

const root = new URL('..', import.meta.url).pathname;
const functionsDir = join(root, 'functions');
const names = existsSync(functionsDir)
  ? readdirSync(functionsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(functionsDir, d.name, 'index.ts')))
      .map((d) => d.name)
  : [];

const common = {
  // Aliases resolve against the working directory: pin it, so a build started from elsewhere (the bin's
  // first run, `npx eni-failover` in another directory) bundles the same.
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  loader: { '.sh': 'text' },
  // @alicloud/mns picks lib/ (async functions) or a babel-transpiled es5/ at run time; Node 20 always
  // takes lib/, and es5/ needs babel-runtime, which is not installed: bundle only lib/.
  alias: {
    '@alicloud/mns': '@alicloud/mns/lib/client.js',
    // The client's response parser (cloud/mns.ts prime()): its own file, not a path under client.js.
    '@alicloud/mns/lib/helper': './node_modules/@alicloud/mns/lib/helper.js',
    // Used only by @darabonba/typescript's WebSocket client, which nothing here calls (the stub says why).
    ws: './scripts/bundle-stubs/websocket-only.cjs',
    'socks-proxy-agent': './scripts/bundle-stubs/websocket-only.cjs',
    'https-proxy-agent': './scripts/bundle-stubs/websocket-only.cjs',
    'http-proxy-agent': './scripts/bundle-stubs/websocket-only.cjs',
    // Used only by @darabonba/typescript's func.js (merge) and date.js ($dara.Date): the stubs say why.
    lodash: './scripts/bundle-stubs/lodash-merge.cjs',
    moment: './scripts/bundle-stubs/moment-unused.cjs',
  },
  // The tablestore SDK's protocol messages from the SDK's own .proto files, not its 620 KB static code
  // (scripts/tablestore-proto.cjs says how and why).
  plugins: [tablestoreProto.tablestoreProtoPlugin()],
  logLevel: 'warning',
};

rmSync(join(root, 'dist', 'functions'), { recursive: true, force: true });
await Promise.all([
  ...names.map((name) =>
    build({ ...common, entryPoints: [join(functionsDir, name, 'index.ts')], outfile: join(root, 'dist', 'functions', name, 'bundle.js') }),
  ),
  build({ ...common, minify: false, entryPoints: [join(root, 'cli', 'demo.ts')], outfile: join(root, 'dist', 'demo.js') }),
  ...(existsSync(join(root, 'cli', 'main.ts'))
    ? [build({ ...common, minify: false, entryPoints: [join(root, 'cli', 'main.ts')], outfile: join(root, 'dist', 'cli.js') })]
    : []),
]);
// Each function directory: the loader FC runs (index.js), the bundle, and V8's code cache of the bundle
// (scripts/function-loader.cjs says why). The cache is made by compiling and running the bundle's top level
// once in a fresh node - the functions compiled by then are what a cold start would compile - with the
// environment a function sees before its first event (none of ours: no client is made at load).
for (const name of names) {
  const dir = join(root, 'dist', 'functions', name);
  copyFileSync(join(root, 'scripts', 'function-loader.cjs'), join(dir, 'index.js'));
  const made = spawnSync(process.execPath, [join(root, 'scripts', 'make-code-cache.cjs'), join(dir, 'bundle.js')], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  if (made.status !== 0) throw new Error(`build: the code cache of ${name} could not be made: ${made.stderr || made.stdout}`);
}
console.log(`build: ${names.length} function bundle(s)${names.length ? ': ' + names.join(', ') : ''}`);
