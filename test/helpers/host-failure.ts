/**
 * Scenarios of many instances on one physical host (local ECS `instances[].hostId`) with standbys to take
 * their ENIs, and the failover groups over them: for the host-failure integration test and the mass
 * failover bench (bench/mass.ts).
 */

export interface StandbyKind {
  readonly count: number;
  /** EniQuantity of its type, the primary ENI included. */
  readonly eniQuantity: number;
}

export interface HostFailureLayout {
  /** Instances on the failing host. */
  readonly sources: number;
  /** Secondary ENIs each source holds. */
  readonly enisPerSource: number;
  readonly standbys: readonly StandbyKind[];
  /** Sources per failover group (each group: its sources, then every standby, in priority order). Default: all in one. */
  readonly sourcesPerGroup?: number;
  /** Per-API limits of the local ECS (calls per minute), as the scenario's `rateLimits`. */
  readonly rateLimits?: Readonly<Record<string, number>>;
  readonly latency?: Readonly<Record<string, number>>;
}

export const FailingHost = 'host-a';

export interface HostFailureScenario {
  /** The local ECS scenario (its format: local/ecs/README.md). */
  readonly scenario: Record<string, unknown>;
  /** Failover groups as JSON text (config/README.md). */
  readonly groups: string;
  readonly sourceIds: readonly string[];
  readonly standbyIds: readonly string[];
  readonly eniIds: readonly string[];
  /** Secondary slots of each standby (EniQuantity - 1). */
  readonly freeSlots: ReadonlyMap<string, number>;
}

const pad = (n: number) => String(n).padStart(4, '0');

/** The layout as a scenario: sources on {@link FailingHost}, standbys on other hosts, all in one VPC, zone and vSwitch. */
export function hostFailureScenario(layout: HostFailureLayout): HostFailureScenario {
  const sourceType = { instanceTypeId: 'ecs.g7.large', eniQuantity: layout.enisPerSource + 1, cpuCoreCount: 2, memorySize: 8 };
  const standbyTypes = layout.standbys.map((k, i) => ({ instanceTypeId: `ecs.g7.s${i}x`, eniQuantity: k.eniQuantity, cpuCoreCount: 8, memorySize: 32 }));
  const base = { vSwitchId: 'vsw-mass', securityGroupIds: ['sg-mass'], startTime: '2024-05-01T08:00:00Z' };
  const sources = Array.from({ length: layout.sources }, (_, i) => ({ ...base, instanceId: `i-src${pad(i)}`, instanceType: sourceType.instanceTypeId, hostId: FailingHost, tags: { role: 'primary' } }));
  const standbys = layout.standbys.flatMap((k, t) =>
    Array.from({ length: k.count }, (_, i) => ({ ...base, instanceId: `i-sby${t}x${pad(i)}`, instanceType: standbyTypes[t]!.instanceTypeId, hostId: `host-s${t}x${i}`, tags: { role: 'standby' } })),
  );
  const enis = sources.flatMap((src, i) =>
    Array.from({ length: layout.enisPerSource }, (_, j) => ({ eniId: `eni-svc${pad(i)}x${j}`, vSwitchId: 'vsw-mass', securityGroupIds: ['sg-mass'], status: 'InUse', instanceId: src.instanceId })),
  );
  const perGroup = layout.sourcesPerGroup ?? layout.sources;
  const groups = [];
  for (let g = 0; g * perGroup < sources.length; g++) {
    const members = sources.slice(g * perGroup, (g + 1) * perGroup).map((s) => s.instanceId);
    const groupEnis = enis.filter((e) => members.includes(e.instanceId)).map((e) => e.eniId);
    groups.push({ name: `mass-${g}`, enis: groupEnis, members: [...members, ...standbys.map((s) => s.instanceId)], policy: { fenceSource: true } });
  }
  return {
    scenario: {
      regionId: 'cn-hangzhou',
      zones: ['cn-hangzhou-h'],
      vpcs: [{ vpcId: 'vpc-mass', cidrBlock: '10.0.0.0/16' }],
      vSwitches: [{ vSwitchId: 'vsw-mass', vpcId: 'vpc-mass', zoneId: 'cn-hangzhou-h', cidrBlock: '10.0.0.0/18' }],
      securityGroups: [{ securityGroupId: 'sg-mass', vpcId: 'vpc-mass' }],
      instanceTypes: [sourceType, ...standbyTypes],
      instances: [...sources, ...standbys],
      enis,
      latency: { attachSeconds: 3, detachSeconds: 2, stopSeconds: 15, startSeconds: 10, rebootSeconds: 20, commandSeconds: 1, ...(layout.latency ?? {}) },
      rateLimits: { ...(layout.rateLimits ?? {}) },
    },
    groups: JSON.stringify({ version: 1, groups }),
    sourceIds: sources.map((s) => s.instanceId),
    standbyIds: standbys.map((s) => s.instanceId),
    eniIds: enis.map((e) => e.eniId),
    freeSlots: new Map(standbys.map((s) => [s.instanceId, standbyTypes.find((t) => t.instanceTypeId === s.instanceType)!.eniQuantity - 1])),
  };
}
