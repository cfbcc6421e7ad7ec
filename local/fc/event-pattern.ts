/**
 * EventBridge event patterns (the `eventRuleFilterPattern` of an fc3 `eventbridge` trigger), as Alibaba
 * Cloud EventBridge documents them ("Event patterns", help doc 181432): a JSON object shaped like the
 * events it matches. Keys are ANDed; a leaf is an array whose entries are ORed; an entry is an exact value
 * (string, number, boolean, null) or an operator object. Matching is case-sensitive and never changes
 * strings; numbers are compared as their JSON text ("300" and "300.0" differ), except under `numeric`.
 * When the event's value is an array, the leaf matches when any of its elements does. `{}` matches every
 * event.
 *
 * Operators run here: `prefix`, `suffix`, `contains`, `anything-but` (a value, a list, or `{prefix}`),
 * `exists`, `numeric` (pairs of `=`, `<`, `<=`, `>`, `>=` and a number). `cidr` is refused at load (not
 * emulated), so a pattern that uses it never silently matches nothing.
 */

export type EventPatternValue = string | number | boolean | null;

export type EventPatternMatcher =
  | { readonly kind: 'exact'; readonly value: EventPatternValue }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'suffix'; readonly value: string }
  | { readonly kind: 'contains'; readonly value: string }
  | { readonly kind: 'anythingBut'; readonly values: readonly EventPatternValue[] }
  | { readonly kind: 'anythingButPrefix'; readonly value: string }
  | { readonly kind: 'exists'; readonly value: boolean }
  | { readonly kind: 'numeric'; readonly conditions: readonly { op: NumericOp; value: number }[] };

const NumericOps = ['=', '<', '<=', '>', '>='] as const;
type NumericOp = (typeof NumericOps)[number];

/** A parsed pattern: field name -> nested pattern, or the ORed matchers of a leaf. */
export interface EventPattern {
  readonly [field: string]: EventPattern | readonly EventPatternMatcher[];
}

/** A pattern that cannot be used; `path` is the field path inside the pattern (`data.content.state`). */
export class EventPatternError extends Error {
  override readonly name = 'EventPatternError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(path === '' ? problem : `${path}: ${problem}`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is EventPatternValue => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/**
 * Parses a pattern from its JSON text (or an already-parsed object). Guarantees: every leaf is a non-empty
 * array of known matchers; otherwise throws {@link EventPatternError} naming the field path.
 */
export function parseEventPattern(input: string | Record<string, unknown>): EventPattern {
  let data: unknown = input;
  if (typeof input === 'string') {
    try {
      data = JSON.parse(input.trim() === '' ? '{}' : input);
    } catch (err) {
      throw new EventPatternError('', `is not JSON: ${(err as Error).message}`);
    }
  }
  if (!isRecord(data)) throw new EventPatternError('', 'must be a JSON object such as {"source":["acs.ecs"]}');
  return parseObject(data, '');
}

function parseObject(data: Record<string, unknown>, path: string): EventPattern {
  const out: Record<string, EventPattern | readonly EventPatternMatcher[]> = {};
  for (const [key, value] of Object.entries(data)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (Array.isArray(value)) {
      if (value.length === 0) throw new EventPatternError(at, 'an empty list matches nothing; list at least one value');
      out[key] = value.map((entry, i) => parseMatcher(entry, `${at}[${i}]`));
    } else if (isRecord(value)) {
      out[key] = parseObject(value, at);
    } else {
      throw new EventPatternError(at, `must be a list of values (e.g. [${JSON.stringify(value)}]) or a nested object`);
    }
  }
  return out;
}

function parseMatcher(entry: unknown, at: string): EventPatternMatcher {
  if (isScalar(entry)) return { kind: 'exact', value: entry };
  if (!isRecord(entry)) throw new EventPatternError(at, 'must be a value or an operator object');
  const keys = Object.keys(entry);
  if (keys.length !== 1) throw new EventPatternError(at, `an operator object has exactly one key, got ${keys.join(', ') || 'none'}`);
  const op = keys[0]!;
  const arg = entry[op];
  const str = (): string => {
    if (typeof arg !== 'string') throw new EventPatternError(`${at}.${op}`, 'must be a string');
    return arg;
  };
  switch (op) {
    case 'prefix':
      return { kind: 'prefix', value: str() };
    case 'suffix':
      return { kind: 'suffix', value: str() };
    case 'contains':
      return { kind: 'contains', value: str() };
    case 'exists':
      if (typeof arg !== 'boolean') throw new EventPatternError(`${at}.exists`, 'must be true or false');
      return { kind: 'exists', value: arg };
    case 'anything-but':
      if (isRecord(arg) && typeof arg['prefix'] === 'string' && Object.keys(arg).length === 1) return { kind: 'anythingButPrefix', value: arg['prefix'] };
      if (isScalar(arg)) return { kind: 'anythingBut', values: [arg] };
      if (Array.isArray(arg) && arg.length > 0 && arg.every(isScalar)) return { kind: 'anythingBut', values: arg };
      throw new EventPatternError(`${at}.anything-but`, 'must be a value, a non-empty list of values, or {"prefix": "..."}');
    case 'numeric': {
      if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0) {
        throw new EventPatternError(`${at}.numeric`, 'must be pairs of an operator and a number, e.g. [">", 0, "<=", 5]');
      }
      const conditions: { op: NumericOp; value: number }[] = [];
      for (let i = 0; i < arg.length; i += 2) {
        const o = arg[i];
        const v = arg[i + 1];
        if (!(NumericOps as readonly unknown[]).includes(o) || typeof v !== 'number') {
          throw new EventPatternError(`${at}.numeric[${i}]`, `"${String(o)}" ${String(v)} is not one of ${NumericOps.join(' ')} followed by a number`);
        }
        conditions.push({ op: o as NumericOp, value: v });
      }
      return { kind: 'numeric', conditions };
    }
    case 'cidr':
      throw new EventPatternError(`${at}.cidr`, 'is not supported by the local runtime (use exact or prefix matching)');
    default:
      throw new EventPatternError(at, `unknown operator "${op}" (prefix, suffix, contains, anything-but, exists, numeric)`);
  }
}

/** JSON text of a scalar: EventBridge compares numbers as they are written. */
const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function matchOne(m: EventPatternMatcher, present: boolean, value: unknown): boolean {
  if (m.kind === 'exists') return m.value === present;
  if (!present) return false;
  const candidates = Array.isArray(value) ? value : [value];
  return candidates.some((v) => {
    switch (m.kind) {
      case 'exact':
        return isScalar(v) && typeof v === typeof m.value && text(v) === text(m.value);
      case 'prefix':
        return typeof v === 'string' && v.startsWith(m.value);
      case 'suffix':
        return typeof v === 'string' && v.endsWith(m.value);
      case 'contains':
        return typeof v === 'string' && v.includes(m.value);
      case 'anythingBut':
        return isScalar(v) && !m.values.some((x) => typeof x === typeof v && text(x) === text(v));
      case 'anythingButPrefix':
        return typeof v === 'string' && !v.startsWith(m.value);
      case 'numeric':
        return (
          typeof v === 'number' &&
          m.conditions.every(({ op, value }) => (op === '=' ? v === value : op === '<' ? v < value : op === '<=' ? v <= value : op === '>' ? v > value : v >= value))
        );
    }
  });
}

/**
 * Whether `event` matches `pattern`. Guarantees: every field of the pattern is checked (AND), a leaf
 * matches when any of its matchers does (OR); fields of the event the pattern does not name are ignored.
 */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  const obj = isRecord(event) ? event : {};
  for (const [key, want] of Object.entries(pattern)) {
    const present = Object.prototype.hasOwnProperty.call(obj, key);
    const value = obj[key];
    if (Array.isArray(want)) {
      if (!(want as readonly EventPatternMatcher[]).some((m) => matchOne(m, present, value))) return false;
    } else if (!present || !matchesEventPattern(want as EventPattern, value)) {
      return false;
    }
  }
  return true;
}
