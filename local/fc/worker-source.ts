/**
 * The bootstrap one function instance runs in its worker thread, as source text (started with
 * `eval: true`): a file path would not survive bundling, and transpiled function text may reference
 * helpers that do not exist in the worker. Plain CommonJS-era JavaScript on purpose; keep it small.
 *
 * Protocol (messages on parentPort):
 *   in : {type:'invoke', id, event: Uint8Array, context}   {type:'initialize', id, context}
 *   out: {type:'loaded', loadMs} | {type:'loadError', error}   (loadMs: the require of the handler module)
 *        {type:'result', id, ok:true, kind:'bytes'|'string'|'json'|'empty', bytes?: Uint8Array}
 *        {type:'result', id, ok:false, error:{errorMessage, errorType, stackTrace}}
 *        {type:'log', requestId, level, message}
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
const { AsyncLocalStorage } = require('node:async_hooks');
const util = require('node:util');

const als = new AsyncLocalStorage();
const post = (level, args) => {
  parentPort.postMessage({ type: 'log', requestId: als.getStore() || '', level, message: util.format.apply(null, args) });
};
// FC's Node.js runtime routes console output through its logger, so every line carries the request id.
console.log = (...a) => post('INFO', a);
console.info = (...a) => post('INFO', a);
console.debug = (...a) => post('DEBUG', a);
console.warn = (...a) => post('WARN', a);
console.error = (...a) => post('ERROR', a);

const logger = {
  debug: (...a) => post('DEBUG', a),
  info: (...a) => post('INFO', a),
  log: (...a) => post('INFO', a),
  warn: (...a) => post('WARN', a),
  error: (...a) => post('ERROR', a),
};

function describeError(err) {
  if (err instanceof Error) {
    return {
      errorMessage: err.message,
      errorType: err.name || 'Error',
      stackTrace: String(err.stack || '').split('\n').slice(1).map((l) => l.trim()).filter(Boolean),
    };
  }
  return { errorMessage: typeof err === 'string' ? err : util.inspect(err), errorType: 'Error', stackTrace: [] };
}

function encodeResult(value) {
  if (value === undefined || value === null) return { kind: 'empty' };
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { kind: 'bytes', bytes: new Uint8Array(value) };
  if (typeof value === 'string') return { kind: 'string', bytes: new Uint8Array(Buffer.from(value, 'utf8')) };
  return { kind: 'json', bytes: new Uint8Array(Buffer.from(JSON.stringify(value), 'utf8')) };
}

// FC handlers are async (event, context) or callback-style (event, context, callback).
function call(fn, args) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, value) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err);
      else resolve(value);
    };
    let returned;
    try {
      returned = fn.apply(null, args.concat([callback]));
    } catch (err) {
      callback(err);
      return;
    }
    if (returned && typeof returned.then === 'function') {
      returned.then((v) => callback(null, v), (e) => callback(e === undefined ? new Error('handler rejected') : e));
    } else if (fn.length < args.length + 1 && !settled) {
      callback(null, returned);
    }
  });
}

let mod;
let loadMs = 0;
async function load() {
  const started = performance.now();
  try {
    mod = createRequire(workerData.file)(workerData.file);
  } catch (err) {
    if (err && err.code === 'ERR_REQUIRE_ESM') mod = await import(require('node:url').pathToFileURL(workerData.file).href);
    else throw err;
  } finally {
    loadMs = performance.now() - started;
  }
}

function withLogger(context) {
  return Object.assign({}, context, { logger });
}

parentPort.on('message', (msg) => {
  const ctx = withLogger(msg.context);
  als.run(ctx.requestId, () => {
    const fn = mod && mod[msg.type === 'initialize' ? workerData.initializer : workerData.handler];
    const args = msg.type === 'initialize' ? [ctx] : [Buffer.from(msg.event), ctx];
    call(fn, args).then(
      (value) => {
        const r = msg.type === 'initialize' ? { kind: 'empty' } : encodeResult(value);
        parentPort.postMessage(Object.assign({ type: 'result', id: msg.id, ok: true }, r));
      },
      (err) => parentPort.postMessage({ type: 'result', id: msg.id, ok: false, error: describeError(err) }),
    ).catch((err) => parentPort.postMessage({ type: 'result', id: msg.id, ok: false, error: describeError(err) }));
  });
});

load().then(
  () => parentPort.postMessage({ type: 'loaded', loadMs }),
  (err) => parentPort.postMessage({ type: 'loadError', error: describeError(err) }),
);
`;
