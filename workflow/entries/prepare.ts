import { createHash } from 'node:crypto';
import { describeGroupEnis, type FailoverGroup, type GroupsConfig } from '../groups';
import { preparedId, type LedgerPort, type PreparedState } from '../ledger';
import { InstanceStatus, type Instance } from '../model';
import type { EcsPort } from '../ports';
import { buildPrepareCommand, hookSpec, HookFound, parsePrepareResult, type HookSpec } from '../prepare';

/**
 * The "prepare standbys" pass (on-schedule, with reconcile and as `{"mode":"prepare"}`): for every group
 * with `prepare: true`, every standby member (Running, Linux, Cloud Assistant online, holding none of the
 * group's ENIs) gets install-hook.sh through Cloud Assistant. The command checks before it writes, so one
 * RunCommand per standby and pass both detects drift (hook missing, outdated script version, changed ENI
 * set) and repairs it; the ledger row `prepared/<instance>` records what was found and done, for `status`.
 *
 * Group changes: the wanted hook (script version, the group's ENIs with their MACs and IPs, persist) is
 * derived afresh on every pass and compared on the guest with what is installed, so a changed group is
 * prepared by the next pass; no hash of the groups needs keeping (the guest's manifest is the truth, and
 * a hand-removed hook is found the same way).
 */

export interface PrepareDeps {
  readonly ecs: EcsPort;
  readonly groups: GroupsConfig;
  readonly ledger: LedgerPort;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** guest/configure-eni.sh and guest/install-hook.sh, embedded by the function bundle. */
  readonly guestScript: string;
  readonly installScript: string;
  /** The pass's identity (the timer fire): one invocation per standby and pass, however often it is retried. */
  readonly passId: string;
  /** How long the whole pass waits for the install commands (default 40 s; the function's timeout is 60 s). */
  readonly waitMs?: number;
}

/** What the pass did for one member of a prepared group. */
export interface PrepareReport {
  readonly group: string;
  readonly instanceId: string;
  /** installed: a hook was written (found says what was there); current: nothing to do; skipped: not a standby to prepare now. */
  readonly action: 'installed' | 'current' | 'skipped' | 'failed';
  readonly found?: HookFound;
  readonly detail: string;
}

/** The install command's own time limit (RunCommand Timeout, seconds). */
export const PrepareCommandTimeoutSeconds = 60;
const PollMs = 500;
const FinalStates = new Set(['Success', 'Failed', 'Error', 'Timeout', 'Cancelled', 'Terminated', 'Aborted', 'Invalid', 'DeliveryTimeout']);

/** Runs the pass over every prepared group. Guarantees: one report per member of each prepared group. */
export async function prepareStandbys(deps: PrepareDeps): Promise<PrepareReport[]> {
  const reports: PrepareReport[] = [];
  // One wait budget for the whole pass, so many standbys never hold the function past its timeout.
  const deadline = deps.now() + (deps.waitMs ?? 40_000);
  for (const group of deps.groups.groups) {
    if (group.prepare) reports.push(...(await prepareGroup(group, deps, deadline)));
  }
  return reports;
}

async function prepareGroup(group: FailoverGroup, deps: PrepareDeps, deadline: number): Promise<PrepareReport[]> {
  const enis = await describeGroupEnis(deps.ecs, group);
  const skip = (instanceId: string, detail: string): PrepareReport => ({ group: group.name, instanceId, action: 'skipped', detail });
  if (enis.length === 0) return group.members.map((m) => skip(m, `group ${group.name} has no ENI in ECS (check its ids or tag)`));
  const spec = hookSpec(
    enis.map((e) => ({ mac: e.macAddress, ips: e.privateIps })),
    group.policy.persistGuest,
    deps.guestScript,
  );
  const command = Buffer.from(buildPrepareCommand(spec, deps.guestScript, deps.installScript), 'utf8').toString('base64');
  const instances = new Map((await deps.ecs.describeInstances(group.members)).map((i) => [i.instanceId, i]));
  const sent: Array<{ instanceId: string; invokeId: string }> = [];
  const reports: PrepareReport[] = [];
  for (const member of group.members) {
    const why = await notPreparable(instances.get(member), enis, deps.ecs);
    if (why !== undefined) {
      reports.push(skip(member, why));
      continue;
    }
    const { invokeId } = await deps.ecs.runShellScript({
      instanceId: member,
      scriptBase64: command,
      timeoutSeconds: PrepareCommandTimeoutSeconds,
      clientToken: `prep-${createHash('sha256').update(`${deps.passId}|${member}|${spec.version}|${spec.enis}`).digest('hex').slice(0, 40)}`,
      name: `eni-failover-prepare-${group.name}`,
    });
    sent.push({ instanceId: member, invokeId });
  }
  for (const s of sent) reports.push(await recordOutcome(group, spec, s, deps, deadline));
  return reports;
}

/** Why a member is not a standby to prepare now, or undefined when it is. */
async function notPreparable(instance: Instance | undefined, enis: readonly { instanceId?: string; eniId: string }[], ecs: EcsPort): Promise<string | undefined> {
  if (instance === undefined) return 'not applicable: the instance does not exist';
  const held = enis.filter((e) => e.instanceId === instance.instanceId).map((e) => e.eniId);
  if (held.length > 0) return `not applicable: serving ${held.join(', ')} (prepared once it is a standby)`;
  if (instance.osType !== 'linux') return 'not applicable: the hook is a Linux udev rule';
  if (instance.status !== InstanceStatus.Running) return `not applicable: ${instance.status} (prepared once it runs)`;
  if (!(await ecs.cloudAssistantOnline(instance.instanceId))) return 'not applicable now: Cloud Assistant is offline';
  return undefined;
}

async function recordOutcome(group: FailoverGroup, spec: HookSpec, sent: { instanceId: string; invokeId: string }, deps: PrepareDeps, deadline: number): Promise<PrepareReport> {
  let result = await deps.ecs.describeInvocation(sent);
  while ((result === undefined || !FinalStates.has(result.status)) && deps.now() < deadline) {
    await deps.sleep(PollMs);
    result = await deps.ecs.describeInvocation(sent);
  }
  const base = { group: group.name, version: spec.version, enis: spec.enis, persist: spec.persist, invokeId: sent.invokeId, at: deps.now() };
  if (result === undefined || !FinalStates.has(result.status)) {
    const detail = `install command ${sent.invokeId} is still ${result?.status ?? 'not visible'}; the next pass looks again`;
    return { group: group.name, instanceId: sent.instanceId, action: 'failed', detail };
  }
  const parsed = parsePrepareResult(result.output);
  if (result.status !== 'Success' || result.exitCode !== 0 || !parsed.ok) {
    const why = parsed.ok ? `exit code ${result.exitCode ?? '?'} (${result.status})` : `${parsed.code}: ${parsed.message} (${result.status})`;
    const detail = `installing the hot-plug hook failed: ${why}`;
    await remember(deps.ledger, sent.instanceId, { ...base, state: 'failed', detail }, deps.now());
    return { group: group.name, instanceId: sent.instanceId, action: 'failed', detail };
  }
  const found = parsed.found;
  const detail =
    found === HookFound.Current
      ? `prepared: hook ${spec.version} for ${parsed.macs.join(', ')} in place`
      : `drift: hook ${found === HookFound.Missing ? 'missing' : 'outdated'}; installed hook ${spec.version} for ${parsed.macs.join(', ')} (${parsed.changes} change(s))`;
  await remember(deps.ledger, sent.instanceId, { ...base, state: 'prepared', found, detail }, deps.now());
  return { group: group.name, instanceId: sent.instanceId, action: found === HookFound.Current ? 'current' : 'installed', found, detail };
}

/** Stores the standby's prepared state: a compare-and-set on the row's version, read again when another writer won. */
async function remember(ledger: LedgerPort, instanceId: string, prepared: PreparedState, now: number): Promise<void> {
  for (let tries = 0; tries < 5; tries++) {
    const row = await ledger.getLease(preparedId(instanceId));
    const next = row === undefined
      ? { resourceId: preparedId(instanceId), version: 1, operationId: '', until: 0, holders: [], prepared, updatedAt: now }
      : { ...row, version: row.version + 1, prepared, updatedAt: now };
    if (await ledger.putLease(next)) return;
  }
  throw new Error(`could not record the prepared state of ${instanceId}: the ledger row kept changing`);
}

/** The verdict `status` shows for a member of a prepared group, from the ledger row and what should be. */
export function preparedVerdict(args: { prepared: PreparedState | undefined; wanted: Pick<HookSpec, 'version' | 'enis'> | undefined; serving: boolean; status: string }): string {
  if (args.serving) return 'not applicable (serving)';
  if (args.status !== InstanceStatus.Running) return `not applicable (${args.status})`;
  const p = args.prepared;
  if (p === undefined) return 'drift: missing (never prepared)';
  if (p.state === 'failed') return `drift: install failed (${p.detail})`;
  if (args.wanted !== undefined && p.version !== args.wanted.version) return `drift: outdated (hook ${p.version}, script ${args.wanted.version})`;
  if (args.wanted !== undefined && p.enis !== args.wanted.enis) return 'drift: outdated (the group\'s ENIs changed)';
  return `prepared (hook ${p.version}, checked ${new Date(p.at).toISOString()}${p.found && p.found !== 'current' ? `, repaired: was ${p.found}` : ''})`;
}
