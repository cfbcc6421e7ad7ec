/**
 * A VPC made of Linux network namespaces, so the guest script meets real packets.
 *
 * ```
 *            ns <tag>-vsw  ("the vSwitch": a router, ip_forward=1, rp_filter=1)
 *   port <tag>p1 ---- eth0   ns <tag>-i1   (instance: primary NIC, default route via the gateway,
 *   port <tag>p2 ---- eth1   ns <tag>-i1    metadata server on 100.100.100.200:80 inside)
 *   port <tag>p3 ---- eth0   ns <tag>-i2
 *   port <tag>p4 ---- <tag>x4 (an ENI parked in the vSwitch while Available; attach moves it)
 * ```
 * Every port is one veth pair: the vSwitch end stays put, the guest end carries the NIC's MAC and moves
 * between instance namespaces on attach/detach, as a hot-plugged ENI does - in one step, under its final
 * name (ethN), unless the attach asks for a udev-like late rename (AttachOptions). The vSwitch end owns the
 * gateway address (the `.253` of the CIDR, per Alibaba's examples: broadcast minus two), answers ARP for the
 * rest of the VPC (proxy_arp, as the VPC does) and holds a /32 route for each IP bound to the NIC. Strict
 * rp_filter there is the VPC's anti-spoofing: a packet whose source IP belongs to another NIC is dropped,
 * so a reply that leaves by the wrong NIC never arrives. Used by the guest tests and the demo.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Address of the instance metadata service, as on Alibaba Cloud. */
export const METADATA_IP = '100.100.100.200';

/** A NIC (primary or ENI) as the VPC knows it. */
export interface NetnsNic {
  readonly eniId: string;
  readonly mac: string;
  readonly cidr: string;
  /** Every private IP, the primary first. */
  readonly ips: readonly string[];
  readonly gateway: string;
  readonly prefix: number;
  /** The vSwitch-side port name. */
  readonly port: string;
  /** The instance it is attached to, or undefined while parked (Available). */
  instanceId: string | undefined;
  /** Its device name inside the instance while attached (eth0, eth1, ...). */
  device: string | undefined;
}

/** An instance namespace. */
export interface NetnsInstance {
  readonly instanceId: string;
  readonly namespace: string;
  readonly primary: NetnsNic;
}

/** One request seen by an instance's metadata server. */
export interface MetadataRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly token: boolean;
}

/** How an instance's metadata service behaves. */
export interface MetadataMode {
  /** Hardened mode: GETs without a valid token answer 403. */
  readonly requireToken?: boolean;
  /** MACs the service does not list yet (metadata lags behind the API after a move). */
  readonly hiddenMacs?: readonly string[];
  /** false: PUT /latest/api/token answers 404, as a service without the token API would. */
  readonly tokenApi?: boolean;
}

/** A NIC that just appeared inside an instance under its final name (what udev's `add` event reports). */
export interface NicAdded {
  readonly instanceId: string;
  readonly namespace: string;
  readonly device: string;
  readonly mac: string;
}

/** How a hot-plugged NIC gets its name inside the instance. */
export interface AttachOptions {
  /**
   * Like udev renaming what the kernel named a new NIC (eth1 -> ens5) a moment after it appeared: the device
   * enters the instance under a temporary name (its parked name) and gets its final name only when the
   * instance's metadata service receives its next request - the metadata server renames it before it answers.
   * The guest script asks metadata after it found the device and before it configures it, so this puts the
   * rename exactly into that window, every time. Needs the metadata server running. Default: the device
   * appears under its final name in one step.
   */
  readonly renameOnMetadataRequest?: boolean;
}

// The metadata server runs inside the instance namespace (a process cannot listen in another namespace),
// so it is a separate node process; it re-reads its state file on every request, which the topology
// replaces atomically, so an update is visible to the very next request with no handshake.
// Wire behaviour per the Alibaba metadata docs (shared/reference/guest-networking.md): token via
// PUT /latest/api/token with X-aliyun-ecs-metadata-token-ttl-seconds 1..21600, then the
// X-aliyun-ecs-metadata-token header; directories list their children one per line.
const METADATA_SERVER = String.raw`
const http = require('node:http'); const fs = require('node:fs'); const crypto = require('node:crypto');
const [stateFile, host] = process.argv.slice(1);
const tokens = new Map(); const renamed = new Set();
const srv = http.createServer((req, res) => {
  let state; try { state = JSON.parse(fs.readFileSync(stateFile, 'utf8')); } catch { state = { macs: {} }; }
  const rn = state.rename;
  if (rn && !renamed.has(rn.from + ' ' + rn.to)) {
    renamed.add(rn.from + ' ' + rn.to);
    try { require('node:child_process').execFileSync('ip', ['link', 'set', 'dev', rn.from, 'name', rn.to], { stdio: 'pipe' });
      process.stdout.write('renamed ' + rn.from + ' ' + rn.to + '\n');
    } catch (e) { process.stdout.write('rename-failed ' + rn.from + ' ' + rn.to + ' ' + String(e.stderr || e.message).trim() + '\n'); }
  }
  const tok = req.headers['x-aliyun-ecs-metadata-token'];
  const tokenOk = typeof tok === 'string' && (tokens.get(tok) ?? 0) > Date.now();
  const send = (status, body) => {
    process.stdout.write(JSON.stringify({ method: req.method, path: req.url, status, token: tokenOk }) + '\n');
    res.writeHead(status, { 'content-type': 'text/plain' }); res.end(body);
  };
  const path = (req.url || '').split('?')[0];
  if (path === '/latest/api/token') {
    if (state.tokenApi === false) return send(404, 'Not Found');
    if (req.method !== 'PUT') return send(405, 'Method Not Allowed');
    const ttl = Number(req.headers['x-aliyun-ecs-metadata-token-ttl-seconds']);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return send(400, 'Bad Request');
    const t = crypto.randomBytes(24).toString('base64url'); tokens.set(t, Date.now() + ttl * 1000);
    return send(200, t);
  }
  if (req.method !== 'GET') return send(405, 'Method Not Allowed');
  if (state.requireToken && !tokenOk) return send(403, 'Forbidden');
  const hidden = new Set(state.hiddenMacs || []);
  const macs = Object.keys(state.macs).filter((m) => !hidden.has(m));
  const base = '/latest/meta-data/';
  if (path === base + 'instance-id') return send(200, state.instanceId);
  if (path === base + 'mac') return send(200, state.mac);
  const pre = base + 'network/interfaces/macs/';
  if (path === pre) return send(200, macs.map((m) => m + '/').join('\n'));
  if (path.startsWith(pre)) {
    const [mac, key, extra] = path.slice(pre.length).split('/');
    const entry = macs.includes(mac) ? state.macs[mac] : undefined;
    if (entry && (key === '' || key === undefined) && !extra) return send(200, Object.keys(entry).join('\n'));
    if (entry && key in entry && !extra) {
      const v = entry[key]; return send(200, Array.isArray(v) ? JSON.stringify(v) : String(v));
    }
  }
  send(404, 'Not Found');
});
srv.listen(80, host, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
`;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipToInt(ip: string): number {
  const m = IPV4.exec(ip);
  if (!m) throw new Error(`not an IPv4 address: ${ip}`);
  return m.slice(1).reduce((acc, o) => acc * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Parses `a.b.c.d/p` and derives the VPC gateway (`.253` for a /24: the broadcast address minus two). */
export function subnetOf(cidr: string): { network: string; prefix: number; gateway: string; netmask: string } {
  const [addr, p] = cidr.split('/');
  const prefix = Number(p);
  if (addr === undefined || !Number.isInteger(prefix) || prefix < 1 || prefix > 30) throw new Error(`bad CIDR ${cidr}`);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ipToInt(addr) / size) * size;
  return { network: intToIp(network), prefix, gateway: intToIp(network + size - 3), netmask: intToIp(2 ** 32 - size) };
}

function run(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs `ip` (iproute2) with the arguments; rejects with its stderr. */
export function ip(...args: string[]): Promise<string> {
  return run('ip', args);
}

/** Runs a command inside a namespace, returning its stdout. */
export function inNamespace(namespace: string, argv: readonly string[]): Promise<string> {
  return run('ip', ['netns', 'exec', namespace, ...argv]);
}

async function sysctl(namespace: string, key: string, value: string | number): Promise<void> {
  await inNamespace(namespace, ['sysctl', '-q', '-w', `${key}=${value}`]);
}

/** Fails with a message that says what to do when the process cannot build namespaces. */
export function assertCanBuildNamespaces(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('The guest network tests build network namespaces and need root: run them as root (sudo npx jest test/guest).');
  }
}

interface MetadataProcess {
  readonly child: ChildProcess;
  readonly requests: MetadataRequest[];
}

/**
 * A throwaway VPC of namespaces. Names start with a random tag so parallel tests and runs never collide
 * (interface names stay under 15 characters). {@link destroy} removes everything it created, processes included.
 */
export class NetnsTopology {
  readonly tag: string;
  readonly vswitch: string;
  private readonly dir: string;
  private readonly nics = new Map<string, NetnsNic>(); // by MAC
  private readonly instances = new Map<string, NetnsInstance>();
  private readonly metadata = new Map<string, MetadataProcess>();
  private readonly modes = new Map<string, MetadataMode>();
  /** Late renames waiting for the instance's next metadata request, by instance id. */
  private readonly pendingRenames = new Map<string, { nic: NetnsNic; from: string; to: string }>();
  private readonly namespaces: string[] = [];
  private readonly services = new Set<ChildProcess>();
  private readonly nicListeners: Array<(e: NicAdded) => void> = [];
  private ports = 0;
  private instanceCount = 0;
  private moves: Promise<unknown> = Promise.resolve();

  private constructor(tag: string) {
    this.tag = tag;
    this.vswitch = `${tag}-vsw`;
    this.dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  }

  /** Creates the vSwitch namespace. `tag`: 2-6 chars of [a-z0-9], random by default. */
  static async create(tag = `n${randomBytes(3).toString('hex').slice(0, 5)}`): Promise<NetnsTopology> {
    assertCanBuildNamespaces();
    if (!/^[a-z0-9]{2,6}$/.test(tag)) throw new Error(`tag must be 2-6 chars of [a-z0-9], got ${tag}`);
    const t = new NetnsTopology(tag);
    await t.addNamespace(t.vswitch);
    await sysctl(t.vswitch, 'net.ipv4.ip_forward', 1);
    await sysctl(t.vswitch, 'net.ipv4.conf.all.rp_filter', 1);
    await sysctl(t.vswitch, 'net.ipv4.conf.default.rp_filter', 1);
    return t;
  }

  private async addNamespace(ns: string): Promise<void> {
    await ip('netns', 'add', ns);
    this.namespaces.push(ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    // No IPv6 chatter (router solicitations, DAD) in the packet counters the tests read.
    await sysctl(ns, 'net.ipv6.conf.all.disable_ipv6', 1).catch(() => undefined);
    await sysctl(ns, 'net.ipv6.conf.default.disable_ipv6', 1).catch(() => undefined);
  }

  /**
   * The instance's own filesystem root for eni-failover's files (hooks, rules, state): a namespace shares
   * the host's filesystem, so each instance gets a sandbox directory instead, as the persist tests use
   * ENI_ROOT. Created with the instance, removed by {@link destroy}.
   */
  guestRoot(instanceId: string): string {
    return join(this.dir, `root-${this.instance(instanceId).namespace}`);
  }

  /** Calls `listener` whenever a NIC appears in an instance under its final name (after a late rename too). */
  onNicAdded(listener: (e: NicAdded) => void): void {
    this.nicListeners.push(listener);
  }

  private nicAdded(inst: NetnsInstance, nic: NetnsNic, device: string): void {
    for (const l of this.nicListeners) l({ instanceId: inst.instanceId, namespace: inst.namespace, device, mac: nic.mac });
  }

  /** The namespace of an instance, for the guest executor. */
  namespaceOf(instanceId: string): string | undefined {
    return this.instances.get(instanceId)?.namespace;
  }

  /** The NIC carrying this MAC. */
  nic(mac: string): NetnsNic {
    const n = this.nics.get(mac);
    if (!n) throw new Error(`no NIC with MAC ${mac} in topology ${this.tag}`);
    return n;
  }

  instance(instanceId: string): NetnsInstance {
    const i = this.instances.get(instanceId);
    if (!i) throw new Error(`no instance ${instanceId} in topology ${this.tag}`);
    return i;
  }

  /** Creates the veth pair of a NIC: its guest end parked in the vSwitch, its port routed for its IPs. */
  private async createNic(eniId: string, mac: string, cidr: string, ips: readonly string[]): Promise<NetnsNic> {
    if (this.nics.has(mac)) throw new Error(`MAC ${mac} already exists`);
    const sub = subnetOf(cidr);
    for (const a of ips) {
      if (subnetOf(`${a}/${sub.prefix}`).network !== sub.network) throw new Error(`${a} is not in ${cidr}`);
    }
    const n = ++this.ports;
    const port = `${this.tag}p${n}`;
    const parked = `${this.tag}x${n}`;
    await ip('link', 'add', 'name', parked, 'netns', this.vswitch, 'address', mac, 'type', 'veth', 'peer', 'name', port, 'netns', this.vswitch);
    await ip('-n', this.vswitch, 'addr', 'add', `${sub.gateway}/32`, 'dev', port);
    await sysctl(this.vswitch, `net.ipv4.conf.${port}.proxy_arp`, 1);
    await sysctl(this.vswitch, `net.ipv4.conf.${port}.rp_filter`, 1);
    await ip('-n', this.vswitch, 'link', 'set', port, 'up');
    for (const a of ips) await ip('-n', this.vswitch, 'route', 'replace', `${a}/32`, 'dev', port);
    const nic: NetnsNic = { eniId, mac, cidr, ips: [...ips], gateway: sub.gateway, prefix: sub.prefix, port, instanceId: undefined, device: undefined };
    this.nics.set(mac, nic);
    return nic;
  }

  private parkedName(nic: NetnsNic): string {
    return `${this.tag}x${nic.port.slice(this.tag.length + 1)}`;
  }

  /**
   * Creates an instance namespace with its primary NIC (eth0, configured, default route via the gateway),
   * the metadata address on lo and a metadata server. `rpFilter` sets all/default rp_filter (1 = strict, as
   * CentOS and Alibaba Cloud Linux ship) so the script has to loosen it on the ENI.
   */
  async addInstance(opts: { instanceId: string; cidr: string; ip: string; mac: string; rpFilter?: 0 | 1 | 2 }): Promise<NetnsInstance> {
    if (this.instances.has(opts.instanceId)) throw new Error(`instance ${opts.instanceId} exists`);
    // Names are taken before the first await, so instances can be added in parallel.
    const ns = `${this.tag}-i${++this.instanceCount}`;
    await this.addNamespace(ns);
    const rp = opts.rpFilter ?? 1;
    await sysctl(ns, 'net.ipv4.conf.all.rp_filter', rp);
    await sysctl(ns, 'net.ipv4.conf.default.rp_filter', rp);
    await ip('-n', ns, 'addr', 'add', `${METADATA_IP}/32`, 'dev', 'lo');
    const primary = await this.createNic(`eni-primary-${opts.instanceId}`, opts.mac, opts.cidr, [opts.ip]);
    const inst: NetnsInstance = { instanceId: opts.instanceId, namespace: ns, primary };
    this.instances.set(opts.instanceId, inst);
    mkdirSync(this.guestRoot(opts.instanceId), { recursive: true });
    await this.moveIn(primary, inst);
    await ip('-n', ns, 'addr', 'add', `${opts.ip}/${primary.prefix}`, 'dev', 'eth0');
    await ip('-n', ns, 'route', 'add', 'default', 'via', primary.gateway, 'dev', 'eth0');
    await this.startMetadata(opts.instanceId);
    return inst;
  }

  /** Creates a secondary ENI, Available (parked in the vSwitch). */
  async createEni(opts: { eniId: string; mac: string; cidr: string; ips: readonly string[] }): Promise<NetnsNic> {
    return this.createNic(opts.eniId, opts.mac, opts.cidr, opts.ips);
  }

  // Serialised: two moves at once could race for the same ethN name.
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.moves.then(fn, fn);
    this.moves = next.catch(() => undefined);
    return next;
  }

  private async moveIn(nic: NetnsNic, inst: NetnsInstance, opts: AttachOptions = {}): Promise<string> {
    const names = (await ip('-n', inst.namespace, '-o', 'link', 'show'))
      .split('\n')
      .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
      .filter((x): x is string => x !== undefined);
    let k = 0;
    const pendingName = this.pendingRenames.get(inst.instanceId)?.to;
    while (names.includes(`eth${k}`) || pendingName === `eth${k}`) k++;
    const device = `eth${k}`;
    const parked = this.parkedName(nic);
    if (opts.renameOnMetadataRequest) {
      if (this.pendingRenames.has(inst.instanceId)) throw new Error(`${inst.instanceId} already has a late rename pending`);
      if (!this.metadata.has(inst.instanceId)) throw new Error(`renameOnMetadataRequest needs the metadata server of ${inst.instanceId} running`);
      await ip('-n', this.vswitch, 'link', 'set', 'dev', parked, 'netns', inst.namespace);
      nic.device = parked;
      this.pendingRenames.set(inst.instanceId, { nic, from: parked, to: device });
    } else {
      // One netlink request: the device appears in the instance under its final name, never under another.
      await ip('-n', this.vswitch, 'link', 'set', 'dev', parked, 'netns', inst.namespace, 'name', device);
      if (k === 0) await ip('-n', inst.namespace, 'link', 'set', 'dev', device, 'up');
      nic.device = device;
    }
    nic.instanceId = inst.instanceId;
    this.writeMetadataState(inst.instanceId);
    if (!opts.renameOnMetadataRequest) this.nicAdded(inst, nic, device);
    return device;
  }

  /**
   * Hot-plugs the ENI with this MAC into the instance, like AttachNetworkInterface. Returns the device name
   * (with `renameOnMetadataRequest`, the name it gets once renamed; {@link NetnsNic.device} says the current one).
   */
  attachEni(mac: string, instanceId: string, opts: AttachOptions = {}): Promise<string> {
    return this.serial(async () => {
      const nic = this.nic(mac);
      if (nic.instanceId !== undefined) throw new Error(`ENI ${mac} is attached to ${nic.instanceId}; detach it first`);
      return this.moveIn(nic, this.instance(instanceId), opts);
    });
  }

  /** Hot-unplugs the ENI with this MAC: the device leaves the instance with its addresses and routes. */
  detachEni(mac: string): Promise<void> {
    return this.serial(async () => {
      const nic = this.nic(mac);
      const inst = nic.instanceId === undefined ? undefined : this.instance(nic.instanceId);
      if (!inst || nic.device === undefined) return;
      const parked = this.parkedName(nic);
      if (this.pendingRenames.get(inst.instanceId)?.nic === nic) this.pendingRenames.delete(inst.instanceId);
      await ip('-n', inst.namespace, 'link', 'set', 'dev', nic.device, 'down');
      // One step, as a hot-unplug: the device never shows up in the instance under its parked name.
      await ip('-n', inst.namespace, 'link', 'set', 'dev', nic.device, 'netns', this.vswitch, 'name', parked);
      nic.instanceId = undefined;
      nic.device = undefined;
      this.writeMetadataState(inst.instanceId);
    });
  }

  /** Changes how an instance's metadata service answers (token mode, MACs it does not list yet). */
  setMetadataMode(instanceId: string, mode: MetadataMode): void {
    this.modes.set(instanceId, mode);
    this.writeMetadataState(instanceId);
  }

  private writeMetadataState(instanceId: string): void {
    const inst = this.instance(instanceId);
    const macs: Record<string, Record<string, unknown>> = {};
    for (const nic of this.nics.values()) {
      if (nic.instanceId !== instanceId) continue;
      const sub = subnetOf(nic.cidr);
      macs[nic.mac] = {
        'network-interface-id': nic.eniId,
        'primary-ip-address': nic.ips[0],
        netmask: sub.netmask,
        gateway: nic.gateway,
        'private-ipv4s': nic.ips,
        'vswitch-cidr-block': `${sub.network}/${sub.prefix}`,
        'vpc-cidr-block': '10.0.0.0/8',
        'vswitch-id': `vsw-${sub.network.replace(/\./g, '')}`,
        'vpc-id': `vpc-${this.tag}`,
      };
    }
    const mode = this.modes.get(instanceId) ?? {};
    const pending = this.pendingRenames.get(instanceId);
    const rename = pending && { from: pending.from, to: pending.to };
    const file = this.stateFile(inst.namespace);
    writeFileSync(`${file}.tmp`, JSON.stringify({ instanceId, mac: inst.primary.mac, requireToken: mode.requireToken === true, tokenApi: mode.tokenApi !== false, hiddenMacs: mode.hiddenMacs ?? [], rename, macs }));
    renameSync(`${file}.tmp`, file);
  }

  private stateFile(ns: string): string {
    return join(this.dir, `${ns}.json`);
  }

  /** Starts (again) the instance's metadata server; resolves once it listens. */
  async startMetadata(instanceId: string): Promise<void> {
    if (this.metadata.has(instanceId)) return;
    const inst = this.instance(instanceId);
    this.writeMetadataState(instanceId);
    const child = spawn('ip', ['netns', 'exec', inst.namespace, process.execPath, '-e', METADATA_SERVER, this.stateFile(inst.namespace), METADATA_IP], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const requests: MetadataRequest[] = [];
    this.metadata.set(instanceId, { child, requests });
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      let ready = false;
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === 'ready') {
            ready = true;
            resolve();
          } else if (line.startsWith('{')) requests.push(JSON.parse(line) as MetadataRequest);
          else if (line.startsWith('renamed ') || line.startsWith('rename-failed ')) this.renameDone(instanceId, line);
        }
      });
      child.once('exit', (code) => {
        this.metadata.delete(instanceId);
        if (!ready) reject(new Error(`metadata server for ${instanceId} exited ${code}: ${err.trim()}`));
      });
    });
  }

  // The metadata server did (or failed) the pending late rename: the NIC's device follows, the state forgets it.
  private renameDone(instanceId: string, line: string): void {
    const p = this.pendingRenames.get(instanceId);
    const [what, from, to] = line.split(' ');
    if (!p || p.from !== from || p.to !== to) return;
    this.pendingRenames.delete(instanceId);
    if (what === 'renamed') {
      p.nic.device = to;
      this.nicAdded(this.instance(instanceId), p.nic, to);
    } else process.stderr.write(`netns topology ${this.tag}: late rename in ${instanceId}: ${line}\n`);
    this.writeMetadataState(instanceId);
  }

  /** Stops the instance's metadata server: requests to it are refused, as when the service is unreachable. */
  async stopMetadata(instanceId: string): Promise<void> {
    const m = this.metadata.get(instanceId);
    if (!m) return;
    await stopChild(m.child);
    this.metadata.delete(instanceId);
  }

  /** Requests the instance's metadata server answered since it started. */
  metadataRequests(instanceId: string): readonly MetadataRequest[] {
    return this.metadata.get(instanceId)?.requests ?? [];
  }

  /**
   * Starts a tiny HTTP service inside the instance, bound to `host:port`, answering `body`. The address must
   * already be configured there (bind fails otherwise, which the returned promise reports).
   */
  async startService(instanceId: string, host: string, port: number, body: string): Promise<{ close(): Promise<void> }> {
    const inst = this.instance(instanceId);
    const code = `require('node:http').createServer((q, s) => s.end(process.argv[3])).listen(Number(process.argv[2]), process.argv[1], () => console.log('ready'));
      process.on('SIGTERM', () => process.exit(0));`;
    const child = spawn('ip', ['netns', 'exec', inst.namespace, process.execPath, '-e', code, host, String(port), body], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.services.add(child);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout?.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`service in ${instanceId} exited ${c}: ${err.trim()}`)));
    });
    return {
      close: async () => {
        this.services.delete(child);
        await stopChild(child);
      },
    };
  }

  /**
   * HTTP GET from inside an instance with curl; resolves with the body, or undefined when the connection
   * fails or times out (`timeoutMs`).
   */
  async httpGet(instanceId: string, url: string, timeoutMs = 1000): Promise<string | undefined> {
    try {
      return await inNamespace(this.instance(instanceId).namespace, ['curl', '-sf', '--max-time', String(timeoutMs / 1000), url]);
    } catch {
      return undefined;
    }
  }

  /** Packets and bytes a device inside an instance has sent and received (the kernel's own counters). */
  async counters(instanceId: string, device: string): Promise<{ txPackets: number; rxPackets: number }> {
    const out = await ip('-n', this.instance(instanceId).namespace, '-s', '-j', 'link', 'show', 'dev', device);
    const [info] = JSON.parse(out) as [{ stats64: { rx: { packets: number }; tx: { packets: number } } }];
    return { txPackets: info.stats64.tx.packets, rxPackets: info.stats64.rx.packets };
  }

  /** Stops every process and deletes every namespace this topology created. Safe to call twice. */
  async destroy(): Promise<void> {
    await Promise.all([...this.metadata.values()].map((m) => stopChild(m.child)));
    this.metadata.clear();
    await Promise.all([...this.services].map((c) => stopChild(c)));
    this.services.clear();
    for (const ns of this.namespaces.splice(0).reverse()) {
      await ip('netns', 'del', ns).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
