import { createHash, randomBytes } from 'node:crypto';
import { EniStatus, EniType, InstanceStatus } from './api-strings';
import { EcsApiError, InvocationErrorInfo, type InvocationErrorCode, ecsError } from './errors';
import { EmulatedGuest, type GuestExecutor, type GuestNicView } from './guest';
import { InstanceTypesBindOnlyWhenStopped, RestartRequiredIfStartedBefore } from './instance-types';
import { type Cidr, allocateIp, ipToNumber, macFor, parseCidr, vSwitchGateway } from './net';
import type { Realism } from './realism';
import { SeededRandom } from './rng';
import type { Scenario } from './scenario';

/**
 * The local ECS's state and invariants (moto's "models" layer): instances, ENIs, Cloud Assistant
 * invocations, tags. Every rule of the seed document is enforced here and raises the real wire error
 * code ({@link EcsApiError}); the responses layer only reads parameters and shapes answers.
 *
 * Time: writes are asynchronous as on ECS. A write moves the resource into its intermediate state
 * (Attaching, Detaching, Stopping, Starting) and schedules the end state after the scenario's latency
 * multiplied by `timeScale`. Due transitions run from a timer and on every read, so polling sees them
 * in order. Each change is emitted as a {@link ModelEvent}.
 */

/** Soft stop of an instance whose guest does not respond takes this many times the stop latency (ForceStop does not). */
export const UnresponsiveStopFactor = 5;
/** Cloud Assistant output beyond this is cut and counted in `Dropped` (ecs-api.md: 24 KB). */
export const MaxCommandOutputBytes = 24 * 1024;

/**
 * Per-instance invocation status (DescribeInvocationResults API reference, InvocationStatus): Pending,
 * Invalid, Aborted, Running, Success, Failed, Error, Timeout, Cancelled, Stopping, Terminated.
 */
export type InvocationInstanceStatus =
  | 'Pending'
  | 'Running'
  | 'Success'
  | 'Failed'
  | 'Timeout'
  | 'Aborted'
  | 'Error'
  | 'Invalid'
  | 'Cancelled'
  | 'Terminated';

/**
 * ExitCode reported for a process Cloud Assistant killed (Timeout, Terminated). Not published: the agent
 * (aliyun_assist_client, Go) reads the exit status with os.ProcessState.ExitCode(), which is -1 for a
 * process ended by a signal - a reasoned guess. Targets that never ran (Aborted, Cancelled, Invalid,
 * DeliveryTimeout) have no ExitCode at all in the answer.
 */
export const KilledExitCode = -1;

export type ModelEvent =
  | { readonly type: 'instance'; readonly instanceId: string; readonly from: InstanceStatus; readonly to: InstanceStatus; readonly at: number }
  | {
      readonly type: 'eni';
      readonly eniId: string;
      /** The instance the change concerns (the one attached to / detached from). */
      readonly instanceId: string | undefined;
      readonly from: EniStatus;
      readonly to: EniStatus;
      readonly at: number;
    }
  | {
      /**
       * An ECS system event (O&M event) on an instance, e.g. a host failure's `SystemFailure.Stop`
       * (help.aliyun.com doc 143663: notifications `Instance:<EventType>:<Status>` with content
       * `{eventId, instanceId, eventType, eventStatus, publishTime}`).
       */
      readonly type: 'system';
      readonly instanceId: string;
      readonly eventId: string;
      readonly eventType: string;
      readonly eventStatus: string;
      readonly at: number;
    }
  | {
      readonly type: 'invocation';
      readonly invokeId: string;
      readonly instanceId: string;
      readonly from: InvocationInstanceStatus;
      readonly to: InvocationInstanceStatus;
      readonly at: number;
    };

export interface InstanceState {
  readonly instanceId: string;
  instanceName: string;
  /** The physical host it runs on (scenario `hostId`), if the scenario says. */
  readonly hostId: string | undefined;
  readonly instanceType: string;
  status: InstanceStatus;
  readonly regionId: string;
  readonly zoneId: string;
  readonly vpcId: string;
  readonly vSwitchId: string;
  readonly securityGroupIds: string[];
  readonly ioOptimized: boolean;
  /** Epoch ms of the last start, restart or reactivation. */
  startTime: number | undefined;
  readonly creationTime: number;
  readonly osType: 'linux' | 'windows';
  cloudAssistantOnline: boolean;
  readonly cloudAssistantVersion: string;
  guestResponsive: boolean;
  stoppedMode: 'KeepCharging' | 'StopCharging' | 'Not-applicable';
  readonly primaryEniId: string;
  readonly tags: Map<string, string>;
  lastInvokedTime: number | undefined;
  invocationCount: number;
  /** Realistic profile: the agent reports online only from this time (after a start or reboot). */
  agentOnlineAt: number | undefined;
  /** Realistic profile: StartInstance refuses with `startRefusal.code` until `until`. */
  startRefusal: { code: 'OperationDenied.NoStock' | 'InstanceNotReady'; until: number } | undefined;
}

/** What a lagged read shows of an instance / ENI: the fields that change over time. */
type InstanceSnapshot = Pick<InstanceState, 'status' | 'startTime' | 'stoppedMode'>;
type EniSnapshot = Pick<EniState, 'status' | 'instanceId' | 'deviceIndex'>;

/**
 * A consistent read of the model for one Describe* request. Without `readLagSeconds` it is the current
 * state; with it, the state as it was `lagMs` ago (one draw per request), as an eventually consistent
 * read may show it.
 */
export interface ReadView {
  readonly lagMs: number;
  instance(inst: InstanceState): InstanceState;
  eni(eni: EniState): EniState;
  /** ENIs bound to the instance as the view shows them, by device index. */
  enisOf(instanceId: string): EniState[];
}

export interface EniState {
  readonly eniId: string;
  name: string;
  description: string;
  readonly type: EniType;
  status: EniStatus;
  instanceId: string | undefined;
  deviceIndex: number | undefined;
  readonly vpcId: string;
  readonly vSwitchId: string;
  readonly zoneId: string;
  readonly macAddress: string;
  readonly privateIps: string[];
  readonly securityGroupIds: string[];
  readonly tags: Map<string, string>;
  readonly creationTime: number;
  /** Detaching, but held by an unresponsive guest until the instance stops or the guest recovers. */
  detachHeld: boolean;
  /** Realistic profile: the guest sees the NIC (by MAC) from this time; 0 = at once. */
  guestVisibleAt: number;
  /** Realistic profile: instance metadata lists the MAC from this time; 0 = at once. */
  metadataVisibleAt: number;
}

export interface InvocationTarget {
  readonly instanceId: string;
  status: InvocationInstanceStatus;
  exitCode: number | undefined;
  output: string;
  dropped: number;
  errorCode: string;
  errorInfo: string;
  startTime: number | undefined;
  finishedTime: number | undefined;
  /** Realistic profile: the script runs, but the invocation ends Terminated (its result is lost). */
  terminate?: boolean;
}

export interface InvocationState {
  readonly invokeId: string;
  readonly commandId: string;
  readonly name: string;
  readonly commandType: string;
  readonly script: string;
  readonly timeoutSeconds: number;
  readonly username: string;
  readonly createdAt: number;
  readonly targets: Map<string, InvocationTarget>;
}

/** One script handed to the guest executor, for the control API. */
export interface ScriptRun {
  readonly invokeId: string;
  readonly instanceId: string;
  readonly commandType: string;
  readonly script: string;
  readonly timeoutSeconds: number;
  readonly at: number;
  exitCode?: number;
  output?: string;
  status?: InvocationInstanceStatus;
}

export interface ModelOptions {
  readonly scenario: Scenario;
  /** Multiplies every latency (e.g. 0.001 in tests). */
  readonly timeScale: number;
  readonly now: () => number;
  /** Defaults to the {@link EmulatedGuest} over this model. */
  readonly guestExecutor?: GuestExecutor | ((model: EcsModel) => GuestExecutor);
  /**
   * Whether RunCommand's `Timeout` is multiplied by timeScale too (default true). Turn it off for an
   * executor that runs real scripts, which take real time.
   */
  readonly scaleCommandTimeout?: boolean;
}

interface Transition {
  at: number;
  seq: number;
  key: string;
  run: () => void;
}

/** ISO-8601 UTC with minute precision, as DescribeInstances shows StartTime/CreationTime (`2017-12-10T04:04Z`). */
export function ecsMinuteTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16) + 'Z';
}
/** ISO-8601 UTC with seconds (ENI CreationTime, invocation times, heartbeats). */
export function ecsSecondTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

function hexId(prefix: string, bytes = 10): string {
  return `${prefix}${randomBytes(bytes).toString('hex').slice(0, bytes * 2)}`;
}

export class EcsModel implements GuestNicView {
  readonly regionId: string;
  readonly accountId: string;
  readonly instances = new Map<string, InstanceState>();
  readonly enis = new Map<string, EniState>();
  readonly invocations = new Map<string, InvocationState>();
  readonly scriptRuns: ScriptRun[] = [];
  readonly eventLog: ModelEvent[] = [];
  private readonly listeners = new Set<(event: ModelEvent) => void>();
  private readonly vSwitches = new Map<string, { vpcId: string; zoneId: string; cidr: Cidr; cidrBlock: string }>();
  private readonly securityGroups = new Map<string, { vpcId: string }>();
  readonly instanceTypes = new Map<string, Scenario['instanceTypes'][number]>();
  private timeline: Transition[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private attachFailures: { eniId: string | undefined; remaining: number }[] = [];
  private readonly clientTokens = new Map<string, { fingerprint: string; result: unknown }>();
  private executor: GuestExecutor;
  /** The realistic profile's draws (seeded: runs replay). */
  private rng: SeededRandom;
  private instanceHistory = new Map<string, { at: number; before: InstanceSnapshot }[]>();
  private eniHistory = new Map<string, { at: number; before: EniSnapshot }[]>();

  constructor(private readonly options: ModelOptions) {
    this.regionId = options.scenario.regionId;
    this.accountId = options.scenario.accountId;
    const given = options.guestExecutor;
    this.executor = given === undefined ? new EmulatedGuest(this) : typeof given === 'function' ? given(this) : given;
    this.rng = new SeededRandom(options.scenario.realism?.seed ?? 1);
    this.load();
  }

  // ---------------------------------------------------------------- clock, transitions, events

  now(): number {
    return this.options.now();
  }

  get scenario(): Scenario {
    return this.options.scenario;
  }

  get timeScale(): number {
    return this.options.timeScale;
  }

  /** Scenario seconds -> scaled milliseconds. */
  private scaled(seconds: number): number {
    return seconds * 1000 * this.options.timeScale;
  }

  /** Listens to every model event; returns the unsubscribe function. */
  subscribe(listener: (event: ModelEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ModelEvent): void {
    this.eventLog.push(event);
    if (this.eventLog.length > 5000) this.eventLog.splice(0, this.eventLog.length - 5000);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not corrupt the model's state machine.
      }
    }
  }

  /** The realistic profile, or undefined (the kind default). */
  get realism(): Realism | undefined {
    return this.options.scenario.realism;
  }

  /** The profile's RNG (shared by model and server so one seed replays a whole run). */
  get random(): SeededRandom {
    return this.rng;
  }

  /** A draw of a scenario seconds range, scaled to ms; 0 when the item is off. */
  private delayMs(range: { min: number; max: number } | undefined): number {
    return range === undefined ? 0 : this.scaled(this.rng.between(range.min, range.max));
  }

  private remember<T>(history: Map<string, { at: number; before: T }[]>, id: string, before: T): void {
    const lag = this.realism?.readLagSeconds;
    if (lag === undefined) return;
    const list = history.get(id) ?? [];
    const now = this.now();
    list.push({ at: now, before });
    const horizon = now - this.scaled(lag.max) - 1;
    while (list.length > 0 && (list[0] as { at: number }).at < horizon) list.shift();
    history.set(id, list);
  }

  private static asOf<T>(history: { at: number; before: T }[] | undefined, t: number): T | undefined {
    // The state at t is the `before` of the first change after t.
    return history?.find((h) => h.at > t)?.before;
  }

  /** One request's view of the model (see {@link ReadView}); draws the lag once. */
  readView(): ReadView {
    this.advance();
    const lagMs = this.delayMs(this.realism?.readLagSeconds);
    if (lagMs <= 0) {
      return { lagMs: 0, instance: (i) => i, eni: (e) => e, enisOf: (id) => this.enisOf(id) };
    }
    const t = this.now() - lagMs;
    const instance = (i: InstanceState): InstanceState => {
      const past = EcsModel.asOf(this.instanceHistory.get(i.instanceId), t);
      return past === undefined ? i : { ...i, ...past };
    };
    const eni = (e: EniState): EniState => {
      const past = EcsModel.asOf(this.eniHistory.get(e.eniId), t);
      return past === undefined ? e : { ...e, ...past };
    };
    return {
      lagMs,
      instance,
      eni,
      enisOf: (id) =>
        [...this.enis.values()]
          .map(eni)
          .filter((e) => e.instanceId === id)
          .sort((a, b) => (a.deviceIndex ?? 99) - (b.deviceIndex ?? 99)),
    };
  }

  private setInstanceStatusInternal(inst: InstanceState, to: InstanceStatus, before?: InstanceSnapshot): void {
    const from = inst.status;
    if (from === to) return;
    this.remember(this.instanceHistory, inst.instanceId, before ?? { status: from, startTime: inst.startTime, stoppedMode: inst.stoppedMode });
    inst.status = to;
    this.emit({ type: 'instance', instanceId: inst.instanceId, from, to, at: this.now() });
  }

  private setEniStatus(eni: EniState, to: EniStatus, instanceId: string | undefined, before?: EniSnapshot): void {
    const from = eni.status;
    if (from === to) return;
    this.remember(this.eniHistory, eni.eniId, before ?? { status: from, instanceId: eni.instanceId, deviceIndex: eni.deviceIndex });
    eni.status = to;
    this.emit({ type: 'eni', eniId: eni.eniId, instanceId, from, to, at: this.now() });
  }

  private schedule(key: string, delayMs: number, run: () => void): void {
    this.cancel(key);
    this.timeline.push({ at: this.now() + delayMs, seq: this.seq++, key, run });
    this.timeline.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.arm();
  }

  private cancel(key: string): void {
    this.timeline = this.timeline.filter((t) => t.key !== key);
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.timeline[0];
    if (next === undefined || this.closed) return;
    this.timer = setTimeout(() => this.advance(), Math.max(0, next.at - this.now()));
    this.timer.unref();
  }

  /** Runs every transition that is due by now. Called by reads, writes and the timer. */
  advance(): void {
    if (this.closed) return;
    for (;;) {
      const next = this.timeline[0];
      if (next === undefined || next.at > this.now()) break;
      this.timeline.shift();
      next.run();
    }
    this.arm();
  }

  /** Stops the timer; pending transitions are dropped. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timeline = [];
  }

  // ---------------------------------------------------------------- scenario loading

  /** Back to the scenario's initial state (events and script log cleared; listeners kept). */
  reset(): void {
    this.timeline = [];
    this.arm();
    this.instances.clear();
    this.enis.clear();
    this.invocations.clear();
    this.scriptRuns.length = 0;
    this.eventLog.length = 0;
    this.attachFailures = [];
    this.rng = new SeededRandom(this.scenario.realism?.seed ?? 1);
    this.instanceHistory.clear();
    this.eniHistory.clear();
    this.clientTokens.clear();
    this.vSwitches.clear();
    this.securityGroups.clear();
    this.instanceTypes.clear();
    this.load();
  }

  private load(): void {
    const s = this.options.scenario;
    const now = this.now();
    for (const v of s.vSwitches) {
      this.vSwitches.set(v.vSwitchId, { vpcId: v.vpcId, zoneId: v.zoneId, cidr: parseCidr(v.cidrBlock) as Cidr, cidrBlock: v.cidrBlock });
    }
    for (const g of s.securityGroups) this.securityGroups.set(g.securityGroupId, { vpcId: g.vpcId });
    for (const t of s.instanceTypes) this.instanceTypes.set(t.instanceTypeId, t);

    // Explicit IPs first, so generated ones never collide with them.
    const used = new Set<string>();
    for (const i of s.instances) if (i.primaryEni.privateIp !== undefined) used.add(i.primaryEni.privateIp);
    for (const e of s.enis) for (const ip of e.privateIps ?? []) used.add(ip);
    const allocate = (vSwitchId: string, owner: string): string => {
      const vsw = this.vSwitches.get(vSwitchId);
      const ip = vsw === undefined ? undefined : allocateIp(vsw.cidr, used);
      if (ip === undefined) throw new Error(`scenario: vSwitch ${vSwitchId} has no free IP for ${owner}`);
      used.add(ip);
      return ip;
    };

    for (const i of s.instances) {
      const vsw = this.vSwitches.get(i.vSwitchId);
      if (vsw === undefined) throw new Error(`scenario: ${i.vSwitchId} is not declared`);
      const primaryEniId = i.primaryEni.eniId ?? `eni-p${i.instanceId.slice(2)}`;
      this.instances.set(i.instanceId, {
        instanceId: i.instanceId,
        instanceName: i.instanceName ?? i.instanceId,
        hostId: i.hostId,
        instanceType: i.instanceType,
        status: i.status,
        regionId: s.regionId,
        zoneId: vsw.zoneId,
        vpcId: vsw.vpcId,
        vSwitchId: i.vSwitchId,
        securityGroupIds: [...i.securityGroupIds],
        ioOptimized: i.ioOptimized,
        startTime: i.startTime !== undefined ? Date.parse(i.startTime) : i.status === 'Running' ? now : undefined,
        creationTime: i.startTime !== undefined ? Math.min(Date.parse(i.startTime), now) : now,
        osType: i.osType,
        cloudAssistantOnline: i.cloudAssistant.online,
        cloudAssistantVersion: i.cloudAssistant.version,
        guestResponsive: i.guestResponsive,
        stoppedMode: i.status === 'Stopped' ? 'KeepCharging' : 'Not-applicable',
        primaryEniId,
        tags: new Map(Object.entries(i.tags)),
        lastInvokedTime: undefined,
        invocationCount: 0,
        agentOnlineAt: undefined,
        startRefusal: undefined,
      });
      this.enis.set(primaryEniId, {
        eniId: primaryEniId,
        name: '',
        description: '',
        type: EniType.Primary,
        status: EniStatus.InUse,
        instanceId: i.instanceId,
        deviceIndex: 0,
        vpcId: vsw.vpcId,
        vSwitchId: i.vSwitchId,
        zoneId: vsw.zoneId,
        macAddress: i.primaryEni.macAddress ?? macFor(primaryEniId),
        privateIps: [i.primaryEni.privateIp ?? allocate(i.vSwitchId, primaryEniId)],
        securityGroupIds: [...i.securityGroupIds],
        tags: new Map(),
        creationTime: now,
        detachHeld: false,
        guestVisibleAt: 0,
        metadataVisibleAt: 0,
      });
    }
    for (const e of s.enis) {
      const vsw = this.vSwitches.get(e.vSwitchId);
      if (vsw === undefined) throw new Error(`scenario: ${e.vSwitchId} is not declared`);
      const eni: EniState = {
        eniId: e.eniId,
        name: e.name ?? '',
        description: e.description ?? '',
        type: EniType.Secondary,
        status: e.status,
        instanceId: e.instanceId,
        deviceIndex: undefined,
        vpcId: vsw.vpcId,
        vSwitchId: e.vSwitchId,
        zoneId: vsw.zoneId,
        macAddress: e.macAddress ?? macFor(e.eniId),
        privateIps: e.privateIps !== undefined ? [...e.privateIps] : [allocate(e.vSwitchId, e.eniId)],
        securityGroupIds: [...e.securityGroupIds],
        tags: new Map(Object.entries(e.tags)),
        creationTime: now,
        detachHeld: false,
        guestVisibleAt: 0,
        metadataVisibleAt: 0,
      };
      if (e.instanceId !== undefined) eni.deviceIndex = this.freeDeviceIndex(e.instanceId);
      this.enis.set(eni.eniId, eni);
    }
  }

  // ---------------------------------------------------------------- reads

  enisOf(instanceId: string): EniState[] {
    return [...this.enis.values()]
      .filter((e) => e.instanceId === instanceId)
      .sort((a, b) => (a.deviceIndex ?? 99) - (b.deviceIndex ?? 99));
  }

  private freeDeviceIndex(instanceId: string): number {
    const taken = new Set(this.enisOf(instanceId).map((e) => e.deviceIndex));
    let index = 1;
    while (taken.has(index)) index++;
    return index;
  }

  vSwitch(vSwitchId: string) {
    return this.vSwitches.get(vSwitchId);
  }

  hasSecurityGroup(id: string): boolean {
    return this.securityGroups.has(id);
  }

  securityGroupVpc(id: string): string | undefined {
    return this.securityGroups.get(id)?.vpcId;
  }

  /** {@link GuestNicView}: what `ip link` would show inside the instance - only ENIs InUse on it. */
  nicByMac(instanceId: string, mac: string) {
    this.advance();
    const eni = [...this.enis.values()].find(
      (e) => e.instanceId === instanceId && e.status === EniStatus.InUse && e.macAddress === mac.toLowerCase() && e.guestVisibleAt <= this.now(),
    );
    if (eni === undefined || eni.deviceIndex === undefined) return undefined;
    const vsw = this.vSwitches.get(eni.vSwitchId);
    if (vsw === undefined) return undefined;
    return {
      deviceIndex: eni.deviceIndex,
      macAddress: eni.macAddress,
      privateIps: [...eni.privateIps],
      prefix: vsw.cidr.prefix,
      gateway: vSwitchGateway(vsw.cidr),
    };
  }

  /**
   * The MACs the instance metadata service lists under network/interfaces/macs (primary first): ENIs InUse
   * on the instance whose MAC is visible there yet (realistic profile: `metadataMacDelaySeconds` after
   * InUse). For a metadata server in front of a real guest (e.g. local/guest's netns topology).
   */
  metadataMacs(instanceId: string): string[] {
    this.advance();
    const now = this.now();
    return this.enisOf(instanceId)
      .filter((e) => (e.status === EniStatus.InUse || e.status === EniStatus.Detaching) && e.metadataVisibleAt <= now)
      .map((e) => e.macAddress);
  }

  /** Whether the Cloud Assistant agent of the instance reports online now. */
  agentOnline(inst: InstanceState): boolean {
    return inst.cloudAssistantOnline && inst.status === InstanceStatus.Running && (inst.agentOnlineAt ?? 0) <= this.now();
  }

  getInstance(instanceId: string, notFound: 'InvalidInstanceId.NotFound' | 'InvalidEcsId.NotFound' | 'InvalidInstance.NotFound' = 'InvalidInstanceId.NotFound'): InstanceState {
    this.advance();
    const inst = this.instances.get(instanceId);
    if (inst === undefined) throw ecsError(notFound, undefined, `(${instanceId})`);
    return inst;
  }

  getEni(eniId: string): EniState {
    this.advance();
    const eni = this.enis.get(eniId);
    if (eni === undefined) throw ecsError('InvalidEniId.NotFound', undefined, `(${eniId})`);
    return eni;
  }

  // ---------------------------------------------------------------- ENI binding (seed document rules)

  /**
   * AttachNetworkInterface: checks every prerequisite of "Bind a secondary ENI", then Available ->
   * Attaching -> InUse after the attach latency (or back to Available when a failure was injected).
   */
  attach(eniId: string, instanceId: string): void {
    const eni = this.getEni(eniId);
    const inst = this.getInstance(instanceId, 'InvalidEcsId.NotFound');
    if (eni.type !== EniType.Secondary) {
      throw ecsError('InvalidOperation.InvalidEniType', undefined, 'Only a Secondary ENI can be attached.');
    }
    if (eni.status !== EniStatus.Available) {
      const where = eni.instanceId === undefined ? '' : ` (bound to ${eni.instanceId === instanceId ? 'this instance' : 'another instance'})`;
      throw ecsError('InvalidOperation.InvalidEniState', undefined, `The ENI is ${eni.status}${where}; it must be Available.`);
    }
    // Not published which code ECS gives a non-I/O-optimized instance (chosen): InvalidEcsState, the
    // code the API reference files instance prerequisites under.
    if (!inst.ioOptimized) {
      throw ecsError('InvalidOperation.InvalidEcsState', undefined, 'The instance is not I/O optimized.');
    }
    if (inst.status !== InstanceStatus.Running && inst.status !== InstanceStatus.Stopped) {
      throw ecsError('InvalidOperation.InvalidEcsState', undefined, `The instance is ${inst.status}; it must be Running or Stopped.`);
    }
    if (inst.status === InstanceStatus.Running && InstanceTypesBindOnlyWhenStopped.has(inst.instanceType)) {
      throw ecsError('InvalidOperation.InvalidEcsState', undefined, `Instance type ${inst.instanceType} accepts an ENI only while Stopped.`);
    }
    // The real code is unverified (ecs-api.md). Chosen: InvalidEcsState - it is the instance's state
    // (its start history) that forbids the call, and the API reference lists no other state code for
    // attach. The message says what to do, so a caller can tell it from a transient state.
    if (inst.status === InstanceStatus.Running && inst.startTime !== undefined && inst.startTime < RestartRequiredIfStartedBefore) {
      throw ecsError(
        'InvalidOperation.InvalidEcsState',
        undefined,
        `The instance has been running since ${ecsMinuteTime(inst.startTime)}, before 2018-04-01; restart it (RebootInstance) before attaching an ENI.`,
      );
    }
    if (eni.vpcId !== inst.vpcId) throw ecsError('InvalidOperation.VpcMismatch', undefined, `(${eni.vpcId} vs ${inst.vpcId})`);
    if (eni.zoneId !== inst.zoneId) {
      throw ecsError('InvalidOperation.AvailabilityZoneMismatch', undefined, `(${eni.zoneId} vs ${inst.zoneId})`);
    }
    const quota = this.instanceTypes.get(inst.instanceType)?.eniQuantity ?? 1;
    // EniQuantity counts the primary ENI too (ecs-api.md, inferred from Terway counting eth0).
    const bound = this.enisOf(instanceId).length;
    if (bound >= quota) {
      throw ecsError('EniPerInstanceLimitExceeded', undefined, `${inst.instanceType} allows ${quota} ENIs including the primary; ${bound} are bound.`);
    }

    const before: EniSnapshot = { status: eni.status, instanceId: eni.instanceId, deviceIndex: eni.deviceIndex };
    eni.instanceId = instanceId;
    eni.deviceIndex = this.freeDeviceIndex(instanceId);
    this.setEniStatus(eni, EniStatus.Attaching, instanceId, before);
    const fails = this.takeAttachFailure(eniId);
    this.schedule(`eni:${eniId}`, this.scaled(this.scenario.latency.attachSeconds), () => {
      if (fails) {
        const before: EniSnapshot = { status: eni.status, instanceId: eni.instanceId, deviceIndex: eni.deviceIndex };
        eni.instanceId = undefined;
        eni.deviceIndex = undefined;
        this.setEniStatus(eni, EniStatus.Available, instanceId, before);
      } else {
        // Realistic profile: the API says InUse before the guest sees the NIC and metadata lists its MAC.
        const now = this.now();
        eni.guestVisibleAt = now + this.delayMs(this.realism?.guestNicDelaySeconds);
        eni.metadataVisibleAt = now + this.delayMs(this.realism?.metadataMacDelaySeconds ?? this.realism?.guestNicDelaySeconds);
        this.setEniStatus(eni, EniStatus.InUse, instanceId);
      }
    });
  }

  private takeAttachFailure(eniId: string): boolean {
    const entry = this.attachFailures.find((f) => f.remaining > 0 && (f.eniId === undefined || f.eniId === eniId));
    if (entry === undefined) return false;
    entry.remaining--;
    return true;
  }

  /** Makes the next `count` attaches (of one ENI, or any) fail asynchronously: Attaching -> Available. */
  failAttach(eniId: string | undefined, count: number): void {
    this.attachFailures.push({ eniId, remaining: count });
  }

  /**
   * DetachNetworkInterface: InUse -> Detaching -> Available. While the instance is Running and its guest
   * is unresponsive the ENI stays Detaching ("the operating system did not respond", API reference) until
   * the instance stops, reboots or the guest recovers. Calling again while Detaching is allowed.
   */
  detach(eniId: string, instanceId: string): void {
    const eni = this.getEni(eniId);
    const inst = this.getInstance(instanceId, 'InvalidEcsId.NotFound');
    if (eni.type === EniType.Primary) throw ecsError('InvalidOperation.DetachPrimaryEniNotAllowed');
    if (eni.status !== EniStatus.InUse && eni.status !== EniStatus.Detaching) {
      throw ecsError('InvalidOperation.InvalidEniState', undefined, `The ENI is ${eni.status}; it must be InUse or Detaching.`);
    }
    // Unpublished (chosen): detaching from an instance the ENI is not bound to answers InvalidEniState -
    // the ENI's state relative to that instance is what forbids it. Not a NotFound code, because clients
    // (Terway) treat NotFound on detach as success, which would be wrong here.
    if (eni.instanceId !== instanceId) {
      throw ecsError('InvalidOperation.InvalidEniState', undefined, `The ENI is not attached to ${instanceId}.`);
    }
    if (inst.status !== InstanceStatus.Running && inst.status !== InstanceStatus.Stopped) {
      throw ecsError('InvalidOperation.InvalidEcsState', undefined, `The instance is ${inst.status}; it must be Running or Stopped.`);
    }
    // Already Detaching: accepted, and it changes nothing - a held detach waits for the guest either way.
    if (eni.status === EniStatus.Detaching) return;
    this.setEniStatus(eni, EniStatus.Detaching, instanceId);
    this.schedule(`eni:${eniId}`, this.scaled(this.scenario.latency.detachSeconds), () => {
      const owner = this.instances.get(instanceId);
      // The guest holds the NIC until it answers again or the instance is fully stopped.
      if (owner !== undefined && owner.status !== InstanceStatus.Stopped && !owner.guestResponsive) {
        eni.detachHeld = true;
        return;
      }
      this.finishDetach(eni);
    });
  }

  private finishDetach(eni: EniState): void {
    const from = eni.instanceId;
    const before: EniSnapshot = { status: eni.status, instanceId: eni.instanceId, deviceIndex: eni.deviceIndex };
    eni.instanceId = undefined;
    eni.deviceIndex = undefined;
    eni.detachHeld = false;
    this.setEniStatus(eni, EniStatus.Available, from, before);
  }

  /** Held detaches complete once the guest no longer holds them (stopped, rebooting, recovered). */
  private releaseHeldDetaches(instanceId: string): void {
    for (const eni of this.enis.values()) {
      if (eni.instanceId === instanceId && eni.status === EniStatus.Detaching && eni.detachHeld) this.finishDetach(eni);
    }
  }

  // ---------------------------------------------------------------- instance power state

  /**
   * StopInstance. `stoppedMode` undefined = the documented default (StopInstance API reference): KeepCharging,
   * unless the account has the no-fees-for-stopped-instances mode on (scenario `account.
   * noChargeForStoppedInstances`), which makes a VPC instance's default StopCharging - every instance here
   * is a VPC instance.
   */
  stop(instanceId: string, args: { forceStop: boolean; stoppedMode: 'KeepCharging' | 'StopCharging' | undefined; dryRun: boolean }): void {
    const inst = this.getInstance(instanceId);
    const stoppedMode = args.stoppedMode ?? (this.scenario.account.noChargeForStoppedInstances ? 'StopCharging' : 'KeepCharging');
    if (inst.status !== InstanceStatus.Running) throw ecsError('IncorrectInstanceStatus', undefined, `(${inst.status})`);
    if (args.dryRun) throw ecsError('DryRunOperation');
    // A soft stop asks the guest to shut down; a hung guest is only powered off after a long wait.
    const factor = args.forceStop || inst.guestResponsive ? 1 : UnresponsiveStopFactor;
    this.setInstanceStatusInternal(inst, InstanceStatus.Stopping);
    this.schedule(`instance:${instanceId}`, this.scaled(this.scenario.latency.stopSeconds) * factor, () => {
      const before: InstanceSnapshot = { status: inst.status, startTime: inst.startTime, stoppedMode: inst.stoppedMode };
      inst.stoppedMode = stoppedMode;
      this.setInstanceStatusInternal(inst, InstanceStatus.Stopped, before);
      this.releaseHeldDetaches(instanceId);
    });
  }

  start(instanceId: string, args: { dryRun: boolean }): void {
    const inst = this.getInstance(instanceId);
    if (inst.status !== InstanceStatus.Stopped) throw ecsError('IncorrectInstanceStatus', undefined, `(${inst.status})`);
    if (args.dryRun) throw ecsError('DryRunOperation');
    this.refuseStart(inst);
    this.setInstanceStatusInternal(inst, InstanceStatus.Starting);
    this.schedule(`instance:${instanceId}`, this.scaled(this.scenario.latency.startSeconds), () => this.finishStart(inst));
  }

  /**
   * Realistic profile: StartInstance answers OperationDenied.NoStock (likely after StopCharging released
   * the resources) or InstanceNotReady for a while (StartInstance API reference; ecs-realism.md).
   */
  private refuseStart(inst: InstanceState): void {
    const refusals = this.realism?.startRefusals;
    if (refusals === undefined) return;
    const now = this.now();
    if (inst.startRefusal !== undefined) {
      if (now < inst.startRefusal.until) throw ecsError(inst.startRefusal.code, undefined, `(${inst.instanceId})`);
      // The window is over (stock came back): this start goes through without a new draw.
      inst.startRefusal = undefined;
      return;
    }
    const afterStopCharging = inst.stoppedMode === 'StopCharging';
    const p = afterStopCharging ? (refusals.probabilityAfterStopCharging ?? refusals.probability) : refusals.probability;
    if (!this.rng.chance(p)) return;
    const code = afterStopCharging && refusals.codes.includes('OperationDenied.NoStock') ? 'OperationDenied.NoStock' : this.rng.pick(refusals.codes);
    inst.startRefusal = { code, until: now + this.delayMs(refusals.forSeconds) };
    throw ecsError(code, undefined, `(${inst.instanceId})`);
  }

  private finishStart(inst: InstanceState): void {
    const before: InstanceSnapshot = { status: inst.status, startTime: inst.startTime, stoppedMode: inst.stoppedMode };
    inst.startTime = this.now();
    inst.stoppedMode = 'Not-applicable';
    // Realistic profile: the Cloud Assistant agent comes online a while after the boot.
    inst.agentOnlineAt = inst.startTime + this.delayMs(this.realism?.agentOnlineDelaySeconds);
    // A fresh boot: the guest answers again.
    inst.guestResponsive = true;
    this.setInstanceStatusInternal(inst, InstanceStatus.Running, before);
    this.releaseHeldDetaches(inst.instanceId);
  }

  /**
   * RebootInstance: Running -> Starting -> Running, StartTime renewed. The API reference
   * (Instances/RebootInstance.md) says the status "changes to Starting" after the call and documents no
   * Stopping phase (ecs-realism.md: **unsure**, the page may simplify). The guest's shutdown happens inside
   * Starting: held detaches are released when the reboot begins, and a soft reboot of an unresponsive guest
   * stays Starting `UnresponsiveStopFactor` x longer for its shutdown part (half the reboot latency).
   */
  reboot(instanceId: string, args: { forceStop: boolean; dryRun: boolean }): void {
    const inst = this.getInstance(instanceId);
    if (inst.status !== InstanceStatus.Running) throw ecsError('IncorrectInstanceStatus', undefined, `(${inst.status})`);
    if (args.dryRun) throw ecsError('DryRunOperation');
    const half = this.scaled(this.scenario.latency.rebootSeconds) / 2;
    const factor = args.forceStop || inst.guestResponsive ? 1 : UnresponsiveStopFactor;
    this.setInstanceStatusInternal(inst, InstanceStatus.Starting);
    this.releaseHeldDetaches(instanceId);
    this.schedule(`instance:${instanceId}`, half * factor + half, () => this.finishStart(inst));
  }

  // ---------------------------------------------------------------- control (direct state changes)

  /** Sets an instance's status at once (e.g. a crashed primary: Stopped), cancelling any pending change. */
  forceInstanceStatus(instanceId: string, status: InstanceStatus): void {
    const inst = this.getInstance(instanceId);
    this.cancel(`instance:${instanceId}`);
    if (status === InstanceStatus.Running && inst.status !== InstanceStatus.Running) inst.startTime = this.now();
    if (status === InstanceStatus.Stopped) inst.stoppedMode = 'KeepCharging';
    this.setInstanceStatusInternal(inst, status);
    if (status === InstanceStatus.Stopped) this.releaseHeldDetaches(instanceId);
    this.arm();
  }

  /**
   * A physical host fails: every instance on it stops at once (Stopped, as a crash: pending changes
   * cancelled, held detaches released), each with the system event ECS publishes for an instance stopped
   * by a system failure, `SystemFailure.Stop` in status `Executing` (the notification sent as it is carried out) (the O&M event list of doc 143663;
   * which event a real host failure raises - Stop, or Reboot when ECS restarts the instance elsewhere -
   * depends on whether ECS can recover it: **chosen** Stop, the case a failover exists for). The
   * instances' StateChange events (Running -> Stopped) come with it. Answers the instances stopped.
   */
  failHost(hostId: string): string[] {
    const onHost = [...this.instances.values()].filter((i) => i.hostId === hostId);
    if (onHost.length === 0) throw new Error(`no instance of the scenario runs on host ${hostId} (scenario instances[].hostId)`);
    const stopped: string[] = [];
    for (const inst of onHost) {
      if (inst.status === InstanceStatus.Stopped) continue;
      this.forceInstanceStatus(inst.instanceId, InstanceStatus.Stopped);
      this.emit({ type: 'system', instanceId: inst.instanceId, eventId: `e-${randomBytes(8).toString('hex')}`, eventType: 'SystemFailure.Stop', eventStatus: 'Executing', at: this.now() });
      stopped.push(inst.instanceId);
    }
    return stopped;
  }

  setGuestResponsive(instanceId: string, responsive: boolean): void {
    const inst = this.getInstance(instanceId);
    inst.guestResponsive = responsive;
    if (responsive) this.releaseHeldDetaches(instanceId);
  }

  setCloudAssistantOnline(instanceId: string, online: boolean): void {
    this.getInstance(instanceId).cloudAssistantOnline = online;
  }

  setGuestExecutor(executor: GuestExecutor): void {
    this.executor = executor;
  }

  // ---------------------------------------------------------------- idempotency

  /**
   * ClientToken idempotency: the same token with the same parameters returns the first result; with
   * different parameters it is IdempotentParameterMismatch (ecs-api.md).
   */
  idempotent<T>(scope: string, clientToken: string | undefined, params: unknown, create: () => T): T {
    if (clientToken === undefined || clientToken === '') return create();
    const key = `${scope}\n${clientToken}`;
    const fingerprint = createHash('sha256').update(JSON.stringify(params)).digest('hex');
    const previous = this.clientTokens.get(key);
    if (previous !== undefined) {
      if (previous.fingerprint !== fingerprint) throw ecsError('IdempotentParameterMismatch');
      return previous.result as T;
    }
    const result = create();
    this.clientTokens.set(key, { fingerprint, result });
    return result;
  }

  // ---------------------------------------------------------------- ENI creation and tags

  createEni(args: {
    vSwitchId: string;
    securityGroupIds: string[];
    primaryIp: string | undefined;
    secondaryIps: string[];
    name: string;
    description: string;
    tags: [string, string][];
  }): EniState {
    this.advance();
    const vsw = this.vSwitches.get(args.vSwitchId);
    if (vsw === undefined) throw ecsError('InvalidVSwitchId.NotFound', undefined, `(${args.vSwitchId})`);
    for (const g of args.securityGroupIds) {
      const group = this.securityGroups.get(g);
      if (group === undefined || group.vpcId !== vsw.vpcId) throw ecsError('InvalidSecurityGroupId.NotFound', undefined, `(${g})`);
    }
    const used = new Set<string>();
    for (const e of this.enis.values()) if (e.vpcId === vsw.vpcId) for (const ip of e.privateIps) used.add(ip);
    const take = (ip: string | undefined): string => {
      if (ip === undefined) {
        const free = allocateIp(vsw.cidr, used);
        if (free === undefined) throw new EcsApiError('InvalidVSwitchId.IpNotEnough', 'The vSwitch has no free IP address.', 403);
        used.add(free);
        return free;
      }
      if (ipToNumber(ip) === undefined) throw ecsError('InvalidPrivateIpAddress.Malformed', undefined, `(${ip})`);
      if (!cidrContainsIp(vsw.cidr, ip)) {
        throw ecsError('InvalidVSwitchId.IpInvalid', undefined, `(${ip} not in ${vsw.cidrBlock})`);
      }
      if (used.has(ip)) throw ecsError('InvalidPrivateIpAddress.Duplicated', undefined, `(${ip})`);
      used.add(ip);
      return ip;
    };
    const ips = [take(args.primaryIp), ...args.secondaryIps.map((ip) => take(ip))];
    let eniId = hexId('eni-', 10);
    while (this.enis.has(eniId)) eniId = hexId('eni-', 10);
    const macs = new Set([...this.enis.values()].map((e) => e.macAddress));
    let mac = macFor(eniId);
    for (let i = 0; macs.has(mac); i++) mac = macFor(`${eniId}/${i}`);
    const eni: EniState = {
      eniId,
      name: args.name,
      description: args.description,
      type: EniType.Secondary,
      status: EniStatus.Available,
      instanceId: undefined,
      deviceIndex: undefined,
      vpcId: vsw.vpcId,
      vSwitchId: args.vSwitchId,
      zoneId: vsw.zoneId,
      macAddress: mac,
      privateIps: ips,
      securityGroupIds: [...args.securityGroupIds],
      tags: new Map(args.tags),
      creationTime: this.now(),
      detachHeld: false,
      guestVisibleAt: 0,
      metadataVisibleAt: 0,
    };
    this.enis.set(eniId, eni);
    return eni;
  }

  /** The tag map of an `instance` or `eni` resource, or undefined when it does not exist. */
  tagsOf(resourceType: 'instance' | 'eni', resourceId: string): Map<string, string> | undefined {
    return resourceType === 'instance' ? this.instances.get(resourceId)?.tags : this.enis.get(resourceId)?.tags;
  }

  // ---------------------------------------------------------------- Cloud Assistant

  /**
   * RunCommand: checks every instance (exists, Running, OS matches the script type), records the
   * invocation and dispatches it after the command latency. Per instance: Pending -> Running ->
   * Success | Failed | Timeout; Aborted with ClientNotRunning when the agent is offline at delivery.
   */
  runCommand(args: {
    instanceIds: string[];
    commandType: string;
    script: string;
    timeoutSeconds: number;
    name: string;
    username: string;
  }): InvocationState {
    this.advance();
    for (const instanceId of args.instanceIds) {
      const inst = this.getInstance(instanceId, 'InvalidInstance.NotFound');
      if (inst.status !== InstanceStatus.Running) {
        throw ecsError('InvalidInstance.NotMatch', undefined, `${instanceId} is ${inst.status}.`);
      }
      const wantsWindows = args.commandType !== 'RunShellScript';
      if (wantsWindows !== (inst.osType === 'windows')) {
        throw ecsError('InvalidInstance.NotMatch', undefined, `${args.commandType} does not run on the ${inst.osType} instance ${instanceId}.`);
      }
    }
    const invocation: InvocationState = {
      invokeId: hexId('t-', 10),
      commandId: hexId('c-', 10),
      name: args.name,
      commandType: args.commandType,
      script: args.script,
      timeoutSeconds: args.timeoutSeconds,
      username: args.username,
      createdAt: this.now(),
      targets: new Map(),
    };
    this.invocations.set(invocation.invokeId, invocation);
    for (const instanceId of args.instanceIds) {
      const target: InvocationTarget = {
        instanceId,
        status: 'Pending',
        exitCode: undefined,
        output: '',
        dropped: 0,
        errorCode: '',
        errorInfo: '',
        startTime: undefined,
        finishedTime: undefined,
      };
      invocation.targets.set(instanceId, target);
      this.schedule(`invoke:${invocation.invokeId}:${instanceId}`, this.scaled(this.scenario.latency.commandSeconds), () =>
        this.deliver(invocation, target),
      );
    }
    return invocation;
  }

  private setError(target: InvocationTarget, code: InvocationErrorCode): void {
    target.errorCode = code;
    target.errorInfo = InvocationErrorInfo[code];
  }

  private setTargetStatus(invocation: InvocationState, target: InvocationTarget, to: InvocationInstanceStatus): void {
    const from = target.status;
    target.status = to;
    if (to !== 'Pending' && to !== 'Running') target.finishedTime = this.now();
    this.emit({ type: 'invocation', invokeId: invocation.invokeId, instanceId: target.instanceId, from, to, at: this.now() });
  }

  private deliver(invocation: InvocationState, target: InvocationTarget): void {
    const inst = this.instances.get(target.instanceId);
    if (inst === undefined || inst.status !== InstanceStatus.Running) {
      this.setError(target, 'InstanceNotRunning');
      return this.setTargetStatus(invocation, target, 'Aborted');
    }
    if (!inst.cloudAssistantOnline) {
      this.setError(target, 'ClientNotRunning');
      return this.setTargetStatus(invocation, target, 'Aborted');
    }
    // Realistic profile: the agent is not online yet after a (re)start - not running, or the delivery
    // times out (RunCommand / DescribeInvocationResults API reference; ecs-realism.md).
    if (!this.agentOnline(inst)) {
      this.setError(target, this.rng.pick(this.realism?.agentNotReadyErrors ?? ['ClientNotRunning']));
      return this.setTargetStatus(invocation, target, 'Aborted');
    }
    const failure = this.realism?.invocationFailures;
    const ending = failure !== undefined && this.rng.chance(failure.probability) ? this.rng.pick(failure.statuses) : undefined;
    // Documented endings never produced otherwise; the ErrorCode per status is a guess from the
    // DescribeInvocationResults ErrorCode list.
    if (ending === 'DeliveryTimeout') {
      this.setError(target, 'DeliveryTimeout');
      return this.setTargetStatus(invocation, target, 'Aborted');
    }
    if (ending === 'Invalid') {
      this.setError(target, 'CommandNotApplicable');
      return this.setTargetStatus(invocation, target, 'Invalid');
    }
    if (ending === 'Cancelled') return this.setTargetStatus(invocation, target, 'Cancelled');
    if (ending === 'Error') {
      this.setError(target, 'ExecutionException');
      return this.setTargetStatus(invocation, target, 'Error');
    }
    if (ending === 'Terminated') target.terminate = true;
    target.startTime = this.now();
    inst.lastInvokedTime = target.startTime;
    inst.invocationCount++;
    this.setTargetStatus(invocation, target, 'Running');
    const run: ScriptRun = {
      invokeId: invocation.invokeId,
      instanceId: target.instanceId,
      commandType: invocation.commandType,
      script: invocation.script,
      timeoutSeconds: invocation.timeoutSeconds,
      at: target.startTime,
    };
    this.scriptRuns.push(run);
    const timeoutMs =
      this.options.scaleCommandTimeout === false ? invocation.timeoutSeconds * 1000 : this.scaled(invocation.timeoutSeconds);
    this.schedule(`timeout:${invocation.invokeId}:${target.instanceId}`, timeoutMs, () => {
      if (target.status !== 'Running') return;
      this.setError(target, 'ExecutionTimeout');
      target.exitCode = KilledExitCode;
      run.status = 'Timeout';
      this.setTargetStatus(invocation, target, 'Timeout');
    });
    // A hung guest accepts the command but never finishes it: only the timeout ends it.
    if (!inst.guestResponsive) return;
    this.executor
      .run({ instanceId: target.instanceId, commandType: invocation.commandType, script: invocation.script, timeoutSeconds: invocation.timeoutSeconds })
      .then(
        (result) => this.complete(invocation, target, run, result.exitCode, result.output, ''),
        (err: unknown) => this.complete(invocation, target, run, -1, '', String((err as Error)?.message ?? err)),
      );
  }

  private complete(
    invocation: InvocationState,
    target: InvocationTarget,
    run: ScriptRun,
    exitCode: number,
    output: string,
    failure: string,
  ): void {
    if (this.closed || target.status !== 'Running') return;
    this.cancel(`timeout:${invocation.invokeId}:${target.instanceId}`);
    if (target.terminate === true) {
      run.exitCode = exitCode;
      run.output = output;
      run.status = 'Terminated';
      target.exitCode = KilledExitCode;
      this.setError(target, 'ExecutionInterrupted');
      this.setTargetStatus(invocation, target, 'Terminated');
      this.arm();
      return;
    }
    const bytes = Buffer.from(output, 'utf8');
    target.output = bytes.length > MaxCommandOutputBytes ? bytes.subarray(0, MaxCommandOutputBytes).toString('utf8') : output;
    target.dropped = Math.max(0, bytes.length - MaxCommandOutputBytes);
    target.exitCode = exitCode;
    run.exitCode = exitCode;
    run.output = failure === '' ? output : `${output}${failure}`;
    // ErrorInfo is the documented fixed text of the code, never our own words (the executor's failure
    // stays in the script log).
    if (failure !== '') this.setError(target, 'ExecutionException');
    else if (exitCode !== 0) this.setError(target, 'ExitCodeNonzero');
    const status = exitCode === 0 && failure === '' ? 'Success' : 'Failed';
    run.status = status;
    this.setTargetStatus(invocation, target, status);
    this.arm();
  }
}

function cidrContainsIp(cidr: Cidr, ip: string): boolean {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return false;
  const n = ((parts[0] ?? 0) * 256 + (parts[1] ?? 0)) * 65536 + (parts[2] ?? 0) * 256 + (parts[3] ?? 0);
  return n > cidr.network && n < cidr.network + cidr.size - 3;
}
