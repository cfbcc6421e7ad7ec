// Builders for the guest tests: a small VPC of namespaces per test, the real script run through the
// namespace executor exactly as the local Cloud Assistant runs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetnsExecutor } from '../../local/guest/netns-executor';
import { NetnsTopology, inNamespace, ip } from '../../local/guest/netns-topology';
import { buildGuestCommand, parseGuestResult, type GuestEniConfig, type GuestOutcome } from '../../workflow/guest-command';

export const SCRIPT_PATH = join(__dirname, '..', '..', 'guest', 'configure-eni.sh');
export const SCRIPT = readFileSync(SCRIPT_PATH, 'utf8');

export const SUBNET = '10.0.1.0/24';
export const GATEWAY = '10.0.1.253';
export const CLIENT_SUBNET = '10.0.2.0/24';
export const ENI_MAC = '00:16:3e:aa:00:01';
export const ENI_IPS = ['10.0.1.10', '10.0.1.11'] as const;

export interface RunOutcome {
  readonly exitCode: number;
  readonly output: string;
  readonly parsed: GuestOutcome;
  readonly ms: number;
}

/**
 * A VPC with instances i-a (10.0.1.5) and i-b (10.0.1.6) in 10.0.1.0/24, a client i-c (10.0.2.7) in
 * another subnet, and one ENI (ENI_MAC, ENI_IPS) created Available. rp_filter is strict (1) in the
 * instances, as CentOS and Alibaba Cloud Linux ship it.
 */
export class GuestWorld {
  private constructor(
    readonly topo: NetnsTopology,
    readonly executor: NetnsExecutor,
  ) {}

  static async create(opts: { ips?: readonly string[]; shell?: string } = {}): Promise<GuestWorld> {
    const topo = await NetnsTopology.create();
    const world = new GuestWorld(topo, new NetnsExecutor((id) => topo.namespaceOf(id), { shell: opts.shell }));
    try {
      await Promise.all([
        topo.addInstance({ instanceId: 'i-a', cidr: SUBNET, ip: '10.0.1.5', mac: '00:16:3e:00:00:0a' }),
        topo.addInstance({ instanceId: 'i-b', cidr: SUBNET, ip: '10.0.1.6', mac: '00:16:3e:00:00:0b' }),
        topo.addInstance({ instanceId: 'i-c', cidr: CLIENT_SUBNET, ip: '10.0.2.7', mac: '00:16:3e:00:00:0c' }),
        topo.createEni({ eniId: 'eni-test', mac: ENI_MAC, cidr: SUBNET, ips: opts.ips ?? ENI_IPS }),
      ]);
    } catch (err) {
      await topo.destroy();
      throw err;
    }
    return world;
  }

  ns(instanceId: string): string {
    return this.topo.instance(instanceId).namespace;
  }

  /** Runs the command the workflow would build, through the executor. */
  async configure(instanceId: string, overrides: Partial<GuestEniConfig> = {}): Promise<RunOutcome> {
    const config: GuestEniConfig = { mac: ENI_MAC, ips: this.topo.nic(ENI_MAC).ips, prefix: 24, gateway: GATEWAY, persist: false, waitSeconds: 0, ...overrides };
    return this.runScript(instanceId, buildGuestCommand(config, SCRIPT));
  }

  /** Runs the script with raw variable assignments (no validation by the builder), for the script's own checks. */
  async configureRaw(instanceId: string, vars: Record<string, string>): Promise<RunOutcome> {
    const assignments = Object.entries(vars).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`);
    return this.runScript(instanceId, [...assignments, SCRIPT].join('\n'));
  }

  async runScript(instanceId: string, script: string): Promise<RunOutcome> {
    const t0 = performance.now();
    const r = await this.executor.run({ instanceId, commandType: 'RunShellScript', script, timeoutSeconds: 20 });
    return { ...r, parsed: parseGuestResult(r.output), ms: performance.now() - t0 };
  }

  /**
   * Resolves once a guest script in the instance sleeps between two looks for its device: a `sleep` process in
   * the namespace (before the device exists, the script's only sleeps are those of its wait loop). Tests that
   * hot-plug "after the script started" wait for this instead of guessing a delay.
   */
  async untilScriptWaits(instanceId: string, timeoutMs = 10_000): Promise<void> {
    const ns = this.ns(instanceId);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const pids = (await ip('netns', 'pids', ns)).split('\n').filter((p) => /^\d+$/.test(p));
      if (pids.some((p) => readProc(`/proc/${p}/comm`) === 'sleep')) return;
      if (performance.now() > deadline) throw new Error(`no guest script waiting in ${instanceId} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** `ip addr`, every IPv4 route of every table and the rules: what "changes nothing" is measured on. */
  async netState(instanceId: string): Promise<string> {
    const ns = this.ns(instanceId);
    const [addr, routes, rules] = await Promise.all([
      ip('-n', ns, 'addr', 'show'),
      ip('-n', ns, '-4', 'route', 'show', 'table', 'all'),
      ip('-n', ns, '-4', 'rule', 'show'),
    ]);
    return `${addr}\n--\n${routes}\n--\n${rules}`;
  }

  async rules(instanceId: string): Promise<Array<{ priority: number; src?: string; table: string }>> {
    return JSON.parse(await ip('-n', this.ns(instanceId), '-j', '-4', 'rule', 'show')) as Array<{ priority: number; src?: string; table: string }>;
  }

  async routes(instanceId: string, table: string | number): Promise<Array<{ dst: string; gateway?: string; dev: string; prefsrc?: string }>> {
    const out = await ip('-n', this.ns(instanceId), '-j', '-4', 'route', 'show', 'table', String(table)).catch(() => '[]');
    return JSON.parse(out) as Array<{ dst: string; gateway?: string; dev: string; prefsrc?: string }>;
  }

  async addresses(instanceId: string, device: string): Promise<{ up: boolean; inet: string[] }> {
    const [link] = JSON.parse(await ip('-n', this.ns(instanceId), '-j', 'addr', 'show', 'dev', device)) as Array<{
      flags: string[];
      addr_info: Array<{ family: string; local: string; prefixlen: number }>;
    }>;
    return {
      up: link?.flags.includes('UP') ?? false,
      inet: (link?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    };
  }

  async sysctl(instanceId: string, key: string): Promise<string> {
    return (await inNamespace(this.ns(instanceId), ['cat', `/proc/sys/${key.replace(/\./g, '/')}`])).trim();
  }

  destroy(): Promise<void> {
    return this.topo.destroy();
  }
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined; // the process ended meanwhile
  }
}

/** Narrows a run to its success result, failing the test with the whole output otherwise. */
export function expectSuccess(r: RunOutcome) {
  if (r.exitCode !== 0 || !r.parsed.ok) throw new Error(`guest script failed (exit ${r.exitCode}):\n${r.output}`);
  return r.parsed.result;
}
