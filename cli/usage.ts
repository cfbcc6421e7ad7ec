/** Exit codes of the CLI (documented in cli/README.md). */
export const ExitCode = {
  Succeeded: 0,
  /** Unexpected error: the cloud, credentials, the network. */
  Error: 1,
  /** Bad usage: unknown command or option, missing or malformed argument. */
  Usage: 2,
  /** The ENI was bound elsewhere by someone else meanwhile (or the race was lost). */
  Superseded: 3,
  Failed: 4,
  /** `submit --wait` gave up before the outcome arrived. */
  Timeout: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake of the caller: printed with a hint and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
