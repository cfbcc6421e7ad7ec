import { z } from 'zod';

/**
 * The realistic profile: the roughness of the real ECS that a kind emulator hides (issue 11,
 * shared/reference/ecs-realism.md). Every item is off unless the scenario's `realism` section sets it;
 * `realism: realistic` switches on {@link RealisticProfile}, and `realism: { extends: realistic, ... }`
 * overlays changes on it. Durations are unscaled seconds (multiplied by timeScale like `latency`);
 * draws come from one RNG seeded by `seed`, so a run with the same calls replays.
 */

const seconds = z
  .object({ min: z.number().nonnegative().default(0), max: z.number().nonnegative() })
  .strict()
  .refine((r) => r.max >= r.min, 'max must be >= min');
const probability = z.number().min(0).max(1);

/** Codes an Attach/Detach may answer without acting. `please-retry-again` = IncorrectInstanceStatus with Terraform's retry sentence. */
export const TransientWriteCodes = [
  'InvalidOperation.InvalidEniState',
  'InvalidOperation.InvalidEcsState',
  'OperationConflict',
  'ServiceUnavailable',
  'InternalError',
  'please-retry-again',
] as const;
export const ThrottlingCodes = ['Throttling', 'Throttling.Api', 'Throttling.User'] as const;
export const StartRefusalCodes = ['OperationDenied.NoStock', 'InstanceNotReady'] as const;
/** How an invocation may end by itself; DeliveryTimeout is an ErrorCode (status Aborted). */
export const InvocationFailures = ['Error', 'Invalid', 'Cancelled', 'Terminated', 'DeliveryTimeout'] as const;
/** What RunCommand's target answers while the agent is not online yet after a (re)start. */
export const AgentNotReadyErrors = ['ClientNotRunning', 'DeliveryTimeout'] as const;

export const RealismSchema = z
  .object({
    /** RNG seed: same seed, same calls, same answers. */
    seed: z.number().int().default(1),
    /** Describe* reads show the state as it was up to this long ago (eventual consistency). */
    readLagSeconds: seconds.optional(),
    /** Attach/Detach answer a transient code with this probability, without acting. */
    transientWrites: z
      .object({
        probability,
        actions: z.array(z.enum(['AttachNetworkInterface', 'DetachNetworkInterface'])).default(['AttachNetworkInterface', 'DetachNetworkInterface']),
        codes: z.array(z.enum(TransientWriteCodes)).min(1).default([...TransientWriteCodes]),
      })
      .strict()
      .optional(),
    /** A hot-plugged NIC is visible to the guest (EmulatedGuest finds its MAC) this long after InUse. */
    guestNicDelaySeconds: seconds.optional(),
    /** ... and its MAC is listed by the instance metadata this long after InUse (model.metadataMacs). */
    metadataMacDelaySeconds: seconds.optional(),
    /** The Cloud Assistant agent reports online this long after the instance is Running (after Start/Reboot). */
    agentOnlineDelaySeconds: seconds.optional(),
    /** What a command delivered meanwhile ends with (status Aborted, this ErrorCode), drawn per target. */
    agentNotReadyErrors: z.array(z.enum(AgentNotReadyErrors)).min(1).default([...AgentNotReadyErrors]),
    /** StartInstance refuses for a while: OperationDenied.NoStock after StopCharging, else one of `codes`. */
    startRefusals: z
      .object({
        probability,
        probabilityAfterStopCharging: probability.optional(),
        forSeconds: seconds.default({ min: 30, max: 120 }),
        codes: z.array(z.enum(StartRefusalCodes)).min(1).default([...StartRefusalCodes]),
      })
      .strict()
      .optional(),
    /** Any call is throttled with this probability, answered with one of `codes` (400). */
    throttling: z
      .object({ probability, codes: z.array(z.enum(ThrottlingCodes)).min(1).default([...ThrottlingCodes]) })
      .strict()
      .optional(),
    /** A delivered invocation ends by itself with one of `statuses` with this probability. */
    invocationFailures: z
      .object({ probability, statuses: z.array(z.enum(InvocationFailures)).min(1).default([...InvocationFailures]) })
      .strict()
      .optional(),
  })
  .strict();
export type Realism = z.output<typeof RealismSchema>;
export type RealismInput = z.input<typeof RealismSchema>;

/**
 * The realistic profile's defaults. Sources and guesses:
 * - readLagSeconds 0-2: **guess** (no published figure; Terraform and Terway re-read after writes).
 * - transientWrites 10 %: **guess**; the codes are Terraform's retry list for Attach/Detach.
 * - guestNicDelaySeconds 1-5, metadataMacDelaySeconds 1-8: **guess**, sized to Terway waiting for the MAC
 *   in metadata and amazon-vpc-cni's 12 metadata polls from 100 ms doubling (anchors.md).
 * - agentOnlineDelaySeconds 5-30: **guess**; the RunCommand page advises checking the agent "especially
 *   for new instances".
 * - startRefusals 5 %, 50 % after StopCharging, 30-120 s: **guess** (StartInstance documents NoStock as
 *   likely after StopCharging released the resources).
 * - throttling 2 %: **guess**; real limits are per account, only in Quota Center.
 * - invocationFailures 3 %: **guess**; the statuses are the documented ones never produced otherwise.
 */
export const RealisticProfile: RealismInput = {
  seed: 1,
  readLagSeconds: { min: 0, max: 2 },
  transientWrites: { probability: 0.1 },
  guestNicDelaySeconds: { min: 1, max: 5 },
  metadataMacDelaySeconds: { min: 1, max: 8 },
  agentOnlineDelaySeconds: { min: 5, max: 30 },
  startRefusals: { probability: 0.05, probabilityAfterStopCharging: 0.5, forSeconds: { min: 30, max: 120 } },
  throttling: { probability: 0.02 },
  invocationFailures: { probability: 0.03 },
};

/**
 * The scenario's `realism` value: absent / `kind` = off; `realistic` = {@link RealisticProfile}; an object,
 * optionally with `extends: realistic` to overlay it on the profile (shallow, per item).
 */
export const RealismSection = z.preprocess(
  (value) => {
    if (value === undefined || value === null || value === 'kind') return undefined;
    if (value === 'realistic') return { ...RealisticProfile };
    if (typeof value === 'object' && !Array.isArray(value) && (value as Record<string, unknown>).extends !== undefined) {
      const { extends: base, ...rest } = value as Record<string, unknown>;
      if (base !== 'realistic') return value; // let the schema name the bad field
      return { ...RealisticProfile, ...rest };
    }
    return value;
  },
  RealismSchema.optional(),
);
