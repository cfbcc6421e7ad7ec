// An esbuild plugin for the function bundles: the tablestore SDK's protocol messages from a reflection
// descriptor instead of its static code.
//
// tablestore 5.6.5 ships lib/protocol/tablestore_compiled_proto.js, the `pbjs -t static-module` output of
// tablestore.proto, tablestore_filter.proto and tablestore_search.proto (its build_proto.sh): 2.6 MB of
// source, 620 KB minified, about 70% of a function bundle and most of its load time. The same three .proto
// files ship beside it. At build time they are parsed (protobufjs, the SDK's own dependency) into a JSON
// descriptor of 41 KB; the bundle builds the same namespaces from it with protobufjs/light, so encoder.js,
// decoder.js and filter.js see what they saw: for every message a constructor with create, encode,
// decode, fromObject, toObject and verify and the same prototype defaults (bytes fields default to an empty
// Buffer, as pbjs emits them); for every enum the object pbjs emits (names to numbers, numbers to names
// through its prototype). Each message's constructor is built on its first access and its codec on its
// first use, instead of at load.
// test/build/tablestore-proto.test.ts compares the two type by type. CommonJS, so the test can load it.
'use strict';
const { dirname, join } = require('node:path');

/** The SDK's protocol directory and the .proto files its static module is generated from (build_proto.sh). */
function tablestoreProtocolDir() {
  return join(dirname(require.resolve('tablestore/package.json')), 'lib', 'protocol');
}
const TablestoreProtoFiles = ['tablestore.proto', 'tablestore_filter.proto', 'tablestore_search.proto'];

/** The descriptor of the SDK's messages, field names camel-cased as pbjs does by default. */
function tablestoreDescriptor() {
  const protobuf = require('protobufjs');
  const root = new protobuf.Root();
  root.loadSync(TablestoreProtoFiles.map((f) => join(tablestoreProtocolDir(), f)));
  return root.toJSON();
}

/** The source of the module that replaces tablestore_compiled_proto.js (CommonJS, like the original). */
function tablestoreProtoModule() {
  return `"use strict";
var $protobuf = require("protobufjs/light");
var root = $protobuf.Root.fromJSON(${JSON.stringify(tablestoreDescriptor())});
function expose(ns) {
  if (ns instanceof $protobuf.Enum) return Object.assign(Object.create(ns.valuesById), ns.values);
  var out = {};
  if (ns instanceof $protobuf.Type) {
    out = ns.ctor;
    ns.fieldsArray.forEach(function (f) {
      if (f.type === "bytes" && !f.repeated) out.prototype[f.name] = $protobuf.util.newBuffer([]);
    });
  }
  // Each nested type or enum is built on first access, not at load: a function uses a handful of the
  // SDK's hundreds of messages, and building a constructor generates its code (not in V8's code cache).
  (ns.nestedArray || []).forEach(function (n) {
    var value, built = false;
    Object.defineProperty(out, n.name, {
      enumerable: true,
      configurable: true,
      get: function () { if (!built) { value = expose(n); built = true; } return value; },
      set: function (v) { value = v; built = true; },
    });
  });
  return out;
}
module.exports = expose(root);
`;
}

/** Resolves the SDK's require of its static module to the generated one. */
function tablestoreProtoPlugin() {
  return {
    name: 'tablestore-proto',
    setup(build) {
      build.onResolve({ filter: /tablestore_compiled_proto\.js$/ }, (args) =>
        args.importer.includes(`${join('node_modules', 'tablestore')}`) ? { path: 'tablestore_compiled_proto.js', namespace: 'tablestore-proto' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'tablestore-proto' }, () => ({
        contents: tablestoreProtoModule(),
        loader: 'js',
        resolveDir: tablestoreProtocolDir(),
      }));
    },
  };
}

module.exports = { tablestoreProtocolDir, TablestoreProtoFiles, tablestoreDescriptor, tablestoreProtoModule, tablestoreProtoPlugin };
