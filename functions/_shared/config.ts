import { z } from 'zod';
import { describeIssues } from '../../workflow/messages';
import { defaultQueueNames, type QueueNames } from '../../workflow/pipeline';

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
});

export interface FunctionConfig {
  readonly queues: QueueNames;
  readonly ecsEndpoint: (regionId: string) => string;
  readonly ecsProtocol: 'HTTPS' | 'HTTP';
  readonly mnsEndpoint: (accountId: string, regionId: string) => string;
  readonly stepBudgetMs: number;
  readonly timeScale: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): FunctionConfig {
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
  };
}
