import { describe, expect, it } from "vitest";
import { Driver, fleetOf, inputFor, inst } from "./__tests__/helpers";
import { derivePhase } from "./derive";
import { createRollout } from "./machine";
import type { Effect } from "./types";

const kinds = (effects: Effect[]) => effects.map((e) => (e.type === "runHook" ? `${e.hook}:${e.params.version}` : e.type));

/** Two instances in one batch (batches of 2 out of 4), run until the given hook is outstanding. */
function untilHook(hook: string) {
  const d = new Driver(createRollout(inputFor(fleetOf(4), { batchSize: { unit: "count", value: 2 } })));
  d.send({ type: "start" });
  while (!(d.pending.type === "runHook" && d.pending.hook === hook)) d.ok();
  return d;
}

describe("abort returns every instance whose failed step changed nothing", () => {
  it("a deploy that refused its input: the stopped instance is started and verified on its own version, then put back", () => {
    const d = untilHook("deploy");
    const deploy = d.pending;
    d.send({
      type: "step-failed",
      effectId: deploy.effectId,
      message: "deploy refused the version",
      results: [
        { id: "i-1", ok: false, exitCode: 64, changed: false, message: "version refused" },
        { id: "i-2", ok: false, exitCode: 64, changed: false, message: "version refused" },
      ],
    });
    expect(d.state.phase).toBe("failed-awaiting-operator");
    expect(inst(d.state, "i-1")).toMatchObject({ server: "stopped", version: "v1" });

    const returning = d.send({ type: "abort" });
    expect(kinds(returning)).toEqual(["start:v1"]);
    expect(kinds(d.ok())).toEqual(["verify:v1"]);
    expect(kinds(d.ok())).toEqual(["register"]);
    expect(kinds(d.ok())).toEqual(["waitInService"]);
    d.ok();
    expect(d.state.phase).toBe("aborted");
    expect(d.state.leftOut).toEqual([]);
    expect(inst(d.state, "i-1")).toMatchObject({ server: "serving", version: "v1", inRotation: true });
    expect(derivePhase(d.state, d.t).message).toMatch(/every instance is back in rotation/);
  });

  it("a stop that failed before stopping: that instance only goes back into rotation; the one that stopped is started first", () => {
    const d = untilHook("stop");
    d.send({ type: "step-failed", effectId: d.pending.effectId, message: "stop refused", results: [{ id: "i-1", ok: false, exitCode: 64, changed: false }, { id: "i-2", ok: true }] });
    expect(inst(d.state, "i-1").server).toBe("serving");
    expect(d.send({ type: "abort" })).toEqual([expect.objectContaining({ type: "runHook", hook: "start", ids: ["i-2"] })]);
    expect(d.ok()).toEqual([expect.objectContaining({ type: "runHook", hook: "verify", ids: ["i-2"], params: { version: "v1" } })]);
    expect(d.ok()).toEqual([expect.objectContaining({ type: "register", ids: ["i-1", "i-2"] })]);
    expect(kinds(d.ok())).toEqual(["waitInService"]);
    d.ok();
    expect(d.state.phase).toBe("aborted");
    expect(d.state.leftOut).toEqual([]);
  });

  it("an instance in an unknown state stays out, and the notes say which and why", () => {
    const d = untilHook("stop");
    d.send({ type: "step-failed", effectId: d.pending.effectId, message: "stop failed", results: [{ id: "i-1", ok: false, exitCode: 1 }, { id: "i-2", ok: false, exitCode: 1 }] });
    expect(inst(d.state, "i-1").server).toBe("unknown");
    expect(d.send({ type: "abort" })).toEqual([]);
    expect(d.state.phase).toBe("aborted");
    expect(d.state.leftOut).toEqual(["i-1", "i-2"]);
    expect(d.state.notes.join("\n")).toMatch(/i-1 stays out of rotation: stop failed after it may have changed the server/);
  });

  it("a failed drain changed nothing on the server: the instance goes back", () => {
    const d = new Driver(createRollout(inputFor(fleetOf(4), { batchSize: { unit: "count", value: 2 } })));
    d.send({ type: "start" });
    d.ok();
    d.send({ type: "step-timed-out", effectId: d.pending.effectId, ids: ["i-1"], message: "still 3 in flight" });
    expect(inst(d.state, "i-1").steps.drain.status).toBe("timed-out");
    expect(d.state.failure).toMatchObject({ kind: "timeout", ids: ["i-1"] });
    expect(kinds(d.send({ type: "abort" }))).toEqual(["register"]);
  });
});

describe("approval before the first batch (the two-person rule)", () => {
  it("in auto mode, batch 1 waits for a person's approval before anything is deregistered, then later batches bake", () => {
    const d = new Driver(createRollout({ ...inputFor(fleetOf(3), {}, { kind: "auto", bakeMs: 1_000 }), approveFirstBatch: true }));
    expect(d.send({ type: "start" })).toEqual([{ type: "awaitApproval", effectId: "f-1:approval#1", batch: 0 }]);
    expect(d.state.phase).toBe("awaiting-approval");
    expect(derivePhase(d.state, d.t).message).toBe("Waiting for approval of batch 1 of 3 before anything is taken out of rotation");
    expect(d.reject({ type: "approve", batch: 1 }).code).toBe("STALE_BATCH");
    expect(d.send({ type: "approve", batch: 0 }, "bob")).toEqual([expect.objectContaining({ type: "deregister", ids: ["i-1"] })]);
    expect(d.state.batches[0]).toMatchObject({ approvedBy: "bob" });
    d.untilRest();
    expect(d.pending.type).toBe("sleep");
  });

  it("a one-batch plan waits too, and a pause before it holds until resumed", () => {
    const d = new Driver(createRollout({ ...inputFor(fleetOf(2), { batchSize: { unit: "count", value: 2 }, minHealthy: { unit: "count", value: 0 } }), approveFirstBatch: true }));
    d.send({ type: "start" });
    d.send({ type: "pause" });
    expect(derivePhase(d.state, d.t).message).toBe("Paused before batch 1: resume to wait for its approval");
    expect(kinds(d.send({ type: "resume" }))).toEqual(["awaitApproval"]);
    d.send({ type: "approve", batch: 0 }, "bob");
    d.toEnd();
    expect(d.state.phase).toBe("succeeded");
  });
});
