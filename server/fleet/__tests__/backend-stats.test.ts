/**
 * Per-backend counters and latency histograms on the real fleet (balancer and instances as processes)
 * under load, read through the provider's analysis capability: a window between two snapshots shows
 * the injected 500s and the added latency on exactly the instances that have them, and a fault armed
 * for a version starts only once an instance serves that version.
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffSnapshots, judge, quantileMs, sumStats, type BackendStatsSnapshot, type StatsWindow } from "@/lib/analysis";
import { ProviderError } from "@/server/providers/types";
import { startLocalFleet, type LocalFleetHandle } from "../testing";
import { rollInstance } from "./procedure";

let fleet: LocalFleetHandle;
let dataDir: string;
const LB = "local";
const ids = ["i-local-1", "i-local-2", "i-local-3", "i-local-4"];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "rotor-backend-stats-"));
  fleet = await startLocalFleet({ instances: 4, dataDir });
});

afterAll(async () => {
  await fleet?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** `count` GETs of `/` through the balancer, `concurrency` at a time on keep-alive sockets; the statuses seen. */
async function load(count: number, concurrency = 8): Promise<Record<number, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: Record<number, number> = {};
  let sent = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: fleet.lbPort, path: "/", agent }, (res) => {
          statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
          res.resume();
          res.on("end", resolve);
        })
        .on("error", reject);
    });
  const worker = async () => {
    while (sent < count) {
      sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return statuses;
}

async function snapshot(): Promise<BackendStatsSnapshot> {
  const analysis = fleet.provider.analysis;
  if (!analysis?.snapshot) throw new Error("the local provider has no analysis snapshot");
  return analysis.snapshot(LB, ids);
}

async function window(count: number): Promise<StatsWindow> {
  const before = await snapshot();
  await load(count);
  return diffSnapshots(before, await snapshot());
}

const p95 = (w: StatsWindow, id: string) => quantileMs(w.backends[id]?.latency ?? [], 0.95, w.boundsMs);

describe("per-backend counters and latency (real fleet)", () => {
  it("counts each backend's requests and answers with cumulative counters and a timestamp", async () => {
    const before = await snapshot();
    expect(Object.keys(before.backends).sort()).toEqual(ids);
    expect(before.boundsMs[0]).toBe(1);
    const w = diffSnapshots(before, await (async () => (await load(200), snapshot()))());
    expect(w.to).toBeGreaterThanOrEqual(w.from);
    const total = ids.reduce((n, id) => n + (w.backends[id]?.requests ?? 0), 0);
    expect(total).toBe(200);
    for (const id of ids) {
      // Round robin: each of the four gets about a quarter.
      expect(w.backends[id]?.requests).toBeGreaterThanOrEqual(40);
      expect(w.backends[id]?.backend5xx).toBe(0);
      expect(w.backends[id]?.latency.reduce((a, b) => a + b, 0)).toBe(w.backends[id]?.requests);
    }
  });

  it("shows the 500s and the added latency on exactly the instances that have them", async () => {
    await fleet.control.injectFault({ kind: "backend-500", instanceId: "i-local-1" });
    await fleet.control.injectFault({ kind: "slow-responses", instanceId: "i-local-2", delayMs: 150 });
    try {
      const w = await window(240);
      const one = w.backends["i-local-1"]!;
      expect(one.requests).toBeGreaterThan(0);
      expect(one.backend5xx).toBe(one.requests);
      for (const id of ["i-local-2", "i-local-3", "i-local-4"]) expect(w.backends[id]?.backend5xx).toBe(0);
      expect(p95(w, "i-local-2")).toBeGreaterThanOrEqual(150);
      for (const id of ["i-local-1", "i-local-3", "i-local-4"]) expect(p95(w, id)).toBeLessThan(100);

      // The verdict the batch analysis will reach, each faulty instance against the healthy two.
      const healthy = sumStats([w.backends["i-local-3"], w.backends["i-local-4"]]);
      const thresholds = { minRequests: 20 };
      const errors = judge({ fresh: one, old: healthy, thresholds });
      expect(errors.verdict).toBe("fail");
      expect(errors.reasons[0]).toMatch(/^Error rate 100\.00% on the new instances vs 0\.00% on the old/);
      const slow = judge({ fresh: w.backends["i-local-2"]!, old: healthy, thresholds });
      expect(slow.verdict).toBe("fail");
      expect(slow.reasons[0]).toMatch(/^p95 latency \d+ ms on the new instances vs [\d.]+ ms on the old .*over the limit/);
      expect(judge({ fresh: w.backends["i-local-3"]!, old: w.backends["i-local-4"]!, thresholds }).verdict).toBe("pass");
    } finally {
      await fleet.control.clearFaults();
    }
    // Cleared: the next window is clean everywhere.
    const after = await window(120);
    for (const id of ids) expect(after.backends[id]?.backend5xx).toBe(0);
    expect(p95(after, "i-local-2")).toBeLessThan(100);
  });

  it("applies a fault armed for a version only once the instance serves that version", async () => {
    await fleet.control.injectFault({ kind: "backend-500", instanceId: "i-local-3", onVersion: "2.0.0", rate: 1 });
    try {
      const still = await window(120);
      expect(still.backends["i-local-3"]?.backend5xx).toBe(0);
      await rollInstance(fleet.provider, LB, "i-local-3", "2.0.0");
      const w = await window(160);
      expect(w.backends["i-local-3"]?.requests).toBeGreaterThan(0);
      expect(w.backends["i-local-3"]?.backend5xx).toBe(w.backends["i-local-3"]?.requests);
      for (const id of ["i-local-1", "i-local-2", "i-local-4"]) expect(w.backends[id]?.backend5xx).toBe(0);
    } finally {
      await fleet.control.clearFaults();
    }
  });

  it("refuses bad fault and stats input with a clear message, changing nothing", async () => {
    await expect(fleet.control.injectFault({ kind: "backend-500", instanceId: "i-local-1", delayMs: 100 })).rejects.toThrow(/delayMs applies only to slow-responses, not backend-500/);
    await expect(fleet.control.injectFault({ kind: "backend-500", instanceId: "i-local-1", rate: 0 })).rejects.toThrow(/rate must be more than 0/);
    await expect(fleet.control.injectFault({ kind: "slow-drain", instanceId: "i-local-1", onVersion: "2.0.0" })).rejects.toThrow(/onVersion applies only to backend-500 and slow-responses/);
    expect(await fleet.control.faults()).toEqual([]);
    const unknown = fleet.provider.analysis!.snapshot!(LB, ["i-nope"]);
    await expect(unknown).rejects.toBeInstanceOf(ProviderError);
    await expect(unknown).rejects.toThrow(/unknown instance i-nope/);
  });
});
