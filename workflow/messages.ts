import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The messages that travel between the steps. Every message is parsed with these schemas on arrival; a
 * message that does not parse is never retried (it would fail the same way forever): it goes to the
 * dead-letter queue with the parse error.
 */

export const Step = {
  Validate: 'validate',
  StopIfRequired: 'stop-if-required',
  Attach: 'attach',
  VerifyBound: 'verify-bound',
  ConfigureGuestRoutes: 'configure-guest-routes',
} as const;
export type Step = (typeof Step)[keyof typeof Step];
export const Steps: readonly Step[] = Object.values(Step);

const eniId = z.string().regex(/^eni-[a-z0-9][a-z0-9-]{0,62}$/, 'must look like eni-xxxxxxxx');
const instanceId = z.string().regex(/^i-[a-z0-9][a-z0-9-]{0,62}$/, 'must look like i-xxxxxxxx');
const regionId = z.string().regex(/^[a-z]{2,}(-[a-z0-9]+)+$/, 'must be a region id such as cn-hangzhou');

/** `failback`: the workflow moving a group's ENIs back to its preferred member (workflow/failback.ts). */
export const OriginKind = { Alarm: 'alarm', Schedule: 'schedule', Request: 'request', Cli: 'cli', Event: 'event', Failback: 'failback' } as const;
export type OriginKind = (typeof OriginKind)[keyof typeof OriginKind];

export const Origin = z
  .object({
    kind: z.enum(['alarm', 'schedule', 'request', 'cli', 'event', 'failback']),
    /** Who asked: alarm name + instance, timer name + fire time, request id, operator. */
    id: z.string().min(1).max(256),
    /** ISO-8601 time the trigger happened. */
    time: z.string().datetime({ offset: true }),
  })
  .strict();
export type Origin = z.infer<typeof Origin>;

export const Policy = z
  .object({
    /** Stop a Stopped-only type, or restart a pre-2018 instance, when the bind needs it. */
    allowStop: z.boolean().default(false),
    stoppedMode: z.enum(['KeepCharging', 'StopCharging']).default('KeepCharging'),
    /** Force-stop the source instance when its detach hangs. */
    fenceSource: z.boolean().default(false),
    /** Configure the guest OS through Cloud Assistant after the bind. */
    configureGuest: z.boolean().default(true),
    /**
     * Also write the guest's network configuration for its distro so it survives a reboot. Off by default:
     * on an image the script cannot persist for, it refuses (exit 13) and the failover would fail.
     */
    persistGuest: z.boolean().default(false),
    /** The whole operation must end within this many seconds of its start. */
    deadlineSeconds: z.number().int().min(30).max(86_400).default(900),
  })
  .strict();
export type Policy = z.infer<typeof Policy>;

/** What a caller asks for: bind `eniId` to `instanceId`, taking it from `sourceInstanceId` if named. */
export const BindRequest = z
  .object({
    eniId,
    instanceId,
    regionId,
    sourceInstanceId: instanceId.optional(),
    policy: Policy.default({}),
    origin: Origin,
  })
  .strict()
  .refine((r) => r.sourceInstanceId !== r.instanceId, {
    message: 'must differ from instanceId',
    path: ['sourceInstanceId'],
  });
export type BindRequest = z.infer<typeof BindRequest>;
export type BindRequestInput = z.input<typeof BindRequest>;

/** What validate decided. */
export const Plan = z
  .object({
    /** `attach`: the ENI must be bound; `alreadyBound`: it is (or is being) bound to the target. */
    action: z.enum(['attach', 'alreadyBound']),
    /** Detach from this instance first (always the request's named source). */
    detachFrom: instanceId.optional(),
    /** What the target needs before the bind. */
    instancePrep: z.enum(['none', 'stop', 'restart']),
    targetStatusAtValidate: z.string(),
    osType: z.enum(['linux', 'windows']),
    instanceType: z.string(),
    eni: z.object({ macAddress: z.string(), privateIps: z.array(z.string()).min(1) }).strict(),
  })
  .strict();
export type Plan = z.infer<typeof Plan>;

/** What an operation remembers between steps (in the ledger); only facts the next steps need to act or to restore. */
export const OperationState = z
  .object({
    /** This operation is in the target's power hold (workflow/operation.ts): joined, then left. */
    powerHold: z.enum(['joined', 'left']).optional(),
    /** This operation recorded that it is about to stop the target (before the StopInstance call). */
    stopRequestedAt: z.number().optional(),
    /** This operation left the power hold last and owes the target its start. */
    startOwed: z.boolean().default(false),
    /** This operation asked for the pre-2018 restart. */
    rebootRequestedAt: z.number().optional(),
    detachRequestedAt: z.number().optional(),
    /** When ECS last accepted a Detach of ours: an InUse read soon after is a lagging read, not a lost detach. */
    detachSentAt: z.number().optional(),
    sourceFencedAt: z.number().optional(),
    /** How many times AttachNetworkInterface was accepted for this operation. */
    attachRequests: z.number().int().default(0),
    attachRequestedAt: z.number().optional(),
    guestRuns: z.number().int().default(0),
    /** Runs of the guest script after a retryable failure other than a NIC still on its way (bounded by MaxGuestRuns). */
    guestRetries: z.number().int().default(0),
    invokeId: z.string().optional(),
    /** When ECS accepted the last guest command: where the command's own time starts (the timeline picture; the wait for its result is timed from here). */
    guestSentAt: z.number().optional(),
    /** The target's StartTime when the guest command was sent: a result counts only for that boot. */
    guestBoot: z.string().optional(),
    startRequestedAt: z.number().optional(),
    /** When verify-bound saw the ENI InUse on the target: an older state read soon after is a lagging read. */
    boundSeenAt: z.number().optional(),
    /** The target's boot (bootOf its StartTime) verify-bound saw Running with the ENI bound. */
    boundBoot: z.string().optional(),
    /** The code of ECS's last refusal of this operation's StartInstance (OperationDenied.NoStock, InstanceNotReady). */
    startRefusal: z.string().optional(),
    /** The ENI lease is this operation's (taken by validate). */
    leaseHeld: z.boolean().default(false),
    /** Looks in a row that met an invalid-state answer (a racing writer); bounded. */
    invalidStateStreak: z.number().int().default(0),
  })
  .strict();
export type OperationState = z.infer<typeof OperationState>;

export const TimelineEntry = z
  .object({
    step: z.string(),
    outcome: z.string(),
    detail: z.string(),
    at: z.number(),
    ms: z.number(),
    calls: z.record(z.number()),
    /** What this delivery waited for before it moved on (distinct, with counts): lagging reads, a late agent. */
    waits: z.array(z.string()).optional(),
  })
  .strict();
export type TimelineEntry = z.infer<typeof TimelineEntry>;

export const Outcome = { Succeeded: 'succeeded', Superseded: 'superseded', Failed: 'failed' } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** The terminal event published on the events queue (and, for failures, the dead-letter queue). */
export interface OperationEvent {
  readonly kind: 'eni-failover.outcome';
  readonly operationId: string;
  readonly outcome: Outcome;
  readonly reason?: string;
  readonly step: Step;
  readonly message: string;
  /** The group that authorised the operation. */
  readonly group?: string;
  readonly request: BindRequest;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly durationMs: number;
  readonly apiCalls: number;
  readonly timeline: TimelineEntry[];
  readonly guest?: unknown;
  readonly restored?: string;
  /** This operation had taken the ENI from its source and could not bind it: the operation started to bind it elsewhere. */
  readonly rescue?: string;
}

/**
 * The operation id: the same trigger (origin), ENI and target always give the same id, so a repeated
 * trigger is recognised as the same operation.
 */
export function deriveOperationId(request: Pick<BindRequest, 'origin' | 'eniId' | 'instanceId'>): string {
  const h = createHash('sha256')
    .update(`${request.origin.kind}\n${request.origin.id}\n${request.eniId}\n${request.instanceId}`)
    .digest('hex');
  return `op-${h.slice(0, 16)}`;
}

/** Turns zod issues into one line a person can act on: `policy.deadlineSeconds: Expected number`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`).join('; ');
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses JSON text (or an already-parsed value) with `schema`; errors name the field. */
export function parseWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, text: string | unknown): ParseResult<T> {
  let data: unknown = text;
  if (typeof text === 'string') {
    try {
      data = JSON.parse(text);
    } catch (err) {
      return { ok: false, error: `not JSON: ${(err as Error).message}` };
    }
  }
  const parsed = schema.safeParse(data);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: describeIssues(parsed.error) };
}

export const parseBindRequest = (input: string | unknown): ParseResult<BindRequest> => parseWith(BindRequest, input);
