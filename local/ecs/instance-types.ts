/**
 * Instance types that accept a secondary ENI only while the instance is **Stopped** - exact type names, not
 * whole families, as the seed document "Bind a secondary ENI" lists them (shared/seed/bind-a-secondary-eni.txt,
 * Prerequisites; shared/reference/ecs-api.md "The binding rules"). 28 names.
 */
export const InstanceTypesBindOnlyWhenStopped: ReadonlySet<string> = new Set([
  // s6, shared standard
  'ecs.s6-c1m1.small',
  'ecs.s6-c1m2.large',
  'ecs.s6-c1m2.small',
  'ecs.s6-c1m4.large',
  'ecs.s6-c1m4.small',
  // e, economy
  'ecs.e-c1m1.large',
  'ecs.e-c1m2.large',
  'ecs.e-c1m4.large',
  // t6, burstable
  'ecs.t6-c1m1.large',
  'ecs.t6-c1m2.large',
  'ecs.t6-c1m4.large',
  'ecs.t6-c2m1.large',
  'ecs.t6-c4m1.large',
  // t5, burstable
  'ecs.t5-c1m1.large',
  'ecs.t5-c1m2.large',
  'ecs.t5-c1m4.large',
  'ecs.t5-lc1m1.small',
  'ecs.t5-lc1m2.large',
  'ecs.t5-lc1m2.small',
  'ecs.t5-lc1m4.large',
  'ecs.t5-lc2m1.nano',
  // previous-generation shared: xn4, n4, mn4, e4
  'ecs.xn4.small',
  'ecs.n4.small',
  'ecs.n4.large',
  'ecs.mn4.small',
  'ecs.mn4.large',
  'ecs.e4.small',
  'ecs.e4.large',
]);

/**
 * An instance last started, restarted or reactivated before this instant and Running ever since must be
 * restarted (console or RebootInstance) before ENIs can bind (seed document, Prerequisites).
 */
export const RestartRequiredIfStartedBefore = Date.parse('2018-04-01T00:00:00Z');

/** `ecs.g7.large` -> `ecs.g7`, as DescribeInstanceTypes' InstanceTypeFamily. */
export function instanceTypeFamily(instanceTypeId: string): string {
  const lastDot = instanceTypeId.lastIndexOf('.');
  return lastDot > 0 ? instanceTypeId.slice(0, lastDot) : instanceTypeId;
}
