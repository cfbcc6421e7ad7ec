#!/usr/bin/env node
'use strict';
// The CLI is bundled by `npm run build` into dist/cli.js (from cli/main.ts). Right after `npm ci` there is
// no dist/ yet: the first run builds it (esbuild, a few seconds), so `npx eni-failover --help` just works.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
const cli = join(root, 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('eni-failover: first run in this checkout: building dist/ (npm run build)...\n');
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0 || !existsSync(cli)) {
    process.stderr.write('eni-failover: the build failed (is esbuild installed? run `npm ci` without --omit=dev, then `npm run build`)\n');
    process.exit(1);
  }
}
require(cli);
