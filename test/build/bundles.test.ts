import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The function directories of `npm run build` (npm test builds first): each index.js runs its bundle from
 * V8's code cache when the cache fits this node, and from source when it does not or is missing; the two
 * bundle stubs behave as the libraries they replace for what the bundles use.
 */
const root = join(__dirname, '..', '..');
const functionsDir = join(root, 'dist', 'functions');

/** Loads a function directory's index.js in a fresh node: how its bundle was compiled, and its exports. */
function load(dir: string): { codeCache: string; exports: string[] } {
  const out = execFileSync(
    process.execPath,
    ['-e', 'const m=require(process.argv[1]);process.stdout.write(JSON.stringify({codeCache:m.__codeCache,exports:Object.keys(m).sort()}))', join(dir, 'index.js')],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: process.env.PATH ?? '' } },
  );
  return JSON.parse(out) as { codeCache: string; exports: string[] };
}

describe('function bundles', () => {
  const names = readdirSync(functionsDir);

  test.each(names)('%s loads from its code cache and exports handler and initialize', (name) => {
    const loaded = load(join(functionsDir, name));
    expect(loaded.codeCache).toBe('used');
    expect(loaded.exports).toEqual(expect.arrayContaining(['handler']));
  });

  test('a cache made by another node (here: damaged) is rejected and the bundle compiles from source; no cache, likewise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bundle-cache-'));
    try {
      cpSync(join(functionsDir, 'validate'), dir, { recursive: true });
      const good = load(dir);
      writeFileSync(join(dir, 'bundle.js.cache'), Buffer.from('not a V8 code cache'));
      const damaged = load(dir);
      expect(damaged).toEqual({ ...good, codeCache: 'rejected' });
      rmSync(join(dir, 'bundle.js.cache'));
      expect(load(dir)).toEqual({ ...good, codeCache: 'absent' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bundle stubs', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const stub = require('../../scripts/bundle-stubs/lodash-merge.cjs') as { merge: (...args: unknown[]) => unknown };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lodash = require('lodash') as { merge: (...args: unknown[]) => unknown };

  test.each([
    [{ a: 1, b: { c: 2, d: [1, 2] } }, { b: { c: 3, d: [9] }, e: undefined, f: null }],
    [{}, { x: { y: { z: 1 } } }],
    [{ a: [{ p: 1 }] }, { a: [{ q: 2 }] }],
    [{ h: { k: 1 } }, { h: 'text' }],
    [{ h: 'text' }, { h: { k: 1 } }],
    [null, { a: 1 }],
    [{ headers: { 'x-acs-action': 'A' } }, { headers: { 'x-acs-version': 'B' }, query: { Ids: ['i-1'] } }],
  ])('merge(%j, %j) is lodash.merge', (source, data) => {
    expect(stub.merge({}, source, data)).toEqual(lodash.merge({}, source, data));
  });

  test('merge does not write through __proto__', () => {
    const merged = stub.merge({}, JSON.parse('{"__proto__":{"polluted":true}}')) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(merged)).toEqual([]);
  });

  test('moment says it is not bundled', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const moment = require('../../scripts/bundle-stubs/moment-unused.cjs') as () => unknown;
    expect(() => moment()).toThrow(/carry no moment/);
  });
});
