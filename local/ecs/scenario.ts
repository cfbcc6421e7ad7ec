import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MacPattern, cidrContains, ipToNumber, parseCidr } from './net';
import { RealismSection } from './realism';

/**
 * The scenario a local ECS starts from: one region with its zones, VPCs, vSwitches, security groups,
 * instance types, instances and ENIs, plus the latency profile and the per-API rate limits.
 * Format documented in local/ecs/README.md; examples in local/scenarios/.
 */

/** Operations the local ECS serves (also the keys allowed under `rateLimits`). */
export const EcsActions = [
  'AttachNetworkInterface',
  'DetachNetworkInterface',
  'DescribeNetworkInterfaces',
  'DescribeNetworkInterfaceAttribute',
  'CreateNetworkInterface',
  'DescribeInstances',
  'DescribeInstanceAttribute',
  'DescribeInstanceStatus',
  'StopInstance',
  'StartInstance',
  'RebootInstance',
  'DescribeInstanceTypes',
  'RunCommand',
  'DescribeInvocationResults',
  'DescribeCloudAssistantStatus',
  'TagResources',
  'ListTagResources',
] as const;
export type EcsAction = (typeof EcsActions)[number];

/** Default latencies in (unscaled) seconds: brief defaults; attach 3 s matches Terway's first check. */
export const DefaultLatencySeconds = {
  attach: 3,
  detach: 2,
  stop: 15,
  start: 10,
  reboot: 20,
  command: 1,
} as const;

const id = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}[A-Za-z0-9-]+$`), `must look like ${prefix}xxxx`);
const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)) && /Z$|[+-]\d{2}:?\d{2}$/.test(s), 'must be an ISO-8601 time with zone, e.g. 2024-01-01T00:00:00Z');
const tags = z.record(z.string(), z.string()).default({});

const ScenarioSchema = z
  .object({
    regionId: z.string().min(1),
    /** OwnerId shown on ENIs. */
    accountId: z.string().regex(/^\d+$/).default('1234567890123456'),
    zones: z.array(z.string().min(1)).min(1),
    vpcs: z.array(z.object({ vpcId: id('vpc-'), cidrBlock: z.string() }).strict()).min(1),
    vSwitches: z
      .array(z.object({ vSwitchId: id('vsw-'), vpcId: z.string(), zoneId: z.string(), cidrBlock: z.string() }).strict())
      .min(1),
    securityGroups: z.array(z.object({ securityGroupId: id('sg-'), vpcId: z.string() }).strict()).default([]),
    instanceTypes: z
      .array(
        z
          .object({
            instanceTypeId: z.string().regex(/^ecs\./, 'must start with "ecs."'),
            /** ENIs per instance, the primary ENI included. */
            eniQuantity: z.number().int().min(1),
            eniPrivateIpAddressQuantity: z.number().int().min(1).default(6),
            cpuCoreCount: z.number().int().min(1).default(2),
            memorySize: z.number().positive().default(8),
          })
          .strict(),
      )
      .min(1),
    instances: z
      .array(
        z
          .object({
            instanceId: id('i-'),
            instanceName: z.string().optional(),
            /**
             * The physical host (dedicated host or hypervisor) the instance runs on: `failHost` stops every
             * instance of one host at once, as a host failure does. ECS does not show it for shared
             * instances; the local ECS keeps it to itself (not answered by DescribeInstances).
             */
            hostId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lower-case letters, digits and -').optional(),
            instanceType: z.string(),
            status: z.enum(['Running', 'Stopped']).default('Running'),
            /** Optional; must equal the vSwitch's zone when given. */
            zoneId: z.string().optional(),
            vSwitchId: z.string(),
            securityGroupIds: z.array(z.string()).default([]),
            ioOptimized: z.boolean().default(true),
            /** Last start (ISO-8601); defaults to the scenario load time for Running instances. */
            startTime: isoTime.optional(),
            osType: z.enum(['linux', 'windows']).default('linux'),
            cloudAssistant: z
              .object({ online: z.boolean().default(true), version: z.string().default('2.2.3.857') })
              .strict()
              .default({}),
            /** An unresponsive guest hangs detaches and Cloud Assistant commands and slows a soft stop. */
            guestResponsive: z.boolean().default(true),
            /** The primary ENI; generated (id eni-p<...>, MAC from the id, first free IP) when omitted. */
            primaryEni: z
              .object({ eniId: id('eni-').optional(), macAddress: z.string().optional(), privateIp: z.string().optional() })
              .strict()
              .default({}),
            tags,
          })
          .strict(),
      )
      .default([]),
    enis: z
      .array(
        z
          .object({
            eniId: id('eni-'),
            name: z.string().optional(),
            description: z.string().optional(),
            vSwitchId: z.string(),
            securityGroupIds: z.array(z.string()).default([]),
            /** Generated from the id when omitted. */
            macAddress: z.string().optional(),
            /** Primary IP first; generated (first free) when omitted. */
            privateIps: z.array(z.string()).min(1).optional(),
            status: z.enum(['Available', 'InUse']).default('Available'),
            /** Required when InUse, forbidden when Available. */
            instanceId: z.string().optional(),
            tags,
          })
          .strict(),
      )
      .default([]),
    /** Unscaled seconds; multiplied by the server's timeScale. */
    latency: z
      .object({
        attachSeconds: z.number().nonnegative().default(DefaultLatencySeconds.attach),
        detachSeconds: z.number().nonnegative().default(DefaultLatencySeconds.detach),
        stopSeconds: z.number().nonnegative().default(DefaultLatencySeconds.stop),
        startSeconds: z.number().nonnegative().default(DefaultLatencySeconds.start),
        rebootSeconds: z.number().nonnegative().default(DefaultLatencySeconds.reboot),
        commandSeconds: z.number().nonnegative().default(DefaultLatencySeconds.command),
      })
      .strict()
      .default({}),
    /** Account-wide settings that change documented defaults. */
    account: z
      .object({
        /**
         * The "no fees for stopped instances" (economical mode) is on for the account: StopInstance without
         * StoppedMode stops a VPC instance in StopCharging (StopInstance API reference). Default off.
         */
        noChargeForStoppedInstances: z.boolean().default(false),
      })
      .strict()
      .default({}),
    /** Calls per minute per API (per account and region, as ECS counts them); absent = unlimited. */
    rateLimits: z.record(z.string(), z.number().int().positive()).default({}),
    /** The realistic profile (local/ecs/realism.ts): absent or `kind` = off, `realistic`, or an object. */
    realism: RealismSection,
  })
  .strict();

/** A validated scenario, defaults applied. */
export type Scenario = z.output<typeof ScenarioSchema>;
/** What a scenario file (or an in-code object) may contain: defaults optional. */
export type ScenarioInput = z.input<typeof ScenarioSchema>;

/** A scenario that failed validation; `issues` are `path: problem` lines such as `instances[1].vSwitchId: vsw-x is not declared`. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly issues: readonly string[],
    source = 'scenario',
  ) {
    super(`Invalid ${source}:\n  ${issues.join('\n  ')}`);
  }
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out === '' ? '(root)' : out;
}

/** Cross-reference checks zod's shape cannot express. Pushes `path: problem` lines. */
function crossCheck(s: Scenario): string[] {
  const issues: string[] = [];
  const at = (path: (string | number)[], problem: string) => issues.push(`${formatPath(path)}: ${problem}`);
  const unique = <T>(items: readonly T[], key: (t: T) => string, field: string, list: string) => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const k = key(item);
      if (seen.has(k)) at([list, i, field], `${k} is declared twice`);
      seen.add(k);
    });
  };
  unique(s.zones, (z) => z, '', 'zones');
  unique(s.vpcs, (v) => v.vpcId, 'vpcId', 'vpcs');
  unique(s.vSwitches, (v) => v.vSwitchId, 'vSwitchId', 'vSwitches');
  unique(s.securityGroups, (g) => g.securityGroupId, 'securityGroupId', 'securityGroups');
  unique(s.instanceTypes, (t) => t.instanceTypeId, 'instanceTypeId', 'instanceTypes');
  unique(s.instances, (t) => t.instanceId, 'instanceId', 'instances');
  unique(s.enis, (e) => e.eniId, 'eniId', 'enis');

  const vpcs = new Map(s.vpcs.map((v) => [v.vpcId, v]));
  const vSwitches = new Map(s.vSwitches.map((v) => [v.vSwitchId, v]));
  const groups = new Map(s.securityGroups.map((g) => [g.securityGroupId, g]));
  const types = new Map(s.instanceTypes.map((t) => [t.instanceTypeId, t]));
  const instances = new Map(s.instances.map((t) => [t.instanceId, t]));

  s.vpcs.forEach((v, i) => {
    if (parseCidr(v.cidrBlock) === undefined) at(['vpcs', i, 'cidrBlock'], `${v.cidrBlock} is not an IPv4 CIDR (/8-/29)`);
  });
  s.vSwitches.forEach((v, i) => {
    const vpc = vpcs.get(v.vpcId);
    if (vpc === undefined) at(['vSwitches', i, 'vpcId'], `${v.vpcId} is not declared`);
    if (!s.zones.includes(v.zoneId)) at(['vSwitches', i, 'zoneId'], `${v.zoneId} is not declared in zones`);
    const cidr = parseCidr(v.cidrBlock);
    if (cidr === undefined) at(['vSwitches', i, 'cidrBlock'], `${v.cidrBlock} is not an IPv4 CIDR (/8-/29)`);
    const vpcCidr = vpc === undefined ? undefined : parseCidr(vpc.cidrBlock);
    if (cidr !== undefined && vpcCidr !== undefined) {
      const inside = cidr.network >= vpcCidr.network && cidr.network + cidr.size <= vpcCidr.network + vpcCidr.size;
      if (!inside) at(['vSwitches', i, 'cidrBlock'], `${v.cidrBlock} is outside ${v.vpcId} (${vpc?.cidrBlock})`);
    }
  });
  s.securityGroups.forEach((g, i) => {
    if (!vpcs.has(g.vpcId)) at(['securityGroups', i, 'vpcId'], `${g.vpcId} is not declared`);
  });
  const checkGroups = (list: string, i: number, ids: readonly string[], vpcId: string | undefined) =>
    ids.forEach((gid, j) => {
      const g = groups.get(gid);
      if (g === undefined) at([list, i, 'securityGroupIds', j], `${gid} is not declared`);
      else if (vpcId !== undefined && g.vpcId !== vpcId) at([list, i, 'securityGroupIds', j], `${gid} belongs to ${g.vpcId}, not ${vpcId}`);
    });

  const ips = new Map<string, string>();
  const macs = new Map<string, string>();
  const claimIp = (path: (string | number)[], ip: string, vSwitchId: string, owner: string) => {
    const vsw = vSwitches.get(vSwitchId);
    const cidr = vsw === undefined ? undefined : parseCidr(vsw.cidrBlock);
    if (ipToNumber(ip) === undefined) {
      at(path, `${ip} is not an IPv4 address`);
      return;
    }
    if (cidr !== undefined && !cidrContains(cidr, ip)) at(path, `${ip} is outside ${vSwitchId} (${vsw?.cidrBlock})`);
    const key = `${vsw?.vpcId}/${ip}`;
    const other = ips.get(key);
    if (other !== undefined) at(path, `${ip} is already used by ${other}`);
    ips.set(key, owner);
  };
  const claimMac = (path: (string | number)[], mac: string, owner: string) => {
    if (!MacPattern.test(mac)) {
      at(path, `${mac} is not a lower-case MAC like 00:16:3e:12:34:56`);
      return;
    }
    const other = macs.get(mac);
    if (other !== undefined) at(path, `${mac} is already used by ${other}`);
    macs.set(mac, owner);
  };

  const eniCount = new Map<string, number>();
  s.instances.forEach((inst, i) => {
    const vsw = vSwitches.get(inst.vSwitchId);
    if (vsw === undefined) at(['instances', i, 'vSwitchId'], `${inst.vSwitchId} is not declared`);
    if (vsw !== undefined && inst.zoneId !== undefined && inst.zoneId !== vsw.zoneId) {
      at(['instances', i, 'zoneId'], `${inst.zoneId} differs from the zone of ${inst.vSwitchId} (${vsw.zoneId})`);
    }
    if (!types.has(inst.instanceType)) at(['instances', i, 'instanceType'], `${inst.instanceType} is not declared in instanceTypes`);
    checkGroups('instances', i, inst.securityGroupIds, vsw?.vpcId);
    if (inst.primaryEni.privateIp !== undefined) claimIp(['instances', i, 'primaryEni', 'privateIp'], inst.primaryEni.privateIp, inst.vSwitchId, inst.instanceId);
    if (inst.primaryEni.macAddress !== undefined) claimMac(['instances', i, 'primaryEni', 'macAddress'], inst.primaryEni.macAddress, inst.instanceId);
    eniCount.set(inst.instanceId, 1);
  });
  s.enis.forEach((eni, i) => {
    const vsw = vSwitches.get(eni.vSwitchId);
    if (vsw === undefined) at(['enis', i, 'vSwitchId'], `${eni.vSwitchId} is not declared`);
    checkGroups('enis', i, eni.securityGroupIds, vsw?.vpcId);
    eni.privateIps?.forEach((ip, j) => claimIp(['enis', i, 'privateIps', j], ip, eni.vSwitchId, eni.eniId));
    if (eni.macAddress !== undefined) claimMac(['enis', i, 'macAddress'], eni.macAddress, eni.eniId);
    if (eni.status === 'InUse' && eni.instanceId === undefined) at(['enis', i, 'instanceId'], 'is required when status is InUse');
    if (eni.status === 'Available' && eni.instanceId !== undefined) at(['enis', i, 'instanceId'], 'must be omitted when status is Available');
    if (eni.instanceId !== undefined) {
      const inst = instances.get(eni.instanceId);
      if (inst === undefined) {
        at(['enis', i, 'instanceId'], `${eni.instanceId} is not declared`);
        return;
      }
      const instVsw = vSwitches.get(inst.vSwitchId);
      // A bound ENI that breaks the binding rules is not a state ECS can be in.
      if (vsw !== undefined && instVsw !== undefined && vsw.vpcId !== instVsw.vpcId) {
        at(['enis', i, 'vSwitchId'], `${eni.vSwitchId} is in ${vsw.vpcId} but ${eni.instanceId} is in ${instVsw.vpcId}`);
      }
      if (vsw !== undefined && instVsw !== undefined && vsw.zoneId !== instVsw.zoneId) {
        at(['enis', i, 'vSwitchId'], `${eni.vSwitchId} is in ${vsw.zoneId} but ${eni.instanceId} is in ${instVsw.zoneId}`);
      }
      const count = (eniCount.get(eni.instanceId) ?? 1) + 1;
      eniCount.set(eni.instanceId, count);
      const quota = types.get(inst.instanceType)?.eniQuantity;
      if (quota !== undefined && count > quota) {
        at(['enis', i, 'instanceId'], `${eni.instanceId} (${inst.instanceType}) already has ${quota} ENIs (EniQuantity, primary included)`);
      }
    }
  });
  for (const action of Object.keys(s.rateLimits)) {
    if (!(EcsActions as readonly string[]).includes(action)) at(['rateLimits', action], `${action} is not an operation of the local ECS`);
  }
  return issues;
}

/**
 * Validates a scenario object (as parsed from YAML/JSON or written in code) and applies defaults.
 * @throws ScenarioError naming every bad field path.
 */
export function parseScenario(input: unknown, source?: string): Scenario {
  const parsed = ScenarioSchema.safeParse(input);
  if (!parsed.success) {
    throw new ScenarioError(
      parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
      source,
    );
  }
  const issues = crossCheck(parsed.data);
  if (issues.length > 0) throw new ScenarioError(issues, source);
  return parsed.data;
}

/** Reads a YAML (or JSON) scenario file and validates it. @throws ScenarioError */
export function loadScenario(path: string): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ScenarioError([`(file): cannot read or parse ${path}: ${(err as Error).message}`], path);
  }
  return parseScenario(raw, path);
}
