import { CloudError } from '../../workflow/errors';
import type { Eni, Instance, InstanceTypeInfo, InvocationResult } from '../../workflow/model';
import type { Clock, EcsPort, QueuePort } from '../../workflow/ports';
import { InstanceTypesBindOnlyWhenStopped } from '../../workflow/rules';

/** A clock whose sleeps pass instantly: tests skip time instead of sleeping through it. */
export class FakeClock implements Clock {
  constructor(public t = Date.parse('2026-11-26T03:00:00Z')) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += Math.max(0, ms);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };
interface Pending<T> {
  at: number;
  apply: (x: T) => void;
}

export const Latency = { attach: 3000, detach: 2000, stop: 15000, start: 10000, reboot: 20000, command: 1000 };

/**
 * An in-memory ECS for unit tests of the steps: the seed document's rules with the same error codes as the
 * local ECS, and states that move on the injected clock (Attaching, Detaching, Stopping, Starting).
 */
export class FakeEcs implements EcsPort {
  readonly enis = new Map<string, Mutable<Eni>>();
  readonly instances = new Map<string, Mutable<Instance> & { guestResponsive: boolean; agentOnline: boolean }>();
  readonly types = new Map<string, InstanceTypeInfo>();
  readonly writes: string[] = [];
  readonly invocations = new Map<string, { instanceId: string; script: string; at: number; clientToken: string }>();
  /** Next calls of these methods fail with these errors. */
  readonly failures: { method: string; error: CloudError; times: number }[] = [];
  /** Attach requests that will fall back to Available instead of InUse. */
  failAttaches = 0;
  /** What a command ends with; `status`/`errorCode` default to Success/Failed + ExitCodeNonzero by the exit code. */
  guest: (instanceId: string, script: string) => { exitCode: number; output: string; status?: string; errorCode?: string } = (instanceId, script) => {
    const mac = /ENI_MAC='([^']*)'/.exec(script)?.[1];
    const eni = [...this.enis.values()].find((e) => e.macAddress === mac);
    if (!eni || eni.instanceId !== instanceId || eni.status !== 'InUse') return { exitCode: 10, output: `eni-failover-error: 10 mac-not-found: ${mac}\n` };
    const result = { device: 'eth1', mac, ips: eni.privateIps, prefix: 24, gateway: '10.0.1.253', table: 1001, priority: 1001, persisted: 'none' };
    return { exitCode: 0, output: `configured\neni-failover-result: ${JSON.stringify(result)}\n` };
  };
  private pendingEni = new Map<string, Pending<Mutable<Eni>>>();
  private pendingInstance = new Map<string, Pending<Mutable<Instance>>[]>();

  constructor(readonly clock: FakeClock) {}

  // ---- setup -------------------------------------------------------------------------------------------
  addType(instanceTypeId: string, eniQuantity: number): this {
    this.types.set(instanceTypeId, { instanceTypeId, eniQuantity });
    return this;
  }
  addInstance(i: Partial<Instance> & { instanceId: string }, extra: { guestResponsive?: boolean; agentOnline?: boolean } = {}): this {
    const primary = `eni-p${i.instanceId.slice(2)}`;
    this.instances.set(i.instanceId, {
      instanceName: i.instanceId,
      status: 'Running',
      instanceType: 'ecs.g7.large',
      regionId: 'cn-hangzhou',
      zoneId: 'cn-hangzhou-h',
      vpcId: 'vpc-a',
      vSwitchId: 'vsw-a',
      ioOptimized: true,
      startTime: '2026-11-01T00:00:00Z',
      osType: 'linux',
      tags: {},
      ...i,
      eniIds: [primary, ...(i.eniIds ?? [])],
      guestResponsive: extra.guestResponsive ?? true,
      agentOnline: extra.agentOnline ?? true,
    });
    const inst = this.instances.get(i.instanceId)!;
    this.enis.set(primary, {
      eniId: primary, status: 'InUse', type: 'Primary', instanceId: i.instanceId, vpcId: inst.vpcId, vSwitchId: inst.vSwitchId,
      zoneId: inst.zoneId, macAddress: '00:16:3e:00:00:01', primaryIp: '10.0.1.10', privateIps: ['10.0.1.10'], tags: {},
    });
    return this;
  }
  addEni(e: Partial<Eni> & { eniId: string }): this {
    const eni: Mutable<Eni> = {
      status: e.instanceId ? 'InUse' : 'Available', type: 'Secondary', instanceId: undefined, vpcId: 'vpc-a', vSwitchId: 'vsw-a',
      zoneId: 'cn-hangzhou-h', macAddress: '00:16:3e:aa:bb:cc', primaryIp: '10.0.1.100', privateIps: ['10.0.1.100'], tags: {}, ...e,
    } as Mutable<Eni>;
    this.enis.set(e.eniId, eni);
    if (eni.instanceId) this.instances.get(eni.instanceId)?.eniIds.push(eni.eniId);
    return this;
  }
  failNext(method: string, error: CloudError, times = 1): this {
    this.failures.push({ method, error, times });
    return this;
  }

  // ---- clocked state -----------------------------------------------------------------------------------
  private settle(): void {
    const now = this.clock.now();
    for (const [id, p] of this.pendingEni) {
      if (p.at <= now) {
        this.pendingEni.delete(id);
        p.apply(this.enis.get(id)!);
      }
    }
    for (const [id, list] of this.pendingInstance) {
      while (list.length && list[0]!.at <= now) list.shift()!.apply(this.instances.get(id)!);
      if (!list.length) this.pendingInstance.delete(id);
    }
  }
  private maybeFail(method: string): void {
    const f = this.failures.find((x) => x.method === method && x.times > 0);
    if (f) {
      f.times--;
      throw f.error;
    }
  }
  private instanceOrThrow(id: string, code = 'InvalidEcsId.NotFound') {
    const i = this.instances.get(id);
    if (!i) throw new CloudError('notFound', code, `instance ${id} not found`);
    return i;
  }
  private eniOrThrow(id: string) {
    const e = this.enis.get(id);
    if (!e) throw new CloudError('notFound', 'InvalidEniId.NotFound', `ENI ${id} not found`);
    return e;
  }
  private scheduleInstance(id: string, ...steps: [number, (i: Mutable<Instance>) => void][]) {
    let at = this.clock.now();
    this.pendingInstance.set(id, steps.map(([ms, apply]) => ({ at: (at += ms), apply })));
  }

  // ---- EcsPort -----------------------------------------------------------------------------------------
  async describeEni(eniId: string) {
    this.maybeFail('describeEni');
    this.settle();
    const e = this.enis.get(eniId);
    return e ? ({ ...e, privateIps: [...e.privateIps] } as Eni) : undefined;
  }
  async describeEnis(filter: { eniIds?: readonly string[]; instanceId?: string }) {
    this.settle();
    return [...this.enis.values()].filter(
      (e) => (!filter.eniIds || filter.eniIds.includes(e.eniId)) && (!filter.instanceId || e.instanceId === filter.instanceId),
    ) as Eni[];
  }
  async describeInstance(instanceId: string) {
    this.maybeFail('describeInstance');
    this.settle();
    const i = this.instances.get(instanceId);
    if (!i) return undefined;
    const { guestResponsive: _g, agentOnline: _a, ...view } = i;
    return { ...view, eniIds: [...i.eniIds] } as Instance;
  }
  async describeInstances(ids: readonly string[]) {
    const out: Instance[] = [];
    for (const id of ids) {
      const i = await this.describeInstance(id);
      if (i) out.push(i);
    }
    return out;
  }
  async describeInstanceType(id: string) {
    return this.types.get(id);
  }
  async attachEni({ eniId, instanceId }: { eniId: string; instanceId: string }) {
    this.maybeFail('attachEni');
    this.settle();
    const eni = this.eniOrThrow(eniId);
    const inst = this.instanceOrThrow(instanceId);
    if (eni.status !== 'Available') throw new CloudError('invalidState', 'InvalidOperation.InvalidEniState', `ENI is ${eni.status}`);
    if (inst.status !== 'Running' && inst.status !== 'Stopped') throw new CloudError('invalidState', 'InvalidOperation.InvalidEcsState', `instance is ${inst.status}`);
    if (inst.status === 'Running' && InstanceTypesBindOnlyWhenStopped.has(inst.instanceType)) throw new CloudError('invalidState', 'InvalidOperation.InvalidEcsState', 'type binds only when Stopped');
    if (eni.vpcId !== inst.vpcId) throw new CloudError('fatal', 'InvalidOperation.VpcMismatch', 'vpc');
    if (eni.zoneId !== inst.zoneId) throw new CloudError('fatal', 'InvalidOperation.AvailabilityZoneMismatch', 'zone');
    const quota = this.types.get(inst.instanceType)?.eniQuantity ?? 99;
    if (inst.eniIds.length >= quota) throw new CloudError('fatal', 'EniPerInstanceLimitExceeded', 'quota');
    this.writes.push(`attach ${eniId} ${instanceId}`);
    eni.status = 'Attaching';
    eni.instanceId = instanceId;
    inst.eniIds.push(eniId);
    const fails = this.failAttaches > 0;
    if (fails) this.failAttaches--;
    this.pendingEni.set(eniId, {
      at: this.clock.now() + Latency.attach,
      apply: (e) => {
        if (fails) {
          e.status = 'Available';
          e.instanceId = undefined;
          inst.eniIds.splice(inst.eniIds.indexOf(eniId), 1);
        } else e.status = 'InUse';
      },
    });
  }
  async detachEni({ eniId, instanceId }: { eniId: string; instanceId: string }) {
    this.maybeFail('detachEni');
    this.settle();
    const eni = this.eniOrThrow(eniId);
    const inst = this.instanceOrThrow(instanceId);
    if (eni.type === 'Primary') throw new CloudError('fatal', 'InvalidOperation.DetachPrimaryEniNotAllowed', 'primary');
    if (eni.instanceId !== instanceId) throw new CloudError('invalidState', 'InvalidOperation.InvalidEniState', 'not attached here');
    if (eni.status === 'Detaching') return;
    if (eni.status !== 'InUse') throw new CloudError('invalidState', 'InvalidOperation.InvalidEniState', `ENI is ${eni.status}`);
    this.writes.push(`detach ${eniId} ${instanceId}`);
    eni.status = 'Detaching';
    this.scheduleDetach(eniId, inst);
  }
  private scheduleDetach(eniId: string, inst: Mutable<Instance> & { guestResponsive: boolean }) {
    const hangs = inst.status === 'Running' && !inst.guestResponsive;
    this.pendingEni.set(eniId, {
      at: hangs ? Number.POSITIVE_INFINITY : this.clock.now() + Latency.detach,
      apply: (e) => {
        e.status = 'Available';
        e.instanceId = undefined;
        inst.eniIds.splice(inst.eniIds.indexOf(eniId), 1);
      },
    });
  }
  async stopInstance({ instanceId, forceStop }: { instanceId: string; forceStop: boolean }) {
    this.maybeFail('stopInstance');
    this.settle();
    const inst = this.instanceOrThrow(instanceId, 'InvalidInstanceId.NotFound');
    if (inst.status !== 'Running') throw new CloudError('invalidState', 'IncorrectInstanceStatus', `instance is ${inst.status}`);
    this.writes.push(`stop ${instanceId}${forceStop ? ' force' : ''}`);
    inst.status = 'Stopping';
    this.scheduleInstance(instanceId, [Latency.stop, (i) => {
      i.status = 'Stopped';
      // A stopped instance releases ENIs that were hanging in Detaching.
      for (const e of this.enis.values()) if (e.instanceId === instanceId && e.status === 'Detaching') this.scheduleDetach(e.eniId, this.instances.get(instanceId)!);
    }]);
  }
  async startInstance(instanceId: string) {
    this.maybeFail('startInstance');
    this.settle();
    const inst = this.instanceOrThrow(instanceId, 'InvalidInstanceId.NotFound');
    if (inst.status !== 'Stopped') throw new CloudError('invalidState', 'IncorrectInstanceStatus', `instance is ${inst.status}`);
    this.writes.push(`start ${instanceId}`);
    inst.status = 'Starting';
    this.scheduleInstance(instanceId, [Latency.start, (i) => {
      i.status = 'Running';
      i.startTime = new Date(this.clock.now()).toISOString();
    }]);
  }
  async rebootInstance({ instanceId }: { instanceId: string }) {
    this.settle();
    const inst = this.instanceOrThrow(instanceId, 'InvalidInstanceId.NotFound');
    if (inst.status !== 'Running') throw new CloudError('invalidState', 'IncorrectInstanceStatus', `instance is ${inst.status}`);
    this.writes.push(`reboot ${instanceId}`);
    inst.status = 'Stopping';
    this.scheduleInstance(
      instanceId,
      [Latency.reboot / 2, (i) => void (i.status = 'Starting')],
      [Latency.reboot / 2, (i) => {
        i.status = 'Running';
        i.startTime = new Date(this.clock.now()).toISOString();
      }],
    );
  }
  async cloudAssistantOnline(instanceId: string) {
    this.settle();
    const i = this.instances.get(instanceId);
    return !!i && i.agentOnline && i.status === 'Running';
  }
  async runShellScript(args: { instanceId: string; scriptBase64: string; clientToken: string }) {
    this.maybeFail('runShellScript');
    for (const [id, inv] of this.invocations) if (inv.clientToken === args.clientToken) return { invokeId: id };
    const invokeId = `t-${this.invocations.size + 1}`;
    this.writes.push(`run ${args.instanceId}`);
    this.invocations.set(invokeId, { instanceId: args.instanceId, script: Buffer.from(args.scriptBase64, 'base64').toString(), at: this.clock.now(), clientToken: args.clientToken });
    return { invokeId };
  }
  async describeInvocation({ invokeId, instanceId }: { invokeId: string; instanceId: string }): Promise<InvocationResult | undefined> {
    const inv = this.invocations.get(invokeId);
    if (!inv || inv.instanceId !== instanceId) return undefined;
    if (this.clock.now() < inv.at + Latency.command) {
      return { invokeId, instanceId, status: 'Running', exitCode: undefined, output: '', errorCode: '', errorInfo: '' };
    }
    const r = this.guest(instanceId, inv.script);
    return { invokeId, instanceId, status: r.status ?? (r.exitCode === 0 ? 'Success' : 'Failed'), exitCode: r.exitCode, output: r.output, errorCode: r.errorCode ?? (r.exitCode === 0 ? '' : 'ExitCodeNonzero'), errorInfo: '' };
  }
}

/** Records what the workflow sends, by queue. */
export class RecordingQueue implements QueuePort {
  readonly sent: { queue: string; body: string; delaySeconds: number }[] = [];
  async send(queue: string, body: string, options?: { delaySeconds?: number }) {
    this.sent.push({ queue, body, delaySeconds: options?.delaySeconds ?? 0 });
    return { messageId: `m-${this.sent.length}` };
  }
  on(queue: string) {
    return this.sent.filter((m) => m.queue === queue).map((m) => JSON.parse(m.body));
  }
}
