import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { fromCliProfile, fromDefaultChain, type CredentialSource } from '../cloud/credentials';
import { createEcsPort, type EcsCallEvent, type EcsPortWithStats } from '../cloud/ecs';
import { createFcInvoker, type FcInvoker } from '../cloud/fc';
import { TablestoreLedger } from '../cloud/ledger';
import { MnsQueues } from '../cloud/mns';
import type { LedgerPort } from '../workflow/ledger';
import { formatPath } from '../workflow/groups';
import { UsageError } from './usage';

/**
 * Where the CLI's cloud is: Alibaba Cloud (region + default credential chain), explicit endpoints, or
 * the local cloud through the JSON file `eni-failover local up` writes (`--local`).
 */

/**
 * The file `--local` reads: the local cloud's `LocalCloudInfo` (local/cloud.ts) as JSON. Default path
 * `.local-cloud/cloud.json` under the working directory, or ENI_FAILOVER_LOCAL_FILE, or `--local-file`.
 */
export const LocalCloudFile = z
  .object({
    ecsEndpoint: z.string().min(1),
    mnsEndpoint: z.string().min(1),
    fcEndpoint: z.string().default(''),
    httpTriggers: z.record(z.string()).default({}),
    accountId: z.string().min(1),
    regionId: z.string().min(1),
    accessKeyId: z.string().min(1),
    accessKeySecret: z.string().min(1),
    tablestoreEndpoint: z.string().optional(),
    tablestoreInstance: z.string().optional(),
  })
  .passthrough();
export type LocalCloudFile = z.infer<typeof LocalCloudFile>;

export const DefaultLocalFile = '.local-cloud/cloud.json';

/** The options every command accepts for choosing the cloud (node:util parseArgs config). */
export const ConnectionOptions = {
  region: { type: 'string' },
  endpoint: { type: 'string' },
  'mns-endpoint': { type: 'string' },
  'fc-endpoint': { type: 'string' },
  'account-id': { type: 'string' },
  local: { type: 'boolean' },
  'local-file': { type: 'string' },
  'ots-instance': { type: 'string' },
  'ots-endpoint': { type: 'string' },
  profile: { type: 'string' },
} as const;

export const ConnectionHelp = `Cloud selection (every command):
  --region R            region id (default: $ALIBABA_CLOUD_REGION_ID)
  --endpoint HOST       ECS endpoint, host[:port] or http(s)://host[:port] (default ecs.<region>.aliyuncs.com)
  --mns-endpoint URL    MNS endpoint (default https://<account>.mns.<region>.aliyuncs.com)
  --fc-endpoint HOST    Function Compute endpoint (default <account>.<region>.fc.aliyuncs.com)
  --account-id ID       Alibaba Cloud account id, for MNS and FC (default: $ALIBABA_CLOUD_ACCOUNT_ID)
  --local               use the local cloud started by \`eni-failover local up\` (reads ${DefaultLocalFile})
  --local-file PATH     the local cloud's JSON file (implies --local)
  --ots-instance NAME   the operation ledger's Tablestore instance (default: $ENI_FAILOVER_OTS_INSTANCE)
  --ots-endpoint URL    its endpoint (default https://<instance>.<region>.ots.aliyuncs.com)
  --profile NAME        credentials of the aliyun CLI profile NAME (~/.aliyun/config.json) only
Credentials come from Alibaba Cloud's default chain: ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET
(+ ALIBABA_CLOUD_SECURITY_TOKEN), the aliyun CLI profile ($ALIBABA_CLOUD_PROFILE or the current one),
or the instance role.`;

export interface Connection {
  readonly regionId: string;
  readonly credentials: CredentialSource;
  readonly local: boolean;
  ecs(): EcsPortWithStats;
  /**
   * MNS queues; rejects with a UsageError saying what is missing (account id) when it cannot be built.
   * Async because the MNS SDK signs with fixed keys: the credential chain is asked first.
   */
  mns(): Promise<MnsQueues>;
  fc(): FcInvoker;
  /** The operation ledger, when one is configured (--ots-instance, or the local cloud's); else undefined. */
  ledger(): LedgerPort | undefined;
}

type Values = { [K in keyof typeof ConnectionOptions]?: (typeof ConnectionOptions)[K]['type'] extends 'boolean' ? boolean : string };

/** `http://127.0.0.1:1234` -> host and protocol; a bare host keeps the default protocol. */
function splitEndpoint(value: string, fallback: 'HTTPS' | 'HTTP'): { host: string; protocol: 'HTTPS' | 'HTTP' } {
  const m = /^(https?):\/\/(.+?)\/?$/i.exec(value);
  return m ? { host: m[2]!, protocol: m[1]!.toUpperCase() as 'HTTPS' | 'HTTP' } : { host: value, protocol: fallback };
}

/** Reads and checks the local cloud file; errors say how to start the local cloud. */
export function readLocalFile(path: string): LocalCloudFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`no local cloud file at ${path}: start the local cloud with \`eni-failover local up\` (or pass --local-file PATH)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path} is not JSON (${(err as Error).message}); restart the local cloud with \`eni-failover local up\``);
  }
  const parsed = LocalCloudFile.safeParse(data);
  if (!parsed.success) throw new UsageError(`${path}: ${parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** What `--verbose` shows: every ECS API attempt as the port makes it. */
export interface ConnectionObserver {
  ecsCall?(event: EcsCallEvent): void;
}

/** Builds the connection from the options and environment. Ports are built lazily, once. */
export function connect(values: Values, env: NodeJS.ProcessEnv, cwd: string, observer: ConnectionObserver = {}): Connection {
  if (values.profile !== undefined && (values.local || values['local-file'] !== undefined)) {
    throw new UsageError('--profile and --local exclude each other: the local cloud has its own keys (in its --local file)');
  }
  if (values.profile !== undefined && !/^[\w.@-]{1,64}$/.test(values.profile)) throw new UsageError(`--profile must be an aliyun CLI profile name, not "${values.profile}"`);
  const localPath = values['local-file'] ?? (values.local ? (env.ENI_FAILOVER_LOCAL_FILE ?? DefaultLocalFile) : undefined);
  const local = localPath === undefined ? undefined : readLocalFile(resolve(cwd, localPath));
  const regionId = values.region ?? local?.regionId ?? env.ALIBABA_CLOUD_REGION_ID ?? env.ALIBABA_CLOUD_REGION;
  if (regionId === undefined || regionId === '') {
    throw new UsageError('no region: pass --region (e.g. --region cn-hangzhou), set ALIBABA_CLOUD_REGION_ID, or use --local');
  }
  const accountId = values['account-id'] ?? local?.accountId ?? env.ALIBABA_CLOUD_ACCOUNT_ID;
  const credentials: CredentialSource = local
    ? { accessKeyId: local.accessKeyId, accessKeySecret: local.accessKeySecret }
    : values.profile !== undefined
      ? fromCliProfile(values.profile)
      : fromDefaultChain();
  const ecsEndpoint = splitEndpoint(values.endpoint ?? local?.ecsEndpoint ?? `ecs.${regionId}.aliyuncs.com`, local ? 'HTTP' : 'HTTPS');
  let ecs: EcsPortWithStats | undefined;
  let mns: MnsQueues | undefined;
  let fc: FcInvoker | undefined;
  let ledger: LedgerPort | undefined;
  const otsInstance = values['ots-instance'] ?? local?.tablestoreInstance ?? env.ENI_FAILOVER_OTS_INSTANCE;
  const otsEndpoint = values['ots-endpoint'] ?? local?.tablestoreEndpoint ?? (otsInstance ? `https://${otsInstance}.${regionId}.ots.aliyuncs.com` : undefined);
  const needAccount = (what: string): string => {
    if (accountId === undefined || accountId === '') throw new UsageError(`${what} needs the account id: pass --account-id or set ALIBABA_CLOUD_ACCOUNT_ID (or use --local)`);
    return accountId;
  };
  return {
    regionId,
    credentials,
    local: local !== undefined,
    ecs: () => (ecs ??= createEcsPort({ regionId, endpoint: ecsEndpoint.host, protocol: ecsEndpoint.protocol, credentials, ...(observer.ecsCall ? { onCall: observer.ecsCall } : {}) })),
    mns: async () => {
      if (mns) return mns;
      const account = needAccount('MNS');
      const endpoint = values['mns-endpoint'] ?? local?.mnsEndpoint ?? `https://${account}.mns.${regionId}.aliyuncs.com`;
      // The MNS port takes keys or a synchronous getter; the chain is asynchronous, so ask it now.
      const keys = typeof credentials === 'function' ? await credentials() : credentials;
      mns = new MnsQueues({ endpoint, accountId: account, credentials: { ...keys } });
      return mns;
    },
    fc: () => {
      if (fc) return fc;
      const account = needAccount('Function Compute');
      const fe = splitEndpoint(values['fc-endpoint'] ?? (local?.fcEndpoint || `${account}.${regionId}.fc.aliyuncs.com`), local ? 'HTTP' : 'HTTPS');
      fc = createFcInvoker({ endpoint: fe.host, protocol: fe.protocol, regionId, credentials });
      return fc;
    },
    ledger: () => {
      if (ledger || otsInstance === undefined || otsEndpoint === undefined) return ledger;
      return (ledger = new TablestoreLedger({ endpoint: otsEndpoint, instanceName: otsInstance, credentials }));
    },
  };
}
