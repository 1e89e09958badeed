/**
 * The engine driving the real local fleet, headless, in its own process: full rollouts under traffic
 * with approvals as events, and a rollback after batch 2.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replay, type CreateRolloutInput } from "@/lib/rollout/machine";
import { listInstances } from "@/lib/rollout/state";
import type { RolloutEvent } from "@/lib/rollout/types";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { startHeadlessEngine, TestControl, waitFor, type HeadlessEngine } from "./harness";

let dir: string;
let fleet: LocalFleetHandle;
let engine: HeadlessEngine;
let t: TestControl;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-engine-"));
  fleet = await startLocalFleet({ instances: 5, dataDir: path.join(dir, "fleet"), trafficRps: 40, slowFraction: 0.1, drainTimeoutMs: 10_000 });
  engine = await startHeadlessEngine({ dataDir: path.join(dir, "engine"), controlUrl: fleet.controlUrl });
  t = new TestControl(path.join(dir, "engine"), fleet.provider);
}, 90_000);

afterAll(async () => {
  t?.close();
  await engine?.stop();
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function versions(): Promise<Record<string, string | null>> {
  const instances = await fleet.provider.describeInstances("local");
  return Object.fromEntries(instances.map((i) => [i.id, i.version]));
}

async function trafficFailures(): Promise<{ requests: number; failed: number; byKind: Record<string, number> }> {
  const s = await fleet.control.traffic();
  return { requests: s.requests, failed: s.failed, byKind: s.failuresByKind };
}

describe("headless engine on the local fleet", () => {
  it("rolls 5 instances out in batches of 2 with approvals, under traffic, with 0 failed requests", async () => {
    await fleet.control.resetTraffic();
    const id = await t.launch({ version: "2.0.0" });
    const end = await t.approveUntilDone(id);
    expect(end).toBe("succeeded");
    expect(Object.values(await versions())).toEqual(Array(5).fill("2.0.0"));
    const inService = (await fleet.provider.describeInstances("local")).filter((i) => i.state === "in-service");
    expect(inService).toHaveLength(5);
    const s = t.state(id);
    expect(s.batches.map((b) => b.instanceIds.length)).toEqual([2, 2, 1]);
    expect(s.batches.every((b) => b.approvedBy === null || b.approvedBy === "tester")).toBe(true);
    const traffic = await trafficFailures();
    expect(traffic.requests).toBeGreaterThan(50);
    expect(traffic).toMatchObject({ failed: 0 });
    // Every performed effect was recorded as started before it was reported finished.
    const events = t.events(id);
    const startedAt = new Map(events.filter((e) => e.type === "step-started").map((e) => [e.payload.effectId, e.seq]));
    for (const e of events.filter((e) => e.type === "step-succeeded")) {
      expect(startedAt.get(e.payload.effectId)).toBeLessThan(e.seq);
    }
    expect(t.store.rollout(id)).toMatchObject({ phase: "succeeded", active: false });
    // The log is the truth: replaying its applied events from the creation input gives the same state.
    const applied = events.filter((e) => e.outcome === "applied").map((e) => ({ ...e.payload, at: e.at, actor: e.actor }) as RolloutEvent);
    expect(replay(t.store.rollout(id)!.createInput as CreateRolloutInput, applied)).toEqual(s);
  }, 150_000);

  it("rolls back after batch 2: every touched instance returns to the previous version", async () => {
    await fleet.control.resetTraffic();
    const id = await t.launch({ version: "3.0.0" });
    await t.waitPhase(id, "awaiting-approval");
    expect(t.operate(id, { type: "approve" }).ok).toBe(true);
    await t.waitPhase(id, "awaiting-approval");
    const touched = listInstances(t.state(id)).filter((i) => i.touched).map((i) => i.id);
    expect(touched).toHaveLength(4);
    const r = t.operate(id, { type: "rollback" }, "rita");
    expect(r.ok).toBe(true);
    await t.waitPhase(id, "rolled-back", 120_000);
    const v = await versions();
    for (const i of touched) expect(v[i]).toBe("2.0.0");
    expect(Object.values(v).filter((x) => x === "3.0.0")).toHaveLength(0);
    await waitFor(async () => (await fleet.provider.describeInstances("local")).every((i) => i.state === "in-service"), { what: "all in service" });
    expect(await trafficFailures()).toMatchObject({ failed: 0 });
    const rollback = t.events(id).find((e) => e.type === "rollback");
    expect(rollback).toMatchObject({ actor: "rita", outcome: "applied" });
  }, 150_000);

  it("refuses an operator event the machine does not allow, and records it as rejected", async () => {
    const rows = t.store.listRollouts({ lb: "local" });
    const done = rows.find((r) => r.phase === "succeeded");
    expect(done).toBeDefined();
    const r = t.operate(done!.id, { type: "approve" }, "late-larry");
    expect(r.ok).toBe(false);
    const last = t.events(done!.id).at(-1);
    expect(last).toMatchObject({ type: "approve", actor: "late-larry", outcome: "rejected" });
    expect(last?.reason).toMatch(/succeeded/);
  });
});
