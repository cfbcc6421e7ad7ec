import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { Keyring } from '../../local/credentials';
import { ScenarioError, type ScenarioInput, loadScenario, parseScenario, startLocalEcs } from '../../local/ecs';
import { ScenarioDir, scenarioPath } from './helpers';

function base(): ScenarioInput {
  return {
    regionId: 'cn-hangzhou',
    zones: ['cn-hangzhou-h'],
    vpcs: [{ vpcId: 'vpc-a', cidrBlock: '10.0.0.0/16' }],
    vSwitches: [{ vSwitchId: 'vsw-a', vpcId: 'vpc-a', zoneId: 'cn-hangzhou-h', cidrBlock: '10.0.1.0/24' }],
    securityGroups: [{ securityGroupId: 'sg-a', vpcId: 'vpc-a' }],
    instanceTypes: [{ instanceTypeId: 'ecs.g7.large', eniQuantity: 2 }],
    instances: [
      { instanceId: 'i-one', instanceType: 'ecs.g7.large', vSwitchId: 'vsw-a' },
      { instanceId: 'i-two', instanceType: 'ecs.g7.large', vSwitchId: 'vsw-a' },
    ],
    enis: [{ eniId: 'eni-a', vSwitchId: 'vsw-a' }],
  };
}

function issuesOf(input: unknown): readonly string[] {
  try {
    parseScenario(input);
  } catch (err) {
    if (err instanceof ScenarioError) return err.issues;
    throw err;
  }
  throw new Error('expected the scenario to be refused');
}

describe('Scenario validation', () => {
  it('every shipped scenario loads', () => {
    const files = readdirSync(ScenarioDir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const f of files) expect(loadScenario(path.join(ScenarioDir, f)).regionId).toBe('cn-hangzhou');
  });

  it('applies the documented defaults (latencies, Cloud Assistant online, guest responsive, Running)', () => {
    const s = parseScenario(base());
    expect(s.latency).toEqual({ attachSeconds: 3, detachSeconds: 2, stopSeconds: 15, startSeconds: 10, rebootSeconds: 20, commandSeconds: 1 });
    expect(s.instances[0]).toMatchObject({ status: 'Running', ioOptimized: true, guestResponsive: true, cloudAssistant: { online: true } });
  });

  it('names the field path of an undeclared vSwitch', () => {
    const s = base();
    s.instances = [...(s.instances ?? []), { instanceId: 'i-three', instanceType: 'ecs.g7.large', vSwitchId: 'vsw-x' }];
    const lines = issuesOf(s);
    expect(lines).toContain('instances[2].vSwitchId: vsw-x is not declared');
  });

  it('checks cross references: instance type, ENI owner, VPC and zone of bound ENIs, IPs inside the CIDR, duplicates, quotas, rate-limit names', () => {
    const s = base();
    s.zones = ['cn-hangzhou-h', 'cn-hangzhou-i'];
    s.vpcs = [...s.vpcs, { vpcId: 'vpc-b', cidrBlock: '172.16.0.0/16' }];
    s.vSwitches = [...s.vSwitches, { vSwitchId: 'vsw-b', vpcId: 'vpc-b', zoneId: 'cn-hangzhou-i', cidrBlock: '172.16.1.0/24' }];
    s.instances = [
      { instanceId: 'i-one', instanceType: 'ecs.nope', vSwitchId: 'vsw-a' },
      { instanceId: 'i-two', instanceType: 'ecs.g7.large', vSwitchId: 'vsw-a' },
    ];
    s.enis = [
      { eniId: 'eni-a', vSwitchId: 'vsw-b', status: 'InUse', instanceId: 'i-two' },
      { eniId: 'eni-b', vSwitchId: 'vsw-a', status: 'InUse', instanceId: 'i-ghost' },
      { eniId: 'eni-c', vSwitchId: 'vsw-a', privateIps: ['10.0.9.9'] },
      { eniId: 'eni-d', vSwitchId: 'vsw-a', status: 'InUse' },
      { eniId: 'eni-e', vSwitchId: 'vsw-a', status: 'InUse', instanceId: 'i-two' },
      { eniId: 'eni-f', vSwitchId: 'vsw-a', status: 'InUse', instanceId: 'i-two' },
      { eniId: 'eni-e', vSwitchId: 'vsw-a' },
    ];
    s.rateLimits = { AttachNetworkInterface: 500, DeleteEverything: 1 };
    const lines = issuesOf(s);
    expect(lines).toEqual(
      expect.arrayContaining([
        'instances[0].instanceType: ecs.nope is not declared in instanceTypes',
        'enis[0].vSwitchId: vsw-b is in vpc-b but i-two is in vpc-a',
        'enis[0].vSwitchId: vsw-b is in cn-hangzhou-i but i-two is in cn-hangzhou-h',
        'enis[1].instanceId: i-ghost is not declared',
        'enis[2].privateIps[0]: 10.0.9.9 is outside vsw-a (10.0.1.0/24)',
        'enis[3].instanceId: is required when status is InUse',
        'enis[5].instanceId: i-two (ecs.g7.large) already has 2 ENIs (EniQuantity, primary included)',
        'enis[6].eniId: eni-e is declared twice',
        'rateLimits.DeleteEverything: DeleteEverything is not an operation of the local ECS',
      ]),
    );
  });

  it('reports schema errors with their path (bad enum, bad id, unknown field)', () => {
    const s = base() as Record<string, unknown> & ScenarioInput;
    s.instances = [{ instanceId: 'one', instanceType: 'ecs.g7.large', vSwitchId: 'vsw-a', status: 'Exploded' as never }];
    (s as Record<string, unknown>).colour = 'blue';
    const lines = issuesOf(s);
    expect(lines.some((l) => l.startsWith('instances[0].instanceId: must look like i-'))).toBe(true);
    expect(lines.some((l) => l.startsWith('instances[0].status: '))).toBe(true);
    expect(lines.some((l) => l.includes("Unrecognized key(s) in object: 'colour'"))).toBe(true);
  });

  it('startLocalEcs refuses a bad scenario file with the file name and the field path', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ecs-scenario-'));
    const file = path.join(dir, 'broken.yaml');
    const s = base();
    s.instances = [{ instanceId: 'i-one', instanceType: 'ecs.g7.large', vSwitchId: 'vsw-missing' }];
    writeFileSync(file, stringify(s));
    const { keyring } = Keyring.generate();
    await expect(startLocalEcs({ scenario: file, keyring })).rejects.toThrow(/broken\.yaml[\s\S]*instances\[0\]\.vSwitchId: vsw-missing is not declared/);
    expect(() => loadScenario(path.join(dir, 'absent.yaml'))).toThrow(ScenarioError);
  });

  it('the default scenario binds the service ENI to the primary with both IPs', () => {
    const s = loadScenario(scenarioPath('two-node-failover'));
    expect(s.enis[0]).toMatchObject({ eniId: 'eni-service', status: 'InUse', instanceId: 'i-primary', privateIps: ['10.0.1.5', '10.0.1.6'] });
    expect(s.instanceTypes[0]).toMatchObject({ instanceTypeId: 'ecs.g7.large', eniQuantity: 3 });
  });
});
