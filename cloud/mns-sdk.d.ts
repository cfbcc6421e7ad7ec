/**
 * Types for the part of `@alicloud/mns` 1.2.0 (which ships none) that cloud/mns.ts uses, written from
 * its lib/client.js. Every value in a parsed body is a string (xml2js `extract`); nested elements come
 * back as one-element arrays of objects. Failures answered as MNS XML throw a plain `Error` named
 * `MNS<Code>Error` with no `.code`; any other non-2xx (a 503 text/plain) RESOLVES with that `code`.
 */
declare module '@alicloud/mns' {
  type XmlValue = string | number | boolean | { [key: string]: XmlValue };

  interface MnsClientOptions {
    /** `http(s)://host[:port]`, scheme required. */
    endpoint?: string;
    region?: string;
    accessKeyId: string;
    accessKeySecret: string;
    securityToken?: string;
    refreshSTSToken?: () => Promise<{ accessKeyId: string; accessKeySecret: string; securityToken: string }>;
    refreshSTSTokenInterval?: number;
    /** ms; default 40 000. */
    readTimeout?: number;
    /** ms; acts as the socket idle timer, so it must exceed long-poll waits. Default 30 000. */
    connectTimeout?: number;
  }

  interface MnsResponse<B> {
    /** The HTTP status. */
    code: number;
    headers: Record<string, string | undefined>;
    body: B;
  }

  type Fields = Record<string, string | undefined>;

  class MNSClient {
    constructor(accountId: string, options: MnsClientOptions);
    createTopic(name: string, params?: Record<string, XmlValue>): Promise<MnsResponse<Fields | undefined>>;
    getTopicAttributes(name: string): Promise<MnsResponse<Fields | undefined>>;
    publishMessage(topic: string, params: Record<string, XmlValue>): Promise<MnsResponse<Fields | undefined>>;
    /** The signed request every API method goes through (1.2.0's subscribe() is an empty stub; Subscribe is sent with this). */
    put(resource: string, type: string, body: Buffer, attentions?: string[]): Promise<MnsResponse<Fields | undefined>>;
    createQueue(name: string, params?: Record<string, XmlValue>): Promise<MnsResponse<Fields | undefined>>;
    deleteQueue(name: string): Promise<MnsResponse<undefined>>;
    listQueue(start?: string, limit?: number, prefix?: string): Promise<MnsResponse<Array<{ QueueURL?: string }> | undefined>>;
    getQueueAttributes(name: string): Promise<MnsResponse<Record<string, string | Array<Fields> | undefined> | undefined>>;
    setQueueAttributes(name: string, params?: Record<string, XmlValue>): Promise<MnsResponse<undefined>>;
    sendMessage(queueName: string, params: Record<string, XmlValue>): Promise<MnsResponse<Fields | undefined>>;
    batchSendMessage(queueName: string, params: Array<Record<string, XmlValue>>): Promise<MnsResponse<Fields[] | undefined>>;
    receiveMessage(queueName: string, waitSeconds?: number): Promise<MnsResponse<Fields | undefined>>;
    batchReceiveMessage(queueName: string, numOfMessages: number, waitSeconds?: number): Promise<MnsResponse<Fields[] | undefined>>;
    peekMessage(queueName: string): Promise<MnsResponse<Fields | undefined>>;
    batchPeekMessage(queueName: string, numOfMessages: number): Promise<MnsResponse<Fields[] | undefined>>;
    deleteMessage(queueName: string, receiptHandle: string): Promise<MnsResponse<undefined>>;
    batchDeleteMessage(queueName: string, receiptHandles: string[]): Promise<MnsResponse<Fields[] | undefined>>;
    changeMessageVisibility(
      queueName: string,
      receiptHandle: string,
      visibilityTimeout: number,
    ): Promise<MnsResponse<Fields | undefined>>;
  }

  export = MNSClient;
}

/** @alicloud/mns 1.2.0 lib/helper.js: the response parser its client uses (xml2js.parseString as a promise). */
declare module '@alicloud/mns/lib/helper' {
  export function parseXML(input: string): Promise<unknown>;
}
