#!/usr/bin/env node
'use strict';
// The CLI is bundled by `npm run build` into dist/cli.js (from cli/main.ts).
try {
  require.resolve('../dist/cli.js');
} catch {
  process.stderr.write('eni-failover: dist/cli.js is missing; run `npm run build` first\n');
  process.exit(1);
}
require('../dist/cli.js');
