import { createHash, createPublicKey, createVerify, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { MnsTopicTrigger } from './syaml';

/**
 * The fc3 `mns_topic` trigger as the local runtime runs it: a subscription of the topic whose endpoint is
 * this runtime, pushed to by the (local) MNS over HTTP, checked and turned into the function's event.
 *
 * Sources: fc3 trigger fields (devsapp/fc3 docs/zh/yaml/triggers.md, "MNS 触发器": filterTag,
 * notifyContentFormat STREAM|JSON, notifyStrategy BACKOFF_RETRY|EXPONENTIAL_DECAY_RETRY; the topic in
 * `sourceArn`); the event shapes (shared/reference/function-compute.md, "MNS topic trigger"); the push and
 * its signature (MNS "HttpEndpoint", help/en/mns/httpendpoint, and "Verify a signature on an HTTP server",
 * help/en/mns/debugging-tool-of-http-endpoints). In the cloud FC creates the subscription itself with an
 * endpoint of its own (its form is not documented where we looked); locally it is an HTTP endpoint of this
 * runtime, `/_mns-topic/<function>/<trigger>`, so the trigger is fed by the same wire the MNS speaks.
 */

/** Path prefix of the push receiver on the runtime's HTTP server. */
export const TopicPushPath = '/_mns-topic/';

/** The MNS subscription a trigger needs: STREAM is MNS's SIMPLIFIED (the body only), JSON is MNS's JSON. */
export function topicSubscriptionOf(functionName: string, t: MnsTopicTrigger, httpEndpoint: string) {
  return {
    // Subscription names are letters, digits and hyphens (MNS Subscription reference).
    name: `fc-${functionName}-${t.triggerName}`.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 256),
    endpoint: { url: `${httpEndpoint}${TopicPushPath}${encodeURIComponent(functionName)}/${encodeURIComponent(t.triggerName)}` },
    notifyContentFormat: t.notifyContentFormat === 'STREAM' ? ('SIMPLIFIED' as const) : ('JSON' as const),
    notifyStrategy: t.notifyStrategy,
    ...(t.filterTag === undefined ? {} : { filterTag: t.filterTag }),
  };
}

export type PushCheck = { ok: true } | { ok: false; status: number; why: string };

/**
 * Verifies an MNS push: the certificate URL (base64 in x-mns-signing-cert-url) must be under the MNS this
 * runtime was given (MNS's rule is the prefix https://mnstest.oss-cn-hangzhou.aliyuncs.com/; the local MNS
 * serves its key itself), and Authorization must be the RSA-SHA1 signature, base64, of
 * `POST\nContent-MD5\nContent-Type\nDate\nx-mns-* (lower-case, sorted, "k:v\n")\npath`.
 */
export async function verifyMnsPush(
  req: { method: string; path: string; headers: IncomingHttpHeaders; body: Buffer },
  trust: { mnsEndpoint: string; keys: Map<string, KeyObject> },
): Promise<PushCheck> {
  const header = (name: string): string => {
    const v = req.headers[name];
    return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  };
  const certUrl = Buffer.from(header('x-mns-signing-cert-url'), 'base64').toString('utf8');
  if (!certUrl.startsWith(`${trust.mnsEndpoint}/`)) return { ok: false, status: 403, why: `signing certificate URL "${certUrl}" is not the MNS's` };
  let key = trust.keys.get(certUrl);
  if (key === undefined) {
    const res = await fetch(certUrl);
    if (!res.ok) return { ok: false, status: 403, why: `signing certificate ${certUrl} answered HTTP ${res.status}` };
    key = createPublicKey(await res.text());
    trust.keys.set(certUrl, key);
  }
  const md5 = header('content-md5');
  if (md5 !== '' && md5 !== Buffer.from(createHash('md5').update(req.body).digest('hex')).toString('base64')) return { ok: false, status: 403, why: 'Content-MD5 does not match the body' };
  const mnsHeaders = Object.keys(req.headers)
    .filter((k) => k.startsWith('x-mns-'))
    .sort()
    .map((k) => `${k}:${header(k)}\n`)
    .join('');
  const stringToSign = `${req.method}\n${md5}\n${header('content-type')}\n${header('date')}\n${mnsHeaders}${req.path}`;
  const signature = Buffer.from(header('authorization'), 'base64');
  const valid = signature.length > 0 && createVerify('RSA-SHA1').update(stringToSign, 'utf8').verify(key, signature);
  return valid ? { ok: true } : { ok: false, status: 403, why: 'the push signature does not verify' };
}

/**
 * The function's event from a verified push: STREAM gets the message body as published; JSON gets MNS's
 * JSON notification with PublishTime as a number (function-compute.md's form of it).
 */
export function topicEventFromPush(t: MnsTopicTrigger, body: Buffer): Buffer {
  if (t.notifyContentFormat === 'STREAM') return body;
  const doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ ...doc, PublishTime: Number(doc['PublishTime']) }));
}
