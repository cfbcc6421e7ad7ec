import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { injectedFailureError, InjectedFailurePhase } from './control';
import type { FunctionSpec } from './syaml';
import { WORKER_SOURCE } from './worker-source';

/** How one invocation ended. */
export const InvocationOutcome = {
  Succeeded: 'succeeded',
  /** The handler threw, rejected or called back with an error. */
  Failed: 'failed',
  /** Past the function's timeout: the instance was terminated and replaced. */
  TimedOut: 'timedOut',
  /** Past memorySize (the worker's heap limit): the instance died and is replaced. */
  OutOfMemory: 'outOfMemory',
  /** The module failed to load or the initializer failed: no handler ran. */
  InitFailed: 'initFailed',
  /** The instance exited or crashed while the invocation ran (process.exit, uncaught error). */
  Crashed: 'crashed',
} as const;
export type InvocationOutcome = (typeof InvocationOutcome)[keyof typeof InvocationOutcome];

/** FC's error body for a function error: `{errorMessage, errorType, stackTrace}` (Node.js runtime). */
export interface FunctionErrorBody {
  readonly errorMessage: string;
  readonly errorType: string;
  readonly stackTrace?: readonly string[];
}

export interface InvocationResult {
  readonly requestId: string;
  readonly functionName: string;
  readonly outcome: InvocationOutcome;
  readonly ok: boolean;
  /** What the handler returned: bytes as-is, a string as UTF-8, anything else as JSON; empty for none. */
  readonly body: Buffer;
  readonly resultKind: 'bytes' | 'string' | 'json' | 'empty';
  readonly error?: FunctionErrorBody;
  readonly durationMs: number;
  /** Of durationMs, the handler's own run (after the instance was ready). */
  readonly handlerMs: number;
  /**
   * Set on the invocation that started its instance (a cold start): what that start cost before the
   * handler ran. Never set when the instance was started ahead of events (minimum / provisioned instances).
   */
  readonly coldStart?: InstanceStartup;
  /** Log lines, each `<ISO time> <requestId> [<LEVEL>] <message>`. */
  readonly logs: readonly string[];
}

/** What starting one instance cost, in ms. */
export interface InstanceStartup {
  /** From asking for the instance to its bootstrap running (a worker thread here; a sandbox in FC). */
  readonly instanceStartMs: number;
  /** The `require` of the handler module (the bundle's top-level code included). */
  readonly moduleLoadMs: number;
  /** The initializer (instanceLifecycleConfig.initializer), 0 when there is none. */
  readonly initializerMs: number;
}

export interface RuntimeContextBase {
  readonly accountId: string;
  readonly region: string;
  /** Mints the STS credentials handed to the handler (per invocation). */
  readonly mintCredentials: () => { accessKeyId: string; accessKeySecret: string; securityToken: string };
}

export interface FunctionRuntimeOptions {
  readonly spec: FunctionSpec;
  readonly base: RuntimeContextBase;
  /** Extra environment given to every instance, after the function's own environmentVariables. */
  readonly extraEnv: Readonly<Record<string, string>>;
  readonly maxInstances: number;
  readonly onLog: (line: string, requestId: string) => void;
  /**
   * Called with the event before the invocation gets an instance (control hooks): may wait (a hold), and
   * says whether to fail the invocation before or after its handler runs.
   */
  readonly intercept?: (event: Buffer) => Promise<InjectedFailurePhase | undefined>;
}

/** FC 3.0 request ids look like `1-6426a4b0-2cd7c98b-677a1b2c3d4e`. */
export function newRequestId(): string {
  const seconds = Math.floor(Date.now() / 1000).toString(16);
  return `1-${seconds}-${randomBytes(4).toString('hex')}-${randomBytes(6).toString('hex')}`;
}

interface Pending {
  readonly requestId: string;
  readonly kind: 'invoke' | 'initialize';
  readonly logs: string[];
  readonly resolve: (r: { ok: true; kind: InvocationResult['resultKind']; bytes: Buffer } | { ok: false; outcome: InvocationOutcome; error: FunctionErrorBody }) => void;
}

type Settled = Parameters<Pending['resolve']>[0];

let instanceSeq = 0;

/** One function instance: a worker thread with the function's module loaded (and initialized). */
class Instance {
  readonly id = `c-${(++instanceSeq).toString(16).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  inFlight = 0;
  dead = false;
  /** Started ahead of events (minimum instances): no invocation pays its start. */
  readonly provisioned: boolean;
  /** Set once the instance is ready: what its start cost. */
  startup: InstanceStartup | undefined;
  /** Whether an invocation already ran (the first one on an on-demand instance is the cold one). */
  used = false;
  private seq = 0;
  readonly ready: Promise<{ ok: true } | { ok: false; outcome: InvocationOutcome; error: FunctionErrorBody }>;

  constructor(
    private readonly runtime: FunctionRuntime,
    env: Record<string, string>,
    provisioned: boolean,
  ) {
    this.provisioned = provisioned;
    const spec = runtime.spec;
    const spawnedAt = performance.now();
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      env,
      workerData: { file: spec.handlerFile, handler: spec.handlerExport, initializer: spec.initializer?.export },
      // memorySize bounds the heap as FC bounds the instance; the rest of an instance's memory (code,
      // buffers) is not counted locally.
      resourceLimits: { maxOldGenerationSizeMb: spec.memorySize },
      name: `fc:${spec.functionName}:${this.id}`,
    });
    this.worker.unref();
    type Loaded = { ok: true; loadMs: number; at: number } | { ok: false; error: FunctionErrorBody };
    let loaded: (v: Loaded) => void = () => undefined;
    const loadedP = new Promise<Loaded>((r) => (loaded = r));
    this.worker.on('message', (msg: WorkerMessage) => {
      switch (msg.type) {
        case 'loaded':
          loaded({ ok: true, loadMs: msg.loadMs ?? 0, at: performance.now() });
          break;
        case 'loadError':
          loaded({ ok: false, error: msg.error });
          break;
        case 'log':
          this.log(msg.requestId, msg.level, msg.message);
          break;
        case 'result': {
          const p = this.pending.get(msg.id);
          if (p === undefined) return;
          this.pending.delete(msg.id);
          p.resolve(msg.ok ? { ok: true, kind: msg.kind, bytes: msg.bytes ? Buffer.from(msg.bytes) : Buffer.alloc(0) } : { ok: false, outcome: InvocationOutcome.Failed, error: msg.error });
          break;
        }
      }
    });
    this.worker.on('error', (err: Error & { code?: string }) => {
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      loaded({ ok: false, error: { errorMessage: err.message, errorType: err.name } });
      this.kill(
        oom ? InvocationOutcome.OutOfMemory : InvocationOutcome.Crashed,
        oom
          ? { errorMessage: `Function ran out of memory (memorySize ${spec.memorySize} MB): ${err.message}`, errorType: 'OutOfMemoryError' }
          : { errorMessage: `Process exited unexpectedly before completing request: ${err.message}`, errorType: err.name || 'Error' },
      );
    });
    this.worker.on('exit', (code) => {
      loaded({ ok: false, error: { errorMessage: `instance exited with code ${code} while loading`, errorType: 'Error' } });
      this.kill(InvocationOutcome.Crashed, {
        errorMessage: `Process exited unexpectedly before completing request (exit code ${code})`,
        errorType: 'ProcessExited',
      });
    });
    this.ready = (async () => {
      const load = await loadedP;
      if (!load.ok) return { ok: false as const, outcome: InvocationOutcome.InitFailed, error: load.error };
      const booted = { instanceStartMs: round(load.at - spawnedAt - load.loadMs), moduleLoadMs: round(load.loadMs) };
      const init = spec.initializer;
      if (init === undefined) {
        this.startup = { ...booted, initializerMs: 0 };
        return { ok: true as const };
      }
      const requestId = newRequestId();
      const initStarted = performance.now();
      const r = await this.send('initialize', requestId, undefined, init.timeout, []);
      if (r.ok) {
        this.startup = { ...booted, initializerMs: round(performance.now() - initStarted) };
        return { ok: true as const };
      }
      return {
        ok: false as const,
        outcome: r.outcome === InvocationOutcome.Failed ? InvocationOutcome.InitFailed : r.outcome,
        error: r.outcome === InvocationOutcome.TimedOut ? { ...r.error, errorMessage: `Function initialization timed out after ${init.timeout} seconds` } : r.error,
      };
    })();
  }

  /** Sends one invocation to the worker; the timeout terminates the whole instance, as FC does. */
  send(kind: Pending['kind'], requestId: string, event: Buffer | undefined, timeoutSeconds: number, logs: string[]): Promise<Settled> {
    const id = ++this.seq;
    const spec = this.runtime.spec;
    const base = this.runtime.base;
    const context = {
      requestId,
      credentials: base.mintCredentials(),
      function: {
        name: spec.functionName,
        handler: kind === 'initialize' ? spec.initializer?.handler : spec.handler,
        memory: spec.memorySize,
        timeout: kind === 'initialize' ? spec.initializer?.timeout : spec.timeout,
        initializer: spec.initializer?.handler,
      },
      // FC 3.0 has no services; the Node.js runtime still fills `service` (log project/store, qualifier).
      service: { name: spec.functionName, logProject: '', logStore: '', qualifier: 'LATEST', versionId: '' },
      region: base.region,
      accountId: base.accountId,
      instanceID: this.id,
    };
    return new Promise<Settled>((resolve) => {
      const timer = setTimeout(() => {
        this.kill(InvocationOutcome.TimedOut, { errorMessage: `Function time out after ${timeoutSeconds} seconds`, errorType: 'FunctionTimeout' }, id);
      }, timeoutSeconds * 1000);
      this.pending.set(id, {
        requestId,
        kind,
        logs,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      const message = kind === 'invoke' ? { type: 'invoke', id, event: new Uint8Array(event ?? Buffer.alloc(0)), context } : { type: 'initialize', id, context };
      this.worker.postMessage(message);
    });
  }

  /**
   * Ends this instance: `cause` fails with `error`, every other invocation in flight on it fails as
   * crashed (they shared the instance FC would have recycled).
   */
  kill(outcome: InvocationOutcome, error: FunctionErrorBody, cause?: number): void {
    const wasDead = this.dead;
    this.dead = true;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      const mine = cause === undefined || cause === id;
      p.resolve({
        ok: false,
        outcome: mine ? outcome : InvocationOutcome.Crashed,
        error: mine ? error : { errorMessage: `Instance ${this.id} was recycled: another invocation on it ${outcome}`, errorType: 'InstanceRecycled' },
      });
    }
    if (!wasDead) {
      void this.worker.terminate();
      this.runtime.removeInstance(this);
    }
  }

  private log(requestId: string, level: string, message: string): void {
    const line = `${new Date().toISOString()} ${requestId} [${level}] ${message}`;
    for (const p of this.pending.values()) {
      if (p.requestId === requestId) p.logs.push(line);
    }
    this.runtime.options.onLog(line, requestId);
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

type WorkerMessage =
  | { type: 'loaded'; loadMs?: number }
  | { type: 'loadError'; error: FunctionErrorBody }
  | { type: 'log'; requestId: string; level: string; message: string }
  | ({ type: 'result'; id: number } & ({ ok: true; kind: InvocationResult['resultKind']; bytes?: Uint8Array } | { ok: false; error: FunctionErrorBody }));

/**
 * The instances of one function. Guarantees: at most `maxInstances` workers; at most
 * `instanceConcurrency` invocations per worker at a time; callers beyond that wait in FIFO order; an
 * instance that timed out, ran out of memory or crashed is never used again.
 */
export class FunctionRuntime {
  readonly spec: FunctionSpec;
  readonly base: RuntimeContextBase;
  private readonly instances = new Set<Instance>();
  private readonly waiting: Array<() => void> = [];
  private closed = false;

  constructor(readonly options: FunctionRuntimeOptions) {
    this.spec = options.spec;
    this.base = options.base;
    if (options.spec.minInstances > options.maxInstances) {
      throw new Error(`${options.spec.functionName}: ${options.spec.minInstances} minimum instances exceed the ${options.maxInstances} instances the runtime may run`);
    }
  }

  /**
   * Starts the function's minimum instances (s.yaml scalingConfig.minInstances / provisionConfig.defaultTarget)
   * ahead of any event, initializer included, as FC does when the configuration is deployed (fc3 waits for
   * `currentInstances >= minInstances` after putFunctionScalingConfig: devsapp/fc3
   * src/subCommands/deploy/impl/scaling_config.ts). Resolves when they are ready, with what failed to start.
   */
  async provision(): Promise<{ started: number; failed: FunctionErrorBody[] }> {
    const fresh: Instance[] = [];
    while (!this.closed && this.instances.size < this.spec.minInstances) fresh.push(this.spawn(true));
    const failed: FunctionErrorBody[] = [];
    for (const instance of fresh) {
      const ready = await instance.ready;
      if (!ready.ok) {
        failed.push(ready.error);
        instance.kill(ready.outcome, ready.error);
      }
    }
    return { started: fresh.length - failed.length, failed };
  }

  /** How the instances started, oldest first (for benchmarks: provisioned ones cost no invocation anything). */
  startups(): { provisioned: boolean; startup?: InstanceStartup }[] {
    return [...this.instances].map((i) => ({ provisioned: i.provisioned, ...(i.startup ? { startup: i.startup } : {}) }));
  }

  get instanceCount(): number {
    return this.instances.size;
  }

  /** Runs the handler once with `event`; never throws for a function failure (see `outcome`). */
  /** Invocations started and not yet settled (held by a control hook included). */
  get inProgress(): number {
    return this.running;
  }
  private running = 0;

  async invoke(event: Buffer, requestId = newRequestId()): Promise<InvocationResult> {
    this.running++;
    try {
      return await this.invokeCounted(event, requestId);
    } finally {
      this.running--;
    }
  }

  private async invokeCounted(event: Buffer, requestId: string): Promise<InvocationResult> {
    const injected = this.options.intercept === undefined ? undefined : await this.options.intercept(event);
    // Measured from here: time spent held by a control hook is not the function's.
    const started = performance.now();
    const logs: string[] = [];
    let handlerStarted: number | undefined;
    let coldStart: InstanceStartup | undefined;
    const finish = (r: Settled): InvocationResult => ({
      requestId,
      functionName: this.spec.functionName,
      outcome: r.ok ? InvocationOutcome.Succeeded : r.outcome,
      ok: r.ok,
      body: r.ok ? r.bytes : Buffer.from(JSON.stringify(r.error)),
      resultKind: r.ok ? r.kind : 'json',
      error: r.ok ? undefined : r.error,
      durationMs: round(performance.now() - started),
      handlerMs: handlerStarted === undefined ? 0 : round(performance.now() - handlerStarted),
      ...(coldStart === undefined ? {} : { coldStart }),
      logs,
    });
    if (this.closed) return finish({ ok: false, outcome: InvocationOutcome.Crashed, error: { errorMessage: 'the local FC runtime is closed', errorType: 'RuntimeClosed' } });
    if (injected === InjectedFailurePhase.Before) return finish({ ok: false, outcome: InvocationOutcome.Crashed, error: injectedFailureError(injected) });
    const instance = await this.acquire();
    if (instance === undefined) return finish({ ok: false, outcome: InvocationOutcome.Crashed, error: { errorMessage: 'the local FC runtime is closed', errorType: 'RuntimeClosed' } });
    try {
      const ready = await instance.ready;
      if (!ready.ok) {
        instance.kill(ready.outcome, ready.error);
        return finish({ ok: false, outcome: ready.outcome, error: ready.error });
      }
      if (instance.dead) return finish({ ok: false, outcome: InvocationOutcome.Crashed, error: { errorMessage: 'instance died before the invocation started', errorType: 'InstanceRecycled' } });
      if (!instance.used && !instance.provisioned) coldStart = instance.startup;
      instance.used = true;
      handlerStarted = performance.now();
      const settled = await instance.send('invoke', requestId, event, this.spec.timeout, logs);
      if (injected === InjectedFailurePhase.After) {
        // The handler ran to the end; the instance "dies" before answering, so it is recycled as a crashed one is.
        const error = injectedFailureError(injected);
        instance.kill(InvocationOutcome.Crashed, error);
        return finish({ ok: false, outcome: InvocationOutcome.Crashed, error });
      }
      return finish(settled);
    } finally {
      instance.inFlight--;
      this.wakeOne();
    }
  }

  private async acquire(): Promise<Instance | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      for (const instance of this.instances) {
        if (!instance.dead && instance.inFlight < this.spec.instanceConcurrency) {
          instance.inFlight++;
          return instance;
        }
      }
      if (this.instances.size < this.options.maxInstances) {
        const instance = this.spawn(false);
        instance.inFlight++;
        return instance;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private spawn(provisioned: boolean): Instance {
    const { spec, base, extraEnv } = this.options;
    const creds = base.mintCredentials();
    const env: Record<string, string> = {
      // What FC 3.0 sets for every instance; the role's STS keys are also in context.credentials.
      FC_FUNCTION_NAME: spec.functionName,
      FC_FUNCTION_HANDLER: spec.handler,
      FC_FUNCTION_MEMORY_SIZE: String(spec.memorySize),
      FC_ACCOUNT_ID: base.accountId,
      FC_REGION: base.region,
      FC_RUNTIME: spec.runtime,
      ALIBABA_CLOUD_ACCESS_KEY_ID: creds.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: creds.accessKeySecret,
      ALIBABA_CLOUD_SECURITY_TOKEN: creds.securityToken,
      ...spec.environmentVariables,
      ...extraEnv,
    };
    const instance = new Instance(this, env, provisioned);
    this.instances.add(instance);
    return instance;
  }

  /** Called by an instance when it dies. */
  removeInstance(instance: Instance): void {
    this.instances.delete(instance);
    // FC keeps the minimum: a provisioned instance that died after it started is replaced ahead of events
    // too (one that never started is not retried here, or a failing initializer would loop).
    if (instance.provisioned && instance.startup !== undefined && !this.closed && this.instances.size < this.spec.minInstances) void this.provision();
    this.wakeOne();
  }

  private wakeOne(): void {
    this.waiting.shift()?.();
  }

  /** Terminates every worker; waiting and running invocations fail with `RuntimeClosed`/crashed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    const all = [...this.instances];
    for (const instance of all) instance.kill(InvocationOutcome.Crashed, { errorMessage: 'the local FC runtime is closing', errorType: 'RuntimeClosed' });
    await Promise.all(all.map((i) => i.worker.terminate().catch(() => undefined)));
  }
}
