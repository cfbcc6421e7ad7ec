import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQueryString } from 'node:querystring';
import { InstanceStatus } from './api-strings';
import { NonceCache, verifyAcs3, verifyRpcV2, type AuthResult } from '../acs3';
import type { Keyring } from '../credentials';
import { EcsApiError, EcsErrors, ecsError } from './errors';
import type { EcsModel, ModelEvent, ScriptRun } from './model';
import { Handlers, Params } from './responses';
import { EcsActions, type EcsAction } from './scenario';

/** The API version the local ECS serves (x-acs-version / Version). */
export const EcsApiVersion = '2014-05-26';

/** One served request, for the control API (`calls`). */
export interface CallRecord {
  readonly action: string;
  readonly status: number;
  /** Error code; undefined on success. */
  readonly code: string | undefined;
  readonly signatureVersion: 'v3' | 'v2' | undefined;
  readonly at: number;
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
  /** The next `count` (default 1) calls of `action` (or of any action) answer `code` with `status`. */
  injectFault(args: { action?: string; count?: number; code: string; status?: number; message?: string }): void;
  /** Delays the answer of the next `count` calls (default: every call until cleared) by `ms`. */
  injectLatency(args: { action?: string; ms: number; count?: number }): void;
  /** The next `count` (default 1) calls of `action` (or any) get their socket destroyed, no answer. */
  dropConnections(args: { action?: string; count?: number }): void;
  /** Removes every injected fault, latency and drop. */
  clearFaults(): void;
  /** The next `count` (default 1) attaches (of `eniId`, or any) fail asynchronously: Attaching -> Available. */
  failAttach(args: { eniId?: string; count?: number }): void;
  /** An unresponsive guest holds detaches in Detaching, slows a soft stop 5x and hangs commands until Timeout. */
  setGuestResponsive(args: { instanceId: string; responsive: boolean }): void;
  setCloudAssistantOnline(args: { instanceId: string; online: boolean }): void;
  /** Sets an instance's status at once (e.g. crash a primary: Stopped), cancelling pending transitions. */
  setInstanceStatus(args: { instanceId: string; status: InstanceStatus }): void;
  /** Calls per minute for an action; `perMinute: null` removes the limit. */
  setRateLimit(args: { action: string; perMinute: number | null }): void;
  /** Every script handed to the guest executor, in order. */
  scripts(): ScriptRun[];
  /** Every model event so far (instance, eni, invocation state changes). */
  events(): ModelEvent[];
  /** Every API call served, in order, with its outcome. */
  calls(): CallRecord[];
}

interface Fault {
  action: string | undefined;
  remaining: number;
  code: string;
  status: number;
  message: string;
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
  private latencies: { action: string | undefined; ms: number; remaining: number | undefined }[] = [];
  private drops: { action: string | undefined; remaining: number }[] = [];
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
    if (!auth.ok) return this.sendError(res, new EcsApiError(auth.code, auth.message, auth.status), action, signatureVersion);

    // ecs-api.md: an unknown action (or version) is `InvalidApi.NotFound` 404 in the current common table.
    if (version !== EcsApiVersion || !(EcsActions as readonly string[]).includes(action)) {
      return this.sendError(res, ecsError('InvalidApi.NotFound', undefined, `(${action || '(none)'}, version ${version || '(none)'})`), action, signatureVersion);
    }

    const drop = this.take(this.drops, action);
    if (drop) {
      this.record(action, 0, 'ConnectionDropped', signatureVersion);
      req.socket.destroy();
      return;
    }
    const latency = this.latencies.find((l) => l.action === undefined || l.action === action);
    if (latency !== undefined) {
      if (latency.remaining !== undefined && --latency.remaining <= 0) this.latencies = this.latencies.filter((l) => l !== latency);
      await new Promise((resolve) => setTimeout(resolve, latency.ms));
    }

    if (this.throttled(action)) {
      return this.sendError(res, ecsError('Throttling.User', undefined, `(${action}: ${this.rateLimits.get(action)} calls per minute)`), action, signatureVersion);
    }
    const fault = this.faults.find((f) => f.remaining > 0 && (f.action === undefined || f.action === action));
    if (fault !== undefined) {
      fault.remaining--;
      this.faults = this.faults.filter((f) => f.remaining > 0);
      return this.sendError(res, new EcsApiError(fault.code, fault.message, fault.status), action, signatureVersion);
    }

    try {
      const answer = Handlers[action as EcsAction](new Params({ ...formBody, ...query }), this.model);
      const requestId = randomUUID().toUpperCase();
      this.record(action, 200, undefined, signatureVersion);
      this.sendJson(res, 200, { RequestId: requestId, ...answer });
    } catch (err) {
      if (err instanceof EcsApiError) return this.sendError(res, err, action, signatureVersion);
      throw err;
    }
  }

  private take(list: { action: string | undefined; remaining: number }[], action: string): boolean {
    const entry = list.find((d) => d.remaining > 0 && (d.action === undefined || d.action === action));
    if (entry === undefined) return false;
    entry.remaining--;
    return true;
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

  private record(action: string, status: number, code: string | undefined, signatureVersion: 'v3' | 'v2' | undefined): void {
    this.callLog.push({ action, status, code, signatureVersion, at: this.model.now() });
    if (this.callLog.length > 20_000) this.callLog.splice(0, this.callLog.length - 20_000);
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Every error is the JSON body `{RequestId, HostId, Code, Message, Recommend}` (ecs-api.md). */
  private sendError(res: http.ServerResponse, err: EcsApiError, action?: string, signatureVersion?: 'v3' | 'v2'): void {
    const requestId = randomUUID().toUpperCase();
    if (action !== undefined) this.record(action, err.status, err.code, signatureVersion);
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
    return {
      state: () => {
        model.advance();
        return {
          now: model.now(),
          instances: [...model.instances.values()].map((i) => ({
            instanceId: i.instanceId,
            status: i.status,
            instanceType: i.instanceType,
            zoneId: i.zoneId,
            vpcId: i.vpcId,
            startTime: i.startTime,
            guestResponsive: i.guestResponsive,
            cloudAssistantOnline: i.cloudAssistantOnline,
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
        this.callLog = [];
        this.resetRateLimits();
      },
      injectFault: ({ action, count = 1, code, status, message }) => {
        checkAction(action);
        if (typeof code !== 'string' || code === '') throw new Error('injectFault needs a code, e.g. "InternalError"');
        const known = (EcsErrors as Record<string, { status: number; message: string } | undefined>)[code];
        this.faults.push({ action, remaining: count, code, status: status ?? known?.status ?? 500, message: message ?? known?.message ?? `Injected fault ${code}.` });
      },
      injectLatency: ({ action, ms, count }) => {
        checkAction(action);
        this.latencies.push({ action, ms, remaining: count });
      },
      dropConnections: ({ action, count = 1 }) => {
        checkAction(action);
        this.drops.push({ action, remaining: count });
      },
      clearFaults: () => {
        this.faults = [];
        this.latencies = [];
        this.drops = [];
      },
      failAttach: ({ eniId, count = 1 }) => model.failAttach(eniId, count),
      setGuestResponsive: ({ instanceId, responsive }) => model.setGuestResponsive(instanceId, responsive),
      setCloudAssistantOnline: ({ instanceId, online }) => model.setCloudAssistantOnline(instanceId, online),
      setInstanceStatus: ({ instanceId, status }) => {
        if (!Object.values(InstanceStatus).includes(status)) throw new Error(`status must be one of ${Object.values(InstanceStatus).join(', ')}`);
        model.forceInstanceStatus(instanceId, status);
      },
      setRateLimit: ({ action, perMinute }) => {
        checkAction(action);
        if (perMinute === null) this.rateLimits.delete(action);
        else this.rateLimits.set(action, perMinute);
        this.windows.delete(action);
      },
      scripts: () => model.scriptRuns.map((r) => ({ ...r })),
      events: () => [...model.eventLog],
      calls: () => [...this.callLog],
    };
  }
}
