/**
 * tablestore 5.6.5 assigns three loop variables it never declares: `key` (protocol/plian_buffer_builder.js:94),
 * `pro` (filter.js:44, 137, 169) and `sub` (protocol/encoder.js:482). Loaded by node as its own module that
 * is harmless (sloppy mode creates globals), but inside a strict bundle (esbuild emits "use strict" for our
 * strict TypeScript) every row call throws `ReferenceError: key is not defined`. Declaring the three as
 * global properties first makes those assignments legal in strict mode too; nothing else reads them.
 */
const g = globalThis as Record<string, unknown>;
for (const name of ['key', 'pro', 'sub']) if (!(name in g)) g[name] = undefined;
export {};
