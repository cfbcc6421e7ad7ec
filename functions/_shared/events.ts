/**
 * Decoding what an EventBridge MNS-queue trigger delivers (function-compute.md): a CloudEvent object
 * (event-driven), a JSON array of them (event-streaming), or only `data` (eventSchema RawData). The
 * message body is already base64-decoded when the trigger's IsBase64Decode is true (our s.yaml sets it).
 */
export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
}

export type Decoded = { ok: true; messages: QueueMessage[] } | { ok: false; error: string };

export function decodeQueueEvent(event: Buffer | string | unknown): Decoded {
  let data: unknown = event;
  if (Buffer.isBuffer(event) || typeof event === 'string') {
    try {
      data = JSON.parse(event.toString());
    } catch (err) {
      return { ok: false, error: `trigger event is not JSON: ${(err as Error).message}` };
    }
  }
  const items = Array.isArray(data) ? data : [data];
  const messages: QueueMessage[] = [];
  for (const [i, item] of items.entries()) {
    const payload = isObject(item) && isObject(item.data) ? item.data : item;
    if (!isObject(payload) || typeof payload.messageBody !== 'string') {
      return { ok: false, error: `trigger event item ${i} has no data.messageBody` };
    }
    messages.push({ messageId: String(payload.messageId ?? `item-${i}`), body: payload.messageBody });
  }
  return { ok: true, messages };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
