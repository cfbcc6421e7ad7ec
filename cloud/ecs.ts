/**
 * The ECS port over the wire. It talks through @alicloud/openapi-core's generic `callApi` (style RPC,
 * version 2014-05-26, V3 signature ACS3-HMAC-SHA256) instead of the generated @alicloud/ecs20140526
 * client: same requests on the wire, but the generated client's ~3 MB of models cost 460-660 ms of
 * `require` on every cold start, the generic path ~155 ms (sdk-wire.md; measured again by
 * bench/cold-start.ts). The price is that we read the raw PascalCase bodies ourselves - which we want
 * anyway, to be strict about the fields the binding rules depend on.
 */
import OpenApi, { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import type { Clock, EcsPort } from '../workflow/ports';
import { systemClock } from '../workflow/ports';
import { CloudError, CloudErrorKind } from '../workflow/errors';
import {
  EniStatus,
  EniType,
  InstanceStatus,
  type Eni,
  type Instance,
  type InstanceTypeInfo,
  type InvocationResult,
  type Tags,
} from '../workflow/model';
import { classifyError, malformedResponse } from './errors';
import { defaultRetryPolicy, withRetry, type RetryPolicy } from './retry';
import { RateLimiter, type RateDiscipline } from './rate-limit';
import { toSdkCredential, type CredentialSource } from './credentials';

export type { RetryPolicy } from './retry';
export type { EcsCredentials, CredentialSource } from './credentials';

/** The ECS API names this port calls, as data (also the keys of rate limits and stats). */
export const EcsApi = {
  DescribeNetworkInterfaces: 'DescribeNetworkInterfaces',
  DescribeInstances: 'DescribeInstances',
  DescribeInstanceTypes: 'DescribeInstanceTypes',
  AttachNetworkInterface: 'AttachNetworkInterface',
  DetachNetworkInterface: 'DetachNetworkInterface',
  StopInstance: 'StopInstance',
  StartInstance: 'StartInstance',
  RebootInstance: 'RebootInstance',
  DescribeCloudAssistantStatus: 'DescribeCloudAssistantStatus',
  RunCommand: 'RunCommand',
  DescribeInvocationResults: 'DescribeInvocationResults',
} as const;
export type EcsApi = (typeof EcsApi)[keyof typeof EcsApi];

const EcsApiVersion = '2014-05-26';
/** DescribeNetworkInterfaces accepts up to 100 NetworkInterfaceId.N; DescribeInstances up to 100 ids. */
const IdsPerCall = 100;
/** Default MaxResults per page (DescribeNetworkInterfaces allows 10-500, DescribeInstances 1-100). */
const DefaultPageSize = 100;
/** A loop guard: no legitimate listing here needs more pages than this. */
const MaxPages = 1000;

export interface EcsCallEvent {
  readonly api: string;
  /** Wall time of this attempt in ms. */
  readonly ms: number;
  readonly ok: boolean;
  readonly code?: string;
  /** 1 for the first attempt of a call. */
  readonly attempt: number;
}

export interface EcsPortOptions {
  readonly regionId: string;
  /** Host[:port] without scheme (sdk-wire.md). Default `ecs.<regionId>.aliyuncs.com`. */
  readonly endpoint?: string;
  readonly protocol?: 'HTTPS' | 'HTTP';
  /** Fixed keys or a getter asked before every request, so refreshed STS keys are used. */
  readonly credentials: CredentialSource;
  readonly retry?: Partial<RetryPolicy>;
  /** The account's budgets in calls per minute per API, merged over DefaultRateLimitsPerMinute. */
  readonly rateLimits?: Partial<Record<string, number>>;
  /** How this process shares them with the other callers (window, share; see RateDiscipline). */
  readonly rateDiscipline?: RateDiscipline;
  readonly clock?: Clock;
  /** Per-request timeouts; both default to 10 s and are cut to what is left before the deadline. */
  readonly timeoutsMs?: { read: number; connect: number };
  /** Absolute epoch ms: no call starts, no retry or rate-limit wait ends after it. */
  readonly deadlineMs?: number;
  /** MaxResults per page of listings, 10-100 (default 100); smaller pages trade calls for latency. */
  readonly pageSize?: number;
  /** Observes every attempt (for the structured log); must not throw. */
  readonly onCall?: (e: EcsCallEvent) => void;
}

/** The port plus counters and a way to bind a step's deadline. */
export interface EcsPortWithStats extends EcsPort {
  /**
   * Counters per API: `<Api>.calls` (port-level calls), `<Api>.attempts`, `<Api>.failures` (failed
   * attempts), `<Api>.retries`, `cache.instanceTypes.hits`, `rateLimit.waitMs`.
   */
  stats(): Record<string, number>;
  /** The same port (same connection, cache, limiter and counters) bound to another absolute deadline. */
  withDeadline(deadlineMs: number | undefined): EcsPortWithStats;
  withWriteGuard(guard: WriteGuard | undefined): EcsPortWithStats;
}

/** Asked before every retry of a write (see {@link EcsPort.withWriteGuard}); throws to stop it. */
type WriteGuard = () => Promise<void>;

type Body = Record<string, unknown>;
type Query = Record<string, string>;

/**
 * Builds the ECS port. Guarantees: every failure is a classified CloudError (fatal `MalformedResponse`
 * naming the field when a body lacks what the rules need); describe-by-id of a missing resource resolves
 * `undefined`; retryable failures are retried with full-jitter backoff within `retry` and the deadline;
 * the SDK's own retry is off; instance types are fetched once per port; secrets are never logged.
 */
export function createEcsPort(options: EcsPortOptions): EcsPortWithStats {
  const clock = options.clock ?? systemClock;
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const limiter = new RateLimiter(clock, options.rateLimits, options.rateDiscipline);
  const timeouts = options.timeoutsMs ?? { read: 10_000, connect: 10_000 };
  const counters: Record<string, number> = {};
  const bump = (key: string, by = 1): void => {
    counters[key] = (counters[key] ?? 0) + by;
  };
  const pageSize = String(Math.min(100, Math.max(10, Math.floor(options.pageSize ?? DefaultPageSize))));
  const instanceTypeCache = new Map<string, Promise<InstanceTypeInfo | undefined>>();

  const client = new OpenApi(
    new $OpenApiUtil.Config({
      // Asked before every request, so refreshed STS keys are used (see toSdkCredential).
      credential: toSdkCredential(options.credentials) as unknown as $OpenApiUtil.Config['credential'],
      endpoint: options.endpoint ?? `ecs.${options.regionId}.aliyuncs.com`,
      protocol: options.protocol ?? 'HTTPS',
      regionId: options.regionId,
      readTimeout: timeouts.read,
      connectTimeout: timeouts.connect,
      // No retryOptions: the SDK then makes exactly one attempt (sdk-wire.md: its retry config is a trap).
    }),
  );

  function runtimeFor(deadlineMs: number | undefined): $dara.RuntimeOptions {
    let read = timeouts.read;
    let connect = Math.max(timeouts.connect, read);
    if (deadlineMs !== undefined) {
      const left = Math.max(1, deadlineMs - clock.now());
      read = Math.min(read, left);
      // connectTimeout acts as a socket idle timer in httpx: keep it >= readTimeout (sdk-wire.md).
      connect = Math.min(connect, Math.max(read, left));
    }
    return new $dara.RuntimeOptions({ readTimeout: read, connectTimeout: connect });
  }

  async function call(api: EcsApi, query: Query, deadlineMs: number | undefined, guard?: WriteGuard): Promise<Body> {
    bump(`${api}.calls`);
    return withRetry(
      async (attempt) => {
        await limiter.acquire(api, deadlineMs);
        bump(`${api}.attempts`);
        const started = performance.now();
        try {
          const params = new $OpenApiUtil.Params({
            action: api,
            version: EcsApiVersion,
            protocol: options.protocol ?? 'HTTPS',
            pathname: '/',
            method: 'POST',
            authType: 'AK',
            style: 'RPC',
            reqBodyType: 'formData',
            bodyType: 'json',
          });
          const res = await client.callApi(params, new $OpenApiUtil.OpenApiRequest({ query }), runtimeFor(deadlineMs));
          const body: unknown = res['body'];
          limiter.passed(api);
          if (!isObject(body)) throw malformedResponse(api, 'JSON body', body);
          options.onCall?.({ api, ms: Math.round(performance.now() - started), ok: true, attempt });
          return body;
        } catch (raw) {
          const err = classifyError(raw, api);
          bump(`${api}.failures`);
          if (isServerThrottling(err)) {
            bump(`${api}.throttled`);
            limiter.throttled(api);
          }
          options.onCall?.({ api, ms: Math.round(performance.now() - started), ok: false, code: err.code, attempt });
          throw err;
        }
      },
      {
        api,
        policy,
        clock,
        ...(deadlineMs === undefined ? {} : { deadlineMs }),
        onFailure: (_err, _attempt, waitMs) => {
          if (waitMs !== undefined) bump(`${api}.retries`);
        },
        ...(guard === undefined ? {} : { beforeRetry: guard }),
        // ECS refuses a throttled API until its next window: the limiter knows when that is.
        delayFor: (err) => (isServerThrottling(err) && limiter.holdsToWindowEdge ? limiter.waitBeforeNextCall(api) : undefined),
      },
    );
  }

  /** Follows NextToken until it is empty; a token seen twice is a malformed answer, not a loop. */
  async function paged(api: EcsApi, query: Query, deadlineMs: number | undefined): Promise<Body[]> {
    const pages: Body[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    for (let page = 0; page < MaxPages; page++) {
      const body = await call(api, token === undefined ? query : { ...query, NextToken: token }, deadlineMs);
      pages.push(body);
      const next = optString(body['NextToken']);
      if (next === undefined) return pages;
      if (seen.has(next)) throw malformedResponse(api, 'NextToken (repeated)', next);
      seen.add(next);
      token = next;
    }
    throw malformedResponse(api, `NextToken (more than ${MaxPages} pages)`, token);
  }

  function build(deadlineMs: number | undefined, guard?: WriteGuard): EcsPortWithStats {
    const regionId = options.regionId;

    async function describeEnis(filter: { eniIds?: readonly string[]; instanceId?: string; tags?: Tags }): Promise<Eni[]> {
      const base: Query = { RegionId: regionId, MaxResults: pageSize };
      if (filter.instanceId !== undefined) base['InstanceId'] = filter.instanceId;
      Object.entries(filter.tags ?? {}).forEach(([key, value], i) => {
        base[`Tag.${i + 1}.Key`] = key;
        base[`Tag.${i + 1}.Value`] = value;
      });
      // An empty id list means "no ids", not "every ENI": answer without a call.
      if (filter.eniIds !== undefined && filter.eniIds.length === 0) return [];
      const idChunks = filter.eniIds === undefined ? [undefined] : chunk([...new Set(filter.eniIds)], IdsPerCall);
      const enis: Eni[] = [];
      for (const ids of idChunks) {
        const query = { ...base };
        ids?.forEach((id, i) => (query[`NetworkInterfaceId.${i + 1}`] = id));
        for (const body of await paged(EcsApi.DescribeNetworkInterfaces, query, deadlineMs)) {
          for (const raw of wrappedList(EcsApi.DescribeNetworkInterfaces, body, 'NetworkInterfaceSets', 'NetworkInterfaceSet')) {
            enis.push(mapEni(raw));
          }
        }
      }
      return enis;
    }

    async function describeInstances(instanceIds: readonly string[]): Promise<Instance[]> {
      const instances: Instance[] = [];
      for (const ids of chunk([...new Set(instanceIds)], IdsPerCall)) {
        // InstanceIds is one JSON-array string, not InstanceId.N (ecs-api.md, sdk-wire.md).
        const query: Query = { RegionId: regionId, InstanceIds: JSON.stringify(ids), MaxResults: pageSize };
        for (const body of await paged(EcsApi.DescribeInstances, query, deadlineMs)) {
          for (const raw of wrappedList(EcsApi.DescribeInstances, body, 'Instances', 'Instance')) {
            instances.push(mapInstance(raw, regionId));
          }
        }
      }
      return instances;
    }

    async function fetchInstanceType(instanceTypeId: string): Promise<InstanceTypeInfo | undefined> {
      // No RegionId: DescribeInstanceTypes is not regional in the API (ecs-api.md).
      const body = await call(EcsApi.DescribeInstanceTypes, { 'InstanceTypes.1': instanceTypeId }, deadlineMs);
      const found = wrappedList(EcsApi.DescribeInstanceTypes, body, 'InstanceTypes', 'InstanceType')
        .map(mapInstanceType)
        .find((t) => t.instanceTypeId === instanceTypeId);
      return found;
    }

    const port: EcsPortWithStats = {
      async describeEni(eniId) {
        // DescribeNetworkInterfaces rather than ...Attribute: an unknown id is an empty set there (one
        // well-defined answer), while the Attribute call's not-found code is unverified (ecs-api.md).
        try {
          const [eni] = await describeEnis({ eniIds: [eniId] });
          return eni;
        } catch (err) {
          if (err instanceof CloudError && err.kind === CloudErrorKind.NotFound) return undefined;
          throw err;
        }
      },
      describeEnis,
      async describeInstance(instanceId) {
        const instances = await describeInstances([instanceId]);
        return instances.find((i) => i.instanceId === instanceId);
      },
      describeInstances,
      async describeInstanceType(instanceTypeId) {
        const cached = instanceTypeCache.get(instanceTypeId);
        if (cached !== undefined) {
          bump('cache.instanceTypes.hits');
          return cached;
        }
        const pending = fetchInstanceType(instanceTypeId);
        instanceTypeCache.set(instanceTypeId, pending);
        // A failed lookup must not stick: only answers are cached.
        pending.catch(() => instanceTypeCache.delete(instanceTypeId));
        return pending;
      },

      async attachEni({ eniId, instanceId }) {
        await call(
          EcsApi.AttachNetworkInterface,
          { RegionId: regionId, NetworkInterfaceId: eniId, InstanceId: instanceId },
          deadlineMs,
          guard,
        );
      },
      async detachEni({ eniId, instanceId }) {
        await call(
          EcsApi.DetachNetworkInterface,
          { RegionId: regionId, NetworkInterfaceId: eniId, InstanceId: instanceId },
          deadlineMs,
          guard,
        );
      },
      // Stop/Start/Reboot carry no RegionId: the instance id is global (the generated SDK sends none either).
      async stopInstance({ instanceId, forceStop, stoppedMode }) {
        await call(
          EcsApi.StopInstance,
          { InstanceId: instanceId, ForceStop: String(forceStop), StoppedMode: stoppedMode },
          deadlineMs,
          guard,
        );
      },
      async startInstance(instanceId) {
        await call(EcsApi.StartInstance, { InstanceId: instanceId }, deadlineMs, guard);
      },
      async rebootInstance({ instanceId, forceStop }) {
        await call(EcsApi.RebootInstance, { InstanceId: instanceId, ForceStop: String(forceStop) }, deadlineMs, guard);
      },

      async cloudAssistantOnline(instanceId) {
        const body = await call(
          EcsApi.DescribeCloudAssistantStatus,
          { RegionId: regionId, 'InstanceId.1': instanceId },
          deadlineMs,
        );
        const entry = wrappedList(
          EcsApi.DescribeCloudAssistantStatus,
          body,
          'InstanceCloudAssistantStatusSet',
          'InstanceCloudAssistantStatus',
        ).find((s) => s['InstanceId'] === instanceId);
        // An unknown instance is 404 InvalidInstance.NotFound (DescribeCloudAssistantStatus API reference),
        // which `call` throws as a notFound CloudError. An answer that simply lacks the instance is not
        // "offline" either: say so instead of reading it as an agent that is down.
        if (entry === undefined) {
          throw new CloudError(
            CloudErrorKind.NotFound,
            'InvalidInstance.NotFound',
            `DescribeCloudAssistantStatus did not list ${instanceId}: the instance does not exist (or is not in ${regionId}); check the id and region`,
            { api: EcsApi.DescribeCloudAssistantStatus },
          );
        }
        // The API answers the string "true"/"false" (ecs-api.md); accept a boolean too.
        const status = entry['CloudAssistantStatus'];
        return status === true || status === 'true';
      },
      async runShellScript({ instanceId, scriptBase64, timeoutSeconds, clientToken, name }) {
        const body = await call(
          EcsApi.RunCommand,
          {
            RegionId: regionId,
            Type: 'RunShellScript',
            ContentEncoding: 'Base64',
            CommandContent: scriptBase64,
            'InstanceId.1': instanceId,
            Timeout: String(Math.max(1, Math.round(timeoutSeconds))),
            ClientToken: clientToken,
            Name: name,
          },
          deadlineMs,
          guard,
        );
        return { invokeId: reqString(EcsApi.RunCommand, body, 'InvokeId') };
      },
      async describeInvocation({ invokeId, instanceId }) {
        let body: Body;
        try {
          body = await call(
            EcsApi.DescribeInvocationResults,
            { RegionId: regionId, InvokeId: invokeId, InstanceId: instanceId, ContentEncoding: 'Base64' },
            deadlineMs,
          );
        } catch (err) {
          if (err instanceof CloudError && err.kind === CloudErrorKind.NotFound) return undefined;
          throw err;
        }
        const invocation = body['Invocation'];
        if (invocation === undefined) return undefined;
        if (!isObject(invocation)) throw malformedResponse(EcsApi.DescribeInvocationResults, 'Invocation', invocation);
        const raw = wrappedList(EcsApi.DescribeInvocationResults, invocation, 'InvocationResults', 'InvocationResult').find(
          (r) => r['InstanceId'] === instanceId && (r['InvokeId'] === undefined || r['InvokeId'] === invokeId),
        );
        return raw === undefined ? undefined : mapInvocationResult(raw, invokeId);
      },

      stats: () => ({ ...counters, 'rateLimit.waitMs': limiter.totalWaitMs }),
      withDeadline: (next) => build(next, guard),
      withWriteGuard: (next) => build(deadlineMs, next),
    };
    return port;
  }

  return build(options.deadlineMs);
}

/** A Throttling answer from ECS itself (not our own limiter refusing to wait past a deadline). */
function isServerThrottling(err: CloudError): boolean {
  return err.kind === CloudErrorKind.Throttling && err.code !== 'Throttling.ClientSide';
}

// ---------------------------------------------------------------------------------------------------
// Response mapping: PascalCase bodies -> workflow/model.ts views. Exported for tests on recorded bodies.
// Strict (MalformedResponse) on what the binding rules read: ids, statuses, type, VPC, zone, I/O
// optimisation, ENI quota, invocation ids. Tolerant elsewhere.
// ---------------------------------------------------------------------------------------------------

const DNI = EcsApi.DescribeNetworkInterfaces;
const DI = EcsApi.DescribeInstances;
const DIT = EcsApi.DescribeInstanceTypes;
const DIR = EcsApi.DescribeInvocationResults;

const EniStatuses: readonly string[] = Object.values(EniStatus);
const EniTypes: readonly string[] = Object.values(EniType);
const InstanceStatuses: readonly string[] = Object.values(InstanceStatus);

/** One NetworkInterfaceSet entry (DescribeNetworkInterfaces) to an {@link Eni}. */
export function mapEni(raw: Body): Eni {
  const eniId = reqString(DNI, raw, 'NetworkInterfaceId');
  const status = reqEnum(DNI, raw, 'Status', EniStatuses) as EniStatus;
  const type = reqEnum(DNI, raw, 'Type', EniTypes) as EniType;
  const attachment = raw['Attachment'];
  const instanceId =
    (isObject(attachment) ? optString(attachment['InstanceId']) : undefined) ?? optString(raw['InstanceId']);
  const ipSets = optWrappedList(DNI, raw, 'PrivateIpSets', 'PrivateIpSet');
  const primaryFromSets = ipSets.find((s) => s['Primary'] === true || s['Primary'] === 'true');
  const primaryIp = optString(raw['PrivateIpAddress']) ?? optString(primaryFromSets?.['PrivateIpAddress']);
  if (primaryIp === undefined) throw malformedResponse(DNI, `PrivateIpAddress of ${eniId}`, raw['PrivateIpAddress']);
  const others = ipSets
    .map((s) => optString(s['PrivateIpAddress']))
    .filter((ip): ip is string => ip !== undefined && ip !== primaryIp);
  return {
    eniId,
    status,
    type,
    instanceId,
    vpcId: reqString(DNI, raw, 'VpcId'),
    vSwitchId: reqString(DNI, raw, 'VSwitchId'),
    zoneId: reqString(DNI, raw, 'ZoneId'),
    // ECS answers lower case; normalised so a value the guest command builder refuses never reaches it.
    macAddress: (optString(raw['MacAddress']) ?? '').toLowerCase(),
    primaryIp,
    privateIps: [primaryIp, ...new Set(others)],
    tags: mapTags(DNI, raw),
  };
}

/** One Instances.Instance entry (DescribeInstances) to an {@link Instance}. */
export function mapInstance(raw: Body, fallbackRegionId: string): Instance {
  const instanceId = reqString(DI, raw, 'InstanceId');
  const vpc = raw['VpcAttributes'];
  if (!isObject(vpc)) throw malformedResponse(DI, `VpcAttributes of ${instanceId}`, vpc);
  const io = raw['IoOptimized'];
  const ioOptimized = io === true || io === 'true' ? true : io === false || io === 'false' ? false : undefined;
  if (ioOptimized === undefined) throw malformedResponse(DI, `IoOptimized of ${instanceId}`, io);
  const eniIds = optWrappedList(DI, raw, 'NetworkInterfaces', 'NetworkInterface')
    .map((n) => optString(n['NetworkInterfaceId']))
    .filter((id): id is string => id !== undefined);
  return {
    instanceId,
    instanceName: optString(raw['InstanceName']) ?? '',
    status: reqEnum(DI, raw, 'Status', InstanceStatuses) as InstanceStatus,
    instanceType: reqString(DI, raw, 'InstanceType'),
    regionId: optString(raw['RegionId']) ?? fallbackRegionId,
    zoneId: reqString(DI, raw, 'ZoneId'),
    vpcId: reqString(DI, vpc, 'VpcId', 'VpcAttributes.VpcId'),
    vSwitchId: optString(vpc['VSwitchId']) ?? '',
    ioOptimized,
    startTime: optString(raw['StartTime']),
    osType: String(raw['OSType'] ?? '').toLowerCase() === 'windows' ? 'windows' : 'linux',
    eniIds,
    tags: mapTags(DI, raw),
  };
}

/** One InstanceTypes.InstanceType entry (DescribeInstanceTypes) to an {@link InstanceTypeInfo}. */
export function mapInstanceType(raw: Body): InstanceTypeInfo {
  const instanceTypeId = reqString(DIT, raw, 'InstanceTypeId');
  const quota = Number(raw['EniQuantity']);
  if (raw['EniQuantity'] === undefined || raw['EniQuantity'] === '' || !Number.isInteger(quota) || quota < 0) {
    throw malformedResponse(DIT, `EniQuantity of ${instanceTypeId}`, raw['EniQuantity']);
  }
  return { instanceTypeId, eniQuantity: quota };
}

/** One InvocationResult entry (DescribeInvocationResults) to an {@link InvocationResult}; Output is decoded. */
export function mapInvocationResult(raw: Body, invokeId: string): InvocationResult {
  const exit = raw['ExitCode'];
  const exitCode = exit === undefined || exit === null || exit === '' ? undefined : Number(exit);
  const output = optString(raw['Output']) ?? '';
  return {
    invokeId: optString(raw['InvokeId']) ?? invokeId,
    instanceId: reqString(DIR, raw, 'InstanceId'),
    status: reqString(DIR, raw, 'InvocationStatus'),
    exitCode: exitCode !== undefined && Number.isFinite(exitCode) ? exitCode : undefined,
    // ContentEncoding=Base64 was asked for (also the API default), so Output is base64 text.
    output: Buffer.from(output, 'base64').toString('utf8'),
    errorCode: optString(raw['ErrorCode']) ?? '',
    errorInfo: optString(raw['ErrorInfo']) ?? '',
  };
}

function mapTags(api: string, raw: Body): Tags {
  const tags: Record<string, string> = {};
  for (const tag of optWrappedList(api, raw, 'Tags', 'Tag')) {
    const key = optString(tag['TagKey']) ?? optString(tag['Key']);
    if (key !== undefined) tags[key] = String(tag['TagValue'] ?? tag['Value'] ?? '');
  }
  return tags;
}

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function reqString(api: string, raw: Body, field: string, label = field): string {
  const value = optString(raw[field]);
  if (value === undefined) throw malformedResponse(api, label, raw[field]);
  return value;
}

function reqEnum(api: string, raw: Body, field: string, allowed: readonly string[]): string {
  const value = reqString(api, raw, field);
  if (!allowed.includes(value)) throw malformedResponse(api, `${field} (one of ${allowed.join('|')})`, value);
  return value;
}

/** `Outer.Inner[]` where the outer wrapper must be present (the operation's main list). */
function wrappedList(api: string, body: Body, outer: string, inner: string): Body[] {
  if (body[outer] === undefined) throw malformedResponse(api, outer, undefined);
  return optWrappedList(api, body, outer, inner);
}

/** `Outer.Inner[]`, tolerating a missing wrapper or inner list (= empty), strict about the shape. */
function optWrappedList(api: string, body: Body, outer: string, inner: string): Body[] {
  const wrapper = body[outer];
  if (wrapper === undefined || wrapper === null || wrapper === '') return [];
  if (!isObject(wrapper)) throw malformedResponse(api, outer, wrapper);
  const list = wrapper[inner];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw malformedResponse(api, `${outer}.${inner} (an array)`, list);
  return list.filter(isObject);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
