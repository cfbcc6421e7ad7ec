// Stands in for `lodash` in the function bundles (scripts/build.mjs). Its only importer there is
// @darabonba/typescript's dist/func.js, which uses one function of it, `merge` (in `$dara.merge`); the whole
// library was 73 KB of every bundle and about 5 ms of every cold start. This is lodash's deep merge for the
// values that helper can meet (plain objects, arrays, primitives): sources left to right, plain objects and
// arrays merged key by key, `undefined` in a source never overwriting (lodash.com/docs/4.17.15#merge).
'use strict';
function isPlain(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}
function mergeInto(target, source) {
  for (const key of Object.keys(source)) {
    if (key === '__proto__' || key === 'constructor') continue;
    const from = source[key];
    if (from === undefined) continue;
    const to = target[key];
    if (Array.isArray(from)) target[key] = mergeInto(Array.isArray(to) ? to : [], from);
    else if (isPlain(from)) target[key] = mergeInto(isPlain(to) ? to : {}, from);
    else target[key] = from;
  }
  return target;
}
function merge(target, ...sources) {
  for (const source of sources) if (source !== null && typeof source === 'object') mergeInto(target, source);
  return target;
}
module.exports = { merge };
