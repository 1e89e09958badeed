import { describe, expect, it } from "vitest";
import { Driver, fleetOf, inputFor, rolloutOf } from "./__tests__/helpers";
import { derivePhase, estimateRemainingMs, type NextAction } from "./derive";
import { DEFAULT_THRESHOLDS } from "../analysis";
import { createRollout, transition } from "./machine";
import type { OperatorEventType } from "./types";

const ALL: OperatorEventType[] = ["start", "approve", "pause", "resume", "continue-now", "abort", "rollback", "retry-step", "skip-instance"];

function enabled(actions: NextAction[]): string[] {
  return actions.filter((a) => a.enabled).map((a) => a.action);
}

function localFleet(n: number) {
  return fleetOf(n).map((f, i) => ({ ...f, id: `i-local-${i + 1}` }));
}

describe("derivePhase: messages through ordered guards", () => {
  it("says what is happening, with in-flight counts while draining", () => {
    const d = new Driver(rolloutOf(localFleet(6), { batchSize: { unit: "count", value: 2 }, order: ["i-local-1", "i-local-2", "i-local-3", "i-local-4", "i-local-5", "i-local-6"] }));
    expect(derivePhase(d.state, d.t).message).toBe("Ready: 3 batches of up to 2, keeping at least 4 of 6 in service");
    d.send({ type: "start" });
    d.untilRest();
    d.send({ type: "approve" });
    expect(derivePhase(d.state, d.t).message).toBe("Batch 2 of 3: taking i-local-3, i-local-4 out of rotation");
    d.ok();
    d.send({ type: "drain-observed", inFlight: { "i-local-3": 3, "i-local-4": 1 } }, "engine");
    expect(derivePhase(d.state, d.t).message).toBe("Batch 2 of 3: draining i-local-3, i-local-4 (4 requests in flight)");
    d.ok();
    expect(derivePhase(d.state, d.t).message).toBe("Batch 2 of 3: stopping i-local-3, i-local-4");
    d.ok();
    expect(derivePhase(d.state, d.t).message).toBe("Batch 2 of 3: deploying v2 to i-local-3, i-local-4");
    d.send({ type: "pause" });
    expect(derivePhase(d.state, d.t).message).toBe("Batch 2 of 3: deploying v2 to i-local-3, i-local-4 — pausing after this step");
    d.ok();
    expect(derivePhase(d.state, d.t).message).toBe("Paused: batch 2 of 3 before start — resume to go on");
    d.send({ type: "resume" });
    d.untilRest();
    expect(derivePhase(d.state, d.t).message).toBe("Waiting for approval of batch 3 of 3");
    d.send({ type: "approve" });
    d.untilRest();
    const done = derivePhase(d.state, d.t);
    expect(done).toMatchObject({ phase: "succeeded", progress: 100, message: "Rolled out v2 to 6 of 6 instances" });
  });

  it("names the failure and what the operator can do about it", () => {
    const d = new Driver(rolloutOf(localFleet(3)));
    d.send({ type: "start" });
    d.ok();
    d.ok();
    d.ok();
    d.send({ type: "step-failed", effectId: d.pending.effectId, message: "hook failed", results: [{ id: "i-local-1", ok: false, exitCode: 1 }] }, "engine");
    const v = derivePhase(d.state, d.t);
    expect(v.message).toBe("Failed: deploy on i-local-1 exited 1 — retry the step, skip the instance, roll back or abort");
    expect(enabled(v.nextActions)).toEqual(["abort", "rollback", "retry-step", "skip-instance"]);
    expect(v.nextActions.find((a) => a.action === "skip-instance")).toMatchObject({ label: "Skip i-local-1", instanceId: "i-local-1", destructive: true });
    expect(v.nextActions.find((a) => a.action === "retry-step")?.label).toBe("Retry deploy on i-local-1");
    d.send({ type: "skip-instance", instanceId: "i-local-1" });
    expect(derivePhase(d.state, d.t).message).toBe("Waiting for approval of batch 2 of 3 (i-local-1 skipped, out of rotation)");
  });

  it("explains a capacity hold with the numbers", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    d.send({ type: "start" });
    d.untilRest();
    d.send({ type: "health-observed", states: { "i-3": "out-of-service" } }, "engine");
    d.send({ type: "approve" });
    const v = derivePhase(d.state, d.t);
    expect(v.message).toBe(
      "Waiting: Batch 2 of 3 would leave 1 of 3 instances in service, below the minimum of 2 (1 not in service now) — retry when capacity recovers, skip an instance, roll back or abort",
    );
    expect(v.capacity).toEqual({ inService: 2, minHealthy: 2 });
  });

  it("shows the bake time left, and abort / rollback outcomes", () => {
    const d = new Driver(rolloutOf(fleetOf(2), {}, { kind: "auto", bakeMs: 90_000 }));
    d.send({ type: "start" });
    d.untilRest();
    expect(derivePhase(d.state, d.t + 10_000).message).toBe("Baking batch 1 of 2: 1m 20s left");
    expect(enabled(derivePhase(d.state, d.t).nextActions)).toEqual(["pause", "continue-now", "abort", "rollback"]);
    d.send({ type: "continue-now" });
    d.ok();
    d.ok();
    d.ok(); // i-2 stopped
    d.send({ type: "abort" }, "erin");
    expect(derivePhase(d.state, d.t).message).toBe("Aborting: waiting for the current step to finish — Batch 2 of 2: deploying v2 to i-2");
    d.ok();
    const v = derivePhase(d.state, d.t);
    expect(v.message).toBe("Aborted by erin: i-2 is out of rotation (stopped, failed or skipped) — roll back to restore it");
    expect(enabled(v.nextActions)).toEqual(["rollback"]);
    d.send({ type: "rollback" });
    d.untilRest();
    expect(derivePhase(d.state, d.t).message).toBe("Rolled back 2 instances to their previous version");
  });
});

describe("derivePhase: actions", () => {
  it("always lists every action, with the machine's own reason when disabled", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    d.send({ type: "start" });
    const v = derivePhase(d.state, d.t);
    expect(v.nextActions.map((a) => a.action)).toEqual(ALL);
    expect(enabled(v.nextActions)).toEqual(["pause", "abort", "rollback"]);
    const approve = v.nextActions.find((a) => a.action === "approve");
    expect(approve).toMatchObject({ enabled: false, reason: "Cannot approve: batch 1 of 3 is still running", destructive: false });
    expect(v.nextActions.filter((a) => a.destructive).map((a) => a.action)).toEqual(["abort", "rollback", "skip-instance"]);
  });

  it("an enabled action is exactly one the machine accepts", () => {
    const d = new Driver(rolloutOf(fleetOf(4), { batchSize: { unit: "count", value: 2 } }));
    const check = () => {
      for (const a of derivePhase(d.state, d.t).nextActions) {
        const event = a.action === "skip-instance" ? { type: a.action, instanceId: a.instanceId ?? "" } : a.action === "approve" ? { type: a.action, batch: d.state.cursor.batch + 1 } : { type: a.action };
        const r = transition(d.state, { ...event, at: d.t, actor: "x" } as Parameters<typeof transition>[1]);
        expect(r.ok, `${a.action} in ${d.state.phase}`).toBe(a.enabled);
      }
    };
    check();
    d.send({ type: "start" });
    for (let i = 0; i < 8; i++) {
      check();
      d.ok();
    }
    check();
    d.send({ type: "pause" });
    check();
  });

  it("progress counts steps done", () => {
    const d = new Driver(rolloutOf(fleetOf(2)));
    expect(derivePhase(d.state, d.t).progress).toBe(0);
    d.send({ type: "start" });
    d.ok();
    d.ok();
    expect(derivePhase(d.state, d.t).progress).toBe(12); // 2 of 16 steps
    d.untilRest();
    expect(derivePhase(d.state, d.t).progress).toBe(50);
  });
});

describe("estimateRemainingMs", () => {
  it("is unknown before anything was measured and after the end", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    expect(estimateRemainingMs(d.state, d.t)).toBeNull();
    d.send({ type: "start" });
    expect(estimateRemainingMs(d.state, d.t)).toBeNull();
    d.toEnd();
    expect(estimateRemainingMs(d.state, d.t)).toBeNull();
  });

  it("multiplies measured step durations by the steps still to run", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    d.send({ type: "start" });
    for (let i = 0; i < 8; i++) {
      d.t += 999; // each step takes 1 s (send adds 1 ms)
      d.ok();
    }
    // batch 1 done, waiting for approval: 2 batches × 8 steps × 1 s
    expect(estimateRemainingMs(d.state, d.t)).toBe(16_000);
    d.send({ type: "approve" });
    d.t += 400;
    // deregister of batch 2 issued 400 ms ago: 600 ms left of it, 7 more steps, one more batch
    expect(estimateRemainingMs(d.state, d.t)).toBe(600 + 7_000 + 8_000);
  });

  it("adds the batch analysis windows still ahead (the last batch's is skipped without alarms)", () => {
    const input = { ...inputFor(fleetOf(3)), analysis: { windowMs: 60_000, thresholds: DEFAULT_THRESHOLDS, onFail: "pause" as const, alarms: [] } };
    const d = new Driver(createRollout(input));
    d.send({ type: "start" });
    for (let i = 0; i < 8; i++) {
      d.t += 999;
      d.ok();
    }
    // Batch 1's window runs: its full minute, then 2 batches × 8 steps × 1 s and batch 2's window (batch 3's is skipped).
    expect(d.state.outstanding[0]?.type).toBe("analyze");
    expect(estimateRemainingMs(d.state, d.t)).toBe(60_000 + 16_000 + 60_000);
    d.judge("pass");
    expect(estimateRemainingMs(d.state, d.t)).toBe(16_000 + 60_000);
  });
});
