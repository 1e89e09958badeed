/**
 * The traffic generator: continuous requests through the balancers at a fixed rate, over keep-alive
 * connections, about a quarter of them slow (`/slow`, 0.5–3 s). Each request goes to one balancer (each
 * target takes its `share` of them, in a fixed interleaving), and is counted in that balancer's
 * counters and in the totals: successes (and the version that answered), failures by kind —
 * `status_NNN`, `reset`, `refused`, `timeout`, `error`.
 */
import http from "node:http";
import type { FleetTrafficStats, LocalTrafficStats } from "./protocol";

/** One balancer the generator sends requests through. */
export interface TrafficTarget {
  name: string;
  port: number;
  /** Part of the requests it gets (0–1); the first target takes whatever the others leave. */
  share: number;
}

export interface TrafficOptions {
  host?: string;
  targets: TrafficTarget[];
  rps: number;
  slowFraction?: number;
  enabled?: boolean;
  /** A request with no complete answer after this long counts as `timeout`. */
  requestTimeoutMs?: number;
}

const MAX_IN_FLIGHT = 2_000;
const RATE_WINDOW_MS = 5_000;

/** Counts of one scope (one balancer, or all of them) since the last reset. */
class Counts {
  requests = 0;
  ok = 0;
  failed = 0;
  inFlight = 0;
  failuresByKind: Record<string, number> = {};
  versions: Record<string, number> = {};
  recentFailures: LocalTrafficStats["recentFailures"] = [];
  readonly since = Date.now();
  private recent: number[] = [];

  count(ok: boolean, kind: string, detail: string, version?: string) {
    this.requests++;
    this.recent.push(Date.now());
    if (ok) {
      this.ok++;
      if (version) this.versions[version] = (this.versions[version] ?? 0) + 1;
      return;
    }
    this.failed++;
    this.failuresByKind[kind] = (this.failuresByKind[kind] ?? 0) + 1;
    this.recentFailures.push({ at: Date.now(), kind, detail });
    if (this.recentFailures.length > 20) this.recentFailures.shift();
  }

  snapshot(settings: { enabled: boolean; targetRps: number; slowFraction: number }, inFlight: number): LocalTrafficStats {
    const now = Date.now();
    this.recent = this.recent.filter((t) => t > now - RATE_WINDOW_MS);
    const window = Math.min(RATE_WINDOW_MS, now - this.since) || 1;
    return {
      at: now,
      requests: this.requests,
      ok: this.ok,
      failed: this.failed,
      failuresByKind: { ...this.failuresByKind },
      ratePerSec: Math.round((this.recent.length / window) * 1000 * 10) / 10,
      ...settings,
      inFlight,
      versions: { ...this.versions },
      recentFailures: [...this.recentFailures],
      since: this.since,
    };
  }
}

export class TrafficGenerator {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512, timeout: 30_000, scheduling: "lifo" });
  private timer: NodeJS.Timeout | null = null;
  private stopAt = Infinity;
  private startedAt = 0;
  private issued = 0;
  private total = new Counts();
  private byTarget = new Map<string, Counts>();
  /** In flight per target (kept across resets: those requests still complete, into the new counters). */
  private readonly inFlight = new Map<string, number>();
  private inFlightTotal = 0;
  rps: number;
  slowFraction: number;
  enabled: boolean;

  constructor(private readonly options: TrafficOptions) {
    if (options.targets.length === 0) throw new Error("the traffic generator needs at least one balancer to send requests through");
    this.rps = options.rps;
    this.slowFraction = options.slowFraction ?? 0.25;
    this.enabled = options.enabled ?? true;
    this.reset();
  }

  start(): void {
    if (this.timer || !this.enabled || this.rps <= 0) return;
    this.startedAt = Date.now();
    this.issued = 0;
    this.timer = setInterval(() => this.tick(), 10);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  configure(c: { enabled?: boolean; rps?: number; slowFraction?: number; forMs?: number }): void {
    if (c.slowFraction !== undefined) this.slowFraction = c.slowFraction;
    if (c.enabled !== undefined) this.enabled = c.enabled;
    if (c.rps !== undefined) this.rps = c.rps;
    this.stopAt = c.forMs === undefined ? Infinity : Date.now() + c.forMs;
    this.stop();
    this.start();
  }

  reset(): void {
    this.total = new Counts();
    this.byTarget = new Map(this.options.targets.map((t) => [t.name, new Counts()]));
  }

  close(): void {
    this.stop();
    this.agent.destroy();
  }

  /** Every balancer together, and each one's counters under `loadBalancers`. */
  snapshot(): FleetTrafficStats {
    const inFlight = this.inFlightTotal;
    const loadBalancers = Object.fromEntries(this.options.targets.map((t) => [t.name, this.targetSnapshot(t.name)!]));
    return { ...this.total.snapshot({ enabled: this.enabled, targetRps: this.rps, slowFraction: this.slowFraction }, inFlight), loadBalancers };
  }

  /** One balancer's counters (its `targetRps` is its share of the rate); undefined for a name it does not send to. */
  targetSnapshot(name: string): LocalTrafficStats | undefined {
    const counts = this.byTarget.get(name);
    if (!counts) return undefined;
    return counts.snapshot({ enabled: this.enabled, targetRps: this.rps * this.shareOf(name), slowFraction: this.slowFraction }, this.inFlight.get(name) ?? 0);
  }

  private shareOf(name: string): number {
    const others = this.options.targets.slice(1).reduce((sum, t) => sum + t.share, 0);
    const first = this.options.targets[0]!;
    return name === first.name ? Math.max(0, 1 - others) : (this.options.targets.find((t) => t.name === name)?.share ?? 0);
  }

  /** The n-th request's balancer: target k takes request n when floor((n+1)·share) steps, so shares hold exactly over any run. */
  private targetOf(n: number): TrafficTarget {
    for (const t of this.options.targets.slice(1)) if (Math.floor((n + 1) * t.share) > Math.floor(n * t.share)) return t;
    return this.options.targets[0]!;
  }

  private tick() {
    if (Date.now() >= this.stopAt) {
      this.enabled = false;
      this.stopAt = Infinity;
      return this.stop();
    }
    const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.rps) - this.issued;
    for (let i = 0; i < due; i++) {
      const target = this.targetOf(this.issued++);
      if (this.inFlightTotal >= MAX_IN_FLIGHT) this.count(target.name, false, "overload", "generator skipped a request: too many in flight");
      else this.fire(target);
    }
  }

  private count(target: string, ok: boolean, kind: string, detail: string, version?: string) {
    this.total.count(ok, kind, `${target}: ${detail}`, version);
    this.byTarget.get(target)?.count(ok, kind, detail, version);
  }

  private fire(target: TrafficTarget) {
    const slow = Math.random() < this.slowFraction;
    const path = slow ? `/slow?ms=${500 + Math.floor(Math.random() * 2500)}` : "/";
    let settled = false;
    this.inFlightTotal++;
    this.inFlight.set(target.name, (this.inFlight.get(target.name) ?? 0) + 1);
    const done = (ok: boolean, kind: string, detail: string, version?: string) => {
      if (settled) return;
      settled = true;
      this.inFlightTotal--;
      this.inFlight.set(target.name, (this.inFlight.get(target.name) ?? 1) - 1);
      // Counted when it completes: after a reset, requests still in flight count in the new counters.
      this.count(target.name, ok, kind, detail, version);
    };
    const req = http.get({ host: this.options.host ?? "127.0.0.1", port: target.port, path, agent: this.agent }, (res) => {
      const status = res.statusCode ?? 0;
      const version = res.headers["x-rotor-version"];
      res.on("data", () => undefined);
      res.on("end", () => {
        if (!res.complete) return done(false, "reset", `${path}: response cut after headers`);
        if (status >= 200 && status < 400) done(true, "ok", "", typeof version === "string" ? version : undefined);
        else done(false, `status_${status}`, `${path}: HTTP ${status}${res.headers["x-rotor-lb-error"] ? " (from the balancer)" : ""}`);
      });
      res.on("aborted", () => done(false, "reset", `${path}: response aborted`));
      res.on("error", (err) => done(false, "reset", `${path}: ${err.message}`));
      res.on("close", () => {
        if (!res.complete) done(false, "reset", `${path}: connection closed mid-response`);
      });
    });
    req.setTimeout(this.options.requestTimeoutMs ?? 15_000, () => {
      done(false, "timeout", `${path}: no complete answer within ${this.options.requestTimeoutMs ?? 15_000} ms`);
      req.destroy();
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      const kind = err.code === "ECONNREFUSED" ? "refused" : err.code === "ECONNRESET" || err.code === "EPIPE" || err.message === "socket hang up" ? "reset" : "error";
      done(false, kind, `${path}: ${err.code ?? err.message}`);
    });
  }
}
