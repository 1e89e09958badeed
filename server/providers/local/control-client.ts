/**
 * A typed client for the local fleet's control API (see server/fleet/protocol.ts).
 * Used by the local provider, by tests, and by the dashboard's fault panel.
 * Transport failures become ProviderError: refused → UNAVAILABLE, no answer in time → TIMEOUT.
 */
import { readControlSecret } from "@/server/fleet/control-secret";
import { ProviderError, type ProviderErrorCode } from "@/server/providers/types";
import {
  API_PREFIX,
  type ControlInstance,
  type ControlLoadBalancer,
  type Fault,
  type FaultBody,
  type FleetInfo,
  type FleetTrafficStats,
  type GroupActivity,
  type GroupView,
  type HookBody,
  type HookResultWire,
  type LocalTrafficStats,
  type SettingsBody,
  type TrafficBody,
} from "@/server/fleet/protocol";
import type { HookName } from "@/lib/rollout/types";
import type { BackendStatsSnapshot } from "@/lib/analysis";

export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

export function defaultControlUrl(env: Record<string, string | undefined> = process.env): string {
  if (env.ROTOR_CONTROL_URL) return env.ROTOR_CONTROL_URL.replace(/\/+$/, "");
  const lbPort = Number(env.ROTOR_LB_PORT ?? 8080);
  const port = Number(env.ROTOR_CONTROL_PORT ?? lbPort + 1);
  return `http://127.0.0.1:${port}`;
}

function statusCode(status: number): ProviderErrorCode {
  if (status === 404) return "NOT_FOUND";
  if (status === 401 || status === 403) return "AUTH";
  if (status === 429) return "THROTTLED";
  if (status === 503) return "UNAVAILABLE";
  if (status >= 400 && status < 500) return "INVALID_INPUT";
  return "INTERNAL";
}

function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The control API's bearer secret, read when each request is made (a restarted fleet writes a new one). */
export type SecretSource = () => string | null;

export class ControlClient {
  readonly baseUrl: string;
  private readonly secret: SecretSource;

  /** `secret`: default, the file the fleet writes (`${ROTOR_DATA_DIR}/control.secret` or ROTOR_CONTROL_SECRET_FILE). */
  constructor(baseUrl: string = defaultControlUrl(), secret: SecretSource = () => readControlSecret()) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.secret = secret;
  }

  async request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const what = `${method} ${API_PREFIX}${path}`;
    let res: Response;
    try {
      const secret = this.secret();
      res = await fetch(`${this.baseUrl}${API_PREFIX}${path}`, {
        method,
        headers: {
          ...(secret ? { authorization: `Bearer ${secret}` } : {}),
          ...(method === "GET" ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
      });
    } catch (err) {
      throw this.transportError(what, err, timeout, timeoutMs);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw this.transportError(what, err, timeout, timeoutMs);
    }
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch (cause) {
      throw new ProviderError("INTERNAL", `${what}: the fleet answered ${res.status} with invalid JSON`, { cause });
    }
    if (!res.ok) {
      const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? text.slice(0, 200);
      throw new ProviderError(statusCode(res.status), `${what}: ${res.status} ${message}`);
    }
    return json as T;
  }

  private transportError(what: string, err: unknown, timeout: AbortSignal, timeoutMs: number): ProviderError {
    if (timeout.aborted) return new ProviderError("TIMEOUT", `${what}: no answer from the local fleet within ${timeoutMs} ms`, { cause: err });
    if (err instanceof Error && err.name === "AbortError") return new ProviderError("TIMEOUT", `${what}: aborted`, { cause: err });
    const code = causeCode(err);
    const hint = code === "ECONNREFUSED" ? " (is the fleet running? `npm start` starts it)" : "";
    return new ProviderError("UNAVAILABLE", `${what}: cannot reach the local fleet at ${this.baseUrl}: ${code ?? String(err)}${hint}`, { cause: err });
  }

  fleet(o?: RequestOptions) {
    return this.request<FleetInfo>("GET", "/fleet", undefined, o);
  }
  loadBalancers(o?: RequestOptions) {
    return this.request<ControlLoadBalancer[]>("GET", "/load-balancers", undefined, o);
  }
  loadBalancer(lb: string, o?: RequestOptions) {
    return this.request<ControlLoadBalancer>("GET", `/load-balancers/${encodeURIComponent(lb)}`, undefined, o);
  }
  instances(lb: string, o?: RequestOptions) {
    return this.request<ControlInstance[]>("GET", `/load-balancers/${encodeURIComponent(lb)}/instances`, undefined, o);
  }
  deregister(lb: string, ids: string[], o?: RequestOptions) {
    return this.request<{ ok: true }>("POST", `/load-balancers/${encodeURIComponent(lb)}/deregister`, { ids }, o);
  }
  register(lb: string, ids: string[], o?: RequestOptions) {
    return this.request<{ ok: true }>("POST", `/load-balancers/${encodeURIComponent(lb)}/register`, { ids }, o);
  }
  /** Change drain timeout or health-check settings at run time. */
  settings(lb: string, body: SettingsBody, o?: RequestOptions) {
    return this.request<ControlLoadBalancer>("POST", `/load-balancers/${encodeURIComponent(lb)}/settings`, body, o);
  }
  /** Runs a hook on every id (in parallel) and answers when all are done; one result per id, in order. */
  runHook(hook: HookName, body: HookBody, o?: RequestOptions) {
    // A hook answers when done: wait for its own timeout (the fleet's longest default is 30 s) plus a margin.
    const timeoutMs = o?.timeoutMs ?? (body.timeoutMs ?? 30_000) + 5_000;
    return this.request<HookResultWire[]>("POST", `/hooks/${hook}`, body, { ...o, timeoutMs });
  }
  /** Every balancer at once, as the ids it has now registered: `{ [instanceId]: [balancer names] }`. */
  memberships(o?: RequestOptions) {
    return this.request<Record<string, string[]>>("GET", "/memberships", undefined, o);
  }
  /** The traffic generator's counters over every balancer (each one's under `loadBalancers`). */
  traffic(o?: RequestOptions) {
    return this.request<FleetTrafficStats>("GET", "/traffic", undefined, o);
  }
  /** Cumulative per-backend counters and latency histograms of one balancer now (every backend, or `ids`). */
  backendStats(lb: string, ids?: readonly string[], o?: RequestOptions) {
    const query = ids && ids.length > 0 ? `?ids=${ids.map(encodeURIComponent).join(",")}` : "";
    return this.request<BackendStatsSnapshot>("GET", `/load-balancers/${encodeURIComponent(lb)}/backends/stats${query}`, undefined, o);
  }
  /** The traffic generator's counters for the requests it sent through one balancer. */
  lbTraffic(lb: string, o?: RequestOptions) {
    return this.request<LocalTrafficStats>("GET", `/load-balancers/${encodeURIComponent(lb)}/traffic`, undefined, o);
  }
  setTraffic(body: TrafficBody, o?: RequestOptions) {
    return this.request<FleetTrafficStats>("POST", "/traffic", body, o);
  }
  resetTraffic(o?: RequestOptions) {
    return this.request<FleetTrafficStats>("POST", "/traffic/reset", {}, o);
  }
  faults(o?: RequestOptions) {
    return this.request<Fault[]>("GET", "/faults", undefined, o);
  }
  injectFault(body: FaultBody, o?: RequestOptions) {
    return this.request<Fault[]>("POST", "/faults", body, o);
  }
  clearFaults(o?: RequestOptions) {
    return this.request<Fault[]>("DELETE", "/faults", undefined, o);
  }
  /** The Auto Scaling group: min/desired/max, launch version, instances (Pending/InService/Terminating), recent activities. */
  group(o?: RequestOptions) {
    return this.request<GroupView>("GET", "/group", undefined, o);
  }
  /** The release the group's new instances start from; running instances keep theirs. */
  setLaunchVersion(version: string, o?: RequestOptions) {
    return this.request<GroupView>("POST", "/group/launch-version", { version }, o);
  }
  /** Refused (INVALID_INPUT, 400 CAPACITY_OUT_OF_RANGE) outside min..max; the group launches or terminates to match. */
  setDesiredCapacity(desiredCapacity: number, o?: RequestOptions) {
    return this.request<GroupView>("POST", "/group/desired-capacity", { desiredCapacity }, o);
  }
  /** Like TerminateInstanceInAutoScalingGroup: answers once the instance is Terminating (drain and stop follow). */
  terminateInGroup(instanceId: string, decrementDesired: boolean, o?: RequestOptions) {
    return this.request<GroupActivity>("POST", "/group/terminate-instance", { instanceId, decrementDesired }, o);
  }
  /** Clears faults and resets traffic and balancer counters (not versions or registrations). */
  reset(o?: RequestOptions) {
    return this.request<{ ok: true }>("POST", "/reset", {}, o);
  }
}

export function createControlClient(baseUrl?: string): ControlClient {
  return new ControlClient(baseUrl);
}
