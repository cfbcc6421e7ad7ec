import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkDeployment, ecsActionsCalled, mnsActionsCalled, otsActionsCalled, Sources } from '../../scripts/check-deployment';

const repo = join(__dirname, '../..');

/** A copy of exactly what the check reads, with stub bundles for every function s.yaml names. */
function copyOfRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'check-deployment-'));
  for (const rel of [...Object.values(Sources), ...PolicySources]) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    cpSync(join(repo, rel), join(dir, rel), { recursive: true });
  }
  const doc = parse(readFileSync(join(repo, 's.yaml'), 'utf8')) as { resources: Record<string, { props: { code: string } }> };
  for (const r of Object.values(doc.resources)) {
    mkdirSync(join(dir, r.props.code), { recursive: true });
    writeFileSync(join(dir, r.props.code, 'index.js'), 'exports.handler = async () => ({});\nexports.initialize = async () => {};\n');
  }
  return dir;
}

/** The code the policy generator reads (scripts/ram-policies.ts FunctionSources and its shared files). */
const PolicySources = [
  'scripts/ram-policies.ts',
  'workflow/pipeline.ts',
  'workflow/steps',
  'workflow/entries',
  'workflow/runner.ts',
  'workflow/operation.ts',
  'workflow/standby.ts',
  'workflow/slots.ts',
  'workflow/warm-ahead.ts',
  'workflow/groups.ts',
  'functions/_shared/entry-function.ts',
  'workflow/notifier.ts',
  'functions/_shared/notifier-function.ts',
];

const edit = (dir: string, rel: string, change: (text: string) => string) => writeFileSync(join(dir, rel), change(readFileSync(join(dir, rel), 'utf8')));
type PolicyDoc = { Statement: { Action: string[]; Resource: string | string[] }[] };
const editPolicy = (dir: string, file: string, change: (p: PolicyDoc) => void) =>
  edit(dir, `${Sources.policies}/${file}`, (t) => {
    const p = JSON.parse(t);
    change(p);
    return JSON.stringify(p);
  });

describe('Deployment check (scripts/check-deployment.ts)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const fresh = () => {
    const d = copyOfRepo();
    dirs.push(d);
    return d;
  };

  it('derives the called actions from the ports, not from a hand-kept list', () => {
    const ecs = ecsActionsCalled(readFileSync(join(repo, Sources.ecsPort), 'utf8'));
    expect(ecs).toEqual(expect.arrayContaining(['AttachNetworkInterface', 'DescribeNetworkInterfaces', 'RunCommand', 'StopInstance']));
    expect(mnsActionsCalled(readFileSync(join(repo, Sources.mnsPort), 'utf8'), readFileSync(join(repo, Sources.ports), 'utf8'))).toEqual(['PublishMessage', 'SendMessage']);
    expect(otsActionsCalled(readFileSync(join(repo, Sources.ledger), 'utf8'))).toEqual(['GetRange', 'GetRow', 'PutRow', 'UpdateRow']);
  });

  it('finds the repository consistent (after npm run build)', async () => {
    expect(await checkDeployment(repo)).toEqual([]);
  });

  it('finds an untouched copy consistent', async () => {
    expect(await checkDeployment(fresh())).toEqual([]);
  });

  const policyFiles = readdirSync(join(repo, Sources.policies));
  const broken: { name: string; breakIt: (dir: string) => void; problem: RegExp }[] = [
    // A broken copy of every policy: an action taken away, one added, a queue added.
    ...policyFiles.map((file) => ({
      name: `${file} lacks an action its function needs`,
      breakIt: (d: string) => editPolicy(d, file, (p) => p.Statement[p.Statement.length - 1]!.Action.pop()),
      problem: new RegExp(`deploy/ram/${file.replace('.', '\\.')}: does not grant `),
    })),
    ...policyFiles.map((file) => ({
      name: `${file} grants an action its function does not need`,
      breakIt: (d: string) => editPolicy(d, file, (p) => p.Statement[0]!.Action.push('ecs:DeleteInstance')),
      problem: new RegExp(`deploy/ram/${file.replace('.', '\\.')}: grants ecs:DeleteInstance on .*, which no code of this function needs`),
    })),
    { name: 'a step policy may send to a queue that is not its successor', breakIt: (d) => editPolicy(d, 'validate.json', (p) => (p.Statement.find((x) => x.Action.includes('mns:SendMessage'))!.Resource as string[]).push('acs:mns:cn-hangzhou:000000000000:/queues/eni-failover-configure-guest-routes/messages')), problem: /validate\.json: grants mns:SendMessage on .*configure-guest-routes.*no code of this function needs/ },
    { name: 'a policy grants a wildcard', breakIt: (d) => editPolicy(d, 'attach.json', (p) => p.Statement[0]!.Action.push('ecs:Describe*')), problem: /attach\.json: grants the wildcard ecs:Describe\*/ },
    { name: 'a policy is not pinned to the deployment\'s region', breakIt: (d) => editPolicy(d, 'on-alarm.json', (p) => { const st = p.Statement.find((x) => x.Action.includes('mns:SendMessage'))!; st.Resource = (st.Resource as string[]).map((r) => r.replace('cn-hangzhou', '*')); }), problem: /on-alarm\.json: does not grant mns:SendMessage on acs:mns:cn-hangzhou:/ },
    {
      name: 'a step starts calling an API its policy does not grant',
      breakIt: (d) => edit(d, 'workflow/steps/verify-bound.ts', (t) => `${t}\nexport const oops = (ctx: StepContext) => ctx.ecs.rebootInstance({ instanceId: 'i-x', forceStop: true });\n`),
      problem: /verify-bound\.json: does not grant ecs:RebootInstance on .*, which the code needs/,
    },
    { name: 'a function runs as another function\'s role', breakIt: (d) => edit(d, Sources.sYaml, (t) => t.replace('role: ${vars.rolePrefix}verify-bound', 'role: ${vars.rolePrefix}attach')), problem: /resources\.verify_bound\.props\.role must be its own role/ },
    { name: 'the operator policy lacks the ledger read history needs', breakIt: (d) => editPolicy(d, 'operator.json', (p) => p.Statement.forEach((x) => (x.Action = x.Action.filter((a) => a !== 'ots:GetRange')))), problem: /operator\.json: does not grant ots:GetRange/ },
    { name: 'the request senders may send elsewhere than the requests queue', breakIt: (d) => editPolicy(d, 'request-sender.json', (p) => (p.Statement[0]!.Resource = 'acs:mns:cn-hangzhou:000000000000:/queues/eni-failover-attach/messages')), problem: /request-sender\.json: does not grant mns:SendMessage on .*requests/ },
    { name: 'a step queue hides a message no longer than its function may run', breakIt: (d) => edit(d, Sources.sYaml, (t) => t.replace('    - name: eni-failover-attach\n      visibilityTimeout: 120', '    - name: eni-failover-attach\n      visibilityTimeout: 60')), problem: /eni-failover-attach hides a message 60 s, not longer than eni-failover-attach may run \(60 s\)/ },
    { name: 'a function keeps its logs nowhere (no logConfig)', breakIt: (d) => edit(d, Sources.sYaml, (t) => t.replace('role: ${vars.rolePrefix}attach\n      logConfig: ${vars.logConfig}\n', 'role: ${vars.rolePrefix}attach\n')), problem: /s\.yaml: eni-failover-attach has no logConfig, so its journal lines are kept nowhere/ },
    { name: 'a logConfig names no logstore', breakIt: (d) => edit(d, Sources.sYaml, (t) => t.replace('  logConfig: auto\n', '  logConfig: { project: my-logs }\n')), problem: /logConfig\.logstore: must be a logstore name/ },
    { name: 'a trigger queue is not declared', breakIt: (d) => edit(d, Sources.sYaml, (t) => t.replace('    - name: eni-failover-requests\n', '')), problem: /does not declare "eni-failover-requests", which triggers eni-failover-on-request/ },
    { name: 'a function code directory is missing', breakIt: (d) => rmSync(join(d, 'dist/functions/on-request'), { recursive: true }), problem: /resources\.on_request\.props\.code.*does not exist/ },
    { name: 'a timer has a malformed cron expression', breakIt: (d) => edit(d, Sources.sYaml, (t) => t.replace("cronExpression: '0 */5 * * * *'", "cronExpression: 'every five minutes'")), problem: /resources\.on_schedule\.props\.triggers\[0\]\.triggerConfig\.cronExpression/ },
    { name: 'a handler export is missing', breakIt: (d) => writeFileSync(join(d, 'dist/functions/on-alarm/index.js'), 'exports.other = 1;\n'), problem: /on_alarm.*handler/ },
  ];
  it('refuses an alarm token shorter than 32 characters, and accepts a long one', async () => {
    const dir = fresh();
    expect((await checkDeployment(dir, { ENI_FAILOVER_ALARM_TOKEN: 'short-secret' })).join('\n')).toMatch(/ENI_FAILOVER_ALARM_TOKEN: the alarm token is 12 characters; use at least 32/);
    expect((await checkDeployment(dir, { ENI_FAILOVER_ALARM_TOKEN_PREVIOUS: 'x'.repeat(31) })).join('\n')).toMatch(/ENI_FAILOVER_ALARM_TOKEN_PREVIOUS: the alarm token is 31 characters/);
    expect(await checkDeployment(dir, { ENI_FAILOVER_ALARM_TOKEN: 'y'.repeat(43) })).toEqual([]);
  });

  it.each(broken)('fails, naming the problem, when $name', async ({ breakIt, problem }) => {
    const dir = fresh();
    breakIt(dir);
    const problems = await checkDeployment(dir);
    expect(problems.join('\n')).toMatch(problem);
  });
});
