import { describe, expect, it } from "vitest";
import { Driver, fleetOf, inputFor, inst } from "./__tests__/helpers";
import fc from "fast-check";
import { createRollout, replay, transition } from "./machine";
import { inServiceCount, listInstances, type RolloutState } from "./state";
import type { Effect, InstanceStepResult } from "./types";

/** A rollout of `n` instances (i-1…i-n on v1) replaced through group "web-asg" from launch version v1 to v2. */
function replaceRollout(n: number, batch: number, surge: number, minHealthy = n + Math.min(surge, batch) - batch): RolloutState {
  // As the start command plans it: the group's arithmetic sets the floor, not the in-place planner's.
  const input = inputFor(fleetOf(n), { batchSize: { unit: "count", value: batch }, minHealthy: { unit: "count", value: 0 } });
  input.plan = { ...input.plan, minHealthy, strategy: "replace", replace: { group: "web-asg", min: 1, desired: n, max: n + 2, fromLaunch: "v1", toLaunch: "v2", surge } };
  return createRollout(input);
}

/**
 * A simulated group answering the machine's group effects as the engine would: new ids i-100, i-101, …
 * Checks what a real group would refuse: desired above max.
 */
class Group {
  next = 100;
  desired: number;
  launchVersion = "v1";
  alive: Set<string>;
  launchedFrom = new Map<string, string>();
  constructor(
    private readonly d: Driver,
    n: number,
    private readonly max: number,
  ) {
    this.desired = n;
    this.alive = new Set(Array.from({ length: n }, (_, i) => `i-${i + 1}`));
  }
  /** Performs the outstanding effect (a success), returning what was done. */
  step(): string {
    const e = this.d.pending;
    let results: InstanceStepResult[] | undefined;
    if (e.type === "scaleGroup") {
      expect(e.desired).toBeLessThanOrEqual(this.max);
      this.launchVersion = e.launchVersion;
      this.desired = e.desired;
      for (const id of e.retiring) expect(this.alive.has(id)).toBe(false);
      const fresh: string[] = [];
      while (this.alive.size < this.desired) {
        const id = `i-${this.next++}`;
        this.alive.add(id);
        this.launchedFrom.set(id, this.launchVersion);
        fresh.push(id);
      }
      // The group shrinks to desired on its own, newest launch version last.
      while (this.alive.size > this.desired) {
        const victim = [...this.alive].find((id) => (this.launchedFrom.get(id) ?? "v1") !== this.launchVersion) ?? [...this.alive][0]!;
        this.alive.delete(victim);
      }
      expect(fresh.length).toBeGreaterThanOrEqual(e.want);
      results = fresh.map((id) => ({ id, ok: true, zone: "a" }));
      for (const id of e.known) if (!this.alive.has(id)) results.push({ id, ok: true, gone: true });
    } else if (e.type === "terminate") {
      e.ids.forEach((id, i) => {
        this.alive.delete(id);
        if (i < e.decrement) this.desired--;
      });
    }
    this.d.send({ type: "step-succeeded", effectId: e.effectId, ...(results ? { results } : {}) });
    return label(e);
  }
  untilRest(): string[] {
    const seen: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const e = this.d.state.outstanding[0];
      if (!e || e.type === "awaitApproval" || e.type === "sleep") return seen;
      seen.push(this.step());
      minSeen = Math.min(minSeen, inServiceCount(this.d.state));
    }
    throw new Error("did not come to rest");
  }
}

let minSeen = Infinity;

function label(e: Effect): string {
  switch (e.type) {
    case "scaleGroup":
      return `${e.step} ${e.launchVersion} desired ${e.desired} want ${e.want}${e.retiring.length ? ` retiring ${e.retiring.join(",")}` : ""}`;
    case "terminate":
      return `terminate ${e.ids.join(",")} decrement ${e.decrement}`;
    case "runHook":
      return `${e.hook} ${e.params.version} ${e.ids.join(",")}`;
    default:
      return `${e.type} ${"ids" in e ? e.ids.join(",") : ""}`;
  }
}

describe("the replace strategy", () => {
  it("with surge: launches first, never below the fleet's size, ends with only new instances at the original size", () => {
    minSeen = Infinity;
    const d = new Driver(replaceRollout(5, 2, 2));
    const g = new Group(d, 5, 7);
    d.send({ type: "start" });
    expect(g.untilRest()).toEqual([
      "launch v2 desired 7 want 2",
      "deregister i-1,i-2",
      "waitDrain i-1,i-2",
      "terminate i-1,i-2 decrement 2",
      "replace v2 desired 5 want 0 retiring i-1,i-2",
      "verify v2 i-100,i-101",
    ]);
    expect(d.state.phase).toBe("awaiting-approval");
    expect(d.state.batches[0]?.newIds).toEqual(["i-100", "i-101"]);
    expect(inst(d.state, "i-1")).toMatchObject({ server: "terminated", registered: false, inRotation: false, status: "done" });
    expect(inst(d.state, "i-100")).toMatchObject({ version: "v2", server: "serving", inRotation: true, status: "done", launched: { launchVersion: "v2" } });
    for (let b = 1; b < d.state.batches.length; b++) {
      d.send({ type: "approve", batch: b });
      g.untilRest();
    }
    expect(d.state.phase).toBe("succeeded");
    expect(minSeen).toBeGreaterThanOrEqual(5);
    const alive = listInstances(d.state).filter((i) => i.server !== "terminated");
    expect(alive.map((i) => i.id).sort()).toEqual([...g.alive].sort());
    expect(alive.every((i) => i.version === "v2" && i.launched)).toBe(true);
    expect(alive).toHaveLength(5);
    expect(g.desired).toBe(5);
    expect(d.state.leftOut).toEqual([]);
    expect(replay(createRollout({ ...inputFor(fleetOf(5)), plan: d.state.plan }), d.log)).toEqual(d.state);
  });

  it("without surge: terminates first and waits for the group's replacements, staying at or above min healthy", () => {
    minSeen = Infinity;
    const d = new Driver(replaceRollout(5, 2, 0));
    expect(d.state.plan.minHealthy).toBe(3);
    const g = new Group(d, 5, 5);
    d.send({ type: "start" });
    expect(g.untilRest()).toEqual([
      "launch v2 desired 5 want 0",
      "deregister i-1,i-2",
      "waitDrain i-1,i-2",
      "terminate i-1,i-2 decrement 0",
      "replace v2 desired 5 want 2 retiring i-1,i-2",
      "verify v2 i-100,i-101",
    ]);
    d.send({ type: "approve", batch: 1 });
    g.untilRest();
    d.send({ type: "approve", batch: 2 });
    g.untilRest();
    expect(d.state.phase).toBe("succeeded");
    expect(minSeen).toBeGreaterThanOrEqual(3);
    expect([...g.alive].every((id) => g.launchedFrom.get(id) === "v2")).toBe(true);
  });

  it("rollback after batch 1 points the group back and replaces the new instances, newest first", () => {
    const d = new Driver(replaceRollout(5, 2, 2));
    const g = new Group(d, 5, 7);
    d.send({ type: "start" });
    g.untilRest();
    d.send({ type: "rollback" });
    expect(d.state.rollbackBatches.map((b) => b.instanceIds)).toEqual([["i-101", "i-100"]]);
    const seen = g.untilRest();
    expect(seen[0]).toBe("launch v1 desired 7 want 2");
    expect(seen).toContain("terminate i-101,i-100 decrement 2");
    expect(seen.at(-1)).toBe("verify v1 i-102,i-103");
    expect(d.state.phase).toBe("rolled-back");
    expect(g.launchVersion).toBe("v1");
    expect(g.desired).toBe(5);
    expect([...g.alive].every((id) => (g.launchedFrom.get(id) ?? "v1") === "v1")).toBe(true);
    expect(d.state.leftOut).toEqual([]);
  });

  it("abort after the old batch was taken out: puts it back, then points the group back at its launch version and size", () => {
    const d = new Driver(replaceRollout(5, 2, 2));
    const g = new Group(d, 5, 7);
    d.send({ type: "start" });
    g.step(); // launch: 7
    g.step(); // deregister i-1, i-2
    d.send({ type: "abort" });
    const seen = g.untilRest();
    expect(seen).toEqual(["waitDrain i-1,i-2", "register i-1,i-2", "waitInService i-1,i-2", "launch v1 desired 5 want 0"]);
    expect(d.state.phase).toBe("aborted");
    expect(g.desired).toBe(5);
    expect(g.launchVersion).toBe("v1");
    expect(inst(d.state, "i-1")).toMatchObject({ inRotation: true, registered: true });
    // The group shrank back by terminating the surge (the newer launch version goes first): the rollout knows.
    expect(["i-100", "i-101"].map((id) => inst(d.state, id).server)).toEqual(["terminated", "terminated"]);
    expect(inServiceCount(d.state)).toBe(5);
    expect(d.state.leftOut).toEqual([]);
  });

  it("refuses to take a batch out when the group's surge did not come (capacity guard)", () => {
    const d = new Driver(replaceRollout(5, 2, 2));
    d.send({ type: "start" });
    // The launch reports no new instance: 5 in service, taking 2 out would leave 3 < 5.
    d.send({ type: "step-succeeded", effectId: d.pending.effectId });
    expect(d.state.phase).toBe("failed-awaiting-operator");
    expect(d.state.failure).toMatchObject({ kind: "capacity", step: "deregister" });
  });
});

/**
 * Random replace rollouts against the simulated group: random sizes, batches and surges, steps that
 * fail (then retried), and an operator who pauses, resumes, aborts or rolls back at random moments.
 * Whatever happens: in service never below the plan's minimum when a batch is taken out, the group
 * never asked above its max, the rollout's view of which instances are alive matches the group's,
 * replay rebuilds the same state, and each ending leaves the group where it promises.
 */
describe("replace properties", () => {
  it("hold over random rollouts with failures, retries, pauses, aborts and rollbacks", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 2, max: 14 }),
          batch: fc.integer({ min: 1, max: 14 }),
          surgeShare: fc.double({ min: 0, max: 1, noNaN: true }),
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
          failRate: fc.constantFrom(0, 0.1, 0.3),
          opRate: fc.constantFrom(0, 0.05, 0.15),
        }),
        ({ n, batch: b, surgeShare, seed, failRate, opRate }) => {
          const batch = Math.min(b, n);
          const surge = Math.floor(surgeShare * (batch + 1)) > batch ? batch : Math.floor(surgeShare * (batch + 1));
          // Without a surge, at least one instance stays in service.
          if (surge === 0 && batch >= n) return;
          let r = seed;
          const rand = () => ((r = (r * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
          const d = new Driver(replaceRollout(n, batch, surge));
          const g = new Group(d, n, n + 2);
          d.send({ type: "start" });
          for (let i = 0; i < 2_000 && !["succeeded", "aborted", "rolled-back"].includes(d.state.phase); i++) {
            const s = d.state;
            const e = s.outstanding[0];
            /** Sends an operator event if the machine takes it now (a refusal changes nothing). */
            const tryOp = (op: "pause" | "resume" | "abort" | "rollback" | "retry-step"): boolean => {
              const res = transition(d.state, { type: op, at: ++d.t, actor: "op" });
              if (!res.ok) return false;
              d.state = res.state;
              d.log.push({ type: op, at: d.t, actor: "op" });
              return true;
            };
            if (rand() < opRate) {
              tryOp((["pause", "resume", "abort", "rollback"] as const)[Math.floor(rand() * 4)]!);
              continue;
            }
            if (s.phase === "paused") d.send({ type: "resume" });
            else if (s.phase === "failed-awaiting-operator") {
              if (!tryOp(rand() < 0.8 ? "retry-step" : "rollback")) expect(tryOp("abort") || tryOp("retry-step")).toBe(true);
            }
            else if (!e) throw new Error(`stuck in ${s.phase}`);
            else if (e.type === "awaitApproval") d.send({ type: "approve", batch: e.batch });
            else if (e.type === "sleep") d.send({ type: "continue-now" });
            else if (e.type === "deregister") {
              expect(inServiceCount(s) - e.ids.filter((id) => inst(s, id).inRotation).length).toBeGreaterThanOrEqual(s.plan.minHealthy);
              g.step();
            } else if (rand() < failRate && e.type !== "scaleGroup" && e.type !== "terminate" && e.type !== "analyze") {
              d.send({ type: "step-failed", effectId: e.effectId, results: e.ids.map((id) => ({ id, ok: false, changed: false })), message: "failed before changing anything" });
            } else g.step();
          }
          const s = d.state;
          expect(["succeeded", "aborted", "rolled-back"]).toContain(s.phase);
          const alive = listInstances(s).filter((i) => i.server !== "terminated").map((i) => i.id);
          expect(alive.sort()).toEqual([...g.alive].sort());
          const staysOut = s.leftOut.length > 0;
          // Instances that could not be returned keep the group from shrinking (it would terminate serving ones).
          if (staysOut) expect(g.desired).toBeGreaterThanOrEqual(n);
          else expect(g.desired).toBe(n);
          if (s.phase === "succeeded") expect([...g.alive].every((id) => g.launchedFrom.get(id) === "v2")).toBe(true);
          if (s.phase !== "succeeded") expect(g.launchVersion).toBe("v1");
          if (s.phase === "rolled-back") expect([...g.alive].every((id) => (g.launchedFrom.get(id) ?? "v1") === "v1")).toBe(true);
          // Left out only what the notes say could not be returned (a step the simulated world failed).
          for (const id of s.leftOut) expect(s.notes.some((x) => x.startsWith(`${id} stays out of rotation`)), `${id} left out: ${s.phase} ${JSON.stringify(s.notes)} ${JSON.stringify(inst(s, id))} ${d.log.map((e) => e.type + ("effectId" in e ? ":" + e.effectId : "")).join(" ")}`).toBe(true);
          expect(replay(createRollout({ ...inputFor(fleetOf(n)), plan: s.plan }), d.log)).toEqual(s);
        },
      ),
      { numRuns: 150 },
    );
  });
});
