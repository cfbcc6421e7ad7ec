// dist/functions/<name>/index.js: what FC loads (s.yaml `handler: index.handler`). It runs the function's
// bundle (bundle.js, built by scripts/build.mjs) from V8's code cache (bundle.js.cache, made at build time
// from the same bundle), so a cold start does not compile ~900 KB of JavaScript again: about half the
// module load (npm run bench, "Function bundles"). V8 checks the cache against its own version, flags and
// the source, and rejects a cache made by another Node than the runtime's; the bundle is then compiled
// as usual, at the usual cost. Nothing but the compile differs: same exports, same behaviour.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');
const { wrap } = require('node:module');

const file = join(__dirname, 'bundle.js');
let cachedData;
try {
  cachedData = readFileSync(`${file}.cache`);
} catch {
  // No cache shipped: compile as usual.
}
const script = new Script(wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData === undefined ? {} : { cachedData }) });
// The bundle's own requires are Node built-ins only (everything else is bundled).
script.runInThisContext().call(module.exports, module.exports, require, module, file, __dirname);
/** Whether this load compiled from the code cache (for the local FC's cold-start split and the bench). */
Object.defineProperty(module.exports, '__codeCache', { value: cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used', enumerable: false });
