// Stands in for `moment` in the function bundles (scripts/build.mjs). Its only importer there is
// @darabonba/typescript's dist/date.js (the `$dara.Date` class), which no SDK code the functions run calls:
// the signers format their own timestamps. The library was 62 KB of every bundle. Calling it says so.
'use strict';
module.exports = function moment() {
  throw new Error('eni-failover function bundles carry no moment (scripts/bundle-stubs/moment-unused.cjs): $dara.Date is not available in a function');
};
