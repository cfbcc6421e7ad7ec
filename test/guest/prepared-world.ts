// A prepared-standby world: the local ECS whose Cloud Assistant runs commands in namespace guests, an
// emulated udev answering the NICs the ECS attaches, and the production ECS port over the real SDK.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEcsPort } from '../../cloud/ecs';
import { Keyring } from '../../local/credentials';
import { loadScenario, startLocalEcs, type LocalEcs } from '../../local/ecs';
import { NetnsExecutor } from '../../local/guest/netns-executor';
import { NetnsTopology } from '../../local/guest/netns-topology';
import { EmulatedUdev } from '../../local/guest/udev';
import { parseGroups, type GroupsConfig } from '../../workflow/groups';
import { buildGuestCommand, parseGuestResult } from '../../workflow/guest-command';
import { MemoryLedger } from '../../workflow/memory-ledger';
import { systemClock, type EcsPort } from '../../workflow/ports';
import { prepareStandbys, type PrepareReport } from '../../workflow/entries/prepare';
import { SCRIPT } from './helpers';

export const INSTALL_SCRIPT = readFileSync(join(__dirname, '..', '..', 'guest', 'install-hook.sh'), 'utf8');
const SCENARIO = join(__dirname, '..', '..', 'local', 'scenarios', 'two-node-failover.yaml');
/** The scenario's cast: eni-service (two IPs) on i-primary, i-standby the standby. */
export const ENI = { eniId: 'eni-service', mac: '00:16:3e:12:34:56', mac12: '00163e123456', ips: ['10.0.1.5', '10.0.1.6'] } as const;
export const CLIENT = 'client';

export class PreparedWorld {
  readonly ledger = new MemoryLedger();
  private passes = 0;
  private constructor(
    readonly topo: NetnsTopology,
    readonly executor: NetnsExecutor,
    readonly udev: EmulatedUdev,
    readonly ecs: LocalEcs,
    readonly port: EcsPort,
    readonly groups: GroupsConfig,
  ) {}

  static async create(opts: { prepare?: boolean } = {}): Promise<PreparedWorld> {
    const topo = await NetnsTopology.create();
    try {
      const executor = new NetnsExecutor((id) => topo.namespaceOf(id), { rootOf: (id) => (topo.namespaceOf(id) ? topo.guestRoot(id) : undefined) });
      const udev = new EmulatedUdev(topo, (id) => topo.guestRoot(id));
      const { keyring } = Keyring.generate();
      const ecs = await startLocalEcs({ scenario: loadScenario(SCENARIO), keyring, timeScale: 0.02, guestExecutor: executor });
      const port = createEcsPort({ regionId: ecs.regionId, endpoint: ecs.endpoint, protocol: 'HTTP', credentials: keyring.mintSts() });
      const groups = parseGroups(
        JSON.stringify({ version: 1, groups: [{ name: 'web', enis: [ENI.eniId], members: ['i-primary', 'i-standby'], prepare: opts.prepare ?? true }] }),
        'test groups',
      );
      const world = new PreparedWorld(topo, executor, udev, ecs, port, groups);
      await world.build();
      return world;
    } catch (err) {
      await topo.destroy();
      throw err;
    }
  }

  /** Namespaces for the scenario's instances and a client; the ENI on the primary, configured; the veth follows the API. */
  private async build(): Promise<void> {
    const state = this.ecs.control.state();
    for (const inst of state.instances) {
      const primary = state.enis.find((e) => e.instanceId === inst.instanceId && e.type === 'Primary')!;
      await this.topo.addInstance({ instanceId: inst.instanceId, cidr: '10.0.1.0/24', ip: primary.privateIps[0]!, mac: primary.macAddress });
    }
    await this.topo.addInstance({ instanceId: CLIENT, cidr: '192.168.77.0/24', ip: '192.168.77.10', mac: '00:16:3e:77:00:10' });
    await this.topo.createEni({ eniId: ENI.eniId, mac: ENI.mac, cidr: '10.0.1.0/24', ips: ENI.ips });
    await this.topo.attachEni(ENI.mac, 'i-primary');
    const r = await this.executor.run({ instanceId: 'i-primary', commandType: 'RunShellScript', script: buildGuestCommand({ mac: ENI.mac, ips: ENI.ips, persist: false }, SCRIPT), timeoutSeconds: 30 });
    if (r.exitCode !== 0) throw new Error(`configuring the primary failed: ${r.output}`);
    this.ecs.model.subscribe((e) => {
      if (e.type !== 'eni' || e.eniId !== ENI.eniId) return;
      if (e.to === 'Available') void this.topo.detachEni(ENI.mac);
      if (e.to === 'InUse' && e.instanceId) void this.topo.attachEni(ENI.mac, e.instanceId);
    });
  }

  /** One prepare pass, as on-schedule runs it. */
  prepare(guestScript = SCRIPT): Promise<PrepareReport[]> {
    return prepareStandbys({
      ecs: this.port,
      groups: this.groups,
      ledger: this.ledger,
      now: () => Date.now(),
      sleep: (ms) => systemClock.sleep(Math.min(ms, 50)),
      guestScript,
      installScript: INSTALL_SCRIPT,
      passId: `test-pass-${++this.passes}`,
    });
  }

  /** Moves the ENI to the standby through the ECS API: the NIC leaves the primary and appears on the standby. */
  async moveToStandby(): Promise<void> {
    await this.port.detachEni({ eniId: ENI.eniId, instanceId: 'i-primary' });
    await this.until(async () => (await this.port.describeEni(ENI.eniId))?.status === 'Available', 'the ENI Available');
    await this.port.attachEni({ eniId: ENI.eniId, instanceId: 'i-standby' });
    await this.until(async () => this.topo.nic(ENI.mac).instanceId === 'i-standby', 'the NIC in the standby');
  }

  /** The hook's state file on an instance, as key=value pairs (undefined while there is none). */
  hookState(instanceId: string): Record<string, string> | undefined {
    const file = join(this.topo.guestRoot(instanceId), 'var/lib/eni-failover', `${ENI.mac12}.state`);
    if (!existsSync(file)) return undefined;
    return Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  guestFile(instanceId: string, path: string): string {
    return join(this.topo.guestRoot(instanceId), path);
  }

  /** RunCommand calls the local ECS answered so far. */
  runCommands(): number {
    return this.ecs.control.calls({ action: 'RunCommand' }).filter((c) => c.code === undefined).length;
  }

  /** The verify-or-configure command configure-guest-routes sends to a prepared target, run through the ECS. */
  async verifyCommand(instanceId: string, version: string) {
    const command = buildGuestCommand({ mac: ENI.mac, ips: ENI.ips, persist: false, verifyHook: version }, SCRIPT);
    const { invokeId } = await this.port.runShellScript({ instanceId, scriptBase64: Buffer.from(command).toString('base64'), timeoutSeconds: 60, clientToken: `verify-${Date.now()}`, name: 'verify' });
    let result = await this.port.describeInvocation({ invokeId, instanceId });
    await this.until(async () => {
      result = await this.port.describeInvocation({ invokeId, instanceId });
      return result !== undefined && !['Pending', 'Running'].includes(result.status);
    }, `invocation ${invokeId} final`);
    return { result: result!, parsed: parseGuestResult(result!.output) };
  }

  /** Polls `ok` every 20 ms (real time) until it holds; the failure names what was awaited. */
  async until(ok: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async destroy(): Promise<void> {
    await this.udev.settle();
    await this.ecs.close();
    await this.topo.destroy();
  }
}
