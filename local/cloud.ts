import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { createEcsPort, type EcsPortWithStats } from '../cloud/ecs';
import { MnsQueues, type QueueAttributes } from '../cloud/mns';
import { defaultQueueNames, type QueueNames } from '../workflow/pipeline';
import { Keyring, type AccessKey } from './credentials';
import { startLocalEcs, type GuestExecutor, type LocalEcs, type Scenario } from './ecs';
import { startLocalFc, type LocalFc } from './fc';
import { startLocalMns, type LocalMns } from './mns';

/** The repository root (this file is local/cloud.ts; bundled, it is dist/cli.js: both one level down). */
export const projectRoot = resolve(__dirname, '..');
export const defaultScenarioPath = join(projectRoot, 'local', 'scenarios', 'two-node-failover.yaml');

export interface LocalCloudOptions {
  /** A scenario file or object (local/ecs/README.md); default: the two-node failover. */
  readonly scenario?: string | Scenario;
  /** Multiplies every emulated latency (1 = real time; tests use ~0.01). */
  readonly timeScale?: number;
  /** Keeps MNS queues and messages across restarts. */
  readonly dataDir?: string;
  readonly sYamlPath?: string;
  readonly accountId?: string;
  readonly guestExecutor?: GuestExecutor;
  /** Where the FC runtime's invocation lines and the functions' own log lines go (default: dropped). */
  readonly logSink?: (line: string) => void;
  readonly functionLogSink?: (line: string) => void;
  /** Whether to run the functions of s.yaml (tests of the ECS or MNS alone do not need them). */
  readonly functions?: boolean;
}

/** Everything a client needs to talk to the local cloud; what `eni-failover local up` prints. */
export interface LocalCloudInfo {
  readonly ecsEndpoint: string;
  readonly mnsEndpoint: string;
  readonly fcEndpoint: string;
  readonly httpTriggers: Record<string, string>;
  readonly accountId: string;
  readonly regionId: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
}

export interface LocalCloud {
  readonly ecs: LocalEcs;
  readonly mns: LocalMns;
  readonly fc: LocalFc | undefined;
  readonly keyring: Keyring;
  readonly root: AccessKey;
  readonly regionId: string;
  readonly accountId: string;
  readonly queues: QueueNames;
  readonly info: LocalCloudInfo;
  /** The production ECS port (cloud/ecs.ts) pointed at the local ECS. */
  ecsPort(): EcsPortWithStats;
  /** The production MNS port pointed at the local MNS. */
  mnsQueues(): MnsQueues;
  close(): Promise<void>;
}

interface DeclaredQueue extends QueueAttributes {
  readonly name: string;
}

/** The queues s.yaml declares in `vars.queues` (fc3 creates none; deploy and the local cloud do). */
export function declaredQueues(sYamlPath: string): DeclaredQueue[] {
  const doc = parse(readFileSync(sYamlPath, 'utf8')) as { vars?: { queues?: unknown } };
  const list = doc.vars?.queues;
  if (!Array.isArray(list)) throw new Error(`${sYamlPath}: vars.queues must list the MNS queues the deployment uses`);
  return list.map((q, i) => {
    if (typeof q !== 'object' || q === null || typeof (q as { name?: unknown }).name !== 'string') {
      throw new Error(`${sYamlPath}: vars.queues[${i}] needs a name`);
    }
    return q as DeclaredQueue;
  });
}

/**
 * Starts the local Alibaba cloud in this process: ECS (scenario), MNS (the queues s.yaml declares) and,
 * unless `functions: false`, the Function Compute runtime running the built functions of s.yaml with
 * their triggers. Every endpoint is on 127.0.0.1 with an ephemeral port; every client must sign with the
 * generated keys (or STS keys minted from them).
 */
export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const timeScale = options.timeScale ?? 1;
  const accountId = options.accountId ?? '1000000000000001';
  const sYamlPath = options.sYamlPath ?? join(projectRoot, 's.yaml');
  const { keyring, root } = Keyring.generate();
  const started: { close(): Promise<void> }[] = [];
  try {
    const ecs = await startLocalEcs({
      scenario: options.scenario ?? defaultScenarioPath,
      keyring,
      timeScale,
      ...(options.guestExecutor ? { guestExecutor: options.guestExecutor } : {}),
    });
    started.push(ecs);
    const regionId = ecs.regionId;
    const mns = await startLocalMns({ keyring, accountId, regionId, ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
    started.push(mns);
    const mnsQueues = () => new MnsQueues({ endpoint: mns.endpoint, accountId, credentials: root });
    const declared = declaredQueues(sYamlPath);
    await mnsQueues().ensureQueues(declared.map(({ name, ...attributes }) => ({ name, attributes })));

    const fc =
      options.functions === false
        ? undefined
        : await startLocalFc({
            sYamlPath,
            vars: { region: regionId, accountId },
            keyring,
            accountId,
            regionId,
            mns: { endpoint: mns.endpoint, credentials: root },
            queues: declared.map((q) => q.name),
            extraEnv: {
              ECS_ENDPOINT: ecs.endpoint,
              ECS_PROTOCOL: 'HTTP',
              MNS_ENDPOINT: mns.endpoint,
              TIME_SCALE: String(Math.min(1, timeScale)),
            },
            timeScale,
            ...(options.logSink ? { logSink: options.logSink } : { logSink: () => {} }),
            ...(options.functionLogSink ? { functionLogSink: options.functionLogSink } : { functionLogSink: () => {} }),
          });
    if (fc) started.push(fc);

    return {
      ecs,
      mns,
      fc,
      keyring,
      root,
      regionId,
      accountId,
      queues: defaultQueueNames(),
      info: {
        ecsEndpoint: ecs.endpoint,
        mnsEndpoint: mns.endpoint,
        fcEndpoint: fc?.endpoint ?? '',
        httpTriggers: fc?.httpTriggers ?? {},
        accountId,
        regionId,
        accessKeyId: root.accessKeyId,
        accessKeySecret: root.accessKeySecret,
      },
      ecsPort: () => createEcsPort({ regionId, endpoint: ecs.endpoint, protocol: 'HTTP', credentials: root }),
      mnsQueues,
      async close() {
        for (const s of started.reverse()) await s.close();
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => {});
    throw err;
  }
}
