import { z } from 'zod';
import { BindRequest, Origin, Policy, type ParseResult } from '../messages';
import { formatPath, groupOfEni } from '../groups';
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
 *       "policy": {...} (optional; overrides the ENI's group policy field by field),
 *       "origin": {"kind": "request"|"cli", "id": "...", "time": "..."} (optional; default: the queue message)
 *     },
 *     "allowUnmanaged": false                 optional; true lets the request bind an ENI that is in no group,
 *                                             or to an instance that is not a member of the ENI's group
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

export type RequestDecision = EntryDecision | { readonly kind: 'refused'; readonly reason: string };

/**
 * Turns a request into a bind, or refuses it. Guarantees: the bind satisfies BindRequest; an ENI in no
 * group, or a target outside the ENI's group, is refused unless `allowUnmanaged`; a request for another
 * region is refused; the policy is the group's, overridden by the fields the request names; the default
 * origin `{kind: request, id: mns/<messageId>}` makes a redelivered message the same operation.
 */
export async function normaliseRequest(
  envelope: RequestEnvelope,
  message: { messageId: string },
  deps: EntryDeps,
): Promise<RequestDecision> {
  const r = envelope.request;
  if (r.regionId !== undefined && r.regionId !== deps.regionId) {
    return { kind: 'refused', reason: `request.regionId: ${r.regionId} is not this deployment's region (${deps.regionId})` };
  }
  const eni = /^eni-/.test(r.eniId) ? await deps.ecs.describeEni(r.eniId) : undefined;
  const group = eni === undefined ? deps.groups.groups.find((g) => g.enis.ids?.includes(r.eniId)) : groupOfEni(deps.groups, eni);
  if (!envelope.allowUnmanaged) {
    if (group === undefined) {
      return { kind: 'refused', reason: `${r.eniId} is in no failover group; add it to a group, or send allowUnmanaged: true to bind it anyway` };
    }
    if (!group.members.includes(r.instanceId)) {
      return { kind: 'refused', reason: `${r.instanceId} is not a member of group ${group.name} (${group.members.join(', ')}); send allowUnmanaged: true to bind it anyway` };
    }
  }
  const origin = r.origin ?? { kind: 'request' as const, id: `mns/${message.messageId}`.slice(0, 256), time: new Date(deps.now()).toISOString() };
  const parsed = BindRequest.safeParse({
    eniId: r.eniId,
    instanceId: r.instanceId,
    regionId: deps.regionId,
    ...(r.sourceInstanceId === undefined ? {} : { sourceInstanceId: r.sourceInstanceId }),
    policy: { ...(group?.policy ?? {}), ...(r.policy ?? {}) },
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
