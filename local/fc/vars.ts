/**
 * Serverless Devs 3 variable references in s.yaml values, resolved the way `s` does it
 * (docs.serverless-devs.com/serverless-devs/variables):
 *   ${vars.a.b}            the top-level `vars` map, any depth; a value that is only the reference keeps
 *                          its type (objects, numbers), inside a longer string it is stringified
 *   ${env('NAME')}         an environment variable; ${env('NAME', 'default')} falls back to the default
 *   ${env.NAME}            the same, without a default
 *   ${resources.KEY.props.PATH}  another resource's (resolved) props
 *   ${this.name} / ${this.props.PATH}  the current resource's key and props
 * Other sources of `s` (file, path, json, config, resources.*.output) need the deployer's machine or a
 * deployment; the local runtime refuses them with an error naming the path.
 */

/** Thrown by {@link resolveReferences}; `at` is the YAML path of the value holding the reference. */
export class UnresolvedReferenceError extends Error {
  constructor(
    readonly at: string,
    readonly reference: string,
    reason: string,
  ) {
    super(`\${${reference}} ${reason}`);
  }
}

export interface ResolveScope {
  readonly vars: Record<string, unknown>;
  readonly env: Record<string, string | undefined>;
  /** Raw resources map, resolved lazily when referenced. */
  readonly resources: Record<string, unknown>;
}

const REFERENCE = /\$\{([^{}]+)\}/g;
const WHOLE_REFERENCE = /^\$\{([^{}]+)\}$/;
const ENV_CALL = /^env\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"])(.*)\3\s*)?\)$/;
const UNSUPPORTED_CALL = /^(file|path|json|config)\(/;

/**
 * Returns a deep copy of `value` with every `${...}` reference replaced. `at` names where `value` sits in
 * the file; `thisResource` is the resource key when resolving inside `resources.<key>`.
 */
export function resolveReferences(
  value: unknown,
  scope: ResolveScope,
  at: string,
  thisResource?: string,
  seen: ReadonlySet<string> = new Set(),
): unknown {
  if (typeof value === 'string') return resolveString(value, scope, at, thisResource, seen);
  if (Array.isArray(value)) return value.map((item, i) => resolveReferences(item, scope, `${at}[${i}]`, thisResource, seen));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = resolveReferences(item, scope, at === '' ? key : `${at}.${key}`, thisResource, seen);
    }
    return out;
  }
  return value;
}

function resolveString(
  text: string,
  scope: ResolveScope,
  at: string,
  thisResource: string | undefined,
  seen: ReadonlySet<string>,
): unknown {
  const whole = WHOLE_REFERENCE.exec(text.trim());
  if (whole?.[1] !== undefined) return lookup(whole[1].trim(), scope, at, thisResource, seen);
  return text.replace(REFERENCE, (_match, expr: string) => {
    const resolved = lookup(expr.trim(), scope, at, thisResource, seen);
    return typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
  });
}

function lookup(
  expr: string,
  scope: ResolveScope,
  at: string,
  thisResource: string | undefined,
  seen: ReadonlySet<string>,
): unknown {
  if (seen.has(expr)) throw new UnresolvedReferenceError(at, expr, 'refers to itself (a reference cycle)');
  const inner = new Set(seen).add(expr);

  const envCall = ENV_CALL.exec(expr);
  if (envCall !== null) {
    const name = envCall[2] ?? '';
    const fromEnv = scope.env[name];
    if (fromEnv !== undefined) return fromEnv;
    if (envCall[4] !== undefined) return envCall[4];
    throw new UnresolvedReferenceError(at, expr, `does not resolve: environment variable ${name} is not set and no default is given`);
  }
  if (UNSUPPORTED_CALL.test(expr)) {
    throw new UnresolvedReferenceError(at, expr, 'is not supported by the local runtime (only vars, env, resources.<key>.props and this)');
  }

  const path = splitPath(expr);
  const [root, ...rest] = path;
  switch (root) {
    case 'env': {
      const name = rest.join('.');
      const fromEnv = scope.env[name];
      if (rest.length === 0 || fromEnv === undefined) {
        throw new UnresolvedReferenceError(at, expr, `does not resolve: environment variable ${name} is not set`);
      }
      return fromEnv;
    }
    case 'vars': {
      const found = walk(scope.vars, rest);
      if (!found.ok) throw new UnresolvedReferenceError(at, expr, `does not resolve: vars has no "${found.missing}"`);
      return resolveReferences(found.value, scope, at, thisResource, inner);
    }
    case 'this':
    case 'resources': {
      const key = root === 'this' ? thisResource : rest[0];
      const afterKey = root === 'this' ? rest : rest.slice(1);
      if (key === undefined) throw new UnresolvedReferenceError(at, expr, 'does not resolve: `this` is only defined inside a resource');
      if (afterKey.length === 1 && afterKey[0] === 'name') return key;
      if (afterKey[0] !== 'props') {
        throw new UnresolvedReferenceError(at, expr, 'is not supported by the local runtime (only .name and .props.* of a resource)');
      }
      const resource = scope.resources[key];
      if (resource === undefined) throw new UnresolvedReferenceError(at, expr, `does not resolve: there is no resource "${key}"`);
      const found = walk(resource, afterKey);
      if (!found.ok) throw new UnresolvedReferenceError(at, expr, `does not resolve: resources.${key} has no "${found.missing}"`);
      return resolveReferences(found.value, scope, at, key, inner);
    }
    default:
      throw new UnresolvedReferenceError(at, expr, `does not resolve: unknown source "${root ?? ''}" (use vars., env(), resources. or this.)`);
  }
}

/** `a.b[0].c` and `a['b-c']` -> ['a', 'b', '0', 'c'] / ['a', 'b-c']. */
function splitPath(expr: string): string[] {
  const parts: string[] = [];
  const re = /([^.[\]]+)|\[(?:'([^']*)'|"([^"]*)"|(\d+))\]/g;
  for (const m of expr.matchAll(re)) parts.push(m[1] ?? m[2] ?? m[3] ?? m[4] ?? '');
  return parts;
}

function walk(root: unknown, path: readonly string[]): { ok: true; value: unknown } | { ok: false; missing: string } {
  let current = root;
  const done: string[] = [];
  for (const key of path) {
    done.push(key);
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key)) {
      return { ok: false, missing: done.join('.') };
    }
    current = (current as Record<string, unknown>)[key];
  }
  return { ok: true, value: current };
}
