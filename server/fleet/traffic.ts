/**
 * The traffic generator: continuous requests through the balancer at a fixed rate, over keep-alive
 * connections, about a quarter of them slow (`/slow`, 0.5–3 s). Counts every outcome: successes (and
 * the version that answered), failures by kind — `status_NNN`, `reset`, `refused`, `timeout`, `error`.
 */
import http from "node:http";
import type { LocalTrafficStats } from "./protocol";

export interface TrafficOptions {
  host?: string;
  port: number;
  rps: number;
  slowFraction?: number;
  enabled?: boolean;
  /** A request with no complete answer after this long counts as `timeout`. */
  requestTimeoutMs?: number;
}

const MAX_IN_FLIGHT = 2_000;
const RATE_WINDOW_MS = 5_000;

export class TrafficGenerator {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512, timeout: 30_000, scheduling: "lifo" });
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private issued = 0;
  private inFlight = 0;
  private stats = this.zero();
  private recent: number[] = [];
  rps: number;
  slowFraction: number;
  enabled: boolean;

  constructor(private readonly options: TrafficOptions) {
    this.rps = options.rps;
    this.slowFraction = options.slowFraction ?? 0.25;
    this.enabled = options.enabled ?? true;
  }

  private zero() {
    return { requests: 0, ok: 0, failed: 0, failuresByKind: {} as Record<string, number>, versions: {} as Record<string, number>, recentFailures: [] as LocalTrafficStats["recentFailures"], since: Date.now() };
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

  configure(c: { enabled?: boolean; rps?: number; slowFraction?: number }): void {
    if (c.slowFraction !== undefined) this.slowFraction = c.slowFraction;
    if (c.enabled !== undefined) this.enabled = c.enabled;
    if (c.rps !== undefined) this.rps = c.rps;
    this.stop();
    this.start();
  }

  reset(): void {
    this.stats = this.zero();
    this.recent = [];
  }

  close(): void {
    this.stop();
    this.agent.destroy();
  }

  snapshot(): LocalTrafficStats {
    const now = Date.now();
    this.recent = this.recent.filter((t) => t > now - RATE_WINDOW_MS);
    const window = Math.min(RATE_WINDOW_MS, now - this.stats.since) || 1;
    return {
      at: now,
      requests: this.stats.requests,
      ok: this.stats.ok,
      failed: this.stats.failed,
      failuresByKind: { ...this.stats.failuresByKind },
      ratePerSec: Math.round((this.recent.length / window) * 1000 * 10) / 10,
      enabled: this.enabled,
      targetRps: this.rps,
      slowFraction: this.slowFraction,
      inFlight: this.inFlight,
      versions: { ...this.stats.versions },
      recentFailures: [...this.stats.recentFailures],
      since: this.stats.since,
    };
  }

  private tick() {
    const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.rps) - this.issued;
    for (let i = 0; i < due; i++) {
      this.issued++;
      if (this.inFlight >= MAX_IN_FLIGHT) this.count(false, "overload", "generator skipped a request: too many in flight");
      else this.fire();
    }
  }

  private count(ok: boolean, kind: string, detail: string, version?: string) {
    const s = this.stats;
    s.requests++;
    this.recent.push(Date.now());
    if (ok) {
      s.ok++;
      if (version) s.versions[version] = (s.versions[version] ?? 0) + 1;
      return;
    }
    s.failed++;
    s.failuresByKind[kind] = (s.failuresByKind[kind] ?? 0) + 1;
    s.recentFailures.push({ at: Date.now(), kind, detail });
    if (s.recentFailures.length > 20) s.recentFailures.shift();
  }

  private fire() {
    const slow = Math.random() < this.slowFraction;
    const path = slow ? `/slow?ms=${500 + Math.floor(Math.random() * 2500)}` : "/";
    let settled = false;
    this.inFlight++;
    const done = (ok: boolean, kind: string, detail: string, version?: string) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      // Counted when it completes: after a reset, requests still in flight count in the new counters.
      this.count(ok, kind, detail, version);
    };
    const req = http.get({ host: this.options.host ?? "127.0.0.1", port: this.options.port, path, agent: this.agent }, (res) => {
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
