import { z } from 'zod';
import { parseGroups, type GroupsConfig } from '../../workflow/groups';
import { describeIssues } from '../../workflow/messages';
import { defaultQueueNames, type QueueNames } from '../../workflow/pipeline';
import { EcsRateWindowMs, type RateDiscipline } from '../../cloud/rate-limit';

/**
 * Everything a function reads from its environment (set in s.yaml), validated once per instance. A bad
 * value stops the function with a message naming the variable, instead of failing later somewhere deep.
 */
const Env = z.object({
  /** Queue names share this prefix (s.yaml `vars.queuePrefix`). */
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,100}$/).default('eni-failover-'),
  /** ECS endpoint host[:port]; default `ecs.<region>.aliyuncs.com`. */
  ECS_ENDPOINT: z.string().min(1).optional(),
  ECS_PROTOCOL: z.enum(['HTTPS', 'HTTP']).default('HTTPS'),
  /** MNS endpoint with scheme; default `https://<account>.mns.<region>.aliyuncs.com`. */
  MNS_ENDPOINT: z.string().url().optional(),
  /** How long one invocation may poll before it hands the wait to a delayed message (ms). */
  STEP_BUDGET_MS: z.coerce.number().int().min(1000).max(3_000_000).default(40_000),
  /** Only the local cloud sets this (its clock runs faster); production leaves it at 1. */
  TIME_SCALE: z.coerce.number().positive().max(1).default(1),
  /**
   * The account's ECS budgets in calls per minute, as JSON `{"AttachNetworkInterface": 500, ...}` (s.yaml
   * vars.ecsRateLimits; Quota Center shows the real ones). Empty: the built-in table (Terway's budgets).
   */
  ECS_RATE_LIMITS: z.string().default(''),
  /**
   * How many function instances call each ECS API at once at most (s.yaml vars.ecsRateShare), as JSON
   * `{"default": 28, "AttachNetworkInterface": 4, ...}` or one number: each instance starts at budget / share.
   */
  ECS_RATE_SHARE: z.string().default('1'),
  /** The operation ledger's Tablestore instance (s.yaml vars.ledger.instanceName). */
  TABLESTORE_INSTANCE: z.string().regex(/^[a-z][a-z0-9-]{2,15}$/, 'must be a Tablestore instance name (3-16 lower-case letters, digits, -)').default('eni-failover'),
  /** Tablestore endpoint with scheme; default the instance's internal endpoint `https://<instance>.<region>.ots-internal.aliyuncs.com`. */
  TABLESTORE_ENDPOINT: z.string().url().optional(),
  /** Groups as YAML or JSON text; empty or unset: the groups bundled from config/groups.yaml. */
  FAILOVER_GROUPS: z.string().optional(),
  /** 'true' lets requests bind ENIs that are in no group (the deployment's choice, never a message's). */
  ALLOW_UNMANAGED: z.enum(['true', 'false', '']).default('false'),
  /** s.yaml vars.warmInstances: the instances each failover function keeps running; 0 turns warm-ahead on (workflow/warm-ahead.ts). */
  WARM_INSTANCES: z.coerce.number().int().min(0).max(1000).optional(),
});

export interface FunctionConfig {
  readonly queues: QueueNames;
  readonly ecsEndpoint: (regionId: string) => string;
  readonly ecsProtocol: 'HTTPS' | 'HTTP';
  readonly mnsEndpoint: (accountId: string, regionId: string) => string;
  readonly stepBudgetMs: number;
  readonly timeScale: number;
  /** What every ECS port of the function is made with: the account's budgets and this instance's share of them. */
  readonly ecsRate: { readonly rateLimits?: Partial<Record<string, number>>; readonly rateDiscipline: RateDiscipline };
  readonly ledger: { readonly instanceName: string; readonly endpoint: (regionId: string) => string };
  /** The failover groups: from FAILOVER_GROUPS, else the bundled config/groups.yaml. */
  readonly groups: GroupsConfig;
  readonly allowUnmanaged: boolean;
  /**
   * The instances this function keeps running (s.yaml scalingConfig.minInstances, WARM_INSTANCES): 0, the
   * steps warm their successors ahead; more, the initializer primes the ECS client too; unset, neither.
   */
  readonly warmInstances?: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, bundledGroupsYaml = ''): FunctionConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) throw new Error(`eni-failover: bad function environment: ${describeIssues(parsed.error)}`);
  const e = parsed.data;
  return {
    queues: defaultQueueNames(e.QUEUE_PREFIX),
    ecsEndpoint: (region) => e.ECS_ENDPOINT ?? `ecs.${region}.aliyuncs.com`,
    ecsProtocol: e.ECS_PROTOCOL,
    mnsEndpoint: (account, region) => e.MNS_ENDPOINT ?? `https://${account}.mns.${region}.aliyuncs.com`,
    stepBudgetMs: e.STEP_BUDGET_MS,
    timeScale: e.TIME_SCALE,
    ecsRate: {
      ...(e.ECS_RATE_LIMITS.trim() === '' ? {} : { rateLimits: parseRateLimits(e.ECS_RATE_LIMITS) }),
      // ECS's one-minute window on the local cloud's faster clock.
      rateDiscipline: { windowMs: EcsRateWindowMs * e.TIME_SCALE, share: parseRateShare(e.ECS_RATE_SHARE) },
    },
    ledger: {
      instanceName: e.TABLESTORE_INSTANCE,
      // The internal endpoint (shared/reference/tablestore.md §1, help.aliyun.com/document_detail/27299.html).
      endpoint: (region) => e.TABLESTORE_ENDPOINT ?? `https://${e.TABLESTORE_INSTANCE}.${region}.ots-internal.aliyuncs.com`,
    },
    groups:
      e.FAILOVER_GROUPS !== undefined && e.FAILOVER_GROUPS.trim() !== ''
        ? parseGroups(e.FAILOVER_GROUPS, 'FAILOVER_GROUPS')
        : parseGroups(bundledGroupsYaml, 'config/groups.yaml (bundled)'),
    allowUnmanaged: e.ALLOW_UNMANAGED === 'true',
    ...(e.WARM_INSTANCES === undefined ? {} : { warmInstances: e.WARM_INSTANCES }),
  };
}

const RateLimits = z.record(z.string().regex(/^[A-Z][A-Za-z]{2,60}$/, 'must be an ECS API name'), z.number().int().positive());

/** ECS_RATE_LIMITS: a JSON object of API name to calls per minute; a bad one names what is wrong. */
function parseRateLimits(text: string): Record<string, number> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('eni-failover: bad function environment: ECS_RATE_LIMITS: not JSON; set it to e.g. {"AttachNetworkInterface":500} or leave it empty');
  }
  const parsed = RateLimits.safeParse(raw);
  if (!parsed.success) throw new Error(`eni-failover: bad function environment: ECS_RATE_LIMITS: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

const RateShare = z.union([
  z.number().int().min(1).max(10_000),
  z.record(z.string().regex(/^(default|[A-Z][A-Za-z]{2,60})$/, 'must be an ECS API name or "default"'), z.number().int().min(1).max(10_000)),
]);

/** ECS_RATE_SHARE: a number, or a JSON object of API name (or "default") to the number of callers. */
function parseRateShare(text: string): number | Record<string, number> {
  let raw: unknown;
  try {
    raw = JSON.parse(text.trim() === '' ? '1' : text);
  } catch {
    throw new Error('eni-failover: bad function environment: ECS_RATE_SHARE: not JSON; set it to a number or e.g. {"default":28,"AttachNetworkInterface":4}');
  }
  const parsed = RateShare.safeParse(raw);
  if (!parsed.success) throw new Error(`eni-failover: bad function environment: ECS_RATE_SHARE: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
