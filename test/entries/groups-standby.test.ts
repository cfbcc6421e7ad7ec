import { GroupsConfigError, describeGroupEnis, groupOfEni, groupsOfInstance, parseGroups } from '../../workflow/groups';
import { PassOver, selectStandby } from '../../workflow/standby';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { world } from './helpers';

describe('Groups: parsing config/groups.yaml and FAILOVER_GROUPS', () => {
  it('accepts the documented default file, filling policy defaults', () => {
    const config = parseGroups(readFileSync(join(__dirname, '../../config/groups.yaml'), 'utf8'), 'config/groups.yaml');
    expect(config.groups[0]).toMatchObject({ name: 'web', enis: { ids: ['eni-service'] }, members: ['i-primary', 'i-standby'] });
    expect(config.groups[0]!.policy).toMatchObject({ allowStop: false, stoppedMode: 'KeepCharging', fenceSource: true, configureGuest: true, deadlineSeconds: 900 });
  });

  it('accepts JSON (the env variable form) and a tag selector', () => {
    const config = parseGroups(JSON.stringify({ groups: [{ name: 'db', enis: { tag: { key: 'svc', value: 'db' } }, members: ['i-a'] }] }), 'FAILOVER_GROUPS');
    expect(config.groups[0]!.enis).toEqual({ tag: { key: 'svc', value: 'db' } });
    expect(groupOfEni(config, { eniId: 'eni-x', tags: { svc: 'db' } })?.name).toBe('db');
    expect(groupOfEni(config, { eniId: 'eni-x', tags: { svc: 'web' } })).toBeUndefined();
  });

  it.each([
    ['a malformed member id, naming its index', 'groups:\n  - {name: web, enis: [eni-a], members: [i-a, web-2]}\n', /test: groups\[0\]\.members\[1\]: must look like i-xxxx/],
    ['a malformed ENI id', 'groups:\n  - {name: web, enis: [eth0], members: [i-a]}\n', /groups\[0\]\.enis\.ids\[0\]: must look like eni-xxxx/],
    ['both ids and tag', 'groups:\n  - {name: web, enis: {ids: [eni-a], tag: {key: k, value: v}}, members: [i-a]}\n', /groups\[0\]\.enis: give exactly one of ids or tag/],
    ['an unknown policy field', 'groups:\n  - {name: web, enis: [eni-a], members: [i-a], policy: {allowUnmanaged: true}}\n', /groups\[0\]\.policy: Unrecognized key/],
    ['a deadline below 30 s', 'groups:\n  - {name: web, enis: [eni-a], members: [i-a], policy: {deadlineSeconds: 5}}\n', /groups\[0\]\.policy\.deadlineSeconds/],
    ['a duplicate group name', 'groups:\n  - {name: web, enis: [eni-a], members: [i-a]}\n  - {name: web, enis: [eni-b], members: [i-a]}\n', /groups\[1\]\.name: "web" is already the name of groups\[0\]/],
    ['one ENI in two groups', 'groups:\n  - {name: a, enis: [eni-a], members: [i-a]}\n  - {name: b, enis: [eni-a], members: [i-b]}\n', /groups\[1\]\.enis\.ids\[0\]: eni-a already belongs to groups\[0\]/],
    ['a member listed twice', 'groups:\n  - {name: web, enis: [eni-a], members: [i-a, i-a]}\n', /groups\[0\]\.members: must not list an instance twice/],
    ['text that is not YAML', 'groups: [unclosed', /test: not YAML or JSON/],
  ])('refuses %s with the field named', (_name, text, message) => {
    expect(() => parseGroups(text, 'test')).toThrow(GroupsConfigError);
    expect(() => parseGroups(text, 'test')).toThrow(message);
  });

  it('treats empty text as no groups', () => {
    expect(parseGroups('', 'FAILOVER_GROUPS').groups).toEqual([]);
  });

  it('finds every group of an instance and the group ENIs it holds (by id and by tag)', async () => {
    const { ecs } = world();
    ecs.addEni({ eniId: 'eni-other', instanceId: 'i-primary', tags: { service: 'web' } });
    const config = parseGroups('groups:\n  - {name: ids, enis: [eni-web], members: [i-primary]}\n  - {name: tagged, enis: {tag: {key: service, value: web}}, members: [i-primary, i-standby]}\n', 't');
    expect(groupsOfInstance(config, 'i-primary').map((g) => g.name)).toEqual(['ids', 'tagged']);
    expect((await describeGroupEnis(ecs, config.groups[0]!, 'i-primary')).map((e) => e.eniId)).toEqual(['eni-web']);
    expect((await describeGroupEnis(ecs, config.groups[1]!)).map((e) => e.eniId).sort()).toEqual(['eni-other', 'eni-web']);
    expect(ecs.enisCalls[1]).toEqual({ tags: { service: 'web' } });
  });
});

describe('Standby selection', () => {
  const eni = { eniId: 'eni-web', vpcId: 'vpc-a', zoneId: 'cn-hangzhou-h' };

  it('chooses the first healthy member after the failed one, examining no further', async () => {
    const { ecs, groups } = world();
    const choice = await selectStandby({ group: groups.groups[0]!, eni, excludeInstanceId: 'i-primary' }, ecs);
    expect(choice).toMatchObject({ ok: true, standby: { instanceId: 'i-standby' } });
    expect(choice.passedOver).toEqual([{ instanceId: 'i-primary', code: PassOver.IsSource, detail: expect.any(String) }]);
  });

  const reasons: { name: string; code: PassOver; setup: (w: ReturnType<typeof world>) => void; detail: RegExp }[] = [
    { name: 'a member that does not exist', code: PassOver.NotFound, setup: (w) => void w.ecs.instances.delete('i-standby'), detail: /does not exist/ },
    { name: 'a Starting member', code: PassOver.NotReady, setup: (w) => void (w.ecs.instances.get('i-standby')!.status = 'Starting'), detail: /Starting/ },
    { name: 'a Stopped member without allowStop', code: PassOver.StoppedNotAllowed, setup: (w) => void (w.ecs.instances.get('i-standby')!.status = 'Stopped'), detail: /allowStop/ },
    { name: 'a member in another VPC', code: PassOver.OtherVpc, setup: (w) => void (w.ecs.instances.get('i-standby')!.vpcId = 'vpc-b'), detail: /vpc-b/ },
    { name: 'a member in another zone', code: PassOver.OtherZone, setup: (w) => void (w.ecs.instances.get('i-standby')!.zoneId = 'cn-hangzhou-i'), detail: /cn-hangzhou-i/ },
    { name: 'a member with every ENI slot used (primary counted)', code: PassOver.EniQuotaFull, setup: (w) => void w.ecs.addEni({ eniId: 'eni-x1', instanceId: 'i-standby' }).addEni({ eniId: 'eni-x2', instanceId: 'i-standby' }), detail: /3 of 3 ENIs, primary included/ },
    { name: 'a member whose Cloud Assistant is offline', code: PassOver.GuestAgentOffline, setup: (w) => void (w.ecs.instances.get('i-standby')!.agentOnline = false), detail: /Cloud Assistant/ },
  ];
  it.each(reasons)('passes over $name and says why, then takes the next', async ({ code, setup, detail }) => {
    const w = world();
    setup(w);
    const choice = await selectStandby({ group: w.groups.groups[0]!, eni, excludeInstanceId: 'i-primary' }, w.ecs);
    expect(choice.ok && choice.standby.instanceId).toBe('i-third');
    expect(choice.passedOver[1]).toMatchObject({ instanceId: 'i-standby', code });
    expect(choice.passedOver[1]!.detail).toMatch(detail);
  });

  it('counts ENIs already planned onto a member against its quota', async () => {
    const w = world();
    w.ecs.addEni({ eniId: 'eni-x1', instanceId: 'i-standby' });
    const choice = await selectStandby({ group: w.groups.groups[0]!, eni, excludeInstanceId: 'i-primary', plannedEnis: new Map([['i-standby', 1]]) }, w.ecs);
    expect(choice.ok && choice.standby.instanceId).toBe('i-third');
    expect(choice.passedOver[1]?.code).toBe(PassOver.EniQuotaFull);
  });

  it('takes a Stopped member when the policy allows stop and the guest is not configured', async () => {
    const w = world('groups:\n  - {name: web, enis: [eni-web], members: [i-primary, i-standby], policy: {allowStop: true, configureGuest: false}}\n');
    w.ecs.instances.get('i-standby')!.status = 'Stopped';
    const choice = await selectStandby({ group: w.groups.groups[0]!, eni, excludeInstanceId: 'i-primary' }, w.ecs);
    expect(choice.ok && choice.standby.instanceId).toBe('i-standby');
  });

  it('fails with every member and its reason when nobody can take the ENI', async () => {
    const w = world();
    w.ecs.instances.get('i-standby')!.vpcId = 'vpc-b';
    w.ecs.instances.get('i-third')!.status = 'Stopped';
    const choice = await selectStandby({ group: w.groups.groups[0]!, eni, excludeInstanceId: 'i-primary' }, w.ecs);
    expect(choice.ok).toBe(false);
    expect(choice.passedOver.map((p) => [p.instanceId, p.code])).toEqual([
      ['i-primary', PassOver.IsSource],
      ['i-standby', PassOver.OtherVpc],
      ['i-third', PassOver.StoppedNotAllowed],
    ]);
    expect(!choice.ok && choice.detail).toMatch(/no member of group web can take eni-web: .*i-standby OtherVpc/);
  });
});
