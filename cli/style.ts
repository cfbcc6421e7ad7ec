/**
 * Colour for people, plain text for pipes. Colour is on only when stdout is a terminal, the output is not
 * --json, and NO_COLOR is unset or empty (https://no-color.org: "when present and not an empty string").
 * Every styled text is the same words with SGR codes around them, so nothing depends on colour.
 */
export interface Style {
  readonly enabled: boolean;
  ok(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  bold(text: string): string;
  dim(text: string): string;
  /** The colour that fits an outcome or verdict word (succeeded, failed, superseded, healthy, repair, ...). */
  outcome(word: string, text?: string): string;
}

const sgr = (on: string, off: string) => (text: string) => `\u001b[${on}m${text}\u001b[${off}m`;

const Good = new Set(['succeeded', 'healthy', 'ok', 'online', 'Running', 'InUse', 'prepared']);
const Bad = new Set(['failed', 'rejected', 'repair', 'no-healthy-standby', 'offline', 'Stopped', '!!']);
const Warn = new Set(['superseded', 'running', 'skip', 'Stopping', 'Starting', '~~', 'timed-out']);

export function colourWanted(isTTY: boolean | undefined, env: NodeJS.ProcessEnv, json: boolean): boolean {
  return isTTY === true && !json && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

export function makeStyle(enabled: boolean): Style {
  const wrap = (f: (t: string) => string) => (enabled ? f : (t: string) => t);
  const ok = wrap(sgr('32', '39'));
  const bad = wrap(sgr('31', '39'));
  const warn = wrap(sgr('33', '39'));
  return {
    enabled,
    ok,
    bad,
    warn,
    bold: wrap(sgr('1', '22')),
    dim: wrap(sgr('2', '22')),
    outcome(word, text = word) {
      if (Good.has(word)) return ok(text);
      if (Bad.has(word)) return bad(text);
      if (Warn.has(word)) return warn(text);
      return text;
    },
  };
}
