import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkDeployment, ecsActionsCalled, mnsActionsCalled, otsActionsCalled, Sources } from '../../scripts/check-deployment';

const repo = join(__dirname, '../..');

/** A copy of exactly what the check reads, with stub bundles for every function s.yaml names. */
function copyOfRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'check-deployment-'));
  for (const rel of Object.values(Sources)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    cpSync(join(repo, rel), join(dir, rel));
  }
  const doc = parse(readFileSync(join(repo, 's.yaml'), 'utf8')) as { resources: Record<string, { props: { code: string } }> };
  for (const r of Object.values(doc.resources)) {
    mkdirSync(join(dir, r.props.code), { recursive: true });
    writeFileSync(join(dir, r.props.code, 'index.js'), 'exports.handler = async () => ({});\n');
  }
  return dir;
}

const edit = (dir: string, rel: string, change: (text: string) => string) => writeFileSync(join(dir, rel), change(readFileSync(join(dir, rel), 'utf8')));
const editPolicy = (dir: string, change: (p: { Statement: { Action: string[]; Resource: string | string[] }[] }) => void) =>
  edit(dir, Sources.policy, (t) => {
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
    expect(mnsActionsCalled(readFileSync(join(repo, Sources.mnsPort), 'utf8'), readFileSync(join(repo, Sources.ports), 'utf8'))).toEqual(['SendMessage']);
    expect(otsActionsCalled(readFileSync(join(repo, Sources.ledger), 'utf8'))).toEqual(['GetRange', 'GetRow', 'PutRow', 'UpdateRow']);
  });

  it('finds the repository consistent (after npm run build)', async () => {
    expect(await checkDeployment(repo)).toEqual([]);
  });

  it('finds an untouched copy consistent', async () => {
    expect(await checkDeployment(fresh())).toEqual([]);
  });

  const broken: { name: string; breakIt: (dir: string) => void; problem: RegExp }[] = [
    { name: 'the policy lacks an action the ECS port calls', breakIt: (d) => editPolicy(d, (p) => p.Statement.forEach((s) => (s.Action = s.Action.filter((a) => a !== 'ecs:RunCommand')))), problem: /does not grant ecs:RunCommand, which cloud\/ecs\.ts calls/ },
    { name: 'the policy grants an action no code calls', breakIt: (d) => editPolicy(d, (p) => p.Statement[1]!.Action.push('ecs:DeleteInstance')), problem: /grants ecs:DeleteInstance, which no code calls/ },
    { name: 'the policy grants a wildcard', breakIt: (d) => editPolicy(d, (p) => p.Statement[0]!.Action.push('ecs:Describe*')), problem: /grants the wildcard ecs:Describe\*/ },
    {
      name: 'the code starts calling an API the policy does not grant',
      breakIt: (d) => edit(d, Sources.ecsPort, (t) => t.replace("RunCommand: 'RunCommand',", "RunCommand: 'RunCommand',\n  DeleteNetworkInterface: 'DeleteNetworkInterface',") + '\nconst oops = EcsApi.DeleteNetworkInterface;\n'),
      problem: /does not grant ecs:DeleteNetworkInterface/,
    },
    { name: 'the policy does not cover a queue a function sends to', breakIt: (d) => editPolicy(d, (p) => (p.Statement[3]!.Resource = (p.Statement[3]!.Resource as string[]).filter((r) => !r.includes('events')))), problem: /no MNS resource covers queue eni-failover-events/ },
    { name: 'a trigger queue is not declared', breakIt: (d) => edit(d, Sources.sYaml, (t) => t.replace('    - name: eni-failover-requests\n', '')), problem: /does not declare "eni-failover-requests", which triggers eni-failover-on-request/ },
    { name: 'a function code directory is missing', breakIt: (d) => rmSync(join(d, 'dist/functions/on-request'), { recursive: true }), problem: /resources\.on_request\.props\.code.*does not exist/ },
    { name: 'a timer has a malformed cron expression', breakIt: (d) => edit(d, Sources.sYaml, (t) => t.replace("cronExpression: '0 */5 * * * *'", "cronExpression: 'every five minutes'")), problem: /resources\.on_schedule\.props\.triggers\[0\]\.triggerConfig\.cronExpression/ },
    { name: 'the policy lacks a Tablestore action the ledger makes', breakIt: (d) => editPolicy(d, (p) => p.Statement.forEach((s) => (s.Action = s.Action.filter((a) => a !== 'ots:UpdateRow')))), problem: /does not grant ots:UpdateRow, which cloud\/ledger\.ts \(the operation ledger\) calls/ },
    { name: 'the policy does not cover a ledger table', breakIt: (d) => editPolicy(d, (p) => (p.Statement[4]!.Resource = (p.Statement[4]!.Resource as string[]).filter((r) => !r.includes('leases')))), problem: /no Tablestore resource covers table eni_failover_leases/ },
    { name: 'the policy opens every table of the instance', breakIt: (d) => editPolicy(d, (p) => (p.Statement[4]!.Resource = ['acs:ots:*:*:instance/eni-failover/table/*'])), problem: /is wider than the ledger's tables/ },
    { name: 'a handler export is missing', breakIt: (d) => writeFileSync(join(d, 'dist/functions/on-alarm/index.js'), 'exports.other = 1;\n'), problem: /on_alarm.*handler/ },
  ];
  it.each(broken)('fails, naming the problem, when $name', async ({ breakIt, problem }) => {
    const dir = fresh();
    breakIt(dir);
    const problems = await checkDeployment(dir);
    expect(problems.join('\n')).toMatch(problem);
  });
});
