// What `s deploy` (fc3) does not create: the MNS queues of s.yaml `vars.queues` and the Tablestore tables
// of `vars.ledger`. Idempotent: run before every `s deploy` (`npm run deploy` does).
//   npx tsx scripts/deploy-resources.ts [--region R] [--account-id A] [--mns-endpoint URL] [--ots-endpoint URL]
// Credentials: Alibaba Cloud's default chain (environment, aliyun CLI profile, instance role).
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fromDefaultChain, resolveCredentials, type CredentialSource } from '../cloud/credentials';
import { ensureLedgerTables } from '../cloud/ledger';
import { MnsQueues } from '../cloud/mns';
// s.yaml is read with the same loader the local cloud uses, so deploy and `npm start` create the same things.
import { declaredLedger, declaredQueues } from '../local/cloud';

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
  const mns = new MnsQueues({ endpoint: o.mnsEndpoint ?? `https://${o.accountId}.mns.${o.regionId}.aliyuncs.com`, accountId: o.accountId, credentials: keys });
  await mns.ensureQueues(queues.map(({ name, ...attributes }) => ({ name, attributes })));
  for (const q of queues) say(`queue ${q.name}: ensured`);
  const ledger = declaredLedger(o.sYamlPath);
  const endpoint = o.otsEndpoint ?? `https://${ledger.instanceName}.${o.regionId}.ots.aliyuncs.com`;
  for (const r of await ensureLedgerTables({ endpoint, instanceName: ledger.instanceName, credentials: o.credentials }, ledger.tables)) {
    say(`table ${ledger.instanceName}/${r.table}: ${r.action}`);
  }
  return lines;
}

if (require.main === module) {
  const { values } = parseArgs({ options: { region: { type: 'string' }, 'account-id': { type: 'string' }, 'mns-endpoint': { type: 'string' }, 'ots-endpoint': { type: 'string' } } });
  const regionId = values.region ?? process.env.ENI_FAILOVER_REGION ?? process.env.ALIBABA_CLOUD_REGION_ID;
  const accountId = values['account-id'] ?? process.env.ENI_FAILOVER_ACCOUNT_ID ?? process.env.ALIBABA_CLOUD_ACCOUNT_ID;
  if (!regionId || !accountId) {
    console.error('deploy-resources: set ENI_FAILOVER_REGION and ENI_FAILOVER_ACCOUNT_ID (or pass --region and --account-id)');
    process.exit(2);
  }
  deployResources({
    sYamlPath: resolve(join(__dirname, '..', 's.yaml')),
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
