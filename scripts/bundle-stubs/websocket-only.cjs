// Stands in for `ws`, `socks-proxy-agent`, `https-proxy-agent` and `http-proxy-agent` in the function
// bundles (scripts/build.mjs). Their only importer there is @darabonba/typescript's WebSocket client
// (dist/websocket.js, which uses them inside its methods only); eni-failover opens no WebSocket, and these
// four and their dependencies were 160 KB of every bundle. Calling one says so instead of failing oddly.
'use strict';
function unavailable() {
  throw new Error('eni-failover function bundles carry no WebSocket client or proxy agent (scripts/bundle-stubs/websocket-only.cjs); call WebSocket APIs from an unbundled program');
}
module.exports = unavailable;
module.exports.SocksProxyAgent = unavailable;
