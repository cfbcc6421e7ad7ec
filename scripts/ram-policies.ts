// Least privilege per function, derived from the code: one RAM policy for each function's role, one for
// systems that send requests, one for operators running the CLI. `npx tsx scripts/ram-policies.ts [dir]`
// writes them (deploy/ram/ for the default s.yaml vars); `npm run deploy` writes them for your vars into
// dist/ram/; scripts/check-deployment.ts regenerates them and fails when deploy/ram/ differs.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { defaultQueueNames } from '../workflow/pipeline';

export interface PolicyVars {
  readonly region: string;
  readonly accountId: string;
  readonly queuePrefix: string;
  readonly otsInstance: string;
  readonly tables: readonly string[];
  /** The lease table (keyed by resource_id): the only one the notifier touches (its notice rows). */
  readonly leaseTable: string;
}

interface Statement {
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}
export interface Policy {
  Version: '1';
  Statement: Statement[];
}

/** Where each function's code is (what it can call is what these files call). */
export const FunctionSources: Readonly<Record<string, { kind: 'step' | 'entry' | 'notifier'; files: readonly string[] }>> = {
  validate: { kind: 'step', files: ['workflow/steps/validate.ts'] },
  'stop-if-required': { kind: 'step', files: ['workflow/steps/stop-if-required.ts'] },
  attach: { kind: 'step', files: ['workflow/steps/attach.ts'] },
  'verify-bound': { kind: 'step', files: ['workflow/steps/verify-bound.ts'] },
  'configure-guest-routes': { kind: 'step', files: ['workflow/steps/configure-guest-routes.ts'] },
  'on-alarm': { kind: 'entry', files: ['workflow/entries/alarm.ts'] },
  'on-ecs-event': { kind: 'entry', files: ['workflow/entries/ecs-event.ts'] },
  'on-schedule': { kind: 'entry', files: ['workflow/entries/schedule.ts', 'workflow/entries/prepare.ts'] },
  'on-request': { kind: 'entry', files: ['workflow/entries/request.ts'] },
  notifier: { kind: 'notifier', files: ['workflow/notifier.ts'] },
};
/** What every step shares (the runner: restore, rescue) and every entry shares (failover, standby choice). */
const Shared = {
  step: ['workflow/runner.ts', 'workflow/operation.ts', 'workflow/standby.ts', 'workflow/groups.ts'],
  entry: ['functions/_shared/entry-function.ts', 'workflow/entries/failover.ts', 'workflow/operation.ts', 'workflow/standby.ts', 'workflow/slots.ts', 'workflow/groups.ts'],
  notifier: ['functions/_shared/notifier-function.ts'],
} as const;

const read = (root: string, rel: string) => readFileSync(join(root, rel), 'utf8');

/** ECS port method -> the ECS APIs it calls (cloud/ecs.ts, following calls between its own methods). */
export function portMethodApis(ecsSource: string, portsSource: string): Map<string, string[]> {
  const port = /export interface EcsPort \{([\s\S]*?)\n\}/.exec(portsSource);
  if (port === null) throw new Error('workflow/ports.ts: no EcsPort interface');
  const methods = [...port[1]!.matchAll(/^\s*(\w+)\(/gm)].map((m) => m[1]!);
  // Function and method definitions (not if/for/while blocks); a body runs to the next one, or to the
  // next top-level statement (a line starting at column 0).
  const keywords = new Set(['if', 'for', 'while', 'switch', 'catch', 'function', 'return']);
  const defs = [...ecsSource.matchAll(/^\s*(?:async\s+)?(?:function\s+)?(\w+)\s*\([^)]*\)[^{\n]*\{/gm)]
    .map((m) => ({ name: m[1]!, at: m.index! }))
    .filter((d) => !keywords.has(d.name));
  const body = (name: string): string => {
    const i = defs.findIndex((d) => d.name === name);
    if (i < 0) return '';
    const text = ecsSource.slice(defs[i]!.at, defs[i + 1]?.at ?? ecsSource.length);
    const top = /\n(?=\S)/.exec(text.slice(1));
    return top ? text.slice(0, top.index + 1) : text;
  };
  const out = new Map<string, string[]>();
  for (const m of methods) {
    const apis = new Set<string>();
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const b = body(name);
      for (const x of b.matchAll(/EcsApi\.(\w+)/g)) apis.add(x[1]!);
      for (const other of new Set(defs.map((d) => d.name))) if (other !== name && new RegExp(`\\b${other}\\(`).test(b.slice(b.indexOf('{')))) visit(other);
    };
    visit(m);
    out.set(m, [...apis].sort());
  }
  return out;
}

/** The ECS APIs a function can call: the port methods its files (and its kind's shared files) call. */
export function ecsActionsOf(root: string, fn: string): string[] {
  const map = portMethodApis(read(root, 'cloud/ecs.ts'), read(root, 'workflow/ports.ts'));
  const src = FunctionSources[fn]!;
  const text = [...src.files, ...Shared[src.kind]].map((f) => read(root, f)).join('\n');
  const apis = new Set<string>();
  for (const [method, list] of map) if (new RegExp(`\\.${method}\\(`).test(text)) list.forEach((a) => apis.add(a));
  return [...apis].sort();
}

/**
 * The queues a function sends to: its successors (workflow/pipeline.ts), its own queue, the dead-letter
 * queue, and validate for a rescue. Outcomes go to the topic (topicsOf), not to the events queue; the
 * notifier sends only dead letters.
 */
export function queuesOf(root: string, fn: string, prefix: string): string[] {
  const q = defaultQueueNames(prefix);
  const src = FunctionSources[fn]!;
  const out = new Set<string>([q.deadLetter]);
  if (src.kind === 'notifier') return [...out];
  if (src.kind === 'step') {
    const pipeline = read(root, 'workflow/pipeline.ts');
    const key = fn.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase());
    const line = new RegExp(`\\[Step\\.${key}\\]:\\s*\\{[^}]*mayGoTo:\\s*\\[([^\\]]*)\\]`).exec(pipeline);
    if (line === null) throw new Error(`workflow/pipeline.ts: no Pipeline entry for Step.${key}`);
    out.add(`${prefix}${fn}`); // requeue with a delay
    for (const m of line[1]!.matchAll(/Step\.(\w+)/g)) out.add(`${prefix}${stepName(m[1]!)}`);
    if (/startOperation\(/.test(read(root, 'workflow/runner.ts'))) out.add(q.validate); // the rescue of a detached ENI
  } else {
    out.add(q.validate);
    // on-schedule's reconcile wakes stalled operations at the step their record names.
    if (fn === 'on-schedule' && /rewakeStalled\(/.test(read(root, 'functions/_shared/entry-function.ts'))) for (const s of ['stop-if-required', 'attach', 'verify-bound', 'configure-guest-routes']) out.add(`${prefix}${s}`);
    // An entry told the warm instances (WARM_INSTANCES in its s.yaml environment) warms attach ahead when
    // there are none (workflow/warm-ahead.ts EntryWarmsAhead); the others never do.
    const warms = /EntryWarmsAhead:\s*Step\s*=\s*Step\.(\w+)/.exec(read(root, 'workflow/warm-ahead.ts'));
    if (warms !== null && /sendWarmAhead\(/.test(read(root, 'functions/_shared/entry-function.ts')) && entryKnowsWarmInstances(root, fn)) {
      out.add(`${prefix}${stepName(warms[1]!)}`);
    }
  }
  return [...out].sort();
}

/** `Step.<Key>`'s name as queues and functions spell it: `StopIfRequired` -> `stop-if-required`. */
const stepName = (key: string): string => key.replace(/[A-Z]/g, (c, i: number) => (i ? '-' : '') + c.toLowerCase());

/** Whether `fn`'s environment in s.yaml (its own map, or the vars map it names) sets WARM_INSTANCES. */
function entryKnowsWarmInstances(root: string, fn: string): boolean {
  const doc = parse(read(root, 's.yaml')) as { vars: Record<string, unknown>; resources: Record<string, { props?: { functionName?: string; environmentVariables?: unknown } }> };
  const resource = Object.values(doc.resources).find((r) => r.props?.functionName === `eni-failover-${fn}`);
  let env = resource?.props?.environmentVariables;
  const named = typeof env === 'string' ? /^\$\{vars\.(\w+)\}$/.exec(env) : null;
  if (named) env = doc.vars[named[1]!];
  return typeof env === 'object' && env !== null && 'WARM_INSTANCES' in env;
}

/** The topics a function publishes on: the outcomes topic, when its code (or its kind's shared code) publishes. */
export function topicsOf(root: string, fn: string, prefix: string): string[] {
  const src = FunctionSources[fn]!;
  const text = [...src.files, ...Shared[src.kind]].map((f) => read(root, f)).join('\n');
  return /\.topic\.publish\(/.test(text) ? [defaultQueueNames(prefix).outcomes] : [];
}

/** The Tablestore operations a function's kind makes through the ledger port (cloud/ledger.ts maps methods to operations). */
export function otsActionsOf(root: string, fn: string): string[] {
  const src = FunctionSources[fn]!;
  const text = [...src.files, ...Shared[src.kind], ...(src.kind === 'step' ? ['workflow/steps/validate.ts', 'workflow/steps/attach.ts', 'workflow/steps/stop-if-required.ts', 'workflow/steps/verify-bound.ts'] : [])]
    .map((f) => read(root, f))
    .join('\n');
  const byMethod: Record<string, string[]> = { create: ['PutRow', 'GetRow'], get: ['GetRow'], update: ['UpdateRow'], getLease: ['GetRow'], putLease: ['PutRow', 'UpdateRow'] };
  const ops = new Set<string>();
  for (const [m, list] of Object.entries(byMethod)) if (new RegExp(`ledger\\.${m}\\(`).test(text)) list.forEach((o) => ops.add(o));
  // on-schedule's reconcile lists the ledger (rewakeStalled); no other function reads a range.
  if (fn === 'on-schedule' && /rewakeStalled\(/.test(read(root, 'functions/_shared/entry-function.ts'))) ops.add('GetRange');
  // Every function goes through operation.ts helpers (leases, startOperation) that read and write rows.
  if (/startOperation\(|acquireEniLease\(|publishOnce\(|changePowerHold\(/.test(text)) ['GetRow', 'PutRow', 'UpdateRow'].forEach((o) => ops.add(o));
  return [...ops].sort();
}

const ecsArn = (v: PolicyVars, what: string) => `acs:ecs:${v.region}:${v.accountId}:${what}`;
const queueArn = (v: PolicyVars, q: string) => `acs:mns:${v.region}:${v.accountId}:/queues/${q}/messages`;
// mns:PublishMessage's resource (MNS API authorization table, help.aliyun.com/zh/mns/b3asrm).
const topicArn = (v: PolicyVars, t: string) => `acs:mns:${v.region}:${v.accountId}:/topics/${t}/messages`;
const tableArn = (v: PolicyVars, t: string) => `acs:ots:${v.region}:${v.accountId}:instance/${v.otsInstance.toLowerCase()}/table/${t}`;
const Managed = { StringEquals: { 'acs:ResourceTag/eni-failover': 'managed' } };

/** The policy of one function's role. */
export function functionPolicy(root: string, fn: string, v: PolicyVars): Policy {
  const ecs = ecsActionsOf(root, fn).map((a) => `ecs:${a}`);
  const reads = ecs.filter((a) => /^ecs:Describe/.test(a));
  const writes = ecs.filter((a) => !/^ecs:Describe/.test(a));
  const statements: Statement[] = [];
  // Describe* cannot be scoped to resources in RAM: Resource * (region-pinned by the condition).
  if (reads.length) statements.push({ Effect: 'Allow', Action: reads, Resource: '*', Condition: { StringEquals: { 'acs:RequestedRegion': v.region } } });
  if (writes.length) {
    // Writes only on instances and ENIs tagged eni-failover: managed (tag every group member and ENI).
    statements.push({ Effect: 'Allow', Action: writes, Resource: [ecsArn(v, 'instance/*'), ecsArn(v, 'networkinterface/*')], Condition: Managed });
    // RunCommand also creates a transient command, which carries no tags: it cannot be conditioned.
    if (writes.includes('ecs:RunCommand')) statements.push({ Effect: 'Allow', Action: ['ecs:RunCommand'], Resource: ecsArn(v, 'command/*') });
  }
  statements.push({ Effect: 'Allow', Action: ['mns:SendMessage'], Resource: queuesOf(root, fn, v.queuePrefix).map((q) => queueArn(v, q)) });
  const topics = topicsOf(root, fn, v.queuePrefix);
  if (topics.length) statements.push({ Effect: 'Allow', Action: ['mns:PublishMessage'], Resource: topics.map((t) => topicArn(v, t)) });
  const ots = otsActionsOf(root, fn).map((a) => `ots:${a}`);
  const tables = FunctionSources[fn]!.kind === 'notifier' ? [v.leaseTable] : v.tables;
  if (ots.length) statements.push({ Effect: 'Allow', Action: ots, Resource: tables.map((t) => tableArn(v, t)) });
  return { Version: '1', Statement: statements };
}

/** Systems that ask for binds: they may send to the requests queue, nothing else. */
export const requestSenderPolicy = (v: PolicyVars): Policy => ({
  Version: '1',
  Statement: [{ Effect: 'Allow', Action: ['mns:SendMessage'], Resource: queueArn(v, `${v.queuePrefix}requests`) }],
});

/** Operators running the CLI: status/history (read), submit (requests, events), bind (the steps' writes, on managed resources). */
export function operatorPolicy(root: string, v: PolicyVars): Policy {
  const all = new Set<string>();
  for (const fn of Object.keys(FunctionSources)) ecsActionsOf(root, fn).forEach((a) => all.add(`ecs:${a}`));
  const reads = [...all].filter((a) => /^ecs:Describe/.test(a)).sort();
  const writes = [...all].filter((a) => !/^ecs:Describe/.test(a)).sort();
  return {
    Version: '1',
    Statement: [
      { Effect: 'Allow', Action: reads, Resource: '*', Condition: { StringEquals: { 'acs:RequestedRegion': v.region } } },
      { Effect: 'Allow', Action: writes, Resource: [ecsArn(v, 'instance/*'), ecsArn(v, 'networkinterface/*')], Condition: Managed },
      { Effect: 'Allow', Action: ['ecs:RunCommand'], Resource: ecsArn(v, 'command/*') },
      { Effect: 'Allow', Action: ['mns:SendMessage'], Resource: queueArn(v, `${v.queuePrefix}requests`) },
      { Effect: 'Allow', Action: ['mns:ReceiveMessage', 'mns:DeleteMessage', 'mns:ChangeMessageVisibility'], Resource: queueArn(v, `${v.queuePrefix}events`) },
      { Effect: 'Allow', Action: ['fc:InvokeFunction'], Resource: `acs:fc:${v.region}:${v.accountId}:functions/${v.queuePrefix}on-request` },
      { Effect: 'Allow', Action: ['ots:GetRow', 'ots:GetRange', 'ots:PutRow', 'ots:UpdateRow'], Resource: v.tables.map((t) => tableArn(v, t)) },
    ],
  };
}

/** Every policy by file name. */
export function allPolicies(root: string, v: PolicyVars): Record<string, Policy> {
  const out: Record<string, Policy> = {};
  for (const fn of Object.keys(FunctionSources)) out[`${fn}.json`] = functionPolicy(root, fn, v);
  out['request-sender.json'] = requestSenderPolicy(v);
  out['operator.json'] = operatorPolicy(root, v);
  return out;
}

/** The vars the policies are pinned to, from s.yaml (defaults, no environment: what deploy/ram/ shows). */
export function defaultVars(root: string): PolicyVars {
  const doc = parse(read(root, 's.yaml')) as { vars: Record<string, unknown> };
  const envDefault = (value: unknown) => String(value).replace(/^\$\{env\('[^']*',\s*'([^']*)'\)\}$/, '$1');
  const ledger = doc.vars['ledger'] as { instanceName: string; tables: { name: string; primaryKey?: { name: string }[] }[] };
  return {
    region: envDefault(doc.vars['region']),
    accountId: envDefault(doc.vars['accountId']),
    queuePrefix: String(doc.vars['queuePrefix']),
    otsInstance: envDefault(ledger.instanceName),
    tables: ledger.tables.map((t) => t.name),
    leaseTable: ledger.tables.find((t) => t.primaryKey?.[0]?.name === 'resource_id')?.name ?? 'eni_failover_leases',
  };
}

export const render = (p: Policy) => `${JSON.stringify(p, null, 2)}\n`;

if (require.main === module) {
  const root = resolve(join(__dirname, '..'));
  const dir = resolve(process.argv[2] ?? join(root, 'deploy', 'ram'));
  const v = defaultVars(root);
  const vars = { ...v, region: process.env.ENI_FAILOVER_REGION ?? v.region, accountId: process.env.ENI_FAILOVER_ACCOUNT_ID ?? v.accountId, otsInstance: process.env.ENI_FAILOVER_OTS_INSTANCE ?? v.otsInstance };
  mkdirSync(dir, { recursive: true });
  for (const [name, policy] of Object.entries(allPolicies(root, vars))) writeFileSync(join(dir, name), render(policy));
  console.log(`ram-policies: wrote ${readdirSync(dir).length} policies to ${dir} (region ${vars.region}, account ${vars.accountId})`);
}
