/**
 * `approveFirstBatch`: a gate before batch 0, so a second person approves before anything leaves
 * rotation (the two-person rule sets it for automatic approval and one-batch plans).
 */
import { describe, expect, it } from "vitest";
import { Driver, fleetOf, inputFor } from "./__tests__/helpers";
import { createRollout, replay } from "./machine";
import { listInstances } from "./state";
import { derivePhase } from "./derive";
import type { ApprovalMode, PlanOptions } from "./types";

function gated(batchSize: number, mode: ApprovalMode = { kind: "manual" }, options: Partial<PlanOptions> = {}) {
  return new Driver(createRollout({ ...inputFor(fleetOf(4), { batchSize: { unit: "count", value: batchSize }, ...options }, mode), approveFirstBatch: true }));
}

const allInRotation = (d: Driver) => listInstances(d.state).every((i) => i.inRotation && i.registered && !i.touched);

describe("approveFirstBatch", () => {
  it("start waits for approval of batch 0 instead of deregistering it, and approve (batch 0) starts it", () => {
    const d = gated(2);
    expect(d.send({ type: "start" })).toEqual([{ type: "awaitApproval", effectId: "f-1:approval#1", batch: 0 }]);
    expect(d.state.phase).toBe("awaiting-approval");
    expect(d.state.startedAt).toBe(d.t);
    expect(allInRotation(d)).toBe(true);
    expect(derivePhase(d.state, d.t).message).toMatch(/^Waiting for approval of batch 1 of 2/);
    expect(derivePhase(d.state, d.t).nextActions.find((a) => a.action === "approve")).toMatchObject({ label: "Approve batch 1", enabled: true });
    expect(d.reject({ type: "approve", batch: 1 })).toMatchObject({ code: "STALE_BATCH" });
    expect(d.send({ type: "approve", batch: 0 }, "bob")).toEqual([{ type: "deregister", effectId: "f0:deregister#1", batch: 0, ids: ["i-1", "i-2"] }]);
    expect(d.state.batches[0]).toMatchObject({ approvedBy: "bob", status: "running" });
    d.untilRest();
    // Manual mode: the usual gate before batch 2.
    expect(d.state.outstanding).toEqual([{ type: "awaitApproval", effectId: "f0:approval#1", batch: 1 }]);
    d.toEnd();
    expect(d.state.phase).toBe("succeeded");
    expect(replay({ ...inputFor(fleetOf(4), { batchSize: { unit: "count", value: 2 } }), approveFirstBatch: true }, d.log)).toEqual(d.state);
  });

  it("in automatic mode, batch 1 needs the approval and the later batches bake", () => {
    const d = gated(2, { kind: "auto", bakeMs: 60_000 });
    expect(d.send({ type: "start" })).toEqual([{ type: "awaitApproval", effectId: "f-1:approval#1", batch: 0 }]);
    expect(d.reject({ type: "continue-now" })).toMatchObject({ code: "NOT_ALLOWED_IN_PHASE" });
    d.send({ type: "approve", batch: 0 }, "bob");
    d.untilRest();
    expect(d.state.phase).toBe("baking");
    expect(d.state.outstanding).toMatchObject([{ type: "sleep", batch: 0, ms: 60_000 }]);
  });

  it("a one-batch plan waits for the approval before anything is deregistered", () => {
    const d = gated(4, { kind: "manual" }, { minHealthy: { unit: "count", value: 0 } });
    d.send({ type: "start" });
    expect(d.state.outstanding).toEqual([{ type: "awaitApproval", effectId: "f-1:approval#1", batch: 0 }]);
    expect(allInRotation(d)).toBe(true);
    d.toEnd();
    expect(d.state.phase).toBe("succeeded");
  });

  it("pausing at the first gate and resuming waits for the approval again; aborting there leaves nothing out", () => {
    const d = gated(2, { kind: "auto", bakeMs: 1_000 });
    d.send({ type: "start" });
    d.send({ type: "pause" });
    expect(d.state.phase).toBe("paused");
    expect(d.send({ type: "resume" })).toEqual([{ type: "awaitApproval", effectId: "f-1:approval#2", batch: 0 }]);
    d.send({ type: "abort" });
    expect(d.state.phase).toBe("aborted");
    expect(d.state.leftOut).toEqual([]);
    expect(allInRotation(d)).toBe(true);
  });

  it("is off by default: start deregisters batch 0 at once", () => {
    const d = new Driver(createRollout(inputFor(fleetOf(4), { batchSize: { unit: "count", value: 2 } })));
    expect(d.send({ type: "start" })).toEqual([{ type: "deregister", effectId: "f0:deregister#1", batch: 0, ids: ["i-1", "i-2"] }]);
  });
});
