import { version as packageVersion } from '../package.json';
import { hostname, userInfo } from 'node:os';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { randomUUID } from 'node:crypto';
import { evaluateFailback, failbackOperationId, failbackOriginId, preferredOf } from '../workflow/failback';
import { describeGroupEnis, parseGroups, type FailoverGroup, type GroupsConfig } from '../workflow/groups';
import { deriveOperationId, parseBindRequest, type BindRequest, type OperationEvent, type Origin } from '../workflow/messages';
import { readOnlyContext, runInProcess } from '../workflow/in-process';
import { preparedId, type LedgerPort } from '../workflow/ledger';
import { newRecord } from '../workflow/operation';
import { groupOfEni } from '../workflow/groups';
import { defaultQueueNames } from '../workflow/pipeline';
import { systemClock, type Clock } from '../workflow/ports';
import { validate } from '../workflow/steps/validate';
import { reconcile } from '../workflow/entries/schedule';
import { requestOrigin, type RequestEnvelopeInput } from '../workflow/entries/request';
import { preparedVerdict } from '../workflow/entries/prepare';
import type { Eni } from '../workflow/model';
import { hookSpec, type HookSpec } from '../workflow/prepare';
import { ConnectionHelp, ConnectionOptions, connect, type Connection } from './connection';
import { colourWanted, makeStyle, type Style } from './style';
import { ExitCode, UsageError } from './usage';
import { drawOperation, summariseTimeline } from './timeline';

/**
 * The eni-failover command line. Commands live in a table ({@link commands}); `registerCommand` adds
 * more (the local-cloud commands, `local up`, are added by whoever wires local/cloud.ts). Argument
 * parsing is node:util parseArgs, strict: an unknown option is a usage error (exit 2).
 */

export interface CliIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly clock?: Clock;
}

/** What the bundle embeds (cli/main.ts): the default groups and the guest script. */
export interface CliDefaults {
  readonly groupsYaml: string;
  readonly guestScript: string;
}

export interface CliContext {
  readonly io: CliIo;
  readonly defaults: CliDefaults;
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: readonly string[];
  /** The cloud the options select (built on first use). */
  connection(): Connection;
  groups(): GroupsConfig;
  print(text: string): void;
  json(value: unknown): void;
  /** Colour when stdout is a terminal and NO_COLOR is unset; plain otherwise (cli/style.ts). */
  readonly style: Style;
  /** With --verbose: a diagnostic line on stderr; otherwise nothing. */
  verbose(text: string): void;
}

export interface CliCommand {
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  readonly allowPositionals?: boolean;
  /**
   * Which common options the command takes: 'all' (the default: output, groups and cloud selection) or
   * 'help' (only -h, for commands that select no cloud, such as `local`): its --help lists only what works.
   */
  readonly common?: 'all' | 'help';
  run(ctx: CliContext): Promise<number>;
}

const HelpOnly = { help: { type: 'boolean', short: 'h' } } as const;

const Common = {
  ...HelpOnly,
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  groups: { type: 'string' },
  ...ConnectionOptions,
} as const;

const CommonHelp = `Common options:
  --json                machine-readable output (one JSON document on stdout)
  -v, --verbose         diagnostics on stderr: every ECS API attempt (API, result or error code, time)
                        and what submit sends where
  --groups FILE         failover groups (default: the bundled config/groups.yaml)
  -h, --help            this help
Output is coloured on a terminal only; NO_COLOR (non-empty) turns colour off.
${ConnectionHelp}`;

const BindOptions = {
  eni: { type: 'string' },
  instance: { type: 'string' },
  from: { type: 'string' },
  'allow-stop': { type: 'boolean' },
  'fence-source': { type: 'boolean' },
  'no-guest': { type: 'boolean' },
  deadline: { type: 'string' },
} as const;

const BindHelp = `  --eni ID              the secondary ENI to bind (eni-...)
  --instance ID         the instance to bind it to (i-...)
  --from ID             the instance it is bound to now, to detach it from (a failover)
  --allow-stop          may stop (or restart) the target when the bind needs it
  --fence-source        force-stop the source when its detach hangs
  --no-guest            do not configure the guest OS through Cloud Assistant
  --deadline S          the whole operation must end within S seconds (30..86400, default 900)`;

/** Checks the two ids first, so a half-typed command says what is missing before anything else. */
function requireIds(values: CliContext['values']): void {
  for (const name of ['eni', 'instance'] as const) {
    const v = values[name];
    if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required (e.g. --eni eni-xxxx --instance i-xxxx)`);
  }
}

/** The request the bind/submit options describe. Throws UsageError naming the bad option. */
export function requestFromOptions(values: CliContext['values'], regionId: string, origin: Origin): BindRequest {
  const need = (name: 'eni' | 'instance'): string => {
    const v = values[name];
    if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required (e.g. --eni eni-xxxx --instance i-xxxx)`);
    return v;
  };
  const policy: Record<string, unknown> = {
    allowStop: values['allow-stop'] === true,
    fenceSource: values['fence-source'] === true,
    configureGuest: values['no-guest'] !== true,
  };
  if (typeof values.deadline === 'string') {
    const n = Number(values.deadline);
    if (!Number.isInteger(n)) throw new UsageError(`--deadline must be whole seconds, not "${values.deadline}"`);
    policy.deadlineSeconds = n;
  }
  const parsed = parseBindRequest({
    eniId: need('eni'),
    instanceId: need('instance'),
    regionId,
    ...(typeof values.from === 'string' ? { sourceInstanceId: values.from } : {}),
    policy,
    origin,
  });
  if (!parsed.ok) {
    const named = parsed.error
      .replace(/\beniId\b/g, '--eni')
      .replace(/\bsourceInstanceId\b/g, '--from')
      .replace(/\binstanceId\b/g, '--instance')
      .replace(/\bregionId\b/g, '--region')
      .replace(/\bpolicy\.deadlineSeconds\b/g, '--deadline');
    throw new UsageError(named);
  }
  return parsed.value;
}

function cliOrigin(clock: Clock): Origin {
  let user = 'operator';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): keep the generic name.
  }
  const time = new Date(clock.now()).toISOString();
  return { kind: 'cli', id: `${user}@${hostname()}/${time}`.slice(0, 256), time };
}

const exitFor = (event: Pick<OperationEvent, 'outcome'>): number =>
  event.outcome === 'succeeded' ? ExitCode.Succeeded : event.outcome === 'superseded' ? ExitCode.Superseded : ExitCode.Failed;

// ---- bind --------------------------------------------------------------------------------------------------

const bind: CliCommand = {
  summary: 'bind an ENI to an instance now, running the whole workflow from this machine',
  usage: `eni-failover bind --eni ID --instance ID [--from ID] [--allow-stop] [--fence-source] [--no-guest]
                  [--deadline S] [--dry-run] [--json]

Runs the five steps (validate, stop-if-required, attach, verify-bound, configure-guest-routes) in this
process against the ECS API, printing one line per step as it reports.
  --dry-run             run validate only and print the plan; changes nothing
  --allow-unmanaged     bind an ENI that is in no failover group (the groups still bound every other write)
${BindHelp}
Exit codes: 0 succeeded (dry run: the plan is possible), 3 superseded, 4 failed (dry run: it would
fail), 2 bad usage, 1 unexpected error (credentials, network).`,
  options: { ...BindOptions, 'dry-run': { type: 'boolean' }, 'allow-unmanaged': { type: 'boolean' } },
  async run(ctx) {
    const clock = ctx.io.clock ?? systemClock;
    requireIds(ctx.values);
    const conn = ctx.connection();
    const request = requestFromOptions(ctx.values, conn.regionId, cliOrigin(clock));
    const ecs = conn.ecs();
    const authority = { groups: ctx.groups(), allowUnmanaged: ctx.values['allow-unmanaged'] === true };
    if (ctx.values['dry-run']) {
      const op = newRecord(request, clock.now());
      const result = await validate(op, readOnlyContext({ ecs, clock, guestScript: ctx.defaults.guestScript, authority }));
      const out = {
        dryRun: true,
        operationId: op.operationId,
        request,
        result: result.kind === 'next' ? 'plan' : result.kind === 'wait' ? 'not-ready' : result.outcome,
        ...(result.kind === 'end' && result.reason ? { reason: result.reason } : {}),
        detail: result.detail,
        ...(result.kind === 'next' ? { nextStep: result.step, plan: result.plan } : {}),
      };
      if (ctx.values.json) ctx.json(out);
      else {
        ctx.print(`dry run: bind ${request.eniId} to ${request.instanceId}${request.sourceInstanceId ? ` from ${request.sourceInstanceId}` : ''} (${conn.regionId})`);
        ctx.print(result.kind === 'next' ? `  ${result.detail}` : `  ${out.result}${'reason' in out ? ` ${out.reason}` : ''}: ${result.detail}`);
        if (result.kind === 'next') ctx.print(`  next step: ${result.step}; nothing was changed`);
      }
      return result.kind === 'end' ? ExitCode.Failed : ExitCode.Succeeded;
    }
    const { style } = ctx;
    const started = clock.now();
    if (!ctx.values.json) ctx.print(`bind ${request.eniId} -> ${request.instanceId}${request.sourceInstanceId ? ` (from ${request.sourceInstanceId})` : ''}  operation ${deriveOperationId(request)}`);
    const described = await ecs.describeEni(request.eniId);
    const group = described === undefined ? undefined : groupOfEni(authority.groups, described);
    const ledger = conn.ledger();
    const event = await runInProcess(request, {
      ecs,
      clock,
      authority,
      ...(ledger ? { ledger } : {}),
      ...(group ? { group: group.name } : {}),
      guestScript: ctx.defaults.guestScript,
      log: (line) => {
        if (ctx.values.json) return;
        const secs = ((clock.now() - started) / 1000).toFixed(1).padStart(6);
        const mark = { next: '->', requeued: '..', succeeded: 'ok', superseded: '~~', failed: '!!' }[String(line.outcome)] ?? '  ';
        const step = String(line.step).padEnd(22);
        ctx.print(`${secs}s ${style.bold(style.outcome(mark, mark))} ${step} ${String(line.detail)}`);
      },
    });
    if (ctx.values.json) ctx.json(event);
    else ctx.print(`${style.outcome(event.outcome)}${event.reason ? ` (${event.reason})` : ''} in ${(event.durationMs / 1000).toFixed(1)} s, ${event.apiCalls} API calls: ${event.message}`);
    return exitFor(event);
  },
};

// ---- submit ------------------------------------------------------------------------------------------------

const submit: CliCommand = {
  summary: 'ask the deployed workflow for a bind (requests queue, or the on-request function)',
  usage: `eni-failover submit --eni ID --instance ID [--from ID] [bind options] [--allow-unmanaged]
                    [--via mns|fc] [--wait] [--timeout S] [--queue-prefix P] [--json]

Sends the request envelope (workflow/entries/request.ts) to the eni-failover-requests queue (--via mns,
the default) or invokes the on-request function with it synchronously (--via fc), and prints the
operation id. With --wait, follows the events queue until that operation's outcome arrives: it receives
events, deletes only the one with its operation id, and hands every other event back at once
(ChangeMessageVisibility to 1 s, the MNS minimum) so other readers still see them.
${BindHelp}
  --allow-unmanaged     allow an ENI in no group, or a target outside the ENI's group
  --via mns|fc          how to submit (default mns)
  --wait                wait for the outcome; exit code as for bind
  --timeout S           give up waiting after S seconds (default: the deadline + 60); exit 5
  --queue-prefix P      queue name prefix (default eni-failover-)
Exit codes: 0 submitted (with --wait: succeeded), 3 superseded, 4 failed or rejected, 5 timed out, 2 bad usage, 1 error.`,
  options: {
    ...BindOptions,
    'allow-unmanaged': { type: 'boolean' },
    via: { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
    'queue-prefix': { type: 'string' },
  },
  async run(ctx) {
    const clock = ctx.io.clock ?? systemClock;
    const via = (ctx.values.via as string | undefined) ?? 'mns';
    if (via !== 'mns' && via !== 'fc') throw new UsageError(`--via must be mns or fc, not "${via}"`);
    requireIds(ctx.values);
    const conn = ctx.connection();
    const request = requestFromOptions(ctx.values, conn.regionId, cliOrigin(clock));
    // Every flag is checked before anything is sent: a bad --timeout must not leave a bind in flight.
    const timeoutS = typeof ctx.values.timeout === 'string' ? Number(ctx.values.timeout) : request.policy.deadlineSeconds + 60;
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout must be a positive number of seconds, not "${String(ctx.values.timeout)}"`);
    // on-request runs every queued request under a request origin (req/cli/...): follow that operation.
    const operationId = deriveOperationId({ ...request, origin: requestOrigin(request.origin, 'cli', clock.now()) });
    // Only what the operator said: the group's policy holds for the rest (a request may only tighten it).
    const policy = {
      ...(ctx.values['allow-stop'] === true ? { allowStop: true } : {}),
      ...(ctx.values['fence-source'] === true ? { fenceSource: true } : {}),
      ...(ctx.values['no-guest'] === true ? { configureGuest: false } : {}),
      ...(typeof ctx.values.deadline === 'string' ? { deadlineSeconds: request.policy.deadlineSeconds } : {}),
    };
    const envelope: RequestEnvelopeInput = {
      kind: 'eni-failover.request',
      request: {
        eniId: request.eniId,
        instanceId: request.instanceId,
        regionId: request.regionId,
        ...(request.sourceInstanceId ? { sourceInstanceId: request.sourceInstanceId } : {}),
        policy,
        origin: request.origin,
      },
      allowUnmanaged: ctx.values['allow-unmanaged'] === true,
    };
    const prefix = (ctx.values['queue-prefix'] as string | undefined) ?? 'eni-failover-';
    const queues = defaultQueueNames(prefix);
    let submitted: Record<string, unknown>;
    if (via === 'mns') {
      const mns = await conn.mns();
      const { messageId } = await mns.send(`${prefix}requests`, JSON.stringify(envelope));
      ctx.verbose(`  mns SendMessage ${prefix}requests ok: message ${messageId}`);
      submitted = { operationId, via, queue: `${prefix}requests`, messageId };
    } else {
      const event = [{ id: `cli-${operationId}`, source: 'eni-failover-cli', specversion: '1.0', type: 'mns:Queue:SendMessage', time: new Date(clock.now()).toISOString(), data: { messageId: `cli-${operationId}`, messageBody: JSON.stringify(envelope) } }];
      const res = await conn.fc().invoke(`${prefix}on-request`, JSON.stringify(event), { async: false });
      ctx.verbose(`  fc InvokeFunction ${prefix}on-request: ${res.functionError ? `function error ${res.functionError}` : 'ok'}`);
      const text = res.body.toString('utf8');
      if (res.functionError) throw new Error(`on-request failed (${res.functionError}): ${text.slice(0, 500)}`);
      const answer = JSON.parse(text) as { rejected?: string }[];
      const rejected = answer.find((a) => a.rejected)?.rejected;
      if (rejected) {
        if (ctx.values.json) ctx.json({ operationId, via, rejected });
        else ctx.print(`rejected: ${rejected}`);
        return ExitCode.Failed;
      }
      submitted = { operationId, via, answer };
    }
    if (!ctx.values.wait) {
      if (ctx.values.json) ctx.json(submitted);
      else ctx.print(`submitted operation ${operationId} via ${via}; follow it with --wait, or on the ${queues.events} queue`);
      return ExitCode.Succeeded;
    }
    if (!ctx.values.json) ctx.print(`submitted operation ${operationId} via ${via}; waiting for its outcome on ${queues.events}`);
    const watch = via === 'mns' ? { deadLetterQueue: queues.deadLetter, messageId: String(submitted.messageId) } : undefined;
    const ledger = conn.ledger();
    const heartbeat = ctx.values.json ? undefined : heartbeatFor(ctx, operationId, clock, ledger);
    const event = await waitForOutcomeOrRejection(await conn.mns(), queues.events, operationId, clock.now() + timeoutS * 1000, clock, watch, heartbeat);
    if (event !== undefined && 'rejected' in event) {
      // on-request refused the request (it names why): no operation was started, nothing will arrive.
      if (ctx.values.json) ctx.json({ ...submitted, rejected: event.rejected });
      else ctx.print(`rejected: ${event.rejected}`);
      return ExitCode.Failed;
    }
    if (event === undefined) {
      if (ctx.values.json) ctx.json({ ...submitted, timedOut: true });
      else ctx.print(`no outcome for ${operationId} within ${timeoutS} s; it may still be running (look on ${queues.events})`);
      return ExitCode.Timeout;
    }
    if (ctx.values.json) ctx.json(event);
    else ctx.print(`${ctx.style.outcome(event.outcome)}${event.reason ? ` (${event.reason})` : ''}: ${event.message}`);
    return exitFor(event);
  },
};

/** How often `submit --wait` says it is still waiting, and where the operation is (seconds). */
export const HeartbeatSeconds = 5;

/**
 * The progress line `submit --wait` prints on stderr every {@link HeartbeatSeconds} while it waits: the
 * operation's current step and its last report from the ledger when one is configured, else the time waited.
 */
function heartbeatFor(ctx: CliContext, operationId: string, clock: Clock, ledger: LedgerPort | undefined): () => Promise<void> {
  const since = clock.now();
  let last = since;
  return async () => {
    if (clock.now() - last < HeartbeatSeconds * 1000) return;
    last = clock.now();
    const waited = `${Math.round((last - since) / 1000)} s`;
    let where = 'no ledger configured to say where it is (--ots-instance)';
    if (ledger !== undefined) {
      const record = await ledger.get(operationId).catch((err: Error) => err);
      if (record instanceof Error) where = `the ledger could not be read (${record.message.split('\n')[0]})`;
      else if (record === undefined) where = 'not started yet: the request is queued for on-request';
      else {
        const latest = record.timeline.at(-1);
        where = `${record.status} at ${record.step}#${record.attempt}${latest ? `: ${latest.detail}` : ''}`;
      }
    }
    ctx.io.stderr.write(`  ${ctx.style.dim(`waiting ${waited}:`)} ${where}\n`);
  };
}

/** A request sent to the requests queue that on-request may refuse: its refusal lands on the dead-letter queue. */
export interface RejectionWatch {
  readonly deadLetterQueue: string;
  readonly messageId: string;
}

/**
 * Looks once at the dead-letter queue for on-request's refusal of the request sent as `messageId`
 * (`{kind: 'eni-failover.rejected', messageId, error}`). Nothing is deleted: every dead letter, the refusal
 * included, is handed back at once for whoever processes them.
 */
async function findRejection(mns: Pick<import('../cloud/mns').MnsQueues, 'receive' | 'changeVisibility'>, watch: RejectionWatch): Promise<string | undefined> {
  let found: string | undefined;
  for (const m of await mns.receive(watch.deadLetterQueue, { waitSeconds: 0, max: 16 })) {
    try {
      const letter = JSON.parse(m.body) as { kind?: string; messageId?: string; error?: string };
      if (letter.kind === 'eni-failover.rejected' && letter.messageId === watch.messageId) found ??= letter.error ?? 'rejected without a reason';
    } catch {
      // not ours
    }
    await mns.changeVisibility(watch.deadLetterQueue, m.receiptHandle, HandBackSeconds).catch(() => undefined);
  }
  return found;
}

/** The minimum VisibilityTimeout MNS accepts (1..43200 s): how soon another reader sees an event we skip. */
const HandBackSeconds = 1;

/**
 * Receives from the events queue until the outcome of `operationId` arrives (deleted) or the deadline
 * passes. Events of other operations are handed back at once; each is looked at most once per call.
 */
export async function waitForOutcome(
  mns: Pick<import('../cloud/mns').MnsQueues, 'receive' | 'delete' | 'changeVisibility'>,
  queue: string,
  operationId: string,
  deadlineMs: number,
  clock: Clock,
): Promise<(OperationEvent & { reason?: string }) | undefined> {
  return (await waitForOutcomeOrRejection(mns, queue, operationId, deadlineMs, clock)) as (OperationEvent & { reason?: string }) | undefined;
}

/** {@link waitForOutcome}, also ending when on-request's refusal of the watched request is dead-lettered. */
export async function waitForOutcomeOrRejection(
  mns: Pick<import('../cloud/mns').MnsQueues, 'receive' | 'delete' | 'changeVisibility'>,
  queue: string,
  operationId: string,
  deadlineMs: number,
  clock: Clock,
  rejection?: RejectionWatch,
  heartbeat?: () => Promise<void>,
): Promise<(OperationEvent & { reason?: string }) | { rejected: string } | undefined> {
  while (clock.now() < deadlineMs) {
    await heartbeat?.();
    if (rejection !== undefined) {
      const rejected = await findRejection(mns, rejection);
      if (rejected !== undefined) return { rejected };
    }
    // With a rejection to watch for, look at the dead-letter queue every few seconds.
    // A heartbeat needs the loop back at least that often.
    const longest = rejection !== undefined ? 3 : heartbeat !== undefined ? HeartbeatSeconds : 30;
    const waitSeconds = Math.max(1, Math.min(longest, Math.floor((deadlineMs - clock.now()) / 1000)));
    const messages = await mns.receive(queue, { waitSeconds, max: 16 });
    let found: OperationEvent | undefined;
    for (const m of messages) {
      let event: Partial<OperationEvent> | undefined;
      try {
        event = JSON.parse(m.body) as Partial<OperationEvent>;
      } catch {
        event = undefined;
      }
      if (found === undefined && event?.operationId === operationId) {
        await mns.delete(queue, m.receiptHandle);
        found = event as OperationEvent;
      } else {
        await mns.changeVisibility(queue, m.receiptHandle, HandBackSeconds).catch(() => undefined);
      }
    }
    if (found) return found;
  }
  return undefined;
}

// ---- status ------------------------------------------------------------------------------------------------

const status: CliCommand = {
  summary: 'show every group: which member holds each ENI, member health, what reconcile would do',
  usage: `eni-failover status [--group NAME] [--json]
       eni-failover status --operation ID [--json]

With --operation: that operation as the ledger records it (request, plan, state, each step's waits and
API calls, outcome); exit code as for bind, 5 while it is still running.
Otherwise reads ECS only. For each group: its ENIs and who holds them, its members in priority order with their
state, zone, ENIs and Cloud Assistant status, and the verdict a reconcile pass would reach (healthy,
repair, skip, or no healthy standby). For a group with prepare: true, also each member's hot-plug hook as
the prepare job last recorded it in the ledger: prepared, drift (missing, outdated, install failed), or not
applicable (serving, not Running). Exit codes: 0 every ENI healthy, 4 something needs repair, 2 bad
usage, 1 error.`,
  options: { group: { type: 'string' }, operation: { type: 'string' } },
  async run(ctx) {
    const clock = ctx.io.clock ?? systemClock;
    if (typeof ctx.values.operation === 'string') return showOperation(ctx, ctx.values.operation);
    const all = ctx.groups();
    const name = ctx.values.group as string | undefined;
    const groups = name === undefined ? all.groups : all.groups.filter((g) => g.name === name);
    if (name !== undefined && groups.length === 0) throw new UsageError(`no group "${name}" (groups: ${all.groups.map((g) => g.name).join(', ') || 'none'})`);
    const conn = ctx.connection();
    const ecs = conn.ecs();
    const report = [];
    let unhealthy = false;
    for (const group of groups) {
      const enis = await describeGroupEnis(ecs, group);
      const instances = await ecs.describeInstances(group.members);
      const members = [];
      for (const [i, id] of group.members.entries()) {
        const inst = instances.find((x) => x.instanceId === id);
        members.push({
          priority: i + 1,
          instanceId: id,
          status: inst?.status ?? 'NotFound',
          zoneId: inst?.zoneId,
          instanceType: inst?.instanceType,
          eniCount: inst?.eniIds.length,
          cloudAssistant: inst?.status === 'Running' ? ((await ecs.cloudAssistantOnline(id)) ? 'online' : 'offline') : 'n/a',
          holds: enis.filter((e) => e.instanceId === id).map((e) => e.eniId),
        });
      }
      const prepared = group.prepare ? await preparedStates(conn.ledger(), group, enis, members, ctx.defaults.guestScript) : undefined;
      const verdicts = await reconcile({ kind: 'cli', id: 'status', time: new Date(clock.now()).toISOString() }, { ecs, groups: { version: 1, groups: [group] }, regionId: conn.regionId, now: () => clock.now() });
      const verdict = verdicts.map((d) =>
        d.kind === 'bind'
          ? { eniId: d.request.eniId, verdict: 'repair', detail: d.note.replace(/^repair: /, '') }
          : d.kind === 'fail'
            ? { eniId: d.event.eniId, verdict: 'no-healthy-standby', detail: d.event.message }
            : { eniId: d.eniId, verdict: d.reason.startsWith('healthy') ? 'healthy' : 'skip', detail: d.reason },
      );
      if (verdict.some((v) => v.verdict !== 'healthy')) unhealthy = true;
      const failback = await failbackStanding(group, conn, clock);
      report.push({
        group: group.name,
        policy: group.policy,
        enis: enis.map((e) => ({ eniId: e.eniId, status: e.status, instanceId: e.instanceId ?? null, privateIps: e.privateIps, zoneId: e.zoneId })),
        members: members.map((m) => (prepared ? { ...m, prepared: prepared.get(m.instanceId) } : m)),
        verdict,
        ...(failback === undefined ? {} : { failback }),
      });
    }
    if (ctx.values.json) ctx.json({ regionId: conn.regionId, groups: report });
    else {
      if (report.length === 0) ctx.print('no failover groups configured (see config/README.md)');
      for (const g of report) {
        ctx.print(`group ${g.group}`);
        for (const e of g.enis) ctx.print(`  ENI ${e.eniId}  ${e.status}${e.instanceId ? ` on ${e.instanceId}` : ''}  ${e.privateIps.join(', ')}`);
        for (const m of g.members) {
          const st = ctx.style;
          const holds = m.holds.length ? `${' '.repeat(Math.max(0, 7 - m.cloudAssistant.length))} holds ${m.holds.join(', ')}` : '';
          ctx.print(`  ${String(m.priority).padStart(2)}. ${m.instanceId.padEnd(22)} ${st.outcome(m.status, m.status.padEnd(9))} ${(m.zoneId ?? '').padEnd(16)} agent ${st.outcome(m.cloudAssistant)}${holds}`);
          if ('prepared' in m && m.prepared !== undefined) ctx.print(`      hot-plug hook: ${m.prepared}`);
        }
        // (a healthy verdict's detail already starts with "healthy: ")
        for (const v of g.verdict) ctx.print(`  ${ctx.style.outcome(v.verdict)}: ${v.detail.startsWith(`${v.verdict}: `) ? v.detail.slice(v.verdict.length + 2) : v.detail}`);
        if (g.failback !== undefined && g.failback.state !== 'none') ctx.print(`  ${failbackLine(g.group, g.failback)}`);
      }
    }
    return unhealthy ? ExitCode.Failed : ExitCode.Succeeded;
  },
};

/**
 * A prepared group's members as the prepare job last recorded them (ledger rows `prepared/<instance>`),
 * compared with the hook this CLI's guest script and the group's ENIs call for.
 */
async function preparedStates(
  ledger: LedgerPort | undefined,
  group: FailoverGroup,
  enis: readonly Eni[],
  members: readonly { instanceId: string; status: string; holds: readonly string[] }[],
  guestScript: string,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let wanted: HookSpec | undefined;
  try {
    wanted = enis.length === 0 ? undefined : hookSpec(enis.map((e) => ({ mac: e.macAddress, ips: e.privateIps })), group.policy.persistGuest, guestScript);
  } catch {
    wanted = undefined;
  }
  for (const m of members) {
    if (ledger === undefined) {
      out.set(m.instanceId, 'unknown (no operation ledger configured: --ots-instance or --local)');
      continue;
    }
    const row = await ledger.getLease(preparedId(m.instanceId));
    out.set(m.instanceId, preparedVerdict({ prepared: row?.prepared, wanted, serving: m.holds.length > 0, status: m.status }));
  }
  return out;
}

// ---- failback (workflow/failback.ts) -----------------------------------------------------------------------

/** Where a group's failback stands, read from its clock in the ledger (writes nothing); undefined without a ledger. */
async function failbackStanding(group: FailoverGroup, conn: Connection, clock: Clock) {
  const ledger = conn.ledger();
  if (ledger === undefined) return undefined;
  const report = await evaluateFailback(group, { kind: 'look', at: clock.now() }, { kind: 'read' }, { ecs: conn.ecs(), ledger, regionId: conn.regionId, now: () => clock.now() });
  return { mode: report.mode, state: report.state, detail: report.detail, ...(report.dueAt === undefined ? {} : { dueAt: new Date(report.dueAt).toISOString() }) };
}

function failbackLine(group: string, f: { mode: string; state: string; detail: string }): string {
  if (f.state === 'possible') return `${f.detail}${f.mode === 'manual' ? ` (manual: eni-failover failback --group ${group})` : ''}`;
  return `failback ${f.state} (${f.mode}): ${f.detail}`;
}

const failback: CliCommand = {
  summary: 'move a group\'s ENIs back to its preferred member, when its failback clock allows it',
  usage: `eni-failover failback --group NAME [--wait] [--timeout S] [--queue-prefix P] [--json]

Asks the deployed workflow (the requests queue) to fail the group's ENIs back from the standby holding
them to the group's first member. It happens only when the failback clock allows it - the preferred
member healthy for the group's holdSeconds, the ENIs on the standby minDwellSeconds, no failback in the
last holdSeconds - exactly as failback: auto would; status shows "failback possible" then. Checked here
first (nothing is sent otherwise), and again by on-request, which refuses it on the dead-letter queue
if it no longer holds.
  --wait                wait for every failback operation's outcome; exit code as for bind
  --timeout S           give up waiting after S seconds (default 960); exit 5
  --queue-prefix P      queue name prefix (default eni-failover-)
Exit codes: 0 submitted (with --wait: succeeded), 3 superseded, 4 not possible now, failed or rejected,
5 timed out, 2 bad usage, 1 error.`,
  options: { group: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, 'queue-prefix': { type: 'string' } },
  async run(ctx) {
    const clock = ctx.io.clock ?? systemClock;
    const name = ctx.values.group;
    if (typeof name !== 'string' || name === '') throw new UsageError('--group is required (eni-failover failback --group NAME)');
    const group = ctx.groups().groups.find((g) => g.name === name);
    if (group === undefined) throw new UsageError(`no group "${name}" (groups: ${ctx.groups().groups.map((g) => g.name).join(', ') || 'none'})`);
    const timeoutS = typeof ctx.values.timeout === 'string' ? Number(ctx.values.timeout) : group.policy.deadlineSeconds + 60;
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout must be a positive number of seconds, not "${String(ctx.values.timeout)}"`);
    const conn = ctx.connection();
    const ledger = needLedger(ctx);
    const standing = await evaluateFailback(group, { kind: 'look', at: clock.now() }, { kind: 'read' }, { ecs: conn.ecs(), ledger, regionId: conn.regionId, now: () => clock.now() });
    if (standing.state !== 'possible') {
      if (ctx.values.json) ctx.json({ group: name, possible: false, state: standing.state, detail: standing.detail });
      else ctx.print(`failback of group ${name} is not possible now (${standing.state}): ${standing.detail}`);
      return ExitCode.Failed;
    }
    const preferred = preferredOf(group);
    const away = (await describeGroupEnis(conn.ecs(), group)).filter((e) => e.status === 'InUse' && e.instanceId !== undefined && e.instanceId !== preferred && group.members.includes(e.instanceId));
    const requestId = `cli-${randomUUID()}`;
    const originId = failbackOriginId(name, { requestId });
    const operations = away.map((e) => ({ eniId: e.eniId, from: e.instanceId!, operationId: failbackOperationId(originId, e.eniId, preferred) }));
    const prefix = (ctx.values['queue-prefix'] as string | undefined) ?? 'eni-failover-';
    const queues = defaultQueueNames(prefix);
    const mns = await conn.mns();
    const { messageId } = await mns.send(`${prefix}requests`, JSON.stringify({ kind: 'eni-failover.failback', group: name, id: requestId }));
    const submitted = { group: name, messageId, operations };
    if (!ctx.values.wait) {
      if (ctx.values.json) ctx.json(submitted);
      else for (const o of operations) ctx.print(`submitted failback of ${o.eniId} from ${o.from} to ${preferred}: operation ${o.operationId}`);
      return ExitCode.Succeeded;
    }
    const deadline = clock.now() + timeoutS * 1000;
    const outcomes = [];
    for (const o of operations) {
      if (!ctx.values.json) ctx.print(`failback of ${o.eniId} from ${o.from} to ${preferred}: operation ${o.operationId}; waiting for its outcome on ${queues.events}`);
      const event = await waitForOutcomeOrRejection(mns, queues.events, o.operationId, deadline, clock, { deadLetterQueue: queues.deadLetter, messageId });
      if (event !== undefined && 'rejected' in event) {
        if (ctx.values.json) ctx.json({ ...submitted, rejected: event.rejected });
        else ctx.print(`rejected: ${event.rejected}`);
        return ExitCode.Failed;
      }
      if (event === undefined) {
        if (ctx.values.json) ctx.json({ ...submitted, timedOut: o.operationId });
        else ctx.print(`no outcome for ${o.operationId} within ${timeoutS} s; it may still be running (look on ${queues.events})`);
        return ExitCode.Timeout;
      }
      if (!ctx.values.json) ctx.print(`${event.outcome}${event.reason ? ` (${event.reason})` : ''}: ${event.message}`);
      outcomes.push(event);
    }
    if (ctx.values.json) ctx.json({ ...submitted, outcomes });
    return Math.max(ExitCode.Succeeded, ...outcomes.map((e) => exitFor(e)));
  },
};

// ---- the operation ledger: status --operation, history -----------------------------------------------------

function needLedger(ctx: CliContext): LedgerPort {
  const ledger = ctx.connection().ledger();
  if (ledger === undefined) throw new UsageError('no operation ledger configured: pass --ots-instance NAME (the s.yaml vars.ledger.instanceName), set ENI_FAILOVER_OTS_INSTANCE, or use --local');
  return ledger;
}

const ago = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function showOperation(ctx: CliContext, operationId: string): Promise<number> {
  if (!/^op-[0-9a-f]{16}$/.test(operationId)) throw new UsageError(`--operation must look like op-<16 hex digits>, not "${operationId}"`);
  const record = await needLedger(ctx).get(operationId);
  if (record === undefined) {
    if (ctx.values.json) ctx.json({ operationId, found: false });
    else ctx.print(`no operation ${operationId} in the ledger (finished operations are kept 30 days)`);
    return ExitCode.Failed;
  }
  if (ctx.values.json) {
    ctx.json(record);
  } else {
    const r = record.request;
    ctx.print(`operation ${record.operationId}  ${ctx.style.outcome(record.status)}${record.outcome?.reason ? ` (${record.outcome.reason})` : ''}${record.group ? `  group ${record.group}` : ''}`);
    ctx.print(`  bind ${r.eniId} -> ${r.instanceId}${r.sourceInstanceId ? ` from ${r.sourceInstanceId}` : ''}  origin ${r.origin.kind} ${r.origin.id}`);
    ctx.print(`  started ${new Date(record.startedAt).toISOString()}, deadline ${new Date(record.deadlineAt).toISOString()}, now at ${record.step}#${record.attempt}`);
    if (record.timelineDropped > 0) ctx.print(`  (${record.timelineDropped} earlier timeline entries not kept)`);
    for (const t of record.timeline) {
      const calls = Object.entries(t.calls).map(([k, v]) => `${k} ${v}`).join(', ');
      ctx.print(`  +${ago(t.at - record.startedAt).padStart(8)} ${t.step.padEnd(22)} ${t.outcome.padEnd(10)} ${t.detail}${calls ? `  [${calls}]` : ''}`);
      for (const w of t.waits ?? []) ctx.print(`  ${' '.repeat(43)}waited: ${w}`);
    }
    if (record.outcome) ctx.print(`  ${record.outcome.outcome} in ${ago(record.outcome.durationMs)}, ${record.outcome.apiCalls} API calls: ${record.outcome.message}`);
  }
  if (record.status === 'running') return ExitCode.Timeout;
  return exitFor({ outcome: record.status as OperationEvent['outcome'] });
}

/** `--since 2h`, `--since 30m`, `--since 2026-12-01T00:00:00Z`: epoch ms. */
export function parseSince(text: string, now: number): number {
  const rel = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (rel) return now - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new UsageError(`--since must be a duration (30m, 2h, 7d) or an ISO time, not "${text}"`);
  return at;
}

const history: CliCommand = {
  summary: 'list operations from the ledger: what moved which ENI, when, and how it ended',
  usage: `eni-failover history [--eni ID] [--since 2h|ISO] [--limit N] [--json]

Reads the operation ledger (Tablestore), newest first: one line per operation with its outcome, reason,
duration, API calls and origin. Details of one: eni-failover status --operation ID.
Exit codes: 0 listed, 2 bad usage, 1 error.`,
  options: { eni: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } },
  async run(ctx) {
    const clock = ctx.io.clock ?? systemClock;
    const eniId = ctx.values.eni as string | undefined;
    if (eniId !== undefined && !/^eni-[a-z0-9][a-z0-9-]{0,62}$/.test(eniId)) throw new UsageError(`--eni must look like eni-xxxx, not "${eniId}"`);
    const since = typeof ctx.values.since === 'string' ? parseSince(ctx.values.since, clock.now()) : undefined;
    const limit = typeof ctx.values.limit === 'string' ? Number(ctx.values.limit) : 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000, not "${String(ctx.values.limit)}"`);
    const records = await needLedger(ctx).list({ ...(eniId ? { eniId } : {}), ...(since !== undefined ? { since } : {}), limit });
    if (ctx.values.json) {
      ctx.json(records.map((r) => ({ operationId: r.operationId, status: r.status, reason: r.outcome?.reason, eniId: r.request.eniId, instanceId: r.request.instanceId, sourceInstanceId: r.request.sourceInstanceId, origin: r.request.origin, startedAt: r.startedAt, durationMs: r.outcome?.durationMs, apiCalls: r.outcome?.apiCalls, step: r.step })));
      return ExitCode.Succeeded;
    }
    if (records.length === 0) ctx.print(`no operations${eniId ? ` for ${eniId}` : ''}${since !== undefined ? ` since ${new Date(since).toISOString()}` : ''}`);
    for (const r of records) {
      const q = r.request;
      const took = r.outcome ? ago(r.outcome.durationMs) : `running at ${r.step}`;
      ctx.print(`${new Date(r.startedAt).toISOString()}  ${r.operationId}  ${ctx.style.outcome(r.status, (r.status + (r.outcome?.reason ? `/${r.outcome.reason}` : '')).padEnd(28))} ${q.eniId} -> ${q.instanceId}${q.sourceInstanceId ? ` from ${q.sourceInstanceId}` : ''}  ${took}  ${q.origin.kind} ${q.origin.id}`);
    }
    return ExitCode.Succeeded;
  },
};

// ---- timeline ----------------------------------------------------------------------------------------------

const timeline: CliCommand = {
  summary: 'draw one operation as an SVG timeline: its steps, the cloud\'s transitions, where the time went',
  usage: `eni-failover timeline OPERATION [--out FILE.svg] [--json]

Reads the operation from the ledger (as status --operation does) and draws it Gantt-style: one bar per step
invocation with its duration and ECS calls, the cloud's transitions (Stopping, Detaching, Attaching, the
guest command) from the request to the moment the workflow saw them done, the outcome, and the total split
into the cloud's time, the policy's wait and the workflow's overhead.
  --out FILE.svg        where to write it (default: timeline-OPERATION.svg in this directory; - for stdout)
Exit codes: 0 drawn (a running operation is drawn as far as it got), 4 no such operation, 2 bad usage, 1 error.`,
  options: { out: { type: 'string' } },
  allowPositionals: true,
  async run(ctx) {
    const [operationId, ...extra] = ctx.positionals;
    if (operationId === undefined) throw new UsageError('which operation? eni-failover timeline op-<16 hex digits> (eni-failover history lists them)');
    if (extra.length > 0) throw new UsageError(`one operation at a time, not also ${extra.map((e) => `"${e}"`).join(' ')}`);
    if (!/^op-[0-9a-f]{16}$/.test(operationId)) throw new UsageError(`the operation must look like op-<16 hex digits>, not "${operationId}" (eni-failover history lists them)`);
    const out = typeof ctx.values.out === 'string' ? ctx.values.out : `timeline-${operationId}.svg`;
    const file = out === '-' ? undefined : resolve(ctx.io.cwd, out);
    if (file === undefined && ctx.values.json) throw new UsageError('--out - writes the SVG to stdout, where --json would write too: pick one');
    if (file !== undefined) requireSvgPath(out, file);
    const record = await needLedger(ctx).get(operationId);
    if (record === undefined) {
      ctx.io.stderr.write(`eni-failover timeline: no operation ${operationId} in the ledger (finished operations are kept 30 days); eni-failover history lists the recent ones\n`);
      return ExitCode.Failed;
    }
    const { svg, model } = drawOperation({ record });
    if (file === undefined) ctx.io.stdout.write(svg);
    else writeFileSync(file, svg);
    if (ctx.values.json && file !== undefined) ctx.json({ operationId, out: file, status: record.status, durationMs: model.totalMs, invocations: model.bars.length, split: model.split });
    else if (file !== undefined) ctx.print(`wrote ${out}: ${summariseTimeline(model)}`);
    return ExitCode.Succeeded;
  },
};

/** --out must name an .svg file in a directory that exists: checked before the ledger is read. */
function requireSvgPath(out: string, file: string): void {
  if (!/\.svg$/i.test(file)) throw new UsageError(`--out must name an .svg file (e.g. --out failover.svg), not "${out}"`);
  let isDir = false;
  try {
    isDir = statSync(dirname(file)).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new UsageError(`--out ${out}: there is no directory ${dirname(file)}; create it or pick another path`);
}

// ---- the table ---------------------------------------------------------------------------------------------

/** The commands, by name. Extend with {@link registerCommand} (e.g. `local` for local/cloud.ts). */
export const commands = new Map<string, CliCommand>([
  ['bind', bind],
  ['submit', submit],
  ['status', status],
  ['history', history],
  ['timeline', timeline],
  ['failback', failback],
]);

/** Adds (or replaces) a command; its options are merged with the common ones. */
export function registerCommand(name: string, command: CliCommand): void {
  commands.set(name, command);
}

function topHelp(): string {
  const width = Math.max(...[...commands.keys()].map((k) => k.length));
  return `eni-failover - bind secondary ENIs safely; fail a service IP over to a standby

Usage: eni-failover <command> [options]     eni-failover <command> --help     eni-failover --version

Commands:
${[...commands].map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join('\n')}

${CommonHelp}

Exit codes: 0 succeeded, 1 error, 2 bad usage, 3 superseded, 4 failed, 5 timed out.
`;
}

/**
 * Runs one command line. Guarantees: returns the exit code (never calls process.exit); usage errors
 * print the problem and a hint on stderr and return 2; other errors print their message and return 1.
 */
export async function runCli(argv: readonly string[], io: CliIo, defaults: CliDefaults): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout.write(`eni-failover ${packageVersion}\n`);
    return ExitCode.Succeeded;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(topHelp());
    return name === undefined ? ExitCode.Usage : ExitCode.Succeeded;
  }
  const command = commands.get(name);
  if (command === undefined) {
    io.stderr.write(`eni-failover: unknown command "${name}"; commands: ${[...commands.keys()].join(', ')} (eni-failover --help)\n`);
    return ExitCode.Usage;
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    const common = command.common === 'help' ? HelpOnly : Common;
    parsed = parseArgs({ args: [...rest], options: { ...common, ...command.options }, strict: true, allowPositionals: command.allowPositionals ?? false }) as typeof parsed;
  } catch (err) {
    io.stderr.write(`eni-failover ${name}: ${(err as Error).message} (eni-failover ${name} --help)\n`);
    return ExitCode.Usage;
  }
  if (parsed.values.help) {
    io.stdout.write(command.common === 'help' ? `Usage: ${command.usage}\n` : `Usage: ${command.usage}\n\n${CommonHelp}\n`);
    return ExitCode.Succeeded;
  }
  const verbose = parsed.values.verbose === true;
  const say = (text: string) => void io.stderr.write(`${text}\n`);
  let connection: Connection | undefined;
  let groups: GroupsConfig | undefined;
  const ctx: CliContext = {
    io,
    defaults,
    values: parsed.values,
    positionals: parsed.positionals,
    connection: () =>
      (connection ??= connect(parsed.values, io.env, io.cwd, verbose ? { ecsCall: (e) => say(`  ecs ${e.api}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''} ${e.ok ? 'ok' : e.code ?? 'error'} ${e.ms} ms`) } : {})),
    groups: () => {
      if (groups) return groups;
      const file = parsed.values.groups;
      if (typeof file === 'string') {
        let text: string;
        try {
          text = readFileSync(resolve(io.cwd, file), 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read --groups ${file}: ${(err as Error).message}`);
        }
        return (groups = parseGroups(text, file));
      }
      return (groups = parseGroups(defaults.groupsYaml, 'config/groups.yaml (bundled)'));
    },
    print: (text) => void io.stdout.write(`${text}\n`),
    json: (value) => void io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    style: makeStyle(colourWanted(io.stdout.isTTY, io.env, parsed.values.json === true)),
    verbose: (text) => (verbose ? say(text) : undefined),
  };
  try {
    return await command.run(ctx);
  } catch (err) {
    if (err instanceof UsageError || (err as Error).name === 'GroupsConfigError') {
      io.stderr.write(`eni-failover ${name}: ${(err as Error).message}\n`);
      return ExitCode.Usage;
    }
    io.stderr.write(`eni-failover ${name}: ${(err as Error).message}\n`);
    return ExitCode.Error;
  }
}
