/**
 * What runs a Cloud Assistant script "inside" an instance. The local ECS records the invocation and hands
 * the decoded script to a GuestExecutor; swap it per LocalEcs (option `guestExecutor`) - e.g. for one that
 * runs the script in a network namespace.
 */
export interface GuestExecutor {
  run(args: {
    instanceId: string;
    commandType: string;
    /** The script, decoded (Base64 content already turned into text). */
    script: string;
    timeoutSeconds: number;
  }): Promise<{ exitCode: number; output: string }>;
}

/** What the emulated guest can see of its own NICs (the model answers; only InUse ENIs are visible). */
export interface GuestNicView {
  nicByMac(
    instanceId: string,
    mac: string,
  ): { deviceIndex: number; macAddress: string; privateIps: readonly string[]; prefix: number; gateway: string } | undefined;
}

/** Exit code of the guest script when the ENI's MAC is not (yet) visible in the instance. */
export const GuestExitMacNotFound = 10;

/** Reads the `NAME='value'` assignments at the top of a shell script (single, double or no quotes). */
export function parseShellAssignments(script: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of script.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(?:'([^']*)'|"([^"]*)"|([^\s;#]*))\s*(?:[;#].*)?$/.exec(line);
    if (m === null) continue;
    const name = m[1] as string;
    if (!(name in vars)) vars[name] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  return vars;
}

/**
 * The default guest: emulates eni-failover's guest script closely enough for the workflow to verify from
 * the output. With `ENI_MAC` set, it finds the NIC by MAC among the ENIs InUse on this instance and prints
 * the machine-readable result line (device eth<DeviceIndex>, table and rule priority 1000 + index, as
 * Alibaba's examples and Terway do - shared/reference/guest-networking.md); a MAC that is not there exits 10
 * with `eni-failover-error: 10 mac-not-found: ...` (the line format of guest/configure-eni.sh). Scripts without ENI_MAC print "ok".
 */
export class EmulatedGuest implements GuestExecutor {
  constructor(private readonly nics: GuestNicView) {}

  async run(args: { instanceId: string; commandType: string; script: string; timeoutSeconds: number }) {
    const vars = parseShellAssignments(args.script);
    const mac = vars.ENI_MAC?.toLowerCase();
    if (mac === undefined || mac === '') return { exitCode: 0, output: 'ok\n' };
    const nic = this.nics.nicByMac(args.instanceId, mac);
    if (nic === undefined) {
      return {
        exitCode: GuestExitMacNotFound,
        output: `eni-failover: waiting for a NIC with MAC ${mac}\neni-failover-error: 10 mac-not-found: ${mac} is not attached to ${args.instanceId}\n`,
      };
    }
    const ips = (vars.ENI_IPS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    const prefix = vars.ENI_PREFIX !== undefined && /^\d+$/.test(vars.ENI_PREFIX) ? Number(vars.ENI_PREFIX) : nic.prefix;
    const gateway = vars.ENI_GATEWAY !== undefined && vars.ENI_GATEWAY !== '' ? vars.ENI_GATEWAY : nic.gateway;
    const device = `eth${nic.deviceIndex}`;
    const table = 1000 + nic.deviceIndex;
    const result = {
      device,
      mac: nic.macAddress,
      ips: ips.length > 0 ? ips : [...nic.privateIps],
      prefix,
      gateway,
      table,
      priority: table,
      persisted: 'none',
    };
    const log = [
      `eni-failover: found ${device} for ${nic.macAddress}`,
      ...result.ips.map((ip) => `eni-failover: ${ip}/${prefix} on ${device}, rule from ${ip} lookup ${table}`),
      `eni-failover: default via ${gateway} dev ${device} table ${table}`,
      `eni-failover-result: ${JSON.stringify(result)}`,
    ];
    return { exitCode: 0, output: `${log.join('\n')}\n` };
  }
}
