import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQueryString } from 'node:querystring';
import { InstanceStatus } from './api-strings';
import { NonceCache, verifyAcs3, verifyRpcV2, type AuthResult } from '../acs3';
import type { Keyring } from '../credentials';
import { EcsApiError, EcsErrors, PleaseRetryAgainMessage, ecsError } from './errors';
import type { EcsModel, ModelEvent, ScriptRun } from './model';
import { Handlers, Params } from './responses';
import { SeededRandom } from './rng';
import { EcsActions, type EcsAction } from './scenario';

/** The API version the local ECS serves (x-acs-version / Version). */
export const EcsApiVersion = '2014-05-26';

/** One served request, for the control API (`calls`). */
export interface CallRecord {
  readonly action: string;
  /** HTTP status answered (or that would have been, when the answer was lost); 0 for a dropped connection. */
  readonly status: number;
  /** Error code; undefined on success (also when the answer was lost after acting). */
  readonly code: string | undefined;
  readonly signatureVersion: 'v3' | 'v2' | undefined;
  readonly at: number;
  /** The caller: the request's AccessKeyId (an STS key's id for STS callers); undefined if unsigned. */
  readonly accessKeyId: string | undefined;
  /** The request's parameters (query and form), without signature and protocol fields. */
  readonly params: Readonly<Record<string, string>>;
  /** InstanceId / NetworkInterfaceId / ResourceId values the request names (plain, `.N` and InstanceIds). */
  readonly resourceIds: readonly string[];
  /** StopInstance / RebootInstance only: whether ForceStop=true (a power-off, not a guest shutdown). */
  readonly forceStop?: boolean;
  /** The server acted, then destroyed the socket instead of answering (`loseAnswers`). */
  readonly answerLost?: boolean;
  /** Where a refusal came from when it was not the model: an injected fault or the realistic profile. */
  readonly source?: 'fault' | 'realism';
}

/**
 * Which calls a fault applies to. All given fields must match: the action, a resource id the request
 * names (InstanceId, NetworkInterfaceId, their `.N` forms, InstanceIds, ResourceId.N), and a seeded draw
 * with `probability`. `count` is how many calls it hits (default 1; unlimited when only `probability` is
 * given); a call that loses the draw does not use up the count.
 */
export interface FaultScope {
  action?: string;
  resourceId?: string;
  probability?: number;
  count?: number;
}

/** A snapshot of the model for the control API (`state`): plain JSON. */
export interface EcsStateSnapshot {
  readonly now: number;
  readonly instances: readonly {
    instanceId: string;
    status: InstanceStatus;
    instanceType: string;
    zoneId: string;
    vpcId: string;
    startTime: number | undefined;
    guestResponsive: boolean;
    cloudAssistantOnline: boolean;
    /** Whether the agent reports online now (false for a while after a start with the realistic profile). */
    agentOnline: boolean;
    eniIds: string[];
    tags: Record<string, string>;
  }[];
  readonly enis: readonly {
    eniId: string;
    status: string;
    type: string;
    instanceId: string | undefined;
    deviceIndex: number | undefined;
    macAddress: string;
    privateIps: string[];
    vpcId: string;
    zoneId: string;
    detachHeld: boolean;
    /** Whether the guest sees the NIC / metadata lists the MAC yet (realistic profile delays both). */
    guestVisible: boolean;
    metadataVisible: boolean;
    tags: Record<string, string>;
  }[];
  readonly invocations: readonly { invokeId: string; commandType: string; targets: { instanceId: string; status: string; exitCode: number | undefined }[] }[];
}

/**
 * Test and demo controls of a local ECS. The same methods are served as JSON over HTTP at
 * `POST /_local/<method>` (body: the single argument object; `GET` for the argument-less readers),
 * loopback only, no signature. Every method takes at most one plain object and returns JSON-able data.
 */
export interface EcsControl {
  /** The model as plain data. */
  state(): EcsStateSnapshot;
  /** Back to the scenario's initial state; clears faults, call log, rate windows and script log. */
  reset(): void;
  /** Matching calls (see {@link FaultScope}; default the next one) answer `code` with `status`, without acting. */
  injectFault(args: FaultScope & { code: string; status?: number; message?: string }): void;
  /** Delays the answer of matching calls by `ms` (default: every matching call until cleared). */
  injectLatency(args: FaultScope & { ms: number }): void;
  /** Matching calls (default the next one) get their socket destroyed before anything is done: no answer. */
  dropConnections(args: FaultScope): void;
  /**
   * "Executed, but the answer was lost": matching calls (default the next one) are carried out by the
   * model, then the socket is destroyed instead of answering (SDK: ECONNRESET / socket hang up).
   */
  loseAnswers(args: FaultScope): void;
  /** Re-seeds the RNG of probabilistic faults (default seed: the scenario's `realism.seed`, else 1). */
  seedFaults(args: { seed: number }): void;
  /** Removes every injected fault, latency, drop and lost answer. */
  clearFaults(): void;
  /** The next `count` (default 1) attaches (of `eniId`, or any) fail asynchronously: Attaching -> Available. */
  failAttach(args: { eniId?: string; count?: number }): void;
  /** An unresponsive guest holds detaches in Detaching, slows a soft stop 5x and hangs commands until Timeout. */
  setGuestResponsive(args: { instanceId: string; responsive: boolean }): void;
  setCloudAssistantOnline(args: { instanceId: string; online: boolean }): void;
  /** Sets an instance's status at once (e.g. crash a primary: Stopped), cancelling pending transitions. */
  setInstanceStatus(args: { instanceId: string; status: InstanceStatus }): void;
  /**
   * A host failure: every instance of the scenario with this `hostId` is Stopped at once, with a
   * `SystemFailure.Stop` system event each (model.failHost). Answers the instances it stopped.
   */
  failHost(args: { hostId: string }): { stopped: string[] };
  /** Calls per minute for an action; `perMinute: null` removes the limit. */
  setRateLimit(args: { action: string; perMinute: number | null }): void;
  /** Every script handed to the guest executor, in order. */
  scripts(): ScriptRun[];
  /** The MACs the instance metadata lists for an instance now (realistic profile: some time after InUse). */
  metadataMacs(args: { instanceId: string }): string[];
  /** Every model event so far (instance, eni, invocation state changes). */
  events(): ModelEvent[];
  /** Every API call served, in order, with its caller, parameters and outcome; optionally filtered. */
  calls(args?: { action?: string; resourceId?: string }): CallRecord[];
}

interface Rule {
  action: string | undefined;
  resourceId: string | undefined;
  probability: number | undefined;
  remaining: number;
}
interface Fault extends Rule {
  code: string;
  status: number;
  message: string;
}
interface Latency extends Rule {
  ms: number;
}

/** Protocol fields left out of recorded parameters. */
const ProtocolParams = new Set(['Signature', 'SignatureNonce', 'Timestamp', 'AccessKeyId', 'SecurityToken', 'SignatureMethod', 'SignatureVersion', 'Format', 'Version', 'Action']);

/** The resource ids a request names. */
function resourceIdsOf(params: Record<string, string>): string[] {
  const ids: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === '') continue;
    if (/^(InstanceId|NetworkInterfaceId|ResourceId)(\.\d+)?$/.test(k)) ids.push(v);
    if (k === 'InstanceIds') {
      try {
        const parsed: unknown = JSON.parse(v);
        if (Array.isArray(parsed)) for (const id of parsed) if (typeof id === 'string') ids.push(id);
      } catch {
        // A malformed InstanceIds names nothing; the handler answers InvalidParameter.
      }
    }
  }
  return [...new Set(ids)];
}

/** What the pipeline knows of a request once it is authenticated (for records and fault scopes). */
interface CallContext {
  readonly action: string;
  readonly signatureVersion: 'v3' | 'v2';
  readonly accessKeyId: string | undefined;
  readonly params: Readonly<Record<string, string>>;
  readonly resourceIds: readonly string[];
  readonly forceStop?: boolean;
}

export interface EcsServerOptions {
  readonly model: EcsModel;
  readonly keyring: Keyring;
  readonly port?: number;
}

const ControlReaders = new Set(['state', 'scripts', 'events', 'calls']);

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function flatQuery(raw: string): Record<string, string> {
  const parsed = parseQueryString(raw);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? (v[v.length - 1] ?? '') : v;
  }
  return out;
}

/**
 * The HTTP face of the local ECS (moto's "server"): signature checks (V3 and V2), per-API minute-window
 * throttling, injected faults, then the responses layer; plus the `/_local/` control API.
 */
export class EcsServer {
  readonly http: http.Server;
  readonly control: EcsControl;
  private readonly nonces = new NonceCache();
  private faults: Fault[] = [];
  private latencies: Latency[] = [];
  private drops: Rule[] = [];
  private lostAnswers: Rule[] = [];
  private faultRng: SeededRandom;
  private readonly rateLimits = new Map<string, number>();
  private readonly windows = new Map<string, { window: number; count: number }>();
  private callLog: CallRecord[] = [];

  constructor(private readonly options: EcsServerOptions) {
    // RunCommand puts the whole script in the query: a 16 KB default header limit answers 431 without a
    // body, which the SDK reports as a bare SyntaxError (sdk-wire.md).
    this.http = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.sendError(res, new EcsApiError('InternalError', String((err as Error)?.message ?? err), 500));
      });
    });
    this.resetRateLimits();
    this.faultRng = new SeededRandom(this.model.realism?.seed ?? 1);
    this.control = this.buildControl();
  }

  private get model(): EcsModel {
    return this.options.model;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.options.port ?? 0, '127.0.0.1', () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    return (this.http.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  private resetRateLimits(): void {
    this.rateLimits.clear();
    for (const [action, perMinute] of Object.entries(this.model.scenario.rateLimits)) this.rateLimits.set(action, perMinute);
    this.windows.clear();
  }

  // ------------------------------------------------------------------ request pipeline

  private async readBody(req: http.IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await this.readBody(req);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = flatQuery(q < 0 ? '' : url.slice(q + 1));

    if (path.startsWith('/_local/')) return this.handleControl(req, res, path.slice('/_local/'.length), body);

    const contentType = String(req.headers['content-type'] ?? '');
    const formBody = contentType.startsWith('application/x-www-form-urlencoded') ? flatQuery(body.toString('utf8')) : {};
    const authorization = String(req.headers.authorization ?? '');
    const isV3 = authorization.startsWith('ACS3-');
    const action = isV3 ? String(req.headers['x-acs-action'] ?? '') : (query.Action ?? formBody.Action ?? '');
    const version = isV3 ? String(req.headers['x-acs-version'] ?? '') : (query.Version ?? formBody.Version ?? '');

    // Signature timestamps are wall-clock by nature: checked against the real clock, not the model's.
    const signed = { method: req.method ?? 'POST', path, query, headers: req.headers, body };
    const auth: AuthResult = isV3
      ? verifyAcs3(signed, { keyring: this.options.keyring, nonces: this.nonces })
      : verifyRpcV2({ ...signed, formBody }, { keyring: this.options.keyring, nonces: this.nonces });
    const signatureVersion = isV3 ? 'v3' : 'v2';
    const allParams = { ...formBody, ...query };
    const params = Object.fromEntries(Object.entries(allParams).filter(([k]) => !ProtocolParams.has(k)).sort(([a], [b]) => (a < b ? -1 : 1)));
    const resourceIds = resourceIdsOf(params);
    const forceStop = action === 'StopInstance' || action === 'RebootInstance' ? params.ForceStop === 'true' : undefined;
    const call: CallContext = {
      action,
      signatureVersion,
      accessKeyId: auth.ok ? auth.key.accessKeyId : undefined,
      params,
      resourceIds,
      ...(forceStop === undefined ? {} : { forceStop }),
    };
    if (!auth.ok) return this.sendError(res, new EcsApiError(auth.code, auth.message, auth.status), call);

    // ecs-api.md: an unknown action (or version) is `InvalidApi.NotFound` 404 in the current common table.
    if (version !== EcsApiVersion || !(EcsActions as readonly string[]).includes(action)) {
      return this.sendError(res, ecsError('InvalidApi.NotFound', undefined, `(${action || '(none)'}, version ${version || '(none)'})`), call);
    }

    if (this.take(this.drops, call) !== undefined) {
      this.record(call, 0, 'ConnectionDropped', { source: 'fault' });
      req.socket.destroy();
      return;
    }
    const latency = this.take(this.latencies, call);
    if (latency !== undefined) await new Promise((resolve) => setTimeout(resolve, latency.ms));

    if (this.throttled(action)) {
      return this.sendError(res, ecsError('Throttling.User', undefined, `(${action}: ${this.rateLimits.get(action)} calls per minute)`), call);
    }
    const realism = this.model.realism;
    // Realistic profile: throttling in its three spellings (ecs-realism.md), without acting.
    if (realism?.throttling !== undefined && this.model.random.chance(realism.throttling.probability)) {
      const code = this.model.random.pick(realism.throttling.codes);
      return this.sendError(res, ecsError(code, undefined, `(${action})`), call, 'realism');
    }
    const fault = this.take(this.faults, call);
    if (fault !== undefined) return this.sendError(res, new EcsApiError(fault.code, fault.message, fault.status), call, 'fault');
    // Realistic profile: Attach/Detach answer the transient codes Terraform retries, without acting.
    const transient = realism?.transientWrites;
    if (transient !== undefined && (transient.actions as readonly string[]).includes(action) && this.model.random.chance(transient.probability)) {
      const code = this.model.random.pick(transient.codes);
      const err = code === 'please-retry-again' ? new EcsApiError('IncorrectInstanceStatus', PleaseRetryAgainMessage, 403) : ecsError(code);
      return this.sendError(res, err, call, 'realism');
    }

    const lose = this.take(this.lostAnswers, call) !== undefined;
    try {
      const answer = Handlers[action as EcsAction](new Params(allParams), this.model);
      const requestId = randomUUID().toUpperCase();
      if (lose) return this.loseAnswer(req, call, 200, undefined);
      this.record(call, 200, undefined, { requestId });
      this.sendJson(res, 200, { RequestId: requestId, ...answer });
    } catch (err) {
      if (!(err instanceof EcsApiError)) throw err;
      if (lose) return this.loseAnswer(req, call, err.status, err.code);
      return this.sendError(res, err, call);
    }
  }

  /** The model has acted (or refused); the caller never hears of it. */
  private loseAnswer(req: http.IncomingMessage, call: CallContext, status: number, code: string | undefined): void {
    this.record(call, status, code, { answerLost: true, source: 'fault' });
    req.socket.destroy();
  }

  /** The first rule that matches the call and wins its draw; uses up one of its count. */
  private take<T extends Rule>(list: T[], call: CallContext): T | undefined {
    for (const rule of list) {
      if (rule.remaining <= 0) continue;
      if (rule.action !== undefined && rule.action !== call.action) continue;
      if (rule.resourceId !== undefined && !call.resourceIds.includes(rule.resourceId)) continue;
      if (rule.probability !== undefined && !this.faultRng.chance(rule.probability)) continue;
      rule.remaining--;
      return rule;
    }
    return undefined;
  }

  /**
   * Per-API calls-per-minute limit in fixed minute windows, as ECS counts them (ecs-api.md): once the
   * limit is hit in window T every call is refused until window T+1 begins. The window is one minute
   * of the model's clock multiplied by timeScale (so a test at 0.001 waits 60 ms, not a minute).
   */
  private throttled(action: string): boolean {
    const limit = this.rateLimits.get(action);
    if (limit === undefined) return false;
    const windowMs = Math.max(1, 60_000 * this.model.timeScale);
    const window = Math.floor(this.model.now() / windowMs);
    const current = this.windows.get(action);
    const state = current !== undefined && current.window === window ? current : { window, count: 0 };
    this.windows.set(action, state);
    state.count++;
    return state.count > limit;
  }

  private record(
    call: CallContext,
    status: number,
    code: string | undefined,
    extra: { requestId?: string; answerLost?: boolean; source?: 'fault' | 'realism' } = {},
  ): void {
    const { action, signatureVersion, accessKeyId, params, resourceIds, forceStop } = call;
    this.callLog.push({
      action,
      status,
      code,
      signatureVersion,
      at: this.model.now(),
      accessKeyId,
      params,
      resourceIds,
      ...(forceStop === undefined ? {} : { forceStop }),
      ...(extra.answerLost === true ? { answerLost: true } : {}),
      ...(extra.source === undefined ? {} : { source: extra.source }),
    });
    if (this.callLog.length > 20_000) this.callLog.splice(0, this.callLog.length - 20_000);
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Every error is the JSON body `{RequestId, HostId, Code, Message, Recommend}` (ecs-api.md). */
  private sendError(res: http.ServerResponse, err: EcsApiError, call?: CallContext, source?: 'fault' | 'realism'): void {
    const requestId = randomUUID().toUpperCase();
    if (call !== undefined) this.record(call, err.status, err.code, { requestId, ...(source === undefined ? {} : { source }) });
    this.sendJson(res, err.status, {
      RequestId: requestId,
      HostId: `ecs.${this.model.regionId}.aliyuncs.com`,
      Code: err.code,
      Message: err.message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=Ecs&requestId=${requestId}`,
    });
  }

  // ------------------------------------------------------------------ control API

  private async handleControl(req: http.IncomingMessage, res: http.ServerResponse, method: string, body: Buffer): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) return this.sendJson(res, 403, { error: 'the control API answers loopback callers only' });
    const control = this.control as unknown as Record<string, (args?: unknown) => unknown>;
    if (!Object.hasOwn(control, method)) {
      return this.sendJson(res, 404, { error: `unknown control method ${method}; known: ${Object.keys(control).join(', ')}` });
    }
    if (req.method !== 'POST' && !(req.method === 'GET' && ControlReaders.has(method))) {
      return this.sendJson(res, 405, { error: `use POST /_local/${method} with a JSON object body` });
    }
    let args: unknown = {};
    if (body.length > 0) {
      try {
        args = JSON.parse(body.toString('utf8'));
      } catch {
        return this.sendJson(res, 400, { error: 'the body must be a JSON object' });
      }
    }
    try {
      const result = (control[method] as (a?: unknown) => unknown)(args);
      this.sendJson(res, 200, result === undefined ? { ok: true } : result);
    } catch (err) {
      const code = err instanceof EcsApiError ? err.code : 'BadRequest';
      this.sendJson(res, 400, { error: (err as Error).message, code });
    }
  }

  private buildControl(): EcsControl {
    const model = this.model;
    const checkAction = (action: string | undefined) => {
      if (action !== undefined && !(EcsActions as readonly string[]).includes(action)) {
        throw new Error(`unknown action ${action}; known: ${EcsActions.join(', ')}`);
      }
    };
    const obj = <T>(value: T): Record<string, string> => Object.fromEntries((value as Map<string, string>).entries());
    /** A fault rule from its scope; `fallbackCount` when neither count nor probability is given. */
    const rule = (scope: FaultScope, fallbackCount: number): Rule => {
      checkAction(scope.action);
      const { probability, count } = scope;
      if (probability !== undefined && (typeof probability !== 'number' || probability < 0 || probability > 1)) throw new Error('probability must be from 0 to 1');
      if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new Error('count must be a positive integer');
      return {
        action: scope.action,
        resourceId: scope.resourceId,
        probability,
        remaining: count ?? (probability !== undefined ? Number.POSITIVE_INFINITY : fallbackCount),
      };
    };
    return {
      state: () => {
        model.advance();
        return {
          now: model.now(),
          instances: [...model.instances.values()].map((i) => ({
            instanceId: i.instanceId,
            ...(i.hostId === undefined ? {} : { hostId: i.hostId }),
            status: i.status,
            instanceType: i.instanceType,
            zoneId: i.zoneId,
            vpcId: i.vpcId,
            startTime: i.startTime,
            guestResponsive: i.guestResponsive,
            cloudAssistantOnline: i.cloudAssistantOnline,
            agentOnline: model.agentOnline(i),
            eniIds: model.enisOf(i.instanceId).map((e) => e.eniId),
            tags: obj(i.tags),
          })),
          enis: [...model.enis.values()].map((e) => ({
            eniId: e.eniId,
            status: e.status,
            type: e.type,
            instanceId: e.instanceId,
            deviceIndex: e.deviceIndex,
            macAddress: e.macAddress,
            privateIps: [...e.privateIps],
            vpcId: e.vpcId,
            zoneId: e.zoneId,
            detachHeld: e.detachHeld,
            guestVisible: e.status === 'InUse' && e.guestVisibleAt <= model.now(),
            metadataVisible: e.status === 'InUse' && e.metadataVisibleAt <= model.now(),
            tags: obj(e.tags),
          })),
          invocations: [...model.invocations.values()].map((inv) => ({
            invokeId: inv.invokeId,
            commandType: inv.commandType,
            targets: [...inv.targets.values()].map((t) => ({ instanceId: t.instanceId, status: t.status, exitCode: t.exitCode })),
          })),
        };
      },
      reset: () => {
        model.reset();
        this.faults = [];
        this.latencies = [];
        this.drops = [];
        this.lostAnswers = [];
        this.callLog = [];
        this.faultRng = new SeededRandom(model.realism?.seed ?? 1);
        this.resetRateLimits();
      },
      injectFault: ({ code, status, message, ...scope }) => {
        if (typeof code !== 'string' || code === '') throw new Error('injectFault needs a code, e.g. "InternalError"');
        const known = (EcsErrors as Record<string, { status: number; message: string } | undefined>)[code];
        this.faults.push({ ...rule(scope, 1), code, status: status ?? known?.status ?? 500, message: message ?? known?.message ?? `Injected fault ${code}.` });
      },
      injectLatency: ({ ms, ...scope }) => {
        if (typeof ms !== 'number' || ms < 0) throw new Error('injectLatency needs ms >= 0');
        this.latencies.push({ ...rule(scope, Number.POSITIVE_INFINITY), ms });
      },
      dropConnections: (scope = {}) => {
        this.drops.push(rule(scope, 1));
      },
      loseAnswers: (scope = {}) => {
        this.lostAnswers.push(rule(scope, 1));
      },
      seedFaults: ({ seed }) => {
        if (!Number.isInteger(seed)) throw new Error('seedFaults needs an integer seed');
        this.faultRng = new SeededRandom(seed);
      },
      clearFaults: () => {
        this.faults = [];
        this.latencies = [];
        this.drops = [];
        this.lostAnswers = [];
      },
      failAttach: ({ eniId, count = 1 }) => model.failAttach(eniId, count),
      setGuestResponsive: ({ instanceId, responsive }) => model.setGuestResponsive(instanceId, responsive),
      setCloudAssistantOnline: ({ instanceId, online }) => model.setCloudAssistantOnline(instanceId, online),
      setInstanceStatus: ({ instanceId, status }) => {
        if (!Object.values(InstanceStatus).includes(status)) throw new Error(`status must be one of ${Object.values(InstanceStatus).join(', ')}`);
        model.forceInstanceStatus(instanceId, status);
      },
      failHost: ({ hostId }) => {
        if (typeof hostId !== 'string' || hostId === '') throw new Error('failHost needs a hostId (scenario instances[].hostId)');
        return { stopped: model.failHost(hostId) };
      },
      setRateLimit: ({ action, perMinute }) => {
        checkAction(action);
        if (perMinute === null) this.rateLimits.delete(action);
        else this.rateLimits.set(action, perMinute);
        this.windows.delete(action);
      },
      scripts: () => model.scriptRuns.map((r) => ({ ...r })),
      events: () => [...model.eventLog],
      metadataMacs: ({ instanceId }) => {
        model.getInstance(instanceId);
        return model.metadataMacs(instanceId);
      },
      calls: (args = {}) =>
        this.callLog.filter(
          (c) => (args.action === undefined || c.action === args.action) && (args.resourceId === undefined || c.resourceIds.includes(args.resourceId)),
        ),
    };
  }
}
