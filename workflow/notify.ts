import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { GroupsConfig } from './groups';
import { describeIssues } from './messages';

/**
 * Outcome notifications: which chat robots and webhooks hear about an operation, what the message says,
 * how each service wants it signed and shaped, what its answer means, and how often a send is tried.
 * Pure: no environment, no network. The notifier function (functions/notifier) resolves URLs and secrets
 * from the environment names given here and sends through the HTTP port (cloud/webhook.ts).
 * Services' facts: shared/reference/notifications.md (DingTalk custom robot, WeCom group robot, Lark/Feishu
 * custom bot, Standard Webhooks 1.0).
 */

export const NotifyTargetType = { DingTalk: 'dingtalk', WeCom: 'wecom', Lark: 'lark', Webhook: 'webhook' } as const;
export type NotifyTargetType = (typeof NotifyTargetType)[keyof typeof NotifyTargetType];

const envName = z.string().regex(/^[A-Z][A-Z0-9_]{0,127}$/, 'must be an environment variable name (A-Z, 0-9, _; letter first)');

/**
 * One destination of a group's notifications. The URL (it carries the robot's token) and the secret are
 * never in the config: they are read from the environment variables it names.
 */
export const NotifyTarget = z
  .object({
    type: z.enum(['dingtalk', 'wecom', 'lark', 'webhook']),
    /** The environment variable holding the robot's webhook URL. */
    urlEnv: envName,
    /** The environment variable holding the signing secret (DingTalk `SEC…`, Lark's, the webhook's `whsec_…`). */
    secretEnv: envName.optional(),
    /** Only these outcomes are sent (default: all three). */
    on: z.array(z.enum(['succeeded', 'superseded', 'failed'])).min(1).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.type === 'webhook' && t.secretEnv === undefined) ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: 'a generic webhook is always signed: name the variable holding its secret' });
    if (t.type === 'wecom' && t.secretEnv !== undefined) ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: 'WeCom group robots have no signing (the key in the URL is the credential): remove secretEnv' });
  });
export type NotifyTarget = z.infer<typeof NotifyTarget>;

/** At most this many targets per group: each is one send per outcome, and DingTalk/WeCom allow 20 a minute. */
export const MaxTargetsPerGroup = 10;

/** What the notifier reads of an outcome: the workflow's OperationEvent or an entry failure (workflow/entries/failover.ts). */
export const OutcomeNotice = z
  .object({
    kind: z.literal('eni-failover.outcome'),
    operationId: z.string().regex(/^op-[0-9a-f]{16}$/),
    outcome: z.enum(['succeeded', 'superseded', 'failed']),
    reason: z.string().optional(),
    step: z.string(),
    message: z.string(),
    group: z.string().optional(),
    request: z.object({ eniId: z.string(), instanceId: z.string(), sourceInstanceId: z.string().optional() }).passthrough().optional(),
    eniId: z.string().optional(),
    sourceInstanceId: z.string().optional(),
    startedAt: z.number().optional(),
    finishedAt: z.number(),
    durationMs: z.number().optional(),
    restored: z.string().optional(),
    rescue: z.string().optional(),
    /** An entry failure's standbys and why each was passed over (workflow/standby.ts PassedOver). */
    passedOver: z.array(z.object({ instanceId: z.string(), code: z.string(), detail: z.string() }).passthrough()).optional(),
  })
  .passthrough();
export type OutcomeNotice = z.infer<typeof OutcomeNotice>;

export type ParsedNotice = { ok: true; notice: OutcomeNotice } | { ok: false; error: string };

/** Parses an outcome as it arrives from the topic: JSON text, or that text base64-encoded (how the MNS port publishes). */
export function parseOutcomeNotice(text: string): ParsedNotice {
  const trimmed = text.trim();
  const json = trimmed.startsWith('{') ? trimmed : Buffer.from(trimmed, 'base64').toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return { ok: false, error: `the outcome is neither JSON nor base64 JSON: ${(err as Error).message}` };
  }
  const parsed = OutcomeNotice.safeParse(data);
  return parsed.success ? { ok: true, notice: parsed.data } : { ok: false, error: `not an eni-failover outcome: ${describeIssues(parsed.error)}` };
}

/** The targets a notice goes to: its group's, filtered by their `on`; none for an operation in no group. */
export function targetsFor(groups: GroupsConfig, notice: OutcomeNotice): { index: number; target: NotifyTarget }[] {
  const group = groups.groups.find((g) => g.name === notice.group);
  return (group?.notify ?? []).map((target, index) => ({ index, target })).filter(({ target }) => target.on === undefined || target.on.includes(notice.outcome));
}

/** The text of a notification: a title and lines, rendered per service. */
export interface NoticeText {
  readonly title: string;
  readonly lines: readonly string[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/**
 * What moved where, how long it took, and for a failure the reason and what to do: the workflow's own
 * detail (`message`), what it did about the ENI (`rescue`) and the instance it had stopped (`restored`),
 * and where to look (`eni-failover status --operation`).
 */
export function describeNotice(n: OutcomeNotice): NoticeText {
  const eni = n.request?.eniId ?? n.eniId ?? '(no ENI)';
  const from = n.request?.sourceInstanceId ?? n.sourceInstanceId;
  const to = n.request?.instanceId;
  const group = n.group === undefined ? '' : ` (group ${n.group})`;
  const move = `${eni}${from ? ` from ${from}` : ''}${to ? ` to ${to}` : ''}`;
  const took = n.durationMs === undefined ? undefined : seconds(n.durationMs);
  const title =
    n.outcome === 'succeeded'
      ? `eni-failover: ${eni} moved${from ? ` from ${from}` : ''}${to ? ` to ${to}` : ''}${took ? ` in ${took}` : ''}`
      : n.outcome === 'superseded'
        ? `eni-failover: move of ${eni} superseded`
        : `eni-failover: FAILED to move ${eni}${n.reason ? ` (${n.reason})` : ''}`;
  const lines = [
    `Outcome: ${n.outcome}${group}, operation ${n.operationId}`,
    `Move: ${move}`,
    ...(took ? [`Took: ${took} (${new Date(n.startedAt ?? n.finishedAt - (n.durationMs ?? 0)).toISOString()} to ${new Date(n.finishedAt).toISOString()})`] : [`At: ${new Date(n.finishedAt).toISOString()}`]),
    ...(n.outcome === 'succeeded' ? [`Detail: ${n.message}`] : [`Reason: ${n.reason ?? n.outcome} at ${n.step}: ${n.message}`]),
    ...(n.passedOver?.length ? [`Passed over: ${n.passedOver.map((p) => `${p.instanceId} (${p.code}: ${p.detail})`).join('; ')}`] : []),
    ...(n.rescue ? [`ENI: ${n.rescue}`] : []),
    ...(n.restored ? [`Instance: ${n.restored}`] : []),
    ...(n.outcome === 'failed' ? [`What to do: ${n.rescue ? 'follow the rescue operation above; ' : ''}see eni-failover status --operation ${n.operationId} for every step and wait, fix the cause named above, then submit the move again (or let reconcile do it)`] : []),
  ];
  return { title, lines };
}

/** An HTTP request ready to send (the URL and headers hold secrets: never log them). */
export interface SignedRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The exact bytes signed and sent. */
  readonly body: string;
}

/** WeCom markdown content limit (bytes, group robot docs 91770); DingTalk and Lark allow more (20 KB for Lark). */
const WeComMarkdownMaxBytes = 4096;

function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  let out = text;
  while (Buffer.byteLength(`${out}…`, 'utf8') > max) out = out.slice(0, -16);
  return `${out}…`;
}

/** DingTalk's sign: URL-encode(base64(HMAC-SHA256(key = secret, "timestamp\nsecret"))), timestamp in ms. */
export function dingTalkSign(secret: string, timestampMs: number): string {
  return encodeURIComponent(createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64'));
}

/** Lark's sign: base64(HMAC-SHA256(key = "timestamp\nsecret", message = empty)), timestamp in seconds. */
export function larkSign(secret: string, timestampSeconds: number): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

/**
 * Standard Webhooks 1.0: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")); a `whsec_` secret is the
 * base64 of the key, any other secret is used as UTF-8 bytes.
 */
export function webhookSignature(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64')}`;
}

/** The message id a webhook receiver deduplicates on: the same for every attempt of one operation's notice. */
export const webhookMessageId = (operationId: string) => `msg_${operationId}`;

/**
 * The request for one attempt (signatures carry the attempt's own time: DingTalk and Lark refuse a
 * timestamp more than an hour off, so a retry signs again).
 */
export function buildRequest(target: NotifyTarget, resolved: { url: string; secret?: string }, notice: OutcomeNotice, nowMs: number): SignedRequest {
  const text = describeNotice(notice);
  const plain = [text.title, ...text.lines].join('\n');
  const markdown = [`#### ${text.title}`, ...text.lines.map((l) => `- ${l}`)].join('\n');
  const json = { 'content-type': 'application/json; charset=utf-8' };
  switch (target.type) {
    case 'dingtalk': {
      const body = JSON.stringify({ msgtype: 'markdown', markdown: { title: text.title, text: markdown } });
      if (resolved.secret === undefined) return { url: resolved.url, headers: json, body };
      const sep = resolved.url.includes('?') ? '&' : '?';
      return { url: `${resolved.url}${sep}timestamp=${nowMs}&sign=${dingTalkSign(resolved.secret, nowMs)}`, headers: json, body };
    }
    case 'wecom':
      return { url: resolved.url, headers: json, body: JSON.stringify({ msgtype: 'markdown', markdown: { content: truncateBytes(markdown, WeComMarkdownMaxBytes) } }) };
    case 'lark': {
      const seconds = Math.floor(nowMs / 1000);
      const signing = resolved.secret === undefined ? {} : { timestamp: String(seconds), sign: larkSign(resolved.secret, seconds) };
      return { url: resolved.url, headers: json, body: JSON.stringify({ ...signing, msg_type: 'text', content: { text: plain } }) };
    }
    case 'webhook': {
      const id = webhookMessageId(notice.operationId);
      const seconds = Math.floor(nowMs / 1000);
      const body = JSON.stringify({ type: 'eni-failover.outcome', title: text.title, text: plain, outcome: notice });
      return {
        url: resolved.url,
        headers: { ...json, 'webhook-id': id, 'webhook-timestamp': String(seconds), 'webhook-signature': webhookSignature(resolved.secret ?? '', id, seconds, body) },
        body,
      };
    }
  }
}

/** What an answer means: delivered, worth another try, or refused for good (a wrong secret, a removed robot). */
export type SendVerdict = { readonly kind: 'delivered' } | { readonly kind: 'retry' | 'refused'; readonly why: string };

/**
 * Codes that mean "slow down, try later" per service (notifications.md): DingTalk 130101 (over 20 a
 * minute), WeCom 45009 (api freq out of limit), Lark 11232 (throttled). Any other non-zero code is a
 * refusal that a retry cannot fix (310000 sign not match / keywords, 93000 invalid webhook url, 19021 sign
 * or timestamp, 19024 keyword missing, ...).
 */
export const ThrottledCodes: Readonly<Record<Exclude<NotifyTargetType, 'webhook'>, readonly number[]>> = {
  dingtalk: [130101],
  wecom: [45009],
  lark: [11232],
};

/**
 * Reads an answer. HTTP: 2xx goes on to the body check; 408, 429 and 5xx are retried; other statuses
 * (410 "stop sending" included) are refusals. The chat services answer 200 even when they refuse, so their
 * JSON code decides: DingTalk and WeCom `errcode`, Lark `code` (or the older `StatusCode`).
 */
export function judgeAnswer(type: NotifyTargetType, status: number, body: string): SendVerdict {
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', why: `HTTP ${status}` };
  if (status < 200 || status >= 300) return { kind: 'refused', why: `HTTP ${status}` };
  if (type === 'webhook') return { kind: 'delivered' };
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return { kind: 'retry', why: `HTTP ${status} with a body that is not JSON` };
  }
  const code = type === 'lark' ? (doc['code'] ?? doc['StatusCode']) : doc['errcode'];
  const text = String((type === 'lark' ? (doc['msg'] ?? doc['StatusMessage']) : doc['errmsg']) ?? '').slice(0, 200);
  if (code === 0) return { kind: 'delivered' };
  if (typeof code !== 'number') return { kind: 'retry', why: `HTTP ${status} without a result code` };
  return ThrottledCodes[type].includes(code) ? { kind: 'retry', why: `throttled: ${code} ${text}` } : { kind: 'refused', why: `${code} ${text}` };
}

/** How often and how far apart a send is tried inside one notifier invocation. */
export interface NotifyRetryPolicy {
  /** Attempts in all (the first included). */
  readonly attempts: number;
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
}

/** 5 attempts, 1 s doubling to 8 s: about 15 s of waiting, well inside the function's timeout; a throttled robot's minute is not waited out (dead-letter says so). */
export const DefaultNotifyRetryPolicy: NotifyRetryPolicy = { attempts: 5, initialMs: 1000, factor: 2, maxMs: 8000 };

/** The wait before attempt `attempt + 1` (attempt counts from 1). */
export function retryDelayMs(policy: NotifyRetryPolicy, attempt: number): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** (attempt - 1));
}

/**
 * The URL as it may appear in logs and dead letters: scheme and host only (robot URLs carry their token in
 * the query or the path).
 */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(a URL that does not parse)';
  }
}

/** `text` with every secret in it replaced, for an error that may quote a URL or header. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s !== undefined && s.length >= 4) out = out.split(s).join('***');
  return out;
}
