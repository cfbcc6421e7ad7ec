import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * The function bundles replace the tablestore SDK's static protocol module by one built from the SDK's own
 * .proto files (scripts/tablestore-proto.cjs). The SDK's encoder, decoder and filter code must see the
 * same thing: the same namespaces, messages and enums, the same prototype defaults, the same bytes on the
 * wire and the same decoded objects.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { tablestoreProtoModule, tablestoreProtocolDir } = require('../../scripts/tablestore-proto.cjs') as { tablestoreProtoModule(): string; tablestoreProtocolDir(): string };

type Namespace = Record<string, unknown>;
type MessageClass = {
  create(p: object): object;
  encode(m: object): { finish(): Uint8Array };
  decode(b: Uint8Array): object;
  toObject(m: object, o?: object): object;
  prototype: Record<string, unknown>;
};

/** Evaluates the generated module as the bundle would: CommonJS, requiring from the SDK's protocol directory. */
function generatedModule(): Namespace {
  const requireThere = createRequire(join(tablestoreProtocolDir(), 'encoder.js'));
  const module = { exports: {} as Namespace };
  new Function('require', 'module', 'exports', tablestoreProtoModule())(requireThere, module, module.exports);
  return module.exports;
}

const staticModule = (): Namespace => createRequire(join(tablestoreProtocolDir(), 'encoder.js'))('./tablestore_compiled_proto.js') as Namespace;

/** Every message class and enum under `ns`, by dotted path. */
function members(ns: Namespace, path = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(ns)) {
    if (!/^[A-Za-z]/.test(k) || (typeof v !== 'function' && (typeof v !== 'object' || v === null))) continue;
    if (typeof v === 'function' && !/^[A-Z]/.test(k)) continue;
    const p = path === '' ? k : `${path}.${k}`;
    if (typeof v === 'function' || /^[A-Z]/.test(k)) out.set(p, v);
    for (const [q, w] of members(v as Namespace, p)) out.set(q, w);
  }
  return out;
}

describe('Build: the tablestore protocol module of the function bundles', () => {
  const generated = generatedModule();
  const original = staticModule();

  it('has every message and enum of the SDK static module, enums with the same values both ways', () => {
    // Prepare
    const want = members(original);
    const got = members(generated);
    // Assess
    expect(want.size).toBeGreaterThan(200);
    expect([...want.keys()].filter((k) => !got.has(k))).toEqual([]);
    for (const [path, value] of want) {
      if (typeof value === 'function') continue;
      const enumValues = value as Record<string, number>;
      const mine = got.get(path) as Record<string | number, unknown>;
      for (const [name, n] of Object.entries(enumValues)) {
        expect([path, name, mine[name]]).toEqual([path, name, n]);
        expect([path, n, mine[n]]).toEqual([path, n, name]);
      }
    }
  });

  it('gives every message the same prototype defaults (empty Buffers for bytes, as pbjs emits)', () => {
    const mismatches: string[] = [];
    const got = members(generated);
    for (const [path, value] of members(original)) {
      if (typeof value !== 'function') continue;
      const proto = (value as unknown as MessageClass).prototype;
      const mine = (got.get(path) as unknown as MessageClass).prototype;
      for (const field of Object.getOwnPropertyNames(proto)) {
        if (field === 'constructor' || typeof proto[field] === 'function') continue;
        if (JSON.stringify(mine[field]) !== JSON.stringify(proto[field]) || Buffer.isBuffer(mine[field]) !== Buffer.isBuffer(proto[field])) mismatches.push(`${path}.${field}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it.each([
    ['GetRowRequest', { tableName: 'eni_failover_operations', primaryKey: Buffer.from([1, 2, 3]), maxVersions: 1, columnsToGet: ['body', 'version'] }],
    ['PutRowRequest', { tableName: 't', row: Buffer.from([9, 8]), condition: { rowExistence: 2, columnCondition: Buffer.from([4]) }, returnContent: { returnType: 0 } }],
    ['UpdateRowRequest', { tableName: 't', rowChange: Buffer.from([7]), condition: { rowExistence: 1 } }],
    ['GetRangeRequest', { tableName: 't', direction: 0, maxVersions: 1, inclusiveStartPrimaryKey: Buffer.from([1]), exclusiveEndPrimaryKey: Buffer.from([2]), limit: 40 }],
    ['Error', { code: 'OTSConditionCheckFail', message: 'Condition check failed.' }],
  ])('encodes and decodes %s to the same bytes and objects', (type, props) => {
    // Prepare
    const A = (original['main'] as Namespace)['proto'] as Record<string, MessageClass>;
    const B = (generated['main'] as Namespace)['proto'] as Record<string, MessageClass>;
    // Act
    const wire = Buffer.from(A[type]!.encode(A[type]!.create(props)).finish());
    const mine = Buffer.from(B[type]!.encode(B[type]!.create(props)).finish());
    // Assess
    expect(mine.toString('hex')).toBe(wire.toString('hex'));
    const options = { longs: String, defaults: true, bytes: String };
    expect(B[type]!.toObject(B[type]!.decode(wire), options)).toEqual(A[type]!.toObject(A[type]!.decode(wire), options));
  });
});
