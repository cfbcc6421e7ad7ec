import { createEcsPort, type EcsPortWithStats } from '../../cloud/ecs';
import { fromFcContext, type EcsCredentials, type FcContextLike } from '../../cloud/credentials';
import { TablestoreLedger } from '../../cloud/ledger';
import { MnsQueues } from '../../cloud/mns';
import { parseLease, parseRecord, type LeaseRecord, type LedgerPort, type OperationRecord } from '../../workflow/ledger';
import { BindRequest } from '../../workflow/messages';
import { newRecord } from '../../workflow/operation';
import type { QueuePort, TopicPort } from '../../workflow/ports';
import type { FunctionConfig } from './config';

/** The FC 3.0 context fields the clients are made from. */
export interface InstanceContext extends FcContextLike {
  readonly region?: string;
  readonly accountId?: string;
}

/** What one function instance talks to the cloud with. */
export interface InstanceClients {
  readonly regionId: string;
  readonly ecs: EcsPortWithStats;
  readonly queue: QueuePort;
  /** Outcomes are published on the MNS topic (the same MNS client as the queues). */
  readonly topic: TopicPort;
  readonly ledger: LedgerPort;
}

/**
 * The clients of one function instance, made once - by the initializer when s.yaml wires one
 * (instanceLifecycleConfig.initializer), else by the first invocation - and signing every request with the
 * credentials of the latest context FC handed in (STS keys rotate; a warm instance must not keep signing
 * with expired ones). Connections are kept alive by the clients' agents (cloud/ledger.ts for Tablestore;
 * httpx's keep-alive agents for ECS and MNS).
 */
export function instanceClients(config: FunctionConfig, env: NodeJS.ProcessEnv = process.env) {
  let credentials: EcsCredentials | undefined;
  let clients: InstanceClients | undefined;
  const current = (): EcsCredentials => {
    if (credentials === undefined) throw new Error('no invocation context yet');
    return credentials;
  };
  return {
    /** The clients, made on the first call; `context`'s credentials sign from now on. */
    ports(context: InstanceContext): InstanceClients {
      credentials = fromFcContext(context);
      if (clients === undefined) {
        const regionId = context.region ?? env.FC_REGION ?? '';
        const accountId = context.accountId ?? env.FC_ACCOUNT_ID ?? '';
        if (regionId === '' || accountId === '') throw new Error('FC context has no region or accountId');
        const mns = new MnsQueues({ endpoint: config.mnsEndpoint(accountId, regionId), accountId, credentials: current });
        clients = {
          regionId,
          ecs: createEcsPort({ regionId, endpoint: config.ecsEndpoint(regionId), protocol: config.ecsProtocol, credentials: current, ...config.ecsRate }),
          queue: mns,
          topic: mns,
          ledger: new TablestoreLedger({ endpoint: config.ledger.endpoint(regionId), instanceName: config.ledger.instanceName, credentials: current }),
        };
      }
      return clients;
    },
  };
}

/**
 * FC's initializer for a function whose clients come from `clients` (s.yaml `index.initialize`): runs once
 * per instance before its first event - at deploy time for the minimum instances - so no failover pays for
 * building them.
 */
export function initializerOf(clients: ReturnType<typeof instanceClients>, config: Partial<Pick<FunctionConfig, 'warmInstances' | 'groups'>> = {}) {
  return async function initialize(context: InstanceContext): Promise<void> {
    const { ledger, queue, ecs } = clients.ports(context);
    // Every delivery makes several ledger, MNS and ECS calls, and a client's first call compiles its code
    // (signing, encoding, parsing: 5-20 ms each on the bench machine). Primed here, the first failover
    // does not pay for it: one read of a ledger row that does not exist, the ledger's record and lease
    // parsers and the MNS client's response parser run on canned values (no request), and - only in a
    // function kept warm (WARM_INSTANCES > 0), whose initializer runs at deploy, not on a failover's path -
    // one DescribeInstances of the group members and the ledger's two conditional writes on rows that do
    // not exist (their conditions cannot hold: nothing is written). A function started on demand makes no
    // ECS call for its start.
    const warm = (config.warmInstances ?? 0) > 0;
    // A warm instance runs its Tablestore and MNS paths a few times over, not once: V8 compiles a function
    // that ran a few times to baseline code, and a failover's calls then cost about a third of a first one's
    // (bench machine). The ledger's repeats are reads and refused writes: nothing is written.
    const rounds = warm ? PrimingRounds : 1;
    const ledgerRound = async () => {
      const { record, lease } = primingRows();
      await ledger.get(PrimingId).catch(() => undefined);
      if (warm) await Promise.all([ledger.update(record).catch(() => undefined), ledger.putLease(lease).catch(() => undefined), ledger.getLease(PrimingId).catch(() => undefined)]);
    };
    // The rounds run side by side: what compiles is the code they run, not their order, and an instance
    // started on demand in a storm (a scale-out of a warm function) waits two round trips for them, not 16.
    // (A time budget that skipped later rounds on a busy CPU cut them at deploy too, where seven functions
    // start at once: the warm path lost 60 ms. Not worth it.)
    await Promise.all([
      ...Array.from({ length: rounds }, () => ledgerRound()),
      ...Array.from({ length: rounds }, () => (queue as { prime?: () => Promise<void> }).prime?.()),
      warm ? primeEcs(ecs, config.groups) : undefined,
    ]);
  };
}

/**
 * A record and a lease no operation has, parsed once by the ledger's parsers. Both have version 2: a
 * write of them expects version 1 of a row that does not exist, so it is refused and writes nothing.
 */
function primingRows(): { record: OperationRecord; lease: LeaseRecord } {
  const now = Date.now();
  const request = BindRequest.parse({ eniId: 'eni-initializerpriming', instanceId: 'i-initializerpriming', regionId: 'cn-hangzhou', origin: { kind: 'cli', id: PrimingId, time: new Date(now).toISOString() } });
  const record: OperationRecord = { ...newRecord(request, now), operationId: PrimingId, version: 2 };
  const lease: LeaseRecord = { resourceId: PrimingId, version: 2, operationId: PrimingId, until: 0, holders: [], updatedAt: now };
  try {
    parseRecord(JSON.stringify(record));
    parseLease(JSON.stringify(lease));
  } catch {
    // A parser that refuses the canned rows only costs the first failover its compile time.
  }
  return { record, lease };
}

/** One DescribeInstances of (up to 100 of) the group members; never fails. */
async function primeEcs(ecs: EcsPortWithStats, groups: FunctionConfig['groups'] | undefined): Promise<void> {
  const members = [...new Set((groups?.groups ?? []).flatMap((g) => g.members))].slice(0, 100);
  if (members.length > 0) await ecs.describeInstances(members).catch(() => undefined);
}

/** How many times a warm instance's initializer runs its ledger and MNS paths (4 Tablestore requests each). */
const PrimingRounds = 8;

/** What the initializer reads to run the ledger client once: no operation has this id. */
const PrimingId = 'eni-failover-initializer-priming';
