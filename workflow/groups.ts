import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Policy } from './messages';
import { MaxTargetsPerGroup, NotifyTarget } from './notify';
import type { Eni, Tags } from './model';
import type { EcsPort } from './ports';

/**
 * Failover groups: which ENIs carry a service, which instances may hold them (in priority order, primary
 * first), and the policy a failover of that service runs with. The documented default lives in
 * config/groups.yaml (see config/README.md); a deployment overrides it with the FAILOVER_GROUPS
 * environment variable (YAML or JSON text). This module only parses and answers questions; it reads no
 * environment.
 */

// The same id forms the request schema accepts (workflow/messages.ts): an id a request may name, a group may list.
const eniId = z.string().regex(/^eni-[a-z0-9][a-z0-9-]{0,62}$/, 'must look like eni-xxxx');
const instanceId = z.string().regex(/^i-[a-z0-9][a-z0-9-]{0,62}$/, 'must look like i-xxxx');

/** An ENI tag selector: every ENI in the region with tag `key` = `value` belongs to the group. */
export const EniTagSelector = z
  .object({ key: z.string().min(1).max(128), value: z.string().max(128) })
  .strict();
export type EniTagSelector = z.infer<typeof EniTagSelector>;

/**
 * `enis` is either a list of ENI ids (shorthand for `{ids: [...]}`), `{ids: [...]}`, or `{tag: {key, value}}`.
 */
const GroupEnis = z.preprocess(
  (v) => (Array.isArray(v) ? { ids: v } : v),
  z
    .object({ ids: z.array(eniId).min(1, 'must name at least one ENI').optional(), tag: EniTagSelector.optional() })
    .strict()
    .refine((e) => (e.ids === undefined) !== (e.tag === undefined), 'give exactly one of ids or tag'),
);

// ---- failback (workflow/failback.ts) -------------------------------------------------------------------

/** What happens when the preferred member (the first) is healthy again while a standby holds the group's ENIs. */
export const FailbackMode = { Manual: 'manual', Auto: 'auto' } as const;
export type FailbackMode = (typeof FailbackMode)[keyof typeof FailbackMode];

/** A week: a longer hold or dwell is more likely a typo (minutes taken for seconds) than a wish. */
export const MaxFailbackSeconds = 604_800;

const failbackSeconds = (field: string) =>
  z
    .number({ invalid_type_error: `${field} must be a number of seconds (a whole number, 0 or more)` })
    .int(`${field} must be a whole number of seconds`)
    .min(0, `${field} must be 0 or more seconds`)
    .max(MaxFailbackSeconds, `${field} must be at most ${MaxFailbackSeconds} seconds (a week)`);

/**
 * The failback fields of a group: `failback` (manual: `status` reports "failback possible" and
 * `eni-failover failback --group G` does it; auto: the workflow does it), `holdSeconds` (the preferred
 * member must stay healthy this long first) and `minDwellSeconds` (the ENIs stay on the standby at least
 * this long).
 */
const FailbackFields = {
  failback: z.enum(['manual', 'auto'], { errorMap: () => ({ message: 'failback must be manual or auto' }) }).default('manual'),
  holdSeconds: failbackSeconds('holdSeconds').default(600),
  minDwellSeconds: failbackSeconds('minDwellSeconds').default(0),
} as const;

export const FailoverGroup = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and -, at most 63'),
    description: z.string().max(512).optional(),
    enis: GroupEnis,
    /** Priority order: the first is the primary, then the preferred standby, and so on. */
    members: z
      .array(instanceId)
      .min(1, 'must list at least one instance')
      .refine((m) => new Set(m).size === m.length, 'must not list an instance twice'),
    policy: Policy.default({}),
    // ---- prepared standbys (workflow/prepare.ts) ----
    /**
     * Install on every standby member a hot-plug hook that configures a group ENI's NIC the moment it
     * appears, so the IP answers before any RunCommand could; the failover's guest step then verifies.
     */
    prepare: z.boolean().default(false),
    // ---- end prepared standbys ----
    // --- notifications (workflow/notify.ts): where this group's outcomes are sent; URLs and secrets come
    //     from the environment variables each target names, never from this file.
    notify: z.array(NotifyTarget).max(MaxTargetsPerGroup, `must list at most ${MaxTargetsPerGroup} targets`).default([]),
    ...FailbackFields,
  })
  .strict();
export type FailoverGroup = z.infer<typeof FailoverGroup>;

export const GroupsConfig = z
  .object({
    version: z.literal(1).default(1),
    groups: z.array(FailoverGroup).default([]),
  })
  .strict()
  .superRefine((config, ctx) => {
    const names = new Map<string, number>();
    const enis = new Map<string, number>();
    config.groups.forEach((g, i) => {
      const first = names.get(g.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['groups', i, 'name'], message: `"${g.name}" is already the name of groups[${first}]` });
      else names.set(g.name, i);
      (g.enis.ids ?? []).forEach((id, j) => {
        const owner = enis.get(id);
        // An ENI in two groups would have two policies and two member lists: ambiguous, so refused.
        if (owner !== undefined && owner !== i) {
          ctx.addIssue({ code: 'custom', path: ['groups', i, 'enis', 'ids', j], message: `${id} already belongs to groups[${owner}]` });
        } else enis.set(id, i);
      });
    });
  });
export type GroupsConfig = z.infer<typeof GroupsConfig>;

/** A groups file or variable that does not parse; the message names the source and the bad field. */
export class GroupsConfigError extends Error {
  override readonly name = 'GroupsConfigError';
}

/** `groups[0].members[1]` from a zod path. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(root)' : out;
}

/**
 * Parses groups from YAML or JSON text (JSON is YAML). Guarantees: the result satisfies {@link GroupsConfig}
 * (unique group names, an ENI id in at most one group, ids well-formed, policies complete with defaults);
 * otherwise throws {@link GroupsConfigError} whose message lists every problem as `<source>: <path>: <problem>`.
 * Empty text is an empty configuration (no groups).
 */
export function parseGroups(text: string, source: string): GroupsConfig {
  let data: unknown;
  try {
    data = text.trim() === '' ? {} : parseYaml(text);
  } catch (err) {
    throw new GroupsConfigError(`${source}: not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = GroupsConfig.safeParse(data ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new GroupsConfigError(`${source}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** The groups an instance is a member of, in file order. */
export function groupsOfInstance(config: GroupsConfig, id: string): FailoverGroup[] {
  return config.groups.filter((g) => g.members.includes(id));
}

/** Whether an ENI (as described by ECS) belongs to `group`: by id, or by carrying the selector's tag. */
export function groupHasEni(group: FailoverGroup, eni: Pick<Eni, 'eniId' | 'tags'>): boolean {
  if (group.enis.ids !== undefined) return group.enis.ids.includes(eni.eniId);
  const tag = group.enis.tag;
  return tag !== undefined && eni.tags[tag.key] === tag.value;
}

/** The group an ENI belongs to, if any (the first by file order when tag selectors overlap). */
export function groupOfEni(config: GroupsConfig, eni: Pick<Eni, 'eniId' | 'tags'>): FailoverGroup | undefined {
  return config.groups.find((g) => groupHasEni(g, eni));
}

/**
 * The group's ENIs as ECS describes them now: by id (ids ECS does not know are absent) or by tag, all
 * pages. `instanceId` narrows the query to the ENIs one instance holds (one call instead of many).
 */
export async function describeGroupEnis(ecs: EcsPort, group: FailoverGroup, instanceId?: string): Promise<Eni[]> {
  const owner = instanceId === undefined ? {} : { instanceId };
  const enis =
    group.enis.ids !== undefined
      ? await ecs.describeEnis({ eniIds: group.enis.ids, ...owner })
      : await ecs.describeEnis({ tags: { [group.enis.tag!.key]: group.enis.tag!.value } as Tags, ...owner });
  // Filter again: a port (or a fake) that ignores a filter must not widen the group.
  return enis.filter((e) => groupHasEni(group, e) && (instanceId === undefined || e.instanceId === instanceId));
}
