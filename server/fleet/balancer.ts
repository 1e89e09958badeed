/**
 * The local load balancer: a small reverse proxy on node:http (the popular proxy packages are
 * unmaintained, and the drain must count every request itself; see server/fleet/README.md).
 * Round-robin over in-service backends, keep-alive both ways (one http.Agent per backend), bodies
 * streamed, ELB-like health checks and connection draining, counters per backend.
 *
 * Keep-alive: the agent closes upstream sockets idle for UPSTREAM_IDLE_MS, shorter than the instances'
 * keepAliveTimeout (10 s), so the balancer never reuses a socket the backend is closing. A request that
 * still fails on a reused socket before any response came back is retried once on the next backend, but
 * only when it is idempotent and bodiless (replaying a POST could apply it twice), and only in the
 * stale-socket window.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { checkOnce, deriveState, freshHealth, recordCheck, DEFAULT_HEALTH_CHECK, type HealthCheckSettings } from "./health";
import { LATENCY_BOUNDS_MS, bucketCount, type BackendCumulative, type BackendStatsSnapshot } from "@/lib/analysis";
import type { BackendCounters, ControlInstance, DrainRecord, LbTotals } from "./protocol";
import { lbError, proxyRequest, type Backend, type BackendSpec, type Flight, type ProxyContext } from "./proxy";

export type { BackendSpec };

export const UPSTREAM_IDLE_MS = 4_000;

export interface BalancerOptions {
  port: number;
  host?: string;
  drainTimeoutMs?: number;
  healthCheck?: Partial<HealthCheckSettings>;
  /** An upstream request with no answer for this long gets a 504. */
  upstreamTimeoutMs?: number;
}

export type BackendView = Pick<ControlInstance, "id" | "zone" | "state" | "description" | "reasonCode" | "inFlight" | "healthCheck" | "address" | "port" | "registered" | "counters" | "lastDrain"> & {
  elbState: string;
};

function zeroCounters(): BackendCounters {
  return { inFlight: 0, requests: 0, backend5xx: 0, lb5xx: 0, errors: 0, retries: 0, drainCut: 0, clientAborts: 0 };
}

function zeroLatency(): number[] {
  return new Array<number>(bucketCount()).fill(0);
}

function zeroTotals(): LbTotals {
  return { requests: 0, inFlight: 0, backend5xx: 0, lb5xx: 0, noBackend503: 0, errors: 0, retries: 0, clientAborts: 0 };
}

function destroyIdleSockets(agent: http.Agent) {
  for (const list of Object.values(agent.freeSockets)) for (const socket of list ?? []) socket.destroy();
}

export class Balancer implements ProxyContext {
  readonly server: http.Server;
  drainTimeoutMs: number;
  healthCheck: HealthCheckSettings;
  readonly upstreamTimeoutMs: number;
  private readonly backends = new Map<string, Backend>();
  private ring: Backend[] = [];
  private next = 0;
  totals: LbTotals = zeroTotals();

  constructor(private readonly options: BalancerOptions) {
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.healthCheck = { ...DEFAULT_HEALTH_CHECK, ...options.healthCheck };
    this.upstreamTimeoutMs = options.upstreamTimeoutMs ?? 60_000;
    this.server = http.createServer((req, res) => proxyRequest(this, req, res));
    // Clients' idle sockets must not be closed under them: be generous (ELB's default idle timeout is 60 s).
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 70_000;
    this.server.requestTimeout = 0;
    this.server.on("clientError", (_err, socket) => socket.destroy());
    // One sweep for upstream timeouts instead of a timer per request.
    this.sweeper = setInterval(() => this.sweepTimeouts(), Math.min(1_000, this.upstreamTimeoutMs));
    this.sweeper.unref();
  }

  private readonly sweeper: NodeJS.Timeout;

  private sweepTimeouts() {
    const limit = Date.now() - this.upstreamTimeoutMs;
    for (const b of this.backends.values())
      for (const f of b.flights) if (!f.responded && f.sentAt < limit) f.up.destroy(Object.assign(new Error("upstream timeout"), { code: "ETIMEDOUT" }));
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, this.options.host ?? "127.0.0.1", () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const b of this.backends.values()) this.stopChecks(b);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    for (const b of this.backends.values()) b.agent.destroy();
  }

  /** Adds a backend (not registered) or updates its address; checks start at once. */
  upsert(spec: BackendSpec): void {
    const existing = this.backends.get(spec.id);
    if (existing) {
      if (existing.port !== spec.port || existing.host !== (spec.host ?? "127.0.0.1")) {
        destroyIdleSockets(existing.agent);
        existing.port = spec.port;
        existing.host = spec.host ?? "127.0.0.1";
      }
      existing.zone = spec.zone;
      return;
    }
    const b: Backend = {
      ...spec,
      host: spec.host ?? "127.0.0.1",
      agent: new http.Agent({ keepAlive: true, maxSockets: spec.maxConnections ?? 256, maxFreeSockets: spec.maxConnections ?? 256, timeout: UPSTREAM_IDLE_MS, scheduling: "lifo" }),
      registered: false,
      draining: false,
      drainTimer: null,
      health: freshHealth(),
      hcTimer: null,
      hcRunning: false,
      healthFault: false,
      flights: new Set(),
      counters: zeroCounters(),
      latency: zeroLatency(),
      countersSince: Date.now(),
      lastDrain: null,
    };
    this.backends.set(b.id, b);
    this.scheduleCheck(b, 0);
  }

  /**
   * Forgets a backend that left the fleet (a terminated instance): checks stop, its sockets close. A backend
   * still registered or draining is refused, so nothing in flight is cut by a removal.
   */
  remove(id: string): void {
    const b = this.backends.get(id);
    if (!b) return;
    if (b.registered || b.draining || b.flights.size > 0) throw new Error(`cannot remove ${id}: it is still ${b.registered ? "registered" : "draining"}`);
    this.stopChecks(b);
    this.backends.delete(id);
    b.agent.destroy();
    this.rebuildRing();
  }

  has(id: string): boolean {
    return this.backends.has(id);
  }

  register(ids: string[]): void {
    for (const id of ids) {
      const b = this.backends.get(id);
      if (!b || b.registered) continue;
      if (b.draining) this.endDrain(b, "registered");
      b.registered = true;
      b.health = freshHealth();
      this.scheduleCheck(b, 0);
    }
    this.rebuildRing();
  }

  deregister(ids: string[], holdMs?: (id: string) => number | undefined): void {
    const now = Date.now();
    for (const id of ids) {
      const b = this.backends.get(id);
      if (!b || !b.registered) continue;
      b.registered = false;
      destroyIdleSockets(b.agent);
      const hold = holdMs?.(id);
      if (hold) this.holdRequest(b, hold);
      b.lastDrain = { startedAt: now, endedAt: null, reason: null, inFlightAtStart: b.flights.size, lastRequestDoneAt: null, cut: { count: 0, fate: [] } };
      if (b.flights.size === 0) {
        b.lastDrain.endedAt = now;
        b.lastDrain.reason = "idle";
        continue;
      }
      b.draining = true;
      b.drainTimer = setTimeout(() => this.drainTimedOut(b), this.drainTimeoutMs);
    }
    this.rebuildRing();
  }

  setHealthFault(id: string, failing: boolean): void {
    const b = this.backends.get(id);
    if (b) b.healthFault = failing;
  }

  setSettings(s: { drainTimeoutMs?: number; healthCheck?: Partial<HealthCheckSettings> }): void {
    if (s.drainTimeoutMs !== undefined) this.drainTimeoutMs = s.drainTimeoutMs;
    if (s.healthCheck) this.healthCheck = { ...this.healthCheck, ...s.healthCheck };
  }

  resetCounters(): void {
    this.totals = zeroTotals();
    const now = Date.now();
    for (const b of this.backends.values()) {
      b.counters = { ...zeroCounters(), inFlight: b.flights.size };
      b.latency = zeroLatency();
      b.countersSince = now;
    }
  }

  /**
   * Cumulative per-backend counters and latency histograms now (every backend, or those in `ids`), for
   * batch analysis: a caller takes two and subtracts (lib/analysis.ts diffSnapshots).
   */
  stats(lb: string, ids?: readonly string[]): BackendStatsSnapshot {
    const backends: Record<string, BackendCumulative> = {};
    for (const b of this.backends.values()) {
      if (ids && !ids.includes(b.id)) continue;
      const c = b.counters;
      backends[b.id] = { since: b.countersSince, requests: c.requests, backend5xx: c.backend5xx, errors: c.errors, lb5xx: c.lb5xx, latency: [...b.latency] };
    }
    return { lb, at: Date.now(), boundsMs: [...LATENCY_BOUNDS_MS], backends };
  }

  describe(): BackendView[] {
    return [...this.backends.values()].map((b) => {
      const s = deriveState(b.registered, b.draining, b.health);
      return {
        id: b.id,
        zone: b.zone,
        port: b.port,
        address: `${b.host}:${b.port}`,
        registered: b.registered,
        state: s.state,
        elbState: s.elbState,
        reasonCode: s.reasonCode,
        description: s.description,
        inFlight: b.flights.size,
        healthCheck: b.health.last ? { ok: b.health.last.ok, detail: b.health.last.detail } : { ok: false, detail: "no health check yet" },
        counters: { ...b.counters, inFlight: b.flights.size },
        lastDrain: b.lastDrain ? { ...b.lastDrain, cut: { ...b.lastDrain.cut, fate: [...b.lastDrain.cut.fate] } } : null,
      };
    });
  }

  getTotals(): LbTotals {
    let inFlight = 0;
    for (const b of this.backends.values()) inFlight += b.flights.size;
    return { ...this.totals, inFlight };
  }

  // ---- health checks ----

  private scheduleCheck(b: Backend, delayMs: number) {
    if (b.hcTimer) clearTimeout(b.hcTimer);
    b.hcTimer = setTimeout(() => void this.runCheck(b), delayMs);
  }

  private stopChecks(b: Backend) {
    if (b.hcTimer) clearTimeout(b.hcTimer);
    b.hcTimer = null;
  }

  private async runCheck(b: Backend) {
    if (b.hcRunning) return;
    b.hcRunning = true;
    const started = Date.now();
    const generation = b.health;
    const result = b.healthFault ? { ok: false, detail: "health check failed (injected fault: health-fails-after-start)" } : await checkOnce(b.host, b.port, this.healthCheck);
    b.hcRunning = false;
    // A registration in between started a fresh count: this result belongs to the old one.
    if (generation === b.health) {
      const wasInService = this.inService(b);
      recordCheck(b.health, result.ok, result.detail, Date.now(), this.healthCheck);
      if (wasInService !== this.inService(b)) this.rebuildRing();
    }
    if (this.backends.get(b.id) === b) this.scheduleCheck(b, Math.max(0, this.healthCheck.intervalMs - (Date.now() - started)));
  }

  private inService(b: Backend) {
    return b.registered && b.health.healthy === true;
  }

  private rebuildRing() {
    this.ring = [...this.backends.values()].filter((b) => this.inService(b));
  }

  // ---- draining ----

  settleFlight(b: Backend, f: Flight): void {
    if (f.done) return;
    f.done = true;
    b.flights.delete(f);
    if (b.draining && b.flights.size === 0) {
      if (b.lastDrain) b.lastDrain.lastRequestDoneAt = Date.now();
      this.endDrain(b, "in-flight-zero");
    }
  }

  private endDrain(b: Backend, reason: NonNullable<DrainRecord["reason"]>) {
    if (b.drainTimer) clearTimeout(b.drainTimer);
    b.drainTimer = null;
    b.draining = false;
    if (b.lastDrain && b.lastDrain.endedAt === null) {
      b.lastDrain.endedAt = Date.now();
      b.lastDrain.reason = reason;
    }
    destroyIdleSockets(b.agent);
  }

  /** ELB closes the connections still open when the drain timeout expires; so do we, and say what became of each request. */
  private drainTimedOut(b: Backend) {
    const cut = [...b.flights];
    b.draining = false; // settling the cut requests below must not read as a drain that ended by itself
    for (const f of cut) {
      b.counters.drainCut++;
      const fate = !f.res ? "held request aborted" : f.res.headersSent ? "response cut mid-body (client connection reset)" : "answered 504 by the balancer";
      if (b.lastDrain) {
        b.lastDrain.cut.count++;
        b.lastDrain.cut.fate.push(fate);
      }
      if (f.res && !f.res.headersSent) {
        b.counters.lb5xx++;
        this.totals.lb5xx++;
        lbError(f.res, 504, `backend ${b.id} was deregistered and its drain timeout (${this.drainTimeoutMs} ms) expired`);
      } else f.res?.destroy();
      f.up.destroy();
      this.settleFlight(b, f);
    }
    this.endDrain(b, "timeout");
  }

  /** Fault `slow-drain`: an in-flight request the balancer itself holds open to the backend. */
  private holdRequest(b: Backend, ms: number) {
    const up = http.get({ host: b.host, port: b.port, path: `/slow?ms=${ms}`, agent: b.agent, headers: { "user-agent": "rotor-lb-slow-drain-fault" } });
    const f: Flight = { res: null, up, done: false, sentAt: Date.now(), responded: true };
    b.flights.add(f);
    up.on("response", (r) => {
      r.resume();
      r.on("end", () => this.settleFlight(b, f));
      r.on("error", () => this.settleFlight(b, f));
    });
    up.on("error", () => this.settleFlight(b, f));
    up.on("close", () => this.settleFlight(b, f));
  }


  pick(exclude?: Backend): Backend | undefined {
    const ring = this.ring;
    if (ring.length === 0) return undefined;
    for (let i = 0; i < ring.length; i++) {
      const b = ring[this.next++ % ring.length];
      if (b && b !== exclude) return b;
    }
    return exclude && ring.includes(exclude) ? exclude : undefined;
  }
}
