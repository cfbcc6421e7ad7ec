// Checks that the deployment (s.yaml, deploy/ram/*.json) matches the code. Run after `npm run build`:
//   npx tsx scripts/check-deployment.ts [projectRoot]
// Exit 0 when consistent; 1 with one line per problem otherwise. Test: test/deploy/check-deployment.test.ts.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadSYaml, type SYamlModel } from '../local/fc';
import { defaultQueueNames } from '../workflow/pipeline';
import { FunctionSources, allPolicies, defaultVars, type Policy } from './ram-policies';

/** Where the facts come from, relative to the project root (a test points these at a broken copy). */
export const Sources = {
  sYaml: 's.yaml',
  policies: 'deploy/ram',
  ecsPort: 'cloud/ecs.ts',
  mnsPort: 'cloud/mns.ts',
  ports: 'workflow/ports.ts',
  ledger: 'cloud/ledger.ts',
} as const;

/** The Tablestore operations the ledger adapter makes: every `this.call('<Operation>', ...)` of cloud/ledger.ts. */
export function otsActionsCalled(ledgerSource: string): string[] {
  return [...new Set([...ledgerSource.matchAll(/this\.call\(\s*'(\w+)'/g)].map((m) => m[1]!))].sort();
}

/**
 * The ECS actions the ECS port calls: the values of `EcsApi` (cloud/ecs.ts) whose key is used outside
 * the table's own definition. A name added to the table but never called is not required.
 */
export function ecsActionsCalled(ecsSource: string): string[] {
  const table = /export const EcsApi = \{([\s\S]*?)\} as const;/.exec(ecsSource);
  if (table === null) throw new Error('cloud/ecs.ts: no `export const EcsApi = {...} as const` table to read the called actions from');
  const names = new Map([...table[1]!.matchAll(/(\w+):\s*'(\w+)'/g)].map((m) => [m[1]!, m[2]!]));
  const rest = ecsSource.slice(0, table.index) + ecsSource.slice(table.index + table[0].length);
  const used = new Set([...rest.matchAll(/EcsApi\.(\w+)/g)].map((m) => m[1]!));
  return [...used].map((k) => names.get(k) ?? `(unknown EcsApi.${k})`).sort();
}

/**
 * The MNS operations the functions can cause: the functions reach MNS only through the QueuePort
 * interface (workflow/ports.ts), so: the QueuePort methods, followed through MnsQueues (cloud/mns.ts)
 * method to method, to every `this.call('<Operation>', ...)`.
 */
export function mnsActionsCalled(mnsSource: string, portsSource: string): string[] {
  // The ports the functions reach MNS through: sending to queues and publishing on topics.
  const entry = ['QueuePort', 'TopicPort'].flatMap((name) => {
    const port = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(portsSource);
    if (port === null) throw new Error(`workflow/ports.ts: no ${name} interface`);
    return [...port[1]!.matchAll(/^\s*(\w+)\(/gm)].map((m) => m[1]!);
  });
  const cls = /export class MnsQueues[^{]*\{([\s\S]*)$/.exec(mnsSource);
  if (cls === null) throw new Error('cloud/mns.ts: no MnsQueues class');
  // Methods are declared at two-space indent; a body runs to the next declaration.
  const decl = /^ {2}(?:private |public |protected )?(?:async )?(\w+)\s*(?:<[^>]*>)?\(/gm;
  const starts = [...cls[1]!.matchAll(decl)].map((m) => ({ name: m[1]!, at: m.index! }));
  const bodies = new Map(starts.map((s, i) => [s.name, cls[1]!.slice(s.at, starts[i + 1]?.at ?? undefined)]));
  const ops = new Set<string>();
  const seen = new Set<string>();
  const visit = (method: string): void => {
    if (seen.has(method)) return;
    seen.add(method);
    const body = bodies.get(method);
    if (body === undefined) return;
    for (const m of body.matchAll(/this\.call\(\s*'(\w+)'/g)) ops.add(m[1]!);
    for (const m of body.matchAll(/this\.(\w+)\(/g)) if (m[1] !== 'call') visit(m[1]!);
  };
  entry.forEach(visit);
  return [...ops].sort();
}

/** What differs between the policy the code needs and the one committed: missing and extra actions and resources. */
export function policyDifferences(want: Policy, have: Policy): string[] {
  const flat = (p: Policy) => new Set((p.Statement ?? []).flatMap((st) => list(st.Action).flatMap((a) => list(st.Resource).map((r) => `${a} on ${r}${st.Condition ? ' (tag-conditioned)' : ''}`))));
  const w = flat(want);
  const h = flat(have);
  return [...[...w].filter((x) => !h.has(x)).map((x) => `does not grant ${x}, which the code needs`), ...[...h].filter((x) => !w.has(x)).map((x) => `grants ${x}, which no code of this function needs (least privilege: remove it)`)];
}

interface Statement {
  Effect?: string;
  Action?: string | string[];
  Resource?: string | string[];
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
/** RAM wildcards: `*` any run of characters, `?` one. */
const wildcard = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

/** Every problem found, one line each; empty when the deployment matches the code. */
/** The shortest alarm token on-alarm accepts (functions/_shared/entry-function.ts MinAlarmTokenLength). */
const MinTokenLength = 32;

export async function checkDeployment(root: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const problems: string[] = [];
  const read = (rel: string): string | undefined => {
    try {
      return readFileSync(join(root, rel), 'utf8');
    } catch {
      problems.push(`${rel}: missing`);
      return undefined;
    }
  };

  // 1. s.yaml: code directories, handlers (loaded, must be functions), trigger configs per type.
  let model: SYamlModel | undefined;
  try {
    model = await loadSYaml(join(root, Sources.sYaml), {}, { env: {}, checkExports: true });
  } catch (err) {
    problems.push(`${(err as Error).message}`);
  }

  // 1b. The alarm token the deployment will carry (s.yaml vars.alarmToken from ENI_FAILOVER_ALARM_TOKEN, and
  //     the previous one during a rotation): on-alarm refuses a short one at load, so deploy refuses it first.
  for (const name of ['ENI_FAILOVER_ALARM_TOKEN', 'ENI_FAILOVER_ALARM_TOKEN_PREVIOUS']) {
    const token = env[name];
    if (token !== undefined && token !== '' && token.length < MinTokenLength) problems.push(`${name}: the alarm token is ${token.length} characters; use at least ${MinTokenLength} (openssl rand -base64 32)`);
  }

  // 1c. Logs: every function's stdout (the journal: one JSON line per step delivery) goes to Log Service;
  //     without logConfig FC keeps it nowhere.
  for (const fn of model?.functions ?? []) {
    if (fn.logConfig === undefined) problems.push(`s.yaml: ${fn.functionName} has no logConfig, so its journal lines are kept nowhere; add logConfig: \${vars.logConfig}`);
  }

  // 2. Queues: every queue a function is triggered by, dead-letters to, or sends to is declared.
  const sentTo = new Set<string>();
  if (model !== undefined) {
    const rawQueues = model.vars['queues'];
    const declared = new Set(Array.isArray(rawQueues) ? rawQueues.map((q) => String((q as { name?: unknown }).name)) : []);
    if (declared.size === 0) problems.push('s.yaml vars.queues: lists no queue (the deploy script and the local cloud create queues from it)');
    const need = (queue: string, why: string) => {
      if (!declared.has(queue)) problems.push(`s.yaml vars.queues: does not declare "${queue}", which ${why}`);
    };
    const rawTopics = model.vars['topics'];
    const topics = Array.isArray(rawTopics) ? (rawTopics as { name?: unknown; subscriptions?: { queue?: unknown }[] }[]) : [];
    const needTopic = (topic: string, why: string) => {
      if (!topics.some((t) => t.name === topic)) problems.push(`s.yaml vars.topics: does not declare "${topic}", which ${why}`);
    };
    for (const t of topics) for (const s of t.subscriptions ?? []) need(String(s.queue), `topic ${String(t.name)} delivers to`);
    for (const fn of model.functions) {
      const prefix = fn.environmentVariables['QUEUE_PREFIX'];
      if (prefix !== undefined) {
        // Steps send to any step queue, events and dead-letter (workflow/pipeline.ts); entries to a subset;
        // every outcome is published on the outcomes topic, whose subscription fills the events queue.
        const { outcomes, ...queues } = defaultQueueNames(prefix);
        for (const q of Object.values(queues)) {
          sentTo.add(q);
          need(q, `${fn.functionName} may send to (QUEUE_PREFIX ${prefix})`);
        }
        needTopic(outcomes, `${fn.functionName} publishes outcomes on (QUEUE_PREFIX ${prefix})`);
        const events = topics.find((t) => t.name === outcomes)?.subscriptions?.some((s) => s.queue === queues.events);
        if (events === false) problems.push(`s.yaml vars.topics: ${outcomes} has no subscription delivering to ${queues.events}: the CLI and every reader of the events queue would see no outcome`);
      }
      for (const t of fn.triggers) {
        if (t.triggerType === 'mns_topic') needTopic(t.topicName, `triggers ${fn.functionName} (${t.triggerName})`);
      }
      for (const t of fn.triggers) {
        if (t.triggerType !== 'eventbridge') continue;
        need(t.queueName, `triggers ${fn.functionName} (${t.triggerName})`);
        // A message must stay hidden longer than the function may run: then MNS never redelivers it while
        // its first invocation still runs, which is what lets a redelivery of the same message take the
        // operation's claim back at once (workflow/runner.ts, deliveryId).
        const q = Array.isArray(rawQueues) ? (rawQueues as { name?: unknown; visibilityTimeout?: unknown }[]).find((x) => x.name === t.queueName) : undefined;
        const visibility = Number(q?.visibilityTimeout ?? 30);
        if (q !== undefined && fn.environmentVariables['STEP_BUDGET_MS'] !== undefined && !(visibility > fn.timeout)) {
          problems.push(`s.yaml vars.queues: ${t.queueName} hides a message ${visibility} s, not longer than ${fn.functionName} may run (${fn.timeout} s): a message would be delivered again while it runs`);
        }
        if (t.deadLetterQueue !== undefined) need(t.deadLetterQueue, `is the dead-letter queue of ${fn.functionName} (${t.triggerName})`);
      }
    }
  }

  // 3. One role per function, each with exactly the policy the code needs (scripts/ram-policies.ts derives
  //    the ECS actions from the calls each function's files make, the queues from the pipeline, the tables
  //    from s.yaml), region and account pinned; the committed deploy/ram/*.json must be what it derives.
  const ecsSource = read(Sources.ecsPort);
  const mnsSource = read(Sources.mnsPort);
  const portsSource = read(Sources.ports);
  const ledgerSource = read(Sources.ledger);
  if (ecsSource !== undefined && mnsSource !== undefined && portsSource !== undefined && ledgerSource !== undefined) {
    let expected: Record<string, Policy> = {};
    try {
      expected = allPolicies(root, defaultVars(root));
    } catch (err) {
      problems.push(`scripts/ram-policies.ts: cannot derive the policies: ${(err as Error).message}`);
    }
    const granted = new Set<string>();
    for (const [file, policy] of Object.entries(expected)) {
      const rel = `${Sources.policies}/${file}`;
      const text = read(rel);
      if (text === undefined) continue;
      let actual: Policy | undefined;
      try {
        actual = JSON.parse(text) as Policy;
      } catch (err) {
        problems.push(`${rel}: not JSON: ${(err as Error).message}`);
        continue;
      }
      for (const st of actual.Statement ?? []) for (const a of list(st.Action)) {
        granted.add(a);
        if (a.includes('*')) problems.push(`${rel}: grants the wildcard ${a}; name the actions the code calls`);
      }
      for (const line of policyDifferences(policy, actual)) problems.push(`${rel}: ${line} (regenerate: npx tsx scripts/ram-policies.ts)`);
    }
    // Whatever the ports call is granted to some function; nothing is granted that no code calls.
    const called = [
      ...ecsActionsCalled(ecsSource).map((a) => [`ecs:${a}`, Sources.ecsPort] as const),
      ...mnsActionsCalled(mnsSource, portsSource).map((a) => [`mns:${a}`, `${Sources.mnsPort} (through QueuePort/TopicPort)`] as const),
      ...otsActionsCalled(ledgerSource).map((a) => [`ots:${a}`, `${Sources.ledger} (the operation ledger)`] as const),
    ];
    for (const [action, where] of called) if (!granted.has(action)) problems.push(`${Sources.policies}: no policy grants ${action}, which ${where} calls`);
    const raw = read(Sources.sYaml);
    const resources = raw === undefined ? {} : ((parseYaml(raw) as { resources?: Record<string, { props?: { functionName?: string; role?: string } }> }).resources ?? {});
    for (const [key, r] of Object.entries(resources)) {
      const name = r.props?.functionName ?? key;
      const short = name.replace(/^eni-failover-/, '');
      if (!(short in FunctionSources)) problems.push(`s.yaml: ${name} has no entry in scripts/ram-policies.ts FunctionSources (which files it runs)`);
      else if (!String(r.props?.role ?? '').endsWith(short)) problems.push(`s.yaml: resources.${key}.props.role must be its own role <rolePrefix>${short} (deploy/ram/${short}.json), not ${String(r.props?.role)}`);
    }
  }
  return problems;
}

// Run as a script.
if (require.main === module) {
  const root = resolve(process.argv[2] ?? join(__dirname, '..'));
  void checkDeployment(root, process.env).then(
    (problems) => {
      for (const p of problems) console.error(`check-deployment: ${p}`);
      if (problems.length === 0) console.log(`check-deployment: ${root} is consistent (s.yaml, queues, triggers, RAM policy)`);
      process.exitCode = problems.length === 0 ? 0 : 1;
    },
    (err: unknown) => {
      console.error(`check-deployment: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
