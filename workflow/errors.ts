/**
 * Errors as data. Ports translate every failure of the cloud into a {@link CloudError} whose `kind`
 * decides what the workflow does with it; the tables that map wire codes to kinds live in cloud/.
 */

/** What a caller may do about a cloud failure. */
export const CloudErrorKind = {
  /** Rate limited: retry after the window. */
  Throttling: 'throttling',
  /** 5xx, network, timeouts: retry with backoff. */
  Transient: 'transient',
  /** The resource does not exist. */
  NotFound: 'notFound',
  /** The resource exists but its state forbids the call now (may change by itself). */
  InvalidState: 'invalidState',
  /** Retrying will not help: bad parameters, quota, permissions, mismatches. */
  Fatal: 'fatal',
} as const;
export type CloudErrorKind = (typeof CloudErrorKind)[keyof typeof CloudErrorKind];

/** A failure answered by (or on the way to) a cloud API, classified. */
export class CloudError extends Error {
  override readonly name = 'CloudError';
  constructor(
    readonly kind: CloudErrorKind,
    /** The API's error code, e.g. `InvalidOperation.InvalidEniState`, or a network error name. */
    readonly code: string,
    message: string,
    readonly details: {
      readonly api?: string;
      readonly statusCode?: number;
      readonly requestId?: string;
      /** Milliseconds the server asked us to wait, when it said. */
      readonly retryAfterMs?: number;
      readonly cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get retryable(): boolean {
    return this.kind === CloudErrorKind.Throttling || this.kind === CloudErrorKind.Transient;
  }
}

export function isCloudError(err: unknown): err is CloudError {
  return err instanceof CloudError;
}

/**
 * StartInstance refusals that clear by themselves, in minutes (StartInstance API reference, ecs-realism.md):
 * no stock in the zone (likely after StopCharging released the instance's resources), instance not ready.
 * The port retries them as transient (cloud/errors.ts); the workflow then tells the operator.
 */
export const StartRefusalCodes: readonly string[] = ['OperationDenied.NoStock', 'InstanceNotReady'];
