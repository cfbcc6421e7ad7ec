// Jest transform for the files the bundles import as text (esbuild `loader: {'.sh': 'text'}` and
// `with {type: 'text'}` for YAML): the module's default export is the file's content, as in the bundle.
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)}; module.exports.default = module.exports;` };
  },
};
