/**
 * udev for the namespace guests, emulated: no udevd runs inside a network namespace, so when a NIC appears
 * in an instance (NetnsTopology.onNicAdded: an attach, or a late rename completing) this reads the
 * instance's rules files and runs the RUN programs of the rules that match, as systemd-udevd does on the
 * kernel's `add` uevent of a net device.
 *
 * Semantics followed (udev(7) of systemd 252, Debian 12's udev 252.39 `man 7 udev`):
 *  - rules files are read from /etc/udev/rules.d, /run/udev/rules.d, /lib/udev/rules.d and
 *    /usr/local/lib/udev/rules.d, all sorted together in lexical order of their file names; a file name in
 *    /etc replaces the same name in /run, and /run the system directories. A line is a comma-separated
 *    list of keys, `#` lines and empty lines are skipped; values are double-quoted.
 *  - match keys (`==`, `!=`): ACTION, SUBSYSTEM, and ATTR{address} - the sysfs attribute, a net device's MAC.
 *    All match keys of a rule must match for its assignments to apply.
 *  - `RUN+=` adds a program to the list run after all rules were processed (`RUN=`/`:=` replace the list),
 *    the program and its arguments separated by spaces; the
 *    program gets the event's properties in its environment: ACTION, SUBSYSTEM, DEVPATH, SEQNUM, INTERFACE
 *    and IFINDEX for a net device (as `udevadm monitor --property` shows them). Programs run one after the
 *    other, in the foreground of the event.
 * Guessed or left out: any other key (NAME, ENV, TAG, PROGRAM, IMPORT, GOTO/LABEL, glob patterns in values)
 * is not emulated - a rule carrying one is not applied and is reported in {@link EmulatedUdev.skipped};
 * single-quoted arguments in RUN, udevd's sandbox (systemd-udevd.service: IPAddressDeny=any; udev(7): "running
 * programs that access the network ... is not allowed inside of udev rules") and its kill of leftover
 * processes when the event ends are not emulated either: the program runs in the instance's namespace as
 * root, with the host's filesystem. guest/install-hook.sh's hook therefore hands the work to systemd-run on
 * a real instance and runs inline only where no systemd is (as here).
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ip, type NetnsTopology, type NicAdded } from './netns-topology';

/** One RUN program udev ran for an event. */
export interface UdevRun {
  readonly instanceId: string;
  readonly device: string;
  readonly mac: string;
  readonly program: string;
  readonly exitCode: number;
  readonly output: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** In order of precedence for files of the same name (udev(7)). */
const RULE_DIRS = ['etc/udev/rules.d', 'run/udev/rules.d', 'lib/udev/rules.d', 'usr/local/lib/udev/rules.d'];
const KEY = /^\s*([A-Z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|:=|=)\s*"([^"]*)"\s*$/;
/** Each RUN program gets this long, then SIGKILL (udevd's event timeout is 180 s by default; far shorter here). */
const RUN_TIMEOUT_MS = 60_000;

/**
 * Attaches to a topology and answers every NIC it hot-plugs. `rootOf` is where an instance's files live
 * (NetnsTopology.guestRoot), so the rules read are the ones installed in that instance.
 */
export class EmulatedUdev {
  /** Every RUN program run, in order of completion. */
  readonly runs: UdevRun[] = [];
  /** Rules not applied because they use keys this emulation does not know (file: line). */
  readonly skipped: string[] = [];
  private seqnum = 0;
  private pending = new Set<Promise<void>>();

  constructor(
    topo: NetnsTopology,
    private readonly rootOf: (instanceId: string) => string,
  ) {
    topo.onNicAdded((e) => {
      const p = this.add(e).finally(() => this.pending.delete(p));
      this.pending.add(p);
    });
  }

  /** Resolves once every event seen so far has run all its programs. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async add(e: NicAdded): Promise<void> {
    const programs = this.programsFor(e);
    if (programs.length === 0) return;
    const seq = ++this.seqnum;
    const ifindex = await readIfindex(e.namespace, e.device);
    const env = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      ACTION: 'add',
      SUBSYSTEM: 'net',
      DEVPATH: `/devices/virtual/net/${e.device}`,
      SEQNUM: String(seq),
      INTERFACE: e.device,
      IFINDEX: ifindex,
    };
    for (const program of programs) this.runs.push(await runProgram(e, program, env));
  }

  /** The RUN list of the rules matching this `add` event, after all rules (RUN= resets it). */
  private programsFor(e: NicAdded): string[] {
    const root = this.rootOf(e.instanceId);
    const files = new Map<string, string>();
    for (const dir of RULE_DIRS) {
      let names: string[] = [];
      try {
        names = readdirSync(join(root, dir));
      } catch {
        continue;
      }
      // A name in an earlier directory masks the same name in a later one (udev(7)).
      for (const n of names) if (n.endsWith('.rules') && !files.has(n)) files.set(n, join(root, dir, n));
    }
    let run: string[] = [];
    for (const name of [...files.keys()].sort()) {
      const file = files.get(name)!;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line.trim() === '' || line.trim().startsWith('#')) return;
          const rule = parseRule(line);
          if (rule === undefined) {
            this.skipped.push(`${file}:${i + 1}`);
            return;
          }
          if (!rule.matches.every((m) => (m.op === '==') === (valueOf(m.key, e) === m.value))) return;
          for (const a of rule.runs) run = a.op === '+=' ? [...run, a.value] : [a.value];
        });
    }
    return run;
  }
}

interface Rule {
  readonly matches: { key: string; op: '==' | '!='; value: string }[];
  readonly runs: { op: '=' | '+=' | ':='; value: string }[];
}

/** A rule of the keys emulated, or undefined when it has any other key or does not parse. */
function parseRule(line: string): Rule | undefined {
  const rule: Rule = { matches: [], runs: [] };
  // Values here never hold a comma inside quotes (the rules eni-failover writes); a split is enough.
  for (const part of line.split(',')) {
    const m = KEY.exec(part);
    if (m === null) return undefined;
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if ((key === 'ACTION' || key === 'SUBSYSTEM' || key === 'ATTR{address}') && (op === '==' || op === '!=')) rule.matches.push({ key, op, value });
    else if (key === 'RUN' && (op === '=' || op === '+=' || op === ':=')) rule.runs.push({ op, value });
    else return undefined;
  }
  return rule;
}

function valueOf(key: string, e: NicAdded): string {
  if (key === 'ACTION') return 'add';
  if (key === 'SUBSYSTEM') return 'net';
  return e.mac; // ATTR{address}: /sys/class/net/<dev>/address, lowercase
}

async function readIfindex(namespace: string, device: string): Promise<string> {
  const line = await ip('-n', namespace, '-o', 'link', 'show', 'dev', device).catch(() => '');
  return /^(\d+):/.exec(line)?.[1] ?? '';
}

/** udev splits a RUN value on spaces into the program and its arguments (no shell). */
function runProgram(e: NicAdded, program: string, env: Record<string, string>): Promise<UdevRun> {
  const argv = program.split(/\s+/).filter((a) => a !== '');
  const startedAt = Date.now();
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', e.namespace, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    const done = (exitCode: number) => {
      clearTimeout(timer);
      resolve({ instanceId: e.instanceId, device: e.device, mac: e.mac, program, exitCode, output, startedAt, endedAt: Date.now() });
    };
    child.once('error', (err) => {
      output += String(err);
      done(-1);
    });
    child.once('close', (code) => done(code ?? -1));
  });
}
