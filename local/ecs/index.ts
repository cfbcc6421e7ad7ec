import type { Keyring } from '../credentials';
import type { GuestExecutor } from './guest';
import { EcsModel } from './model';
import { type Scenario, type ScenarioInput, loadScenario, parseScenario } from './scenario';
import { type EcsControl, EcsServer } from './server';

export { EniStatus, EniType, InstanceStatus } from './api-strings';
export { RealisticProfile, RealismSchema, type Realism, type RealismInput } from './realism';
export { SeededRandom } from './rng';
export { EcsApiError, EcsErrors, InvocationErrorInfo, PleaseRetryAgainMessage, type EcsErrorCode } from './errors';
export { EmulatedGuest, GuestExitMacNotFound, parseShellAssignments, type GuestExecutor, type GuestNicView } from './guest';
export { InstanceTypesBindOnlyWhenStopped, RestartRequiredIfStartedBefore } from './instance-types';
export {
  EcsModel,
  KilledExitCode,
  MaxCommandOutputBytes,
  type ReadView,
  UnresponsiveStopFactor,
  type EniState,
  type InstanceState,
  type InvocationInstanceStatus,
  type InvocationState,
  type ModelEvent,
  type ScriptRun,
} from './model';
export {
  DefaultLatencySeconds,
  EcsActions,
  ScenarioError,
  loadScenario,
  parseScenario,
  type EcsAction,
  type Scenario,
  type ScenarioInput,
} from './scenario';
export { EcsApiVersion, type CallRecord, type EcsControl, type EcsStateSnapshot, type FaultScope } from './server';

export interface LocalEcsOptions {
  /** A scenario object (validated again here) or the path of a YAML/JSON scenario file. */
  readonly scenario: Scenario | ScenarioInput | string;
  /** Keys the server accepts (V3 and V2 signatures, STS tokens). */
  readonly keyring: Keyring;
  /** Multiplies every latency and the rate-limit minute window (default 1; e.g. 0.001 in tests). */
  readonly timeScale?: number;
  /** Port on 127.0.0.1 (default 0: an ephemeral port). */
  readonly port?: number;
  /** What runs Cloud Assistant scripts (default: the {@link EmulatedGuest}); a factory receives the model. */
  readonly guestExecutor?: GuestExecutor | ((model: EcsModel) => GuestExecutor);
  /** The model clock (default Date.now). Signature timestamps are always checked against the real clock. */
  readonly now?: () => number;
  /** Whether RunCommand's Timeout is scaled by timeScale too (default true). */
  readonly scaleCommandTimeout?: boolean;
}

/** A running local ECS. */
export interface LocalEcs {
  /** `127.0.0.1:PORT` - the form the SDK's `endpoint` wants (no scheme; use protocol 'HTTP'). */
  readonly endpoint: string;
  readonly port: number;
  readonly regionId: string;
  /** The model: state, `subscribe(listener)` for {@link ModelEvent}s, direct state changes. */
  readonly model: EcsModel;
  /** The control API, in process (the same methods are served at `/_local/<method>`). */
  readonly control: EcsControl;
  /** Stops the server (closing kept-alive sockets) and the model's timers. */
  close(): Promise<void>;
}

/**
 * Starts a local ECS OpenAPI server on 127.0.0.1 that the real `@alicloud/ecs20140526` client talks to
 * (`endpoint: ecs.endpoint, protocol: 'HTTP'`). Many can run in one process.
 * @throws ScenarioError when the scenario is invalid.
 */
export async function startLocalEcs(options: LocalEcsOptions): Promise<LocalEcs> {
  const scenario = typeof options.scenario === 'string' ? loadScenario(options.scenario) : parseScenario(options.scenario);
  const model = new EcsModel({
    scenario,
    timeScale: options.timeScale ?? 1,
    now: options.now ?? Date.now,
    guestExecutor: options.guestExecutor,
    scaleCommandTimeout: options.scaleCommandTimeout,
  });
  const server = new EcsServer({ model, keyring: options.keyring, port: options.port });
  let port: number;
  try {
    port = await server.listen();
  } catch (err) {
    model.close();
    throw err;
  }
  return {
    endpoint: `127.0.0.1:${port}`,
    port,
    regionId: model.regionId,
    model,
    control: server.control,
    async close() {
      model.close();
      await server.close();
    },
  };
}
