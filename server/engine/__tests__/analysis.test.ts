/**
 * Batch analysis on the real local fleet, end to end: rollouts started through the command pipeline
 * with an analysis window, the headless engine watching the balancer's per-backend counters, faults
 * that make the new version misbehave (500s, slow answers), and no traffic at all.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OperatorEvent } from "@/lib/rollout/types";
import { rolloutDetailWithState } from "@/server/api/rollouts";
import { runCommand } from "@/server/commands";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { createRuntime, type Runtime } from "@/server/runtime";
import { startHeadlessEngine, TestControl, waitFor, type HeadlessEngine } from "./harness";

let dir: string;
let fleet: LocalFleetHandle;
let engine: HeadlessEngine;
let t: TestControl;
let rt: Runtime;
const engineDir = () => path.join(dir, "engine");
const olga = { name: "olga", role: "operator" as const };

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-analysis-"));
  fleet = await startLocalFleet({ instances: 4, dataDir: path.join(dir, "fleet"), trafficRps: 60, slowFraction: 0, drainTimeoutMs: 5_000 });
  rt = createRuntime({ dataDir: engineDir(), provider: fleet.provider });
  engine = await startHeadlessEngine({ dataDir: engineDir(), controlUrl: fleet.controlUrl });
  t = new TestControl(engineDir(), fleet.provider);
}, 90_000);

afterAll(async () => {
  t?.close();
  await rt?.close();
  await engine?.stop();
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Starts a rollout of the 4 instances in batches of 2, with analysis as given. */
async function start(version: string, analysis: Record<string, unknown>): Promise<string> {
  const input = { lb: "local", version, batchSize: { unit: "count", value: 2 }, analysisThresholds: { minRequests: 30 }, ...analysis };
  const r = await runCommand(rt, olga, { type: "start-rollout", input });
  if (!r.ok) throw new Error(`start refused: ${r.message}`);
  return r.data.id;
}

async function act(id: string, event: OperatorEvent) {
  const r = await runCommand(rt, olga, { type: "operator-event", rolloutId: id, event });
  if (!r.ok) throw new Error(`${event.type} refused: ${r.message}`);
}

/** Arms a fault on every instance, limited to the version being rolled out. */
async function misbehaveOn(version: string, fault: { kind: "backend-500"; rate: number } | { kind: "slow-responses"; delayMs: number }) {
  for (const i of await fleet.control.instances("local")) await fleet.control.injectFault({ ...fault, instanceId: i.id, onVersion: version });
}

const versions = async () => (await fleet.control.instances("local")).map((i) => i.version);

describe("batch analysis", () => {
  it("passes a healthy batch with the figures side by side, and skips the last batch (nothing old left to compare with)", async () => {
    const id = await start("2.0.0", { analysisWindowSec: 3 });
    const waiting = await t.waitPhase(id, "awaiting-approval", 90_000);
    const a = waiting.batches[0]!.analysis!;
    expect(a).toMatchObject({ verdict: "pass", action: "continued", freshIds: waiting.batches[0]!.instanceIds });
    expect(a.oldIds).toHaveLength(2);
    expect(a.fresh!.requests).toBeGreaterThanOrEqual(30);
    expect(a.old!.requests).toBeGreaterThanOrEqual(30);
    expect(a.to - a.from).toBeGreaterThanOrEqual(3_000);
    expect(a.checks.map((c) => `${c.check}:${c.outcome}`).sort()).toEqual(["error-rate:pass", "p95:pass"]);
    // The timeline has it, as the page shows it.
    const detail = rolloutDetailWithState(id, rt)!;
    expect(detail.events.some((e) => e.type === "analysis-finished")).toBe(true);
    expect(await t.approveUntilDone(id, 90_000)).toBe("succeeded");
    expect(t.state(id).notes).toContain("Batch 2: analysis skipped (no instance is left on the old version to compare with, and no alarm is named)");
    expect(await versions()).toEqual(Array(4).fill("2.0.0"));
  }, 150_000);

  it("rolls back automatically when the new version answers 500s, by the rollout's policy", async () => {
    await misbehaveOn("3.0.0", { kind: "backend-500", rate: 0.5 });
    try {
      const id = await start("3.0.0", { analysisWindowSec: 3, analysisOnFail: "rollback" });
      const s = await t.waitPhase(id, "rolled-back", 120_000);
      const a = s.batches[0]!.analysis!;
      expect(a).toMatchObject({ verdict: "fail", action: "rolled-back" });
      const rate = a.checks.find((c) => c.check === "error-rate")!;
      expect(rate.outcome).toBe("fail");
      expect(rate.fresh).toBeGreaterThan(0.2);
      expect(rate.old).toBe(0);
      expect(a.reasons[0]).toMatch(/^Error rate \d+\.\d\d% on the new instances vs 0\.00% on the old \(limit 1\.00%\): over the limit\.$/);
      expect(s.endedBy).toBe("the batch analysis");
      await waitFor(async () => (await fleet.control.instances("local")).every((i) => i.state === "in-service"), { what: "every instance in service" });
      expect(await versions()).toEqual(Array(4).fill("2.0.0"));
    } finally {
      await fleet.control.clearFaults();
    }
  }, 150_000);

  it("with the pause policy, 500s on the new version pause the rollout and nothing is rolled back", async () => {
    await misbehaveOn("3.1.0", { kind: "backend-500", rate: 0.5 });
    try {
      const id = await start("3.1.0", { analysisWindowSec: 3 });
      const s = await t.waitPhase(id, "paused", 90_000);
      expect(s.batches[0]!.analysis).toMatchObject({ verdict: "fail", action: "paused" });
      expect(s.direction).toBe("forward");
      expect(s.rollbackBatches).toEqual([]);
      const batch = new Set(s.batches[0]!.instanceIds);
      const now = await fleet.control.instances("local");
      expect(now.filter((i) => batch.has(i.id)).map((i) => i.version)).toEqual(["3.1.0", "3.1.0"]);
      expect(now.filter((i) => !batch.has(i.id)).map((i) => i.version)).toEqual(["2.0.0", "2.0.0"]);
      await act(id, { type: "rollback" });
      await t.waitPhase(id, "rolled-back", 90_000);
    } finally {
      await fleet.control.clearFaults();
    }
  }, 150_000);

  it("pauses on slow answers by default; resume accepts the batch, and a rollback restores it", async () => {
    await misbehaveOn("4.0.0", { kind: "slow-responses", delayMs: 400 });
    try {
      const id = await start("4.0.0", { analysisWindowSec: 3 });
      const s = await t.waitPhase(id, "paused", 90_000);
      const a = s.batches[0]!.analysis!;
      expect(a).toMatchObject({ verdict: "fail", action: "paused" });
      const p95 = a.checks.find((c) => c.check === "p95")!;
      expect(p95.outcome).toBe("fail");
      expect(p95.fresh).toBeGreaterThan(p95.limit!);
      expect(rolloutDetailWithState(id, rt)!.view.message).toMatch(/^Paused: batch 1's analysis failed \(p95 latency .* over the limit\) — resume to accept the batch and go on, roll back or abort$/);
      await act(id, { type: "resume" });
      await t.waitPhase(id, "awaiting-approval");
      await act(id, { type: "rollback" });
      await t.waitPhase(id, "rolled-back", 90_000);
      expect(await versions()).toEqual(Array(4).fill("2.0.0"));
    } finally {
      await fleet.control.clearFaults();
    }
  }, 150_000);

  it("without traffic the verdict is inconclusive and the rollout pauses, whatever the policy", async () => {
    await fleet.control.setTraffic({ enabled: false });
    try {
      const id = await start("5.0.0", { analysisWindowSec: 2, analysisOnFail: "rollback" });
      const s = await t.waitPhase(id, "paused", 90_000);
      expect(s.batches[0]!.analysis).toMatchObject({ verdict: "inconclusive", action: "paused" });
      expect(s.batches[0]!.analysis!.reasons[0]).toMatch(/^Too few requests to compare: \d+ on the new instances, \d+ on the old \(at least 30 on each side\)\.$/);
      await act(id, { type: "rollback" });
      await t.waitPhase(id, "rolled-back", 90_000);
    } finally {
      await fleet.control.setTraffic({ enabled: true });
    }
  }, 150_000);
});
