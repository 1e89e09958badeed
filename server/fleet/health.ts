/**
 * Health checks and load-balancer states of the local balancer, mirroring a Classic ELB:
 * a backend is InService once it passed `healthyThreshold` consecutive checks since registration,
 * OutOfService after `unhealthyThreshold` consecutive failures; the descriptions are ELB's own words.
 */
import http from "node:http";
import type { LbState } from "@/lib/rollout/types";

export interface HealthCheckSettings {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export const DEFAULT_HEALTH_CHECK: HealthCheckSettings = { path: "/health", intervalMs: 1_000, timeoutMs: 800, healthyThreshold: 2, unhealthyThreshold: 2 };

/** Classic ELB's DescribeInstanceHealth descriptions (API reference: InstanceState). */
export const ELB_DESCRIPTIONS = {
  inService: "N/A",
  registering: "Instance registration is still in progress.",
  notPassedHealthy: "Instance has not passed the configured HealthyThreshold number of health checks consecutively.",
  failedUnhealthy: "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
  deregistering: "Instance deregistration currently in progress.",
  notRegistered: "Instance is not currently registered with the LoadBalancer.",
} as const;

export interface HealthState {
  /** null: no verdict since registration yet. */
  healthy: boolean | null;
  passes: number;
  fails: number;
  last: { ok: boolean; detail: string; at: number } | null;
}

export function freshHealth(): HealthState {
  return { healthy: null, passes: 0, fails: 0, last: null };
}

/** Folds one check result into the consecutive counters. */
export function recordCheck(h: HealthState, ok: boolean, detail: string, at: number, s: HealthCheckSettings): void {
  h.last = { ok, detail, at };
  if (ok) {
    h.passes++;
    h.fails = 0;
    if (h.passes >= s.healthyThreshold) h.healthy = true;
  } else {
    h.fails++;
    h.passes = 0;
    if (h.fails >= s.unhealthyThreshold) h.healthy = false;
  }
}

export interface LbStateView {
  state: LbState;
  /** Classic ELB's State: a draining instance still reads InService (read the description). */
  elbState: "InService" | "OutOfService" | "Unknown";
  reasonCode: "ELB" | "Instance" | "N/A";
  description: string;
}

export function deriveState(registered: boolean, draining: boolean, h: HealthState): LbStateView {
  if (!registered) {
    if (draining) return { state: "draining", elbState: "InService", reasonCode: "ELB", description: ELB_DESCRIPTIONS.deregistering };
    return { state: "out-of-service", elbState: "OutOfService", reasonCode: "ELB", description: ELB_DESCRIPTIONS.notRegistered };
  }
  if (h.healthy === true) return { state: "in-service", elbState: "InService", reasonCode: "N/A", description: ELB_DESCRIPTIONS.inService };
  if (h.healthy === null) return { state: "registering", elbState: "OutOfService", reasonCode: "ELB", description: ELB_DESCRIPTIONS.registering };
  const description = h.passes > 0 ? ELB_DESCRIPTIONS.notPassedHealthy : ELB_DESCRIPTIONS.failedUnhealthy;
  return { state: "out-of-service", elbState: "OutOfService", reasonCode: "Instance", description };
}

/** One health check: a fresh connection (as ELB opens), `200` within the timeout passes. */
export function checkOnce(host: string, port: number, s: HealthCheckSettings): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean, detail: string) => {
      if (settled) return;
      settled = true;
      resolve({ ok, detail });
    };
    const req = http.get({ host, port, path: s.path, agent: false, headers: { "user-agent": "rotor-lb-health-checker", connection: "close" } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      res.on("end", () => done(code === 200, code === 200 ? `HTTP 200 on ${s.path}` : `HTTP ${code} on ${s.path}`));
      res.on("error", (err) => done(false, `response error: ${err.message}`));
    });
    req.setTimeout(s.timeoutMs, () => {
      req.destroy();
      done(false, `no answer within ${s.timeoutMs} ms`);
    });
    req.on("error", (err: NodeJS.ErrnoException) => done(false, err.code === "ECONNREFUSED" ? "connection refused" : `${err.code ?? "error"}: ${err.message}`));
  });
}
