import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the four notification services on 127.0.0.1, checking what each documents
 * (shared/reference/notifications.md) with its own code, independent of workflow/notify.ts:
 *   POST /dingtalk/robot/send?access_token=T[&timestamp=ms&sign=S]   sign = urlencode(b64(HMAC-SHA256(secret, "ts\nsecret")))
 *   POST /wecom/cgi-bin/webhook/send?key=K                           no signing; markdown.content <= 4096 bytes
 *   POST /lark/open-apis/bot/v2/hook/T                               body.sign = b64(HMAC-SHA256(key "ts\nsecret", "")), ts in s
 *   POST /webhook                                                     Standard Webhooks v1 over "id.ts.body"
 * It answers as the services do: HTTP 200 with the service's JSON code (0 ok; 310000 / 93000 / 19021 when a
 * check fails), the webhook 204 or 401. `failNext` makes the next requests answer a bare status instead.
 */

export interface ReceivedNotice {
  readonly service: 'dingtalk' | 'wecom' | 'lark' | 'webhook';
  readonly body: any;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly url: string;
}

export interface NotifyReceiver {
  readonly base: string;
  /** Every message that passed the service's checks, in arrival order. */
  readonly accepted: ReceivedNotice[];
  /** Every request, with what was answered. */
  readonly requests: { path: string; status: number; answer: string }[];
  /** The next `statuses.length` requests (any service) answer these bare statuses. */
  failNext(...statuses: number[]): void;
  close(): Promise<void>;
}

export interface ReceiverSecrets {
  readonly dingtalk: { token: string; secret: string };
  readonly wecom: { key: string };
  readonly lark: { token: string; secret: string };
  readonly webhook: { secret: string };
}

const HourMs = 3600_000;
const WebhookToleranceS = 300;

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The raw (still encoded) value of a query parameter: DingTalk's sign must arrive URL-encoded. */
function rawParam(url: string, name: string): string | undefined {
  const q = url.split('?')[1] ?? '';
  return q.split('&').find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1);
}

export async function startNotifyReceiver(secrets: ReceiverSecrets, now: () => number = Date.now): Promise<NotifyReceiver> {
  const accepted: ReceivedNotice[] = [];
  const requests: { path: string; status: number; answer: string }[] = [];
  const failures: number[] = [];

  const check = (req: IncomingMessage, text: string): { status: number; answer: object | string; notice?: ReceivedNotice } => {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    const headers = req.headers;
    if (req.method !== 'POST') return { status: 405, answer: 'POST only' };
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, answer: 'not JSON' };
    }
    const json = String(headers['content-type'] ?? '').startsWith('application/json');
    if (path === '/dingtalk/robot/send') {
      if (rawParam(url, 'access_token') !== secrets.dingtalk.token) return { status: 200, answer: { errcode: 300001, errmsg: 'token is not exist' } };
      const ts = Number(rawParam(url, 'timestamp'));
      const expected = encodeURIComponent(createHmac('sha256', secrets.dingtalk.secret).update(`${ts}\n${secrets.dingtalk.secret}`).digest('base64'));
      if (!Number.isFinite(ts) || Math.abs(now() - ts) > HourMs || !equal(rawParam(url, 'sign') ?? '', expected)) return { status: 200, answer: { errcode: 310000, errmsg: 'sign not match' } };
      const shaped = json && body.msgtype === 'markdown' && typeof body.markdown?.title === 'string' && typeof body.markdown?.text === 'string';
      if (!shaped) return { status: 200, answer: { errcode: 40035, errmsg: 'body is not a markdown message' } };
      return { status: 200, answer: { errcode: 0, errmsg: 'ok' }, notice: { service: 'dingtalk', body, headers, url } };
    }
    if (path === '/wecom/cgi-bin/webhook/send') {
      if (rawParam(url, 'key') !== secrets.wecom.key) return { status: 200, answer: { errcode: 93000, errmsg: 'invalid webhook url' } };
      const content = body.markdown?.content;
      const shaped = json && body.msgtype === 'markdown' && typeof content === 'string' && Buffer.byteLength(content) <= 4096;
      if (!shaped) return { status: 200, answer: { errcode: 40058, errmsg: 'markdown.content missing or over 4096 bytes' } };
      return { status: 200, answer: { errcode: 0, errmsg: 'ok' }, notice: { service: 'wecom', body, headers, url } };
    }
    if (path === `/lark/open-apis/bot/v2/hook/${secrets.lark.token}`) {
      const ts = Number(body.timestamp);
      const expected = createHmac('sha256', `${body.timestamp}\n${secrets.lark.secret}`).update('').digest('base64');
      if (typeof body.timestamp !== 'string' || Math.abs(now() / 1000 - ts) > 3600 || !equal(String(body.sign ?? ''), expected)) {
        return { status: 200, answer: { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' } };
      }
      const shaped = json && body.msg_type === 'text' && typeof body.content?.text === 'string' && Buffer.byteLength(text) <= 20 * 1024;
      if (!shaped) return { status: 200, answer: { code: 19002, msg: 'params error' } };
      return { status: 200, answer: { code: 0, msg: 'success', data: {} }, notice: { service: 'lark', body, headers, url } };
    }
    if (path === '/webhook') {
      const id = String(headers['webhook-id'] ?? '');
      const ts = Number(headers['webhook-timestamp']);
      const key = Buffer.from(secrets.webhook.secret.replace(/^whsec_/, ''), 'base64');
      const expected = `v1,${createHmac('sha256', key).update(`${id}.${headers['webhook-timestamp']}.${text}`).digest('base64')}`;
      const given = String(headers['webhook-signature'] ?? '').split(' ');
      if (id === '' || Math.abs(now() / 1000 - ts) > WebhookToleranceS || !given.some((g) => equal(g, expected))) return { status: 401, answer: 'bad signature' };
      return { status: 204, answer: '', notice: { service: 'webhook', body, headers, url } };
    }
    return { status: 404, answer: 'no such robot' };
  };

  const server: Server = createServer((req, res) => {
    void readAll(req).then((text) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const fail = failures.shift();
      if (fail !== undefined) {
        requests.push({ path, status: fail, answer: 'injected' });
        res.writeHead(fail, { 'content-type': 'text/plain' });
        res.end('injected failure');
        return;
      }
      const { status, answer, notice } = check(req, text);
      const payload = typeof answer === 'string' ? answer : JSON.stringify(answer);
      requests.push({ path, status, answer: payload });
      if (notice) accepted.push(notice);
      res.writeHead(status, { 'content-type': typeof answer === 'string' ? 'text/plain' : 'application/json' });
      res.end(status === 204 ? undefined : payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    accepted,
    requests,
    failNext: (...statuses) => void failures.push(...statuses),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The environment the notifier reads for a receiver: one variable per URL and secret. */
export function receiverEnv(r: NotifyReceiver, s: ReceiverSecrets): Record<string, string> {
  return {
    NOTIFY_DINGTALK_URL: `${r.base}/dingtalk/robot/send?access_token=${s.dingtalk.token}`,
    NOTIFY_DINGTALK_SECRET: s.dingtalk.secret,
    NOTIFY_WECOM_URL: `${r.base}/wecom/cgi-bin/webhook/send?key=${s.wecom.key}`,
    NOTIFY_LARK_URL: `${r.base}/lark/open-apis/bot/v2/hook/${s.lark.token}`,
    NOTIFY_LARK_SECRET: s.lark.secret,
    NOTIFY_WEBHOOK_URL: `${r.base}/webhook`,
    NOTIFY_WEBHOOK_SECRET: s.webhook.secret,
  };
}

/** The four targets, named as receiverEnv names their variables (config/groups.yaml `notify`). */
export const FourTargets = [
  { type: 'dingtalk', urlEnv: 'NOTIFY_DINGTALK_URL', secretEnv: 'NOTIFY_DINGTALK_SECRET' },
  { type: 'wecom', urlEnv: 'NOTIFY_WECOM_URL' },
  { type: 'lark', urlEnv: 'NOTIFY_LARK_URL', secretEnv: 'NOTIFY_LARK_SECRET' },
  { type: 'webhook', urlEnv: 'NOTIFY_WEBHOOK_URL', secretEnv: 'NOTIFY_WEBHOOK_SECRET' },
] as const;

export function randomSecrets(): ReceiverSecrets {
  const r = () => Math.random().toString(36).slice(2, 12);
  return {
    dingtalk: { token: `tok${r()}`, secret: `SEC${r()}${r()}` },
    wecom: { key: `key-${r()}` },
    lark: { token: `hook${r()}`, secret: `lark${r()}` },
    webhook: { secret: `whsec_${Buffer.from(r() + r() + r()).toString('base64')}` },
  };
}
