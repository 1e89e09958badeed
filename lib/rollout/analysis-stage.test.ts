/**
 * Batch analysis in the machine: the `analysis` stage after a forward batch is back in service, the
 * instances it compares, and what each verdict does under each policy.
 */
import { describe, expect, it } from "vitest";
import { Driver, fleetOf, inputFor } from "./__tests__/helpers";
import { DEFAULT_THRESHOLDS } from "../analysis";
import { createRollout, replay, type CreateRolloutInput } from "./machine";
import { derivePhase } from "./derive";
import { listInstances } from "./state";
import type { AnalysisSettings, FleetInstance } from "./types";

const SETTINGS: AnalysisSettings = { windowMs: 60_000, thresholds: DEFAULT_THRESHOLDS, onFail: "pause", alarms: [] };

function analysed(settings: Partial<AnalysisSettings> = {}, fleet: FleetInstance[] = fleetOf(5), batch = 2): { d: Driver; input: CreateRolloutInput } {
  const input = { ...inputFor(fleet, { batchSize: { unit: "count", value: batch } }), analysis: { ...SETTINGS, ...settings } };
  const d = new Driver(createRollout(input));
  d.send({ type: "start" });
  d.untilRest();
  return { d, input };
}

describe("the analysis stage", () => {
  it("follows a batch back in service: its instances against those still on the old version, then the gate on a pass", () => {
    const { d, input } = analysed();
    expect(d.state.outstanding).toEqual([
      { type: "analyze", effectId: "f0:analysis#1", batch: 0, fresh: ["i-1", "i-2"], old: ["i-3", "i-4", "i-5"], windowMs: 60_000, alarms: [], thresholds: DEFAULT_THRESHOLDS },
    ]);
    expect(d.state.phase).toBe("running");
    expect(derivePhase(d.state, d.t).message).toBe("Batch 1 of 3: analysing i-1, i-2 for 1m, comparing with 3 instances on the old version");
    // The batch is not done before it is judged.
    expect(d.state.batches[0]?.status).toBe("running");
    expect(d.reject({ type: "step-succeeded", effectId: "f0:analysis#1" })).toMatchObject({ code: "INVALID_EVENT" });
    d.judge("pass");
    expect(d.state.batches[0]).toMatchObject({ status: "done", analysis: { verdict: "pass", action: "continued", freshIds: ["i-1", "i-2"] } });
    expect(d.state.outstanding).toMatchObject([{ type: "awaitApproval", batch: 1 }]);
    // Batch 2 compares its own instances with the one left on the old version, not with batch 1's.
    d.send({ type: "approve", batch: 1 });
    d.untilRest();
    expect(d.state.outstanding).toMatchObject([{ type: "analyze", batch: 1, fresh: ["i-3", "i-4"], old: ["i-5"] }]);
    d.toEnd();
    expect(d.state.phase).toBe("succeeded");
    // The last batch leaves nothing on the old version and no alarm is named: skipped, with a note.
    expect(d.state.batches[2]?.analysis).toBeUndefined();
    expect(d.state.notes).toContain("Batch 3: analysis skipped (no instance is left on the old version to compare with, and no alarm is named)");
    expect(replay(input, d.log)).toEqual(d.state);
  });

  it("judges the last batch on its alarms when alarms are named", () => {
    const { d } = analysed({ alarms: ["web-5xx"] }, fleetOf(2), 1);
    d.judge("pass");
    d.send({ type: "approve", batch: 1 });
    d.untilRest();
    expect(d.state.outstanding).toMatchObject([{ type: "analyze", batch: 1, fresh: ["i-2"], old: [], alarms: ["web-5xx"] }]);
    expect(derivePhase(d.state, d.t).message).toBe("Batch 2 of 2: analysing i-2 for 1m, watching 1 alarm");
  });

  it("a failed verdict pauses by default; resume accepts the batch and waits for the next approval", () => {
    const { d } = analysed();
    d.judge("fail");
    expect(d.state.phase).toBe("paused");
    expect(d.state.batches[0]?.analysis).toMatchObject({ verdict: "fail", action: "paused" });
    expect(derivePhase(d.state, d.t).message).toBe("Paused: batch 1's analysis failed (Judged fail) — resume to accept the batch and go on, roll back or abort");
    expect(d.state.notes.at(-1)).toBe("Batch 1 analysis failed: Judged fail — paused for a person to decide");
    const actions = derivePhase(d.state, d.t).nextActions;
    expect(actions.filter((a) => a.enabled).map((a) => a.action).sort()).toEqual(["abort", "resume", "rollback"]);
    d.send({ type: "resume" }, "bob");
    expect(d.state.outstanding).toMatchObject([{ type: "awaitApproval", batch: 1 }]);
    expect(d.state.batches[0]?.status).toBe("done");
  });

  it("a failed verdict on the last judged batch pauses too, and resume finishes the rollout", () => {
    const { d } = analysed({ alarms: ["web-5xx"] }, fleetOf(2), 1);
    d.judge("pass");
    d.send({ type: "approve", batch: 1 });
    d.untilRest();
    d.judge("fail");
    expect(d.state.phase).toBe("paused");
    d.send({ type: "resume" });
    expect(d.state.phase).toBe("succeeded");
  });

  it("a failed verdict with the rollback policy rolls back at once, every touched instance to its previous version", () => {
    const { d, input } = analysed({ onFail: "rollback" });
    d.judge("fail");
    expect(d.state.phase).toBe("rolling-back");
    expect(d.state.direction).toBe("rollback");
    expect(d.state.batches[0]?.analysis).toMatchObject({ verdict: "fail", action: "rolled-back" });
    expect(d.state.notes).toContain("Batch 1 analysis failed: Judged fail — rolling back automatically");
    d.toEnd();
    expect(d.state.phase).toBe("rolled-back");
    expect(listInstances(d.state).every((i) => i.version === "v1" && i.inRotation)).toBe(true);
    expect(replay(input, d.log)).toEqual(d.state);
  });

  it("an inconclusive verdict pauses whatever the policy", () => {
    const { d } = analysed({ onFail: "rollback" });
    d.judge("inconclusive");
    expect(d.state.phase).toBe("paused");
    expect(d.state.direction).toBe("forward");
    expect(derivePhase(d.state, d.t).message).toMatch(/^Paused: batch 1's analysis was inconclusive/);
  });

  it("the rollback policy pauses instead when a previous version is unknown, and says why", () => {
    const fleet = fleetOf(4).map((f, i) => (i === 0 ? { ...f, version: null } : f));
    const { d } = analysed({ onFail: "rollback" }, fleet);
    d.judge("fail");
    expect(d.state.phase).toBe("paused");
    expect(d.state.batches[0]?.analysis).toMatchObject({ action: "paused", note: "not rolled back automatically: the previous version of i-1 is unknown" });
  });

  it("abort or rollback during the window cut it short at once", () => {
    const a = analysed().d;
    a.send({ type: "abort" }, "bob");
    expect(a.state.phase).toBe("aborted");
    expect(a.state.notes).toContain("Batch 1: analysis cut short (abort by bob)");
    expect(listInstances(a.state).every((i) => i.inRotation)).toBe(true);

    const r = analysed().d;
    r.send({ type: "rollback" }, "bob");
    expect(r.state.phase).toBe("rolling-back");
    expect(r.state.outstanding.some((e) => e.type === "analyze")).toBe(false);
    expect(r.reject({ type: "analysis-finished", effectId: "f0:analysis#1", analysis: { verdict: "pass", reasons: [], checks: [], fresh: null, old: null, thresholds: DEFAULT_THRESHOLDS, from: 0, to: 1, freshIds: [], oldIds: [] } }, "engine")).toMatchObject({
      code: "UNKNOWN_EFFECT",
    });
  });

  it("a pause asked for during the window takes effect after a pass, at the gate", () => {
    const { d } = analysed();
    d.send({ type: "pause" });
    expect(d.state.phase).toBe("running");
    d.judge("pass");
    expect(d.state.phase).toBe("paused");
    expect(d.state.cursor).toMatchObject({ stage: "gate", status: "todo" });
  });

  it("a window of 0 turns analysis off", () => {
    const input = { ...inputFor(fleetOf(4), { batchSize: { unit: "count", value: 2 } }), analysis: { ...SETTINGS, windowMs: 0 } };
    const d = new Driver(createRollout(input));
    expect(d.state.analysis).toBeUndefined();
    d.send({ type: "start" });
    d.untilRest();
    expect(d.state.outstanding).toMatchObject([{ type: "awaitApproval" }]);
  });
});
