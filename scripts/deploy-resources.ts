// What `s deploy` (fc3) does not create: the MNS queues of s.yaml `vars.queues` and the Tablestore tables
// of `vars.ledger`. Idempotent: run before every `s deploy` (`npm run deploy` does).
//   npx tsx scripts/deploy-resources.ts [--dry-run] [--region R] [--account-id A] [--mns-endpoint URL] [--ots-endpoint URL]
// --dry-run (npm run deploy:plan) lists what it would create and calls nothing. Both refuse placeholders.
// Credentials: Alibaba Cloud's default chain (environment, aliyun CLI profile, instance role).
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fromDefaultChain, resolveCredentials, type CredentialSource } from '../cloud/credentials';
import { ensureLedgerTables } from '../cloud/ledger';
import { MnsQueues } from '../cloud/mns';
// s.yaml is read with the same loader the local cloud uses, so deploy and `npm start` create the same things.
import { declaredLedger, declaredQueues, declaredTopics, topicSpecs } from '../local/cloud';

export interface DeployResourcesOptions {
  readonly sYamlPath: string;
  readonly regionId: string;
  readonly accountId: string;
  readonly credentials: CredentialSource;
  readonly mnsEndpoint?: string;
  readonly otsEndpoint?: string;
  readonly log?: (line: string) => void;
}

/** Creates what is missing; answers one line per queue and table. */
export async function deployResources(o: DeployResourcesOptions): Promise<string[]> {
  const lines: string[] = [];
  const say = (l: string) => {
    lines.push(l);
    o.log?.(l);
  };
  const queues = declaredQueues(o.sYamlPath);
  // The MNS SDK signs with fixed keys: ask the chain once for this run.
  const keys = await resolveCredentials(o.credentials);
  const mns = new MnsQueues({ endpoint: o.mnsEndpoint ?? `https://${o.accountId}.mns.${o.regionId}.aliyuncs.com`, accountId: o.accountId, regionId: o.regionId, credentials: keys });
  await mns.ensureQueues(queues.map(({ name, ...attributes }) => ({ name, attributes })));
  for (const q of queues) say(`queue ${q.name}: ensured`);
  // After the queues: a subscription names a queue that must exist.
  const topics = declaredTopics(o.sYamlPath);
  await mns.ensureTopics(topicSpecs(topics));
  for (const t of topics) say(`topic ${t.name}: ensured, subscribed ${t.subscriptions.map((s) => `${s.name} -> queue ${s.queue}`).join(', ') || 'nothing'}`);
  const ledger = declaredLedger(o.sYamlPath);
  const endpoint = o.otsEndpoint ?? `https://${ledger.instanceName}.${o.regionId}.ots.aliyuncs.com`;
  for (const r of await ensureLedgerTables({ endpoint, instanceName: ledger.instanceName, credentials: o.credentials }, ledger.tables)) {
    say(`table ${ledger.instanceName}/${r.table}: ${r.action}`);
  }
  return lines;
}

/**
 * What s.yaml would deploy with placeholders in it: its env() defaults render account 000000000000, an
 * empty alarm token and no failover groups (`s preview` shows them without a warning). One line per
 * problem, saying which variable to set; empty when the deployment is real.
 */
export function placeholderProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  const problems: string[] = [];
  const account = env.ENI_FAILOVER_ACCOUNT_ID ?? '';
  if (!/^\d{12,20}$/.test(account) || /^0+$/.test(account)) problems.push(`ENI_FAILOVER_ACCOUNT_ID is ${account === '' ? 'not set' : `"${account}"`}: set your Alibaba Cloud account id (s.yaml renders the placeholder 000000000000 otherwise)`);
  const rolePrefix = env.ENI_FAILOVER_ROLE_PREFIX ?? '';
  if (rolePrefix === '' || rolePrefix.includes(':000000000000:')) problems.push('ENI_FAILOVER_ROLE_PREFIX is not set: set acs:ram::<account>:role/<prefix> of the roles made from deploy/ram/ (README, "Deploy")');
  const token = env.ENI_FAILOVER_ALARM_TOKEN ?? '';
  if (token.length < 32) problems.push(`ENI_FAILOVER_ALARM_TOKEN is ${token === '' ? 'empty' : `${token.length} characters`}: set a random secret of at least 32 characters (openssl rand -base64 32); on-alarm refuses every callback without it`);
  if ((env.ENI_FAILOVER_GROUPS ?? '').trim() === '') problems.push('ENI_FAILOVER_GROUPS is empty: set the failover groups (config/groups.yaml format, one line of JSON); without them every failover is refused');
  return problems;
}

/** What deployResources would create, without calling any API. */
export function deployPlan(sYamlPath: string, regionId: string, accountId: string): string[] {
  const ledger = declaredLedger(sYamlPath);
  return [
    ...declaredQueues(sYamlPath).map((q) => `queue ${q.name} (MNS ${accountId}.mns.${regionId}): create if missing`),
    ...declaredTopics(sYamlPath).map((t) => `topic ${t.name} (MNS ${accountId}.mns.${regionId}): create if missing, subscribe ${t.subscriptions.map((s) => `queue ${s.queue} (${s.notifyContentFormat ?? 'SIMPLIFIED'})`).join(', ')}`),
    ...ledger.tables.map((t) => `table ${ledger.instanceName}/${t.name} (Tablestore, key ${t.primaryKey.map((k) => k.name).join(', ')}, TTL ${t.timeToLive === -1 ? 'none' : `${t.timeToLive} s`}): create if missing`),
  ];
}

if (require.main === module) {
  const { values } = parseArgs({ options: { region: { type: 'string' }, 'account-id': { type: 'string' }, 'mns-endpoint': { type: 'string' }, 'ots-endpoint': { type: 'string' }, 'dry-run': { type: 'boolean', default: false } } });
  const regionId = values.region ?? process.env.ENI_FAILOVER_REGION ?? process.env.ALIBABA_CLOUD_REGION_ID ?? 'cn-hangzhou';
  const accountId = values['account-id'] ?? process.env.ENI_FAILOVER_ACCOUNT_ID ?? process.env.ALIBABA_CLOUD_ACCOUNT_ID ?? '';
  const problems = placeholderProblems({ ...process.env, ...(values['account-id'] ? { ENI_FAILOVER_ACCOUNT_ID: values['account-id'] } : {}) });
  const sYamlPath = resolve(join(__dirname, '..', 's.yaml'));
  if (values['dry-run']) {
    for (const l of deployPlan(sYamlPath, regionId, accountId || '<account>')) console.log(`deploy-resources (dry run): ${l}`);
  }
  if (problems.length > 0) {
    for (const p of problems) console.error(`deploy-resources: refused: ${p}`);
    process.exit(2);
  }
  if (values['dry-run']) process.exit(0);
  deployResources({
    sYamlPath,
    regionId,
    accountId,
    credentials: fromDefaultChain(),
    ...(values['mns-endpoint'] ? { mnsEndpoint: values['mns-endpoint'] } : {}),
    ...(values['ots-endpoint'] ? { otsEndpoint: values['ots-endpoint'] } : {}),
    log: (l) => console.log(`deploy-resources: ${l}`),
  }).catch((err: unknown) => {
    console.error(`deploy-resources: ${(err as Error).message}`);
    process.exit(1);
  });
}
