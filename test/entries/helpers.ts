import { parseGroups, type GroupsConfig } from '../../workflow/groups';
import type { Eni, Tags } from '../../workflow/model';
import type { EntryDeps } from '../../workflow/entries/failover';
import { FakeClock, FakeEcs, RecordingQueue } from '../helpers/fake-ecs';

/** FakeEcs whose describeEnis also honours the tag filter (the real port sends Tag.N.Key/Value). */
export class TaggedFakeEcs extends FakeEcs {
  readonly enisCalls: { eniIds?: readonly string[]; instanceId?: string; tags?: Tags }[] = [];
  override async describeEnis(filter: { eniIds?: readonly string[]; instanceId?: string; tags?: Tags }): Promise<Eni[]> {
    this.enisCalls.push(filter);
    const all = await super.describeEnis(filter);
    return all.filter((e) => Object.entries(filter.tags ?? {}).every(([k, v]) => e.tags[k] === v));
  }
}

export const GROUPS_YAML = `
groups:
  - name: web
    enis: [eni-web]
    members: [i-primary, i-standby, i-third]
    policy: { fenceSource: true }
`;

/** Three Running g7 (3 ENIs each) in one zone, the web ENI on i-primary. */
export function world(groupsYaml = GROUPS_YAML) {
  const clock = new FakeClock();
  const ecs = new TaggedFakeEcs(clock)
    .addType('ecs.g7.large', 3)
    .addInstance({ instanceId: 'i-primary' })
    .addInstance({ instanceId: 'i-standby' })
    .addInstance({ instanceId: 'i-third' })
    .addEni({ eniId: 'eni-web', instanceId: 'i-primary', tags: { service: 'web' } });
  const groups: GroupsConfig = parseGroups(groupsYaml, 'test');
  const deps: EntryDeps = { ecs, groups, regionId: 'cn-hangzhou', now: () => clock.now() };
  return { clock, ecs: ecs as TaggedFakeEcs, groups, deps, queue: new RecordingQueue() };
}

/** A urlencoded CloudMonitor callback body. */
export function alarmBody(fields: Record<string, string>): string {
  return new URLSearchParams({
    userId: '12****',
    alertName: 'web-down',
    timestamp: String(Date.parse('2026-11-26T03:01:00Z')),
    alertState: 'ALARM',
    dimensions: '{userId=12****, instanceId=i-primary}',
    expression: '$Average>90',
    curValue: '97',
    metricName: 'CPUUtilization',
    metricProject: 'acs_ecs_dashboard',
    ...fields,
  }).toString();
}
