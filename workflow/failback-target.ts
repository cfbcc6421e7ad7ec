import { InstanceStatus, type Instance } from './model';
import type { EcsPort } from './ports';
import { Reason } from './rules';
import type { StepResult } from './step';

/**
 * Why a failback's target (the group's preferred member) cannot take the ENI back now, or undefined when it
 * can: it must be Running and, when the guest is to be configured, its Cloud Assistant agent online - the
 * same health the failback clock waited for (workflow/failback.ts), looked at again at the moment of the
 * write, because it may have failed again since.
 */
export async function failbackTargetUnhealthy(target: Instance | undefined, configureGuest: boolean, ecs: Pick<EcsPort, 'cloudAssistantOnline'>): Promise<string | undefined> {
  if (target === undefined) return 'the preferred member no longer exists';
  if (target.status !== InstanceStatus.Running) return `the preferred member ${target.instanceId} is ${target.status} again`;
  if (configureGuest && !(await ecs.cloudAssistantOnline(target.instanceId))) return `the Cloud Assistant agent of the preferred member ${target.instanceId} is offline again`;
  return undefined;
}

/** The end of a failback whose target failed again: superseded (nothing is wrong with the standby), ENI left where it serves. */
export const failbackSuperseded = (why: string, eniId: string): StepResult => ({
  kind: 'end',
  outcome: 'superseded',
  reason: Reason.FailbackTargetUnhealthy,
  detail: `failback superseded: ${why}; ${eniId} stays with the standby (a rescue binds it there again if it had left) and the failback clock starts again`,
});
