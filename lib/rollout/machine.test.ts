import { describe, expect, it } from "vitest";
import { Driver, fleetOf, inputFor, inst, rolloutOf } from "./__tests__/helpers";
import { createRollout, replay, transition } from "./machine";
import { inServiceCount, listInstances, type RolloutState } from "./state";
import type { Effect, RolloutEvent } from "./types";

const ids = (e: Effect) => ("ids" in e ? e.ids : []);

describe("createRollout", () => {
  it("starts planned, with every instance pending, believed as the plan saw it, as plain JSON", () => {
    const s = rolloutOf(fleetOf(5), { batchSize: { unit: "count", value: 2 } });
    expect(s.phase).toBe("planned");
    expect(inServiceCount(s)).toBe(5);
    expect(s.outstanding).toEqual([]);
    expect(listInstances(s).map((i) => [i.id, i.status, i.version, i.inRotation])).toEqual(
      ["i-1", "i-2", "i-3", "i-4", "i-5"].map((id) => [id, "pending", "v1", true]),
    );
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it("keeps the given timeouts and defaults the others", () => {
    const s = createRollout({ ...inputFor(fleetOf(2)), hookTimeoutMs: 5_000 });
    expect(s.hookTimeoutMs).toBe(5_000);
    expect(s.inServiceTimeoutMs).toBe(300_000);
  });
});

describe("a rollout that goes well (manual approval)", () => {
  it("runs each batch's steps in lockstep, waits for approval between batches, and succeeds", () => {
    const d = new Driver(rolloutOf(fleetOf(5), { batchSize: { unit: "count", value: 2 } }));
    const first = d.send({ type: "start" });
    expect(first).toEqual([{ type: "deregister", effectId: "f0:deregister#1", batch: 0, ids: ["i-1", "i-2"] }]);
    expect(d.state.phase).toBe("running");
    expect(d.state.startedAt).toBe(d.t);

    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      const e = d.pending;
      seen.push(`${e.type}${e.type === "runHook" ? `:${e.hook}:${e.params.version}` : ""}:${ids(e).join(",")}`);
      d.ok(e);
    }
    expect(seen).toEqual([
      "deregister:i-1,i-2",
      "waitDrain:i-1,i-2",
      "runHook:stop:v2:i-1,i-2",
      "runHook:deploy:v2:i-1,i-2",
      "runHook:start:v2:i-1,i-2",
      "runHook:verify:v2:i-1,i-2",
      "register:i-1,i-2",
      "waitInService:i-1,i-2",
    ]);
    expect(d.state.phase).toBe("awaiting-approval");
    expect(d.state.outstanding).toEqual([{ type: "awaitApproval", effectId: "f0:approval#1", batch: 1 }]);
    expect(inst(d.state, "i-1")).toMatchObject({ status: "done", version: "v2", inRotation: true, registered: true });
    expect(inServiceCount(d.state)).toBe(5);

    const next = d.send({ type: "approve", batch: 1 }, "bob");
    expect(next.map((e) => e.effectId)).toEqual(["f1:deregister#1"]);
    expect(d.state.batches[1]).toMatchObject({ approvedBy: "bob", status: "running" });
    d.toEnd();
    expect(d.state.phase).toBe("succeeded");
    expect(d.state.endedAt).toBe(d.t);
    expect(d.state.outstanding).toEqual([]);
    for (const i of listInstances(d.state)) expect(i).toMatchObject({ version: "v2", inRotation: true, status: "done" });
  });

  it("gives effects the drain, hook and in-service timeouts", () => {
    const d = new Driver(createRollout({ ...inputFor(fleetOf(2)), hookTimeoutMs: 7_000, inServiceTimeoutMs: 9_000 }));
    d.send({ type: "start" });
    expect(d.ok()).toEqual([{ type: "waitDrain", effectId: "f0:drain#1", batch: 0, ids: ["i-1"], timeoutMs: 30_000 }]);
    expect(d.ok()[0]).toMatchObject({ type: "runHook", hook: "stop", timeoutMs: 7_000 });
    d.ok();
    d.ok();
    d.ok();
    d.ok();
    expect(d.ok()[0]).toMatchObject({ type: "waitInService", timeoutMs: 9_000 });
  });

  it("rejects what the phase does not allow, naming why, and leaves the state alone", () => {
    const d = new Driver(rolloutOf(fleetOf(5), { batchSize: { unit: "count", value: 2 } }));
    expect(d.reject({ type: "approve" })).toEqual({ code: "NOT_ALLOWED_IN_PHASE", message: "Cannot approve: the rollout has not started" });
    d.send({ type: "start" });
    d.ok();
    expect(d.reject({ type: "approve" })).toEqual({ code: "NOT_ALLOWED_IN_PHASE", message: "Cannot approve: batch 1 of 3 is still running" });
    expect(d.reject({ type: "start" }).message).toBe("Cannot start: the rollout has already started");
    expect(d.reject({ type: "resume" }).code).toBe("NOT_ALLOWED_IN_PHASE");
    expect(d.reject({ type: "retry-step" }).code).toBe("NOT_ALLOWED_IN_PHASE");
    expect(d.reject({ type: "skip-instance", instanceId: "i-1" }).code).toBe("NOT_ALLOWED_IN_PHASE");
    expect(d.reject({ type: "continue-now" }).code).toBe("NOT_ALLOWED_IN_PHASE");
    d.untilRest();
    expect(d.reject({ type: "approve", batch: 0 })).toEqual({
      code: "STALE_BATCH",
      message: "Cannot approve batch 1: batch 2 of 3 is the one waiting for approval",
    });
    d.toEnd();
    for (const type of ["start", "approve", "pause", "resume", "abort", "rollback", "retry-step", "continue-now"] as const) {
      expect(d.reject({ type }).message).toMatch(/^Cannot .*: the rollout has already succeeded$/);
    }
  });

  it("refuses reports for effects it is not waiting for", () => {
    const d = new Driver(rolloutOf(fleetOf(2)));
    d.send({ type: "start" });
    expect(d.reject({ type: "step-succeeded", effectId: "f0:drain#1" }).code).toBe("UNKNOWN_EFFECT");
    const dereg = d.pending;
    d.ok(dereg);
    expect(d.reject({ type: "step-succeeded", effectId: dereg.effectId }).code).toBe("UNKNOWN_EFFECT");
    expect(d.reject({ type: "step-failed", effectId: dereg.effectId, results: [], message: "late" }).code).toBe("UNKNOWN_EFFECT");
    expect(d.reject({ type: "step-started", effectId: "nope" }).code).toBe("UNKNOWN_EFFECT");
  });

  it("step-started records the start once", () => {
    const d = new Driver(rolloutOf(fleetOf(2)));
    d.send({ type: "start" });
    const e = d.pending;
    d.send({ type: "step-started", effectId: e.effectId });
    const at = d.t;
    expect(inst(d.state, "i-1").steps.deregister).toMatchObject({ status: "running", startedAt: at, attempts: 1 });
    const before = d.state;
    const again = transition(before, { type: "step-started", effectId: e.effectId, at: at + 5, actor: "engine" });
    expect(again).toEqual({ ok: true, state: before, effects: [] });
    expect(again.state).toBe(before);
  });
});

describe("auto mode: bake between batches", () => {
  it("sleeps for the bake time, ends it on a tick at or after the end, or on continue-now", () => {
    const d = new Driver(rolloutOf(fleetOf(3), {}, { kind: "auto", bakeMs: 60_000 }));
    d.send({ type: "start" });
    d.untilRest();
    const sleep = d.pending;
    expect(sleep).toEqual({ type: "sleep", effectId: "f0:bake#1", batch: 0, ms: 60_000, until: d.t + 60_000 });
    expect(d.state.phase).toBe("baking");
    const before = d.state;
    expect(transition(before, { type: "tick", at: d.t + 59_999, actor: "engine" }).state).toBe(before);
    expect(d.reject({ type: "approve" }).message).toBe("Cannot approve: batch 1 of 3 is baking");
    d.t = sleep.type === "sleep" ? sleep.until - 1 : 0;
    expect(d.send({ type: "tick" }, "engine").map((e) => e.effectId)).toEqual(["f1:deregister#1"]);
    d.untilRest();
    expect(d.send({ type: "continue-now" }).map((e) => e.effectId)).toEqual(["f2:deregister#1"]);
    d.untilRest();
    expect(d.state.phase).toBe("succeeded");
  });
});

describe("failures wait for the operator", () => {
  function toDeploy(n = 3, batch = 3) {
    const d = new Driver(rolloutOf(fleetOf(n), { batchSize: { unit: "count", value: batch }, minHealthy: { unit: "count", value: 0 } }));
    d.send({ type: "start" });
    d.ok();
    d.ok();
    d.ok();
    expect(d.pending).toMatchObject({ type: "runHook", hook: "deploy" });
    return d;
  }

  it("marks the failed instances failed at the step and the others done; retry re-runs only the failed ones", () => {
    const d = toDeploy();
    const deploy = d.pending;
    d.send({
      type: "step-failed",
      effectId: deploy.effectId,
      message: "hook failed",
      results: [
        { id: "i-1", ok: true, exitCode: 0 },
        { id: "i-2", ok: false, exitCode: 1, outputTail: "npm ERR! missing script" },
        { id: "i-3", ok: true, exitCode: 0 },
      ],
    });
    expect(d.state.phase).toBe("failed-awaiting-operator");
    expect(d.state.outstanding).toEqual([]);
    expect(d.state.failure).toMatchObject({ kind: "step-failed", batch: 0, step: "deploy", ids: ["i-2"], message: "deploy on i-2 exited 1" });
    expect(inst(d.state, "i-2")).toMatchObject({ status: "failed", version: null });
    expect(inst(d.state, "i-2").steps.deploy).toMatchObject({ status: "failed", exitCode: 1, outputTail: "npm ERR! missing script" });
    expect(inst(d.state, "i-1").steps.deploy.status).toBe("done");
    expect(d.reject({ type: "pause" }).code).toBe("NOT_ALLOWED_IN_PHASE");

    const retry = d.send({ type: "retry-step" });
    expect(retry).toEqual([{ type: "runHook", effectId: "f0:deploy#2", batch: 0, ids: ["i-2"], hook: "deploy", params: { version: "v2" }, timeoutMs: 600_000 }]);
    expect(inst(d.state, "i-2").steps.deploy.attempts).toBe(2);
    const next = d.ok();
    expect(next.map((e) => [e.effectId, ids(e)])).toEqual([["f0:start#1", ["i-1", "i-2", "i-3"]]]);
    d.toEnd();
    expect(d.state.phase).toBe("succeeded");
  });

  it("treats a timeout as a failure with a reason; unnamed ids of the effect are done", () => {
    const d = toDeploy();
    d.send({ type: "step-timed-out", effectId: d.pending.effectId, ids: ["i-3"], message: "no answer after 600 s" });
    expect(d.state.failure).toMatchObject({ kind: "timeout", ids: ["i-3"], message: "deploy on i-3 timed out: no answer after 600 s" });
    expect(inst(d.state, "i-1").steps.deploy.status).toBe("done");
  });

  it("counts instances a step-failed result leaves out as failed (their outcome is unknown)", () => {
    const d = toDeploy();
    d.send({ type: "step-failed", effectId: d.pending.effectId, message: "ssm throttled", results: [{ id: "i-1", ok: true }] });
    expect(d.state.failure?.ids).toEqual(["i-2", "i-3"]);
  });

  it("skip-instance leaves the instance out of rotation and the batch goes on without it", () => {
    const d = toDeploy();
    d.send({ type: "step-failed", effectId: d.pending.effectId, message: "boom", results: [{ id: "i-2", ok: false, exitCode: 2 }, { id: "i-1", ok: true }, { id: "i-3", ok: true }] });
    expect(d.reject({ type: "skip-instance", instanceId: "i-9" }).code).toBe("UNKNOWN_INSTANCE");
    expect(d.reject({ type: "skip-instance", instanceId: "i-1" })).toEqual({
      code: "INVALID_EVENT",
      message: "Cannot skip i-1: only the failed instances (i-2) can be skipped",
    });
    const next = d.send({ type: "skip-instance", instanceId: "i-2" });
    expect(next.map((e) => [e.effectId, ids(e)])).toEqual([["f0:start#1", ["i-1", "i-3"]]]);
    expect(d.state.notes).toContain("i-2 skipped: it stays out of rotation");
    d.toEnd();
    expect(d.state.phase).toBe("succeeded");
    expect(inst(d.state, "i-2")).toMatchObject({ status: "skipped", inRotation: false });
    expect(d.state.leftOut).toEqual(["i-2"]);
  });

  it("skipping the only instance of a batch completes the batch", () => {
    const d = new Driver(rolloutOf(fleetOf(2)));
    d.send({ type: "start" });
    d.ok();
    d.send({ type: "step-failed", effectId: d.pending.effectId, message: "drain stuck", results: [] });
    expect(d.state.failure?.step).toBe("drain");
    const next = d.send({ type: "skip-instance", instanceId: "i-1" });
    expect(next).toEqual([{ type: "awaitApproval", effectId: "f0:approval#1", batch: 1 }]);
  });
});

describe("pause and resume", () => {
  it("a pause during a step takes effect when the step finishes", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    d.send({ type: "start" });
    expect(d.send({ type: "pause" })).toEqual([]);
    expect(d.state).toMatchObject({ phase: "running", pauseRequested: true });
    expect(d.reject({ type: "pause" }).message).toMatch(/already requested/);
    expect(d.reject({ type: "resume" }).message).toBe("Cannot resume: the pause has not taken effect yet");
    expect(d.ok()).toEqual([]);
    expect(d.state).toMatchObject({ phase: "paused", pauseRequested: false, outstanding: [] });
    expect(d.send({ type: "resume" }).map((e) => e.effectId)).toEqual(["f0:drain#1"]);
    expect(d.state.phase).toBe("running");
  });

  it("a pause while waiting for approval withdraws the approval; resume asks again", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    d.send({ type: "start" });
    d.untilRest();
    d.send({ type: "pause" });
    expect(d.state).toMatchObject({ phase: "paused", outstanding: [] });
    expect(d.reject({ type: "approve" }).message).toBe("Cannot approve: the rollout is paused");
    expect(d.send({ type: "resume" })).toEqual([{ type: "awaitApproval", effectId: "f0:approval#2", batch: 1 }]);
  });

  it("a pause while baking keeps the bake time left", () => {
    const d = new Driver(rolloutOf(fleetOf(2), {}, { kind: "auto", bakeMs: 10_000 }));
    d.send({ type: "start" });
    d.untilRest();
    d.t += 4_000;
    d.send({ type: "pause" });
    expect(d.state.bakeRemainingMs).toBe(10_000 - 4_001);
    const [sleep] = d.send({ type: "resume" });
    expect(sleep).toMatchObject({ type: "sleep", ms: 5_999, until: d.t + 5_999 });
  });
});

describe("abort", () => {
  function at(stepsDone: number) {
    const d = new Driver(rolloutOf(fleetOf(4), { batchSize: { unit: "count", value: 2 } }));
    d.send({ type: "start" });
    for (let i = 0; i < stepsDone; i++) d.ok();
    return d;
  }

  it("before stop: lets the step finish, returns the drained instances to rotation, then aborted", () => {
    const d = at(1); // drain outstanding
    expect(d.send({ type: "abort" }, "carol")).toEqual([]);
    expect(d.state.phase).toBe("aborting");
    const next = d.ok();
    expect(next.map((e) => [e.type, ids(e)])).toEqual([["register", ["i-1", "i-2"]]]);
    expect(next[0]?.effectId).toBe("af0:register#1");
    expect(d.ok().map((e) => e.type)).toEqual(["waitInService"]);
    d.ok();
    expect(d.state.phase).toBe("aborted");
    expect(d.state.leftOut).toEqual([]);
    expect(inServiceCount(d.state)).toBe(4);
    expect(d.reject({ type: "abort" }).message).toBe("Cannot abort: the rollout was aborted");
  });

  it("after stop and before verify: the stopped instances stay out and are listed", () => {
    const d = at(3); // deploy outstanding
    d.send({ type: "abort" });
    expect(d.ok()).toEqual([]);
    expect(d.state.phase).toBe("aborted");
    expect(d.state.leftOut).toEqual(["i-1", "i-2"]);
  });

  it("after verify: the updated instances go back into rotation", () => {
    const d = at(6); // register outstanding
    d.send({ type: "abort" });
    expect(d.ok().map((e) => e.type)).toEqual(["waitInService"]);
    d.ok();
    expect(d.state.phase).toBe("aborted");
    expect(inst(d.state, "i-1")).toMatchObject({ version: "v2", inRotation: true });
  });

  it("while waiting for approval: ends at once", () => {
    const d = at(8);
    expect(d.state.phase).toBe("awaiting-approval");
    expect(d.send({ type: "abort" })).toEqual([]);
    expect(d.state).toMatchObject({ phase: "aborted", outstanding: [], leftOut: [] });
  });

  it("from failed: a failed drain is healthy and goes back; a failed deploy stays out", () => {
    const d = at(3);
    d.send({ type: "step-failed", effectId: d.pending.effectId, message: "x", results: [{ id: "i-1", ok: false, exitCode: 1 }, { id: "i-2", ok: true }] });
    d.send({ type: "abort" });
    expect(d.state.phase).toBe("aborted");
    expect(d.state.leftOut).toEqual(["i-1", "i-2"]);
  });
});

describe("rollback", () => {
  it("runs every touched instance back to its previous version, newest batch first, then rolled-back", () => {
    const fleet = fleetOf(6);
    const d = new Driver(rolloutOf(fleet, { batchSize: { unit: "count", value: 2 }, minHealthy: { unit: "count", value: 3 } }));
    d.send({ type: "start" });
    d.untilRest();
    d.send({ type: "approve" });
    d.ok();
    d.ok();
    d.ok(); // batch 2 deploy outstanding
    const batch2 = d.state.batches[1]?.instanceIds ?? [];
    const batch1 = d.state.batches[0]?.instanceIds ?? [];
    expect(d.send({ type: "rollback" }, "dave")).toEqual([]);
    expect(d.state.phase).toBe("rolling-back");
    const first = d.ok();
    expect(d.state.rollbackBatches.map((b) => b.instanceIds)).toEqual([batch2, batch1]);
    // batch 2 is already out of rotation: nothing to deregister, so the rollback starts at drain
    expect(first.map((e) => [e.effectId, ids(e)])).toEqual([["r0:drain#1", batch2]]);
    const deploys: string[] = [];
    for (let i = 0; i < 30 && d.state.outstanding.length > 0; i++) {
      const e = d.pending;
      if (e.type === "runHook" && e.hook === "deploy") deploys.push(`${e.params.version}:${e.ids.join(",")}`);
      d.ok(e);
    }
    expect(deploys).toEqual([`v1:${batch2.join(",")}`, `v1:${batch1.join(",")}`]);
    expect(d.state.phase).toBe("rolled-back");
    for (const id of [...batch1, ...batch2]) expect(inst(d.state, id)).toMatchObject({ version: "v1", inRotation: true, status: "done" });
    expect(inst(d.state, batch1[0] ?? "").forward?.status).toBe("done");
    expect(d.reject({ type: "rollback" }).code).toBe("NOT_ALLOWED_IN_PHASE");
  });

  it("groups rollback batches by the version each instance goes back to", () => {
    const fleet = fleetOf(4).map((f, i) => ({ ...f, version: i % 2 === 0 ? "v0" : "v1" }));
    const d = new Driver(rolloutOf(fleet, { batchSize: { unit: "count", value: 4 }, minHealthy: { unit: "count", value: 0 } }));
    d.send({ type: "start" });
    d.ok();
    d.send({ type: "rollback" });
    d.ok();
    expect(d.state.rollbackBatches.map((b) => [b.fromVersion, b.instanceIds])).toEqual([
      ["v0", ["i-1", "i-3"]],
      ["v1", ["i-2", "i-4"]],
    ]);
  });

  it("refuses when a touched instance's previous version is unknown", () => {
    const fleet = fleetOf(2);
    fleet[0] = { ...fleet[0]!, version: null };
    const d = new Driver(rolloutOf(fleet));
    d.send({ type: "start" });
    expect(d.reject({ type: "rollback" })).toEqual({
      code: "ROLLBACK_UNAVAILABLE",
      message: "Cannot roll back: the previous version of i-1 is unknown, so it cannot be taken back; abort instead",
    });
  });

  it("after abort: rolls back the instances left out", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    d.send({ type: "start" });
    d.ok();
    d.ok();
    d.ok(); // stop done: i-1 is down
    d.send({ type: "abort" });
    d.ok();
    expect(d.state).toMatchObject({ phase: "aborted", leftOut: ["i-1"] });
    const [first] = d.send({ type: "rollback" });
    expect(first).toMatchObject({ type: "waitDrain", ids: ["i-1"] });
    d.untilRest();
    expect(d.state.phase).toBe("rolled-back");
    expect(inst(d.state, "i-1")).toMatchObject({ version: "v1", inRotation: true });
  });
});

describe("capacity guard and observations", () => {
  it("does not start a batch that would leave fewer than minHealthy in service; retry after recovery", () => {
    const d = new Driver(rolloutOf(fleetOf(4), { batchSize: { unit: "count", value: 1 } }));
    d.send({ type: "start" });
    d.untilRest();
    d.send({ type: "health-observed", states: { "i-4": "out-of-service" } });
    expect(inServiceCount(d.state)).toBe(3);
    expect(d.send({ type: "approve" })).toEqual([]);
    expect(d.state.phase).toBe("failed-awaiting-operator");
    expect(d.state.failure).toMatchObject({
      kind: "capacity",
      batch: 1,
      message: "Batch 2 of 4 would leave 2 of 4 instances in service, below the minimum of 3 (1 not in service now)",
    });
    expect(d.send({ type: "retry-step" })).toEqual([]);
    expect(d.state.phase).toBe("failed-awaiting-operator");
    d.send({ type: "health-observed", states: { "i-4": "in-service" } });
    expect(d.send({ type: "retry-step" }).map((e) => e.effectId)).toEqual(["f1:deregister#1"]);
  });

  it("records drain and health observations without changing the phase; inside the batch its own steps decide", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    d.send({ type: "start" });
    d.ok();
    d.send({ type: "drain-observed", inFlight: { "i-1": 4, "zz": 3 } });
    expect(inst(d.state, "i-1").inFlight).toBe(4);
    d.send({ type: "health-observed", states: { "i-1": "in-service", "i-2": "draining" } });
    expect(inst(d.state, "i-1")).toMatchObject({ lbState: "in-service", inRotation: false });
    expect(inst(d.state, "i-2")).toMatchObject({ lbState: "draining", inRotation: false });
    expect(d.state.phase).toBe("running");
    const before = d.state;
    expect(transition(before, { type: "drain-observed", inFlight: { "i-1": 4 }, at: d.t + 1, actor: "engine" }).state).toBe(before);
  });
});

describe("replay and serialization", () => {
  function eventful(): Driver {
    const d = new Driver(rolloutOf(fleetOf(5), { batchSize: { unit: "count", value: 2 } }));
    d.send({ type: "start" });
    d.send({ type: "step-started", effectId: d.pending.effectId }, "engine");
    d.ok();
    d.send({ type: "pause" });
    d.ok();
    d.send({ type: "resume" });
    d.untilRest();
    d.send({ type: "approve" });
    d.ok();
    d.send({ type: "step-failed", effectId: d.pending.effectId, message: "x", results: [{ id: "i-4", ok: false, exitCode: 3 }] });
    return d;
  }

  it("replay of the log rebuilds the same state, outstanding effects included", () => {
    const d = eventful();
    const rebuilt = replay(inputFor(fleetOf(5), { batchSize: { unit: "count", value: 2 } }), d.log);
    expect(rebuilt).toEqual(d.state);
    d.send({ type: "retry-step" });
    const rebuilt2 = replay(inputFor(fleetOf(5), { batchSize: { unit: "count", value: 2 } }), d.log);
    expect(rebuilt2.outstanding).toEqual(d.state.outstanding);
    expect(rebuilt2.outstanding).toHaveLength(1);
  });

  it("replay skips events that were rejected, as they changed nothing", () => {
    const d = eventful();
    const noisy: RolloutEvent[] = [...d.log];
    noisy.splice(2, 0, { type: "approve", at: 1, actor: "x" }, { type: "step-succeeded", effectId: "bogus", at: 1, actor: "engine" });
    expect(replay(inputFor(fleetOf(5), { batchSize: { unit: "count", value: 2 } }), noisy)).toEqual(d.state);
  });

  it("a state that went through JSON carries on exactly like the original", () => {
    const d = eventful();
    const copy = new Driver(JSON.parse(JSON.stringify(d.state)) as RolloutState);
    copy.t = d.t;
    for (const x of [d, copy]) {
      x.send({ type: "retry-step" });
      x.toEnd();
    }
    expect(copy.state).toEqual(d.state);
    expect(d.state.phase).toBe("succeeded");
  });

  it("never mutates the state it is given", () => {
    const d = new Driver(rolloutOf(fleetOf(70), { batchSize: { unit: "count", value: 7 }, minHealthy: { unit: "count", value: 50 } }));
    const snapshots: Array<[RolloutState, string]> = [];
    const orig = d.send.bind(d);
    d.send = (e, actor) => {
      snapshots.push([d.state, JSON.stringify(d.state)]);
      return orig(e, actor);
    };
    d.send({ type: "start" });
    d.send({ type: "health-observed", states: { "i-70": "out-of-service", "i-69": "in-service" } });
    d.toEnd();
    d.send({ type: "health-observed", states: { "i-70": "in-service" } });
    for (const [s, json] of snapshots) expect(JSON.stringify(s)).toBe(json);
    expect(snapshots.length).toBeGreaterThan(80);
  });
});

describe("edges", () => {
  it("abort before the start ends the rollout with nothing touched", () => {
    const d = new Driver(rolloutOf(fleetOf(2)));
    expect(d.send({ type: "abort" })).toEqual([]);
    expect(d.state).toMatchObject({ phase: "aborted", leftOut: [], startedAt: null });
    expect(d.reject({ type: "start" }).message).toBe("Cannot start: the rollout was aborted");
  });

  it("rollback while waiting for approval starts at once, and can be paused and resumed", () => {
    const d = new Driver(rolloutOf(fleetOf(3)));
    d.send({ type: "start" });
    d.untilRest();
    const [first] = d.send({ type: "rollback" });
    expect(first).toMatchObject({ type: "deregister", effectId: "r0:deregister#1", ids: ["i-1"] });
    expect(d.state).toMatchObject({ phase: "rolling-back", direction: "rollback", outstanding: [first] });
    d.send({ type: "pause" });
    d.ok();
    expect(d.state.phase).toBe("paused");
    expect(d.send({ type: "resume" })[0]).toMatchObject({ effectId: "r0:drain#1" });
    expect(d.state.phase).toBe("rolling-back");
    d.untilRest();
    expect(d.state.phase).toBe("rolled-back");
  });

  it("refuses step results for an approval, and events without a valid time", () => {
    const d = new Driver(rolloutOf(fleetOf(2)));
    d.send({ type: "start" });
    d.untilRest();
    const gate = d.pending;
    expect(d.reject({ type: "step-failed", effectId: gate.effectId, results: [], message: "x" }).code).toBe("INVALID_EVENT");
    const before = d.state;
    const r = transition(before, { type: "pause", at: Number.NaN, actor: "x" });
    expect(r).toEqual({ ok: false, state: before, rejection: { code: "INVALID_EVENT", message: "Event has no valid time" } });
  });

  it("skipping an instance during a capacity hold shrinks the batch so it can start", () => {
    const d = new Driver(rolloutOf(fleetOf(6), { batchSize: { unit: "count", value: 2 }, minHealthy: { unit: "count", value: 3 } }));
    d.send({ type: "start" });
    d.untilRest();
    const next = d.state.batches[1]?.instanceIds ?? [];
    const [x, y] = d.state.batches[2]?.instanceIds ?? [];
    d.send({ type: "health-observed", states: { [x ?? ""]: "out-of-service", [y ?? ""]: "unknown" } }); // 4 in service
    d.send({ type: "approve" });
    expect(d.state.failure?.kind).toBe("capacity");
    expect(d.reject({ type: "skip-instance", instanceId: "i-1" }).message).toBe("Cannot skip i-1: it is not in the batch waiting to start");
    const [dereg] = d.send({ type: "skip-instance", instanceId: next[0] ?? "" });
    expect(dereg).toMatchObject({ type: "deregister", ids: [next[1]] });
    expect(d.state.notes.at(-1)).toBe(`${next[0]} skipped: it stays in rotation on v1, not updated`);
  });
});

describe("events read back from a log", () => {
  it("refuses an unknown event type instead of throwing, and tolerates missing lists", () => {
    const d = new Driver(rolloutOf(fleetOf(2)));
    d.send({ type: "start" });
    const before = d.state;
    const r = transition(before, { type: "explode", at: 5_000, actor: "x" } as unknown as RolloutEvent);
    expect(r).toEqual({ ok: false, state: before, rejection: { code: "INVALID_EVENT", message: 'Unknown event type "explode"' } });
    expect(transition(before, { type: "health-observed", at: 5_001, actor: "engine" } as unknown as RolloutEvent).ok).toBe(true);
    const timedOut = transition(before, { type: "step-timed-out", effectId: d.pending.effectId, message: "late", at: 5_002, actor: "engine" } as unknown as RolloutEvent);
    expect(timedOut.ok && timedOut.state.failure?.ids).toEqual(["i-1"]);
  });
});
