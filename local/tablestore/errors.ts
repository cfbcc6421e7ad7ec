/**
 * The Tablestore error codes the local server answers with: code -> HTTP status and the service's own
 * message. Source: shared/reference/tablestore.md §4 (table of code/status pairs) and §2 (auth faults);
 * `OTSUnsupportOperation` and `OTSMethodNotAllowed`'s message are guesses (see README.md, "Guessed").
 */
export const OtsErrorTable = {
  OTSAuthFailed: { status: 403, message: 'Signature mismatch.' },
  OTSNoPermissionAccess: { status: 403, message: 'You have no permission to access the requested resource, please contact the resource owner.' },
  OTSConditionCheckFail: { status: 403, message: 'Condition check failed.' },
  OTSObjectNotExist: { status: 404, message: 'Requested table does not exist.' },
  OTSTableNotReady: { status: 404, message: 'The table is not ready.' },
  OTSObjectAlreadyExist: { status: 409, message: 'Requested table already exists.' },
  OTSParameterInvalid: { status: 400, message: 'Invalid parameter.' },
  OTSUnsupportOperation: { status: 400, message: 'Unsupported operation.' },
  OTSMethodNotAllowed: { status: 405, message: 'Only POST method is allowed.' },
  OTSRequestTimeout: { status: 408, message: 'Request timeout.' },
  OTSRequestBodyTooLarge: { status: 413, message: 'The size of POST data is too large.' },
  OTSQuotaExhausted: { status: 403, message: 'Number of tables exceeded the quota.' },
  OTSInternalServerError: { status: 500, message: 'An internal server error occurred.' },
  OTSServerBusy: { status: 503, message: 'Server is busy.' },
  OTSPartitionUnavailable: { status: 503, message: 'The partition is not available.' },
  OTSServerUnavailable: { status: 503, message: 'Server is not available.' },
  OTSTimeout: { status: 503, message: 'Operation timeout.' },
} as const;

export type OtsErrorCode = keyof typeof OtsErrorTable;

/**
 * A failure the local Tablestore answers as protobuf `Error{code, message}` (tablestore.proto:5-8) with
 * the table's status. The model raises these; the HTTP layer only encodes them.
 */
export class OtsFault extends Error {
  override readonly name = 'OtsFault';
  readonly status: number;
  constructor(
    readonly code: OtsErrorCode,
    /** Overrides the table's generic message with one that says what is wrong. */
    detail?: string,
    /** Overrides the table's status (only injected faults do this). */
    status?: number,
  ) {
    super(detail ?? OtsErrorTable[code].message);
    this.status = status ?? OtsErrorTable[code].status;
  }
}

/** Shorthand for the most common fault: bad input (400 OTSParameterInvalid). */
export function invalid(message: string): OtsFault {
  return new OtsFault('OTSParameterInvalid', message);
}
