/**
 * FC timer-trigger schedules: 6-field cron, seconds first, in UTC (`0 *\/5 * * * *`), `?` allowed in the
 * day fields, month and weekday names; or `@every <duration>` (`@every 5m`, `@every 1h30m`)
 * (function-compute.md "Timer trigger").
 */

/**
 * `next(afterMs, startMs?)`: the first fire time strictly after `afterMs`. `@every` counts whole intervals
 * from `startMs` (when the trigger started; default `afterMs`).
 */
export type Schedule =
  | { readonly kind: 'cron'; readonly expression: string; next(afterMs: number, startMs?: number): number }
  | { readonly kind: 'every'; readonly expression: string; readonly intervalMs: number; next(afterMs: number, startMs?: number): number };

const FIELDS = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 6 },
] as const;

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Parses a schedule; throws an Error saying which field is wrong. */
export function parseSchedule(expression: string): Schedule {
  const text = expression.trim();
  if (text.startsWith('@every')) {
    const intervalMs = parseDuration(text.slice('@every'.length).trim());
    return {
      kind: 'every',
      expression: text,
      intervalMs,
      next: (afterMs, startMs = afterMs) => startMs + (Math.floor((afterMs - startMs) / intervalMs) + 1) * intervalMs,
    };
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 6) {
    throw new Error(`cron "${expression}" has ${parts.length} fields; FC wants 6 (seconds minutes hours day-of-month month day-of-week)`);
  }
  const sets = parts.map((part, i) => parseField(part, FIELDS[i]!, i === 4 ? MONTHS : i === 5 ? WEEKDAYS : undefined));
  const [sec, min, hour, dom, month, dow] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const domAny = parts[3] === '*' || parts[3] === '?';
  const dowAny = parts[5] === '*' || parts[5] === '?';
  const dayMatches = (d: Date): boolean => {
    const byDom = dom.has(d.getUTCDate());
    const byDow = dow.has(d.getUTCDay());
    // Classic cron: when both day fields are restricted, either may match.
    if (domAny || dowAny) return byDom && byDow;
    return byDom || byDow;
  };
  return {
    kind: 'cron',
    expression: text,
    next(afterMs: number): number {
      const t = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
      for (let guard = 0; guard < 500_000; guard++) {
        if (!month.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0, 0);
        } else if (!dayMatches(t)) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0, 0);
        } else if (!hour.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
        } else if (!min.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
        } else if (!sec.has(t.getUTCSeconds())) {
          t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
        } else {
          return t.getTime();
        }
      }
      throw new Error(`cron "${expression}" never fires`);
    },
  };
}

function parseField(part: string, field: (typeof FIELDS)[number], names: readonly string[] | undefined): Set<number> {
  const out = new Set<number>();
  const value = (token: string): number => {
    const byName = names?.indexOf(token.toUpperCase()) ?? -1;
    if (byName >= 0) return names === MONTHS ? byName + 1 : byName;
    if (!/^\d+$/.test(token)) throw new Error(`cron ${field.name} "${part}": "${token}" is not a number`);
    const n = Number(token);
    // Day of week 7 is Sunday as well in most cron dialects.
    return field.name === 'day of week' && n === 7 ? 0 : n;
  };
  for (const item of part.split(',')) {
    const [rangePart, stepPart] = item.split('/') as [string, string | undefined];
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (!Number.isInteger(step) || step < 1) throw new Error(`cron ${field.name} "${part}": bad step "${stepPart ?? ''}"`);
    let lo: number;
    let hi: number;
    if (rangePart === '*' || rangePart === '?') {
      lo = field.min;
      hi = field.max;
    } else if (rangePart.includes('-')) {
      const [a, b] = rangePart.split('-') as [string, string];
      lo = value(a);
      hi = value(b);
    } else {
      lo = value(rangePart);
      hi = stepPart === undefined ? lo : field.max;
    }
    if (lo < field.min || hi > field.max || lo > hi) {
      throw new Error(`cron ${field.name} "${part}" is outside ${field.min}-${field.max}`);
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function parseDuration(text: string): number {
  const re = /(\d+)(h|m|s)/g;
  let total = 0;
  let consumed = '';
  for (const m of text.matchAll(re)) {
    consumed += m[0];
    total += Number(m[1]) * (m[2] === 'h' ? 3600_000 : m[2] === 'm' ? 60_000 : 1000);
  }
  if (text === '' || consumed !== text || total <= 0) {
    throw new Error(`"@every ${text}" is not a duration like 5m, 1h30m or 90s`);
  }
  return total;
}

/** FC's triggerTime: ISO 8601, second precision, `Z` (function-compute.md, timer payload). */
export function formatTriggerTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
