// `node scripts/make-code-cache.cjs dist/functions/<name>/bundle.js`: writes bundle.js.cache, V8's code
// cache of the bundle after its top level ran (scripts/build.mjs calls it; function-loader.cjs uses it).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { Script } = require('node:vm');
const { wrap, createRequire } = require('node:module');

const file = process.argv[2];
const script = new Script(wrap(readFileSync(file, 'utf8')), { filename: file });
const module_ = { exports: {} };
try {
  script.runInThisContext().call(module_.exports, module_.exports, createRequire(file), module_, file, dirname(file));
} catch (err) {
  // A top level that needs an environment still leaves what it compiled until then in the cache.
  process.stderr.write(`make-code-cache: ${file}: top level threw (${err.message}); caching what compiled\n`);
}
writeFileSync(`${file}.cache`, script.createCachedData());
