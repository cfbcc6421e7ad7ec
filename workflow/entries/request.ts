import { z } from 'zod';
import { effectivePolicy } from '../authority';
import { BindRequest, Origin, Policy, type ParseResult } from '../messages';
import { formatPath, groupOfEni } from '../groups';
import { evaluateFailback, failbackDecisions } from '../failback';
import type { EntryDecision, EntryDeps } from './failover';

/**
 * Messages on the requests queue (`eni-failover-requests`): other systems, and `eni-failover submit`, ask
 * for a bind. The envelope wraps the lead-owned (strict) BindRequest fields and adds what only a request
 * may say:
 *
 *   {
 *     "kind": "eni-failover.request",        optional
 *     "request": {
 *       "eniId": "eni-...", "instanceId": "i-...", "sourceInstanceId": "i-..." (optional),
 *       "regionId": "cn-hangzhou" (optional; must be this deployment's region),
 *       "policy": {...} (optional; may only tighten the ENI's group policy: turn off what it allows),
 *       "origin": {"kind": ..., "id": "...", "time": "..."} (optional; whatever it claims, the operation's
 *                 origin is {kind: request, id: "req/<claimed kind>/<claimed id>"}; default: the queue message)
 *     },
 *     "allowUnmanaged": false                 optional; asks to bind an ENI in no group. Honoured only when
 *                                             the deployment allows unmanaged binds (ALLOW_UNMANAGED); a
 *                                             target outside the ENI's group is always refused
 *   }
 */
export const RequestEnvelope = z
  .object({
    kind: z.literal('eni-failover.request').optional(),
    request: z
      .object({
        eniId: z.string(),
        instanceId: z.string(),
        sourceInstanceId: z.string().optional(),
        regionId: z.string().optional(),
        policy: Policy.partial().strict().optional(),
        origin: Origin.optional(),
      })
      .strict(),
    allowUnmanaged: z.boolean().default(false),
  })
  .strict();
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;
export type RequestEnvelopeInput = z.input<typeof RequestEnvelope>;

/** Parses a message body. Guarantees: ok:false names every bad field (`request.eniId: ...`). */
export function parseRequestEnvelope(body: string): ParseResult<RequestEnvelope> {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = RequestEnvelope.safeParse(data);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ') };
}

/**
 * The origin of a queued request, whatever it claims: kind `request`, id `req/<claimed kind>/<claimed id>`
 * (or `req/mns/<messageId>` when it claims none), the claimed time when it is within a day of now.
 * The CLI derives the operationId it will follow from the same function.
 */
export function requestOrigin(claimed: Origin | undefined, messageId: string, now: number): Origin {
  return {
    kind: 'request',
    id: (claimed === undefined ? `req/mns/${messageId}` : `req/${claimed.kind}/${claimed.id}`).slice(0, 256),
    time: claimed?.time !== undefined && Math.abs(Date.parse(claimed.time) - now) < 86_400_000 ? claimed.time : new Date(now).toISOString(),
  };
}

export type RequestDecision = EntryDecision | { readonly kind: 'refused'; readonly reason: string };

/**
 * Turns a request into a bind, or refuses it. Guarantees: the bind satisfies BindRequest; a target or a
 * named source outside the ENI's group is refused; an ENI in no group is refused unless both the request
 * asks (`allowUnmanaged`) and the deployment allows it; a request for another region is refused; the
 * policy is the group's, tightened by the request (never loosened); the origin is always `request`, its id
 * prefixed `req/`, so no sender can pose as an alarm, an event or a timer (or take their operationIds); the
 * default `req/mns/<messageId>` makes a redelivered message the same operation.
 */
export async function normaliseRequest(
  envelope: RequestEnvelope,
  message: { messageId: string },
  deps: EntryDeps & { readonly allowUnmanaged?: boolean },
): Promise<RequestDecision> {
  const r = envelope.request;
  if (r.regionId !== undefined && r.regionId !== deps.regionId) {
    return { kind: 'refused', reason: `request.regionId: ${r.regionId} is not this deployment's region (${deps.regionId})` };
  }
  const eni = /^eni-/.test(r.eniId) ? await deps.ecs.describeEni(r.eniId) : undefined;
  const group = eni === undefined ? deps.groups.groups.find((g) => g.enis.ids?.includes(r.eniId)) : groupOfEni(deps.groups, eni);
  if (group === undefined) {
    if (!envelope.allowUnmanaged) {
      return { kind: 'refused', reason: `${r.eniId} is in no failover group; add it to a group (config/groups.yaml or FAILOVER_GROUPS)` };
    }
    if (deps.allowUnmanaged !== true) {
      return { kind: 'refused', reason: `${r.eniId} is in no failover group and this deployment does not allow unmanaged binds (set ALLOW_UNMANAGED=true in s.yaml to allow them); allowUnmanaged in a request cannot turn it on` };
    }
  } else {
    if (!group.members.includes(r.instanceId)) {
      return { kind: 'refused', reason: `${r.instanceId} is not a member of group ${group.name} (${group.members.join(', ')}); only members may receive its ENIs` };
    }
    if (r.sourceInstanceId !== undefined && !group.members.includes(r.sourceInstanceId)) {
      return { kind: 'refused', reason: `${r.sourceInstanceId} is not a member of group ${group.name}; the workflow takes ENIs only from members` };
    }
  }
  const loosened = (['allowStop', 'fenceSource', 'persistGuest'] as const).filter((k) => r.policy?.[k] === true && (group?.policy ?? Policy.parse({}))[k] !== true);
  if (loosened.length > 0) {
    return { kind: 'refused', reason: `request.policy: ${loosened.join(', ')} ${loosened.length === 1 ? 'is' : 'are'} off for ${group ? `group ${group.name}` : 'unmanaged binds'}; a request may only tighten the group's policy` };
  }
  const origin = requestOrigin(r.origin, message.messageId, deps.now());
  const parsed = BindRequest.safeParse({
    eniId: r.eniId,
    instanceId: r.instanceId,
    regionId: deps.regionId,
    ...(r.sourceInstanceId === undefined ? {} : { sourceInstanceId: r.sourceInstanceId }),
    policy: effectivePolicy(group, r.policy, Policy.parse({})),
    origin,
  });
  if (!parsed.success) {
    return { kind: 'refused', reason: parsed.error.issues.map((i) => `request.${formatPath(i.path)}: ${i.message}`).join('; ') };
  }
  return {
    kind: 'bind',
    ...(group === undefined ? {} : { group: group.name }),
    request: parsed.data,
    passedOver: [],
    note: `requested bind of ${r.eniId} to ${r.instanceId}${group === undefined ? ' (unmanaged)' : ''}`,
  };
}

// ---- an operator's failback ------------------------------------------------------------------------------

/**
 * `{"kind": "eni-failover.failback", "group": "web", "id"?: "..."}` on the requests queue (what
 * `eni-failover failback --group G` sends): fail the group's ENIs back to its preferred member now, if the
 * failback clock allows it (workflow/failback.ts). A wake-up like any other message: the clock, the groups
 * and the cloud decide; the message only names the group and, with `id`, the failback
 * (origin `failback/<group>/req/<id>`, default the queue message id), so the CLI can follow it.
 */
export const FailbackEnvelope = z
  .object({
    kind: z.literal('eni-failover.failback'),
    group: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a group name (lower-case letters, digits and -)'),
    id: z.string().regex(/^[A-Za-z0-9._@:-]{1,128}$/, 'must be 1-128 letters, digits or ._@:-').optional(),
  })
  .strict();
export type FailbackEnvelope = z.infer<typeof FailbackEnvelope>;

/** Whether a message body is meant as a failback envelope (then it is parsed as one, not as a bind request). */
export function isFailbackMessage(body: string): boolean {
  try {
    const data: unknown = JSON.parse(body);
    return typeof data === 'object' && data !== null && (data as { kind?: unknown }).kind === 'eni-failover.failback';
  } catch {
    return false;
  }
}

export function parseFailbackEnvelope(body: string): ParseResult<FailbackEnvelope> {
  const parsed = FailbackEnvelope.safeParse(JSON.parse(body));
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ') };
}

/** The id the failback of a request is named by (its origin `failback/<group>/req/<id>`). */
export const failbackRequestId = (envelope: FailbackEnvelope, messageId: string): string => envelope.id ?? messageId;

/**
 * Runs an operator's failback. Guarantees: an unknown group, or a group whose failback is not possible now
 * (nothing away, the preferred member unhealthy, the hold, dwell or window not passed, a failback already
 * in flight), is refused with where it stands; otherwise the binds of the failback it started.
 */
export async function normaliseFailbackRequest(envelope: FailbackEnvelope, message: { messageId: string }, deps: EntryDeps): Promise<EntryDecision[] | { kind: 'refused'; reason: string }> {
  const group = deps.groups.groups.find((g) => g.name === envelope.group);
  if (group === undefined) return { kind: 'refused', reason: `no failover group "${envelope.group}" (groups: ${deps.groups.groups.map((g) => g.name).join(', ') || 'none'})` };
  if (deps.ledger === undefined) return { kind: 'refused', reason: 'a failback needs the operation ledger (its clock lives there)' };
  const report = await evaluateFailback(group, { kind: 'look', at: deps.now() }, { kind: 'operator', requestId: failbackRequestId(envelope, message.messageId) }, { ecs: deps.ecs, ledger: deps.ledger, regionId: deps.regionId, now: deps.now });
  if (report.state !== 'started') return { kind: 'refused', reason: `failback of group ${group.name} is not possible now (${report.state}): ${report.detail}` };
  return failbackDecisions(report);
}
