/**
 * The MNS error table the local server answers with: code -> HTTP status and the message MNS writes.
 * Source: Alibaba Cloud "MNS error codes" (help/en/mns/error-codes, doc-detail/27501), mirrored in
 * shared/reference/sdk-wire.md. Statuses and spellings are theirs (including `InvalidDegist`).
 */
export const MnsErrorTable = {
  AccessDenied: { status: 403, message: 'The OwnerId that your Access Key Id associated to is forbidden for this operation.' },
  InvalidAccessKeyId: { status: 403, message: 'The AccessKey Id you provided is not exist.' },
  SignatureDoesNotMatch: {
    status: 403,
    message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  },
  InternalError: { status: 500, message: 'Interal error.' },
  InternalServerError: { status: 500, message: 'Interal error.' },
  /**
   * Not in MNS's own table: the message and status are those of Alibaba Cloud's common server-error table
   * (help doc-detail/25964, "Server errors": ServiceUnavailable 503 "The request has failed due to a
   * temporary failure of the server."). Only fault campaigns make the local server answer it.
   */
  ServiceUnavailable: { status: 503, message: 'The request has failed due to a temporary failure of the server.' },
  InvalidAuthorizationHeader: { status: 400, message: 'The Authorization header format is invalid.' },
  InvalidDateHeader: { status: 400, message: 'The Date header format is invalid.' },
  InvalidArgument: { status: 400, message: 'The XML you provided did not validate against our published schema.' },
  InvalidDegist: { status: 400, message: 'The Content-MD5 you specified is invalid.' },
  InvalidRequestURL: { status: 400, message: 'Http request URL format invalid.' },
  InvalidQueryString: { status: 400, message: 'Http request URL contains invalid querystring item.' },
  MalformedXML: { status: 400, message: 'The XML you provided was not well-formed.' },
  MissingAuthorizationHeader: { status: 400, message: 'Authorization header is required.' },
  MissingDateHeader: { status: 400, message: 'Date header is required.' },
  MissingReceiptHandle: { status: 400, message: 'ReceiptHandle is required.' },
  MissingVisibilityTimeout: { status: 400, message: 'VisibilityTimeout is required.' },
  MessageNotExist: { status: 404, message: 'Message not exist.' },
  QueueAlreadyExist: { status: 409, message: 'The queue you want to create is already exist.' },
  QueueDeletedRecently: { status: 400, message: 'The queue you want to create is deleted recently.' },
  InvalidQueueName: {
    status: 400,
    message: 'The queue name you provided is invalid. QueueName should start with alpha and contain only alpha, digit or - .',
  },
  QueueNameLengthError: { status: 400, message: 'Queue name length should between 1 and 256.' },
  QueueNotExist: { status: 404, message: 'The queue name you provided is not exist.' },
  ReceiptHandleError: { status: 400, message: 'The receipt handle you provide is not valid.' },
  TimeExpired: { status: 408, message: 'The http request you sent is expired.' },
  QpsLimitExceeded: { status: 400, message: 'The qps limit of the queue is exceeded.' },
  // Topic codes are the names MNS's error table (help/en/mns/error-codes) lists; the statuses follow their
  // queue counterparts (404 not exist, 409 already exist) and the messages are this emulator's.
  TopicNotExist: { status: 404, message: 'The topic name you provided is not exist.' },
  TopicAlreadyExist: { status: 409, message: 'The topic you want to create is already exist.' },
  SubscriptionNotExist: { status: 404, message: 'The subscription name you provided is not exist.' },
  SubscriptionAlreadyExist: { status: 409, message: 'The subscription you want to create is already exist.' },
} as const;

export type MnsErrorCode = keyof typeof MnsErrorTable;

/** A failure the local MNS answers as `<Error><Code>..</Code>..</Error>` with the table's status. */
export class MnsFault extends Error {
  override readonly name = 'MnsFault';
  readonly status: number;
  constructor(
    readonly code: MnsErrorCode,
    /** Overrides the table's generic message with one that says what to fix. */
    detail?: string,
  ) {
    super(detail ?? MnsErrorTable[code].message);
    this.status = MnsErrorTable[code].status;
  }
}
