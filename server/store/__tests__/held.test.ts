/**
 * Which instances active rollouts hold out of rotation, read from the log: from the start of the
 * deregister step until the register step succeeds, in the rollout's load balancer and every other
 * one each instance was registered in; nothing once the rollout is final.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS, testStore, type TestStore } from "@/server/testing/stores";
import { planRollout } from "@/lib/rollout/plan";
import type { CreateRolloutInput } from "@/lib/rollout/machine";
import type { RolloutEvent, RolloutPlan } from "@/lib/rollout/types";
import { heldOutOfRotation } from "../held";
import { RotorStore } from "../index";
import { Journals } from "../journal";

let t: TestStore;
let store: RotorStore;

/** Four instances on `web` in batches of 2; i-1 and i-3 are also targets of `api`. */
function seed(id: string, replace?: RolloutPlan["replace"]): void {
  const fleet = [1, 2, 3, 4].map((n) => ({ id: `i-${n}`, zone: "a", state: "in-service" as const, version: "v1", ...(n % 2 ? { alsoIn: ["api"] } : {}) }));
  const planned = planRollout(fleet, { version: "v2", batchSize: { unit: "count", value: 2 } });
  if (!planned.ok) throw new Error(planned.error.message);
  const plan: RolloutPlan = replace ? { ...planned.plan, strategy: "replace", replace } : planned.plan;
  const createInput: CreateRolloutInput = { id, lb: "web", plan, mode: { kind: "manual" }, drainTimeoutMs: 1000, createdAt: 1, createdBy: "alice" };
  store.insertRollout(
    { id, lb: "web", provider: "aws", createdBy: "alice", createdAt: 1, input: {}, createInput, targetVersion: "v2", fromVersions: { v1: 4 }, phase: "running" },
    [{ at: 1, actor: "alice", type: "start", payload: { type: "start" }, outcome: "applied" }],
  );
}

describe.each(STORE_KINDS)("heldOutOfRotation on %s", (kind) => {
  beforeEach(async () => {
    t = await testStore(kind);
    store = t.store;
  });
  afterEach(() => t.cleanup());

  it("follows the log: held from the deregister step until registered again, in every load balancer of the instance", () => {
    seed("r-1");
    const journals = new Journals(store);
    const heldOut = heldOutOfRotation(store, journals);
    const ids = (lb: string) => heldOut(lb).map((h) => h.id);
    expect(ids("web")).toEqual([]);

    const journal = journals.get("r-1")!;
    const append = (e: Record<string, unknown>) => {
      const r = journal.append({ at: 2, actor: "engine", ...e } as RolloutEvent);
      if (!r.ok) throw new Error(r.message);
    };
    const deregister = journal.state.outstanding[0]!;
    expect(deregister).toMatchObject({ type: "deregister", ids: [expect.any(String), expect.any(String)] });
    const batch = "ids" in deregister ? deregister.ids : [];
    append({ type: "step-started", effectId: deregister.effectId });
    // The step is running: the instances may be out already.
    expect(ids("web")).toEqual(batch);
    append({ type: "step-succeeded", effectId: deregister.effectId, results: batch.map((id) => ({ id, ok: true })) });

    const held = heldOut("web");
    expect(held).toEqual(batch.map((id) => ({ id, rolloutId: "r-1", rolloutLb: "web", zone: "a", version: "v1", description: "taken out of rotation by rollout r-1 (batch 1)" })));
    // Held in the other load balancer too, for the instances registered there; nothing elsewhere.
    expect(ids("api")).toEqual(batch.filter((id) => id === "i-1" || id === "i-3"));
    expect(ids("other")).toEqual([]);

    // Another process (the engine) carries the batch on up to its register step; the reads follow the log.
    const otherStore = new RotorStore(store.location);
    const engine = new Journals(otherStore).get("r-1")!;
    const finish = (effectId: string) => {
      for (const type of ["step-started", "step-succeeded"]) {
        const r = engine.append({ type, effectId, results: batch.map((id) => ({ id, ok: true })), at: 3, actor: "engine" } as RolloutEvent);
        if (!r.ok) throw new Error(r.message);
      }
    };
    for (let guard = 0; guard < 10 && engine.state.outstanding[0]?.type !== "register"; guard++) finish(engine.state.outstanding[0]!.effectId);
    const register = engine.state.outstanding[0]!;
    expect(register).toMatchObject({ type: "register", ids: batch });
    expect(ids("web")).toEqual(batch);
    finish(register.effectId);
    otherStore.close();
    expect(journals.get("r-1")!.state.phase).toBe("running");
    expect(ids("web")).toEqual([]);
    expect(ids("api")).toEqual([]);
  });

  it("replace: an instance terminated in its group is gone, not held (no lingering fleet row)", () => {
    // The same fleet replaced through group "web-asg" with a surge of 2.
    seed("r-2", { group: "web-asg", min: 1, desired: 4, max: 6, fromLaunch: "v1", toLaunch: "v2", surge: 2 });
    const journals = new Journals(store);
    const journal = journals.get("r-2")!;
    const heldOut = heldOutOfRotation(store, journals);
    const ids = (lb: string) => heldOut(lb).map((h) => h.id);
    const append = (e: Record<string, unknown>) => {
      const r = journal.append({ at: 2, actor: "engine", ...e } as RolloutEvent);
      if (!r.ok) throw new Error(r.message);
    };
    let next = 10;
    let terminated: string[] = [];
    for (let guard = 0; guard < 10 && terminated.length === 0; guard++) {
      const e = journal.state.outstanding[0]!;
      append({ type: "step-started", effectId: e.effectId });
      const ids = "ids" in e ? e.ids : [];
      const results = e.type === "scaleGroup" ? Array.from({ length: e.want }, () => ({ id: `i-${next++}`, ok: true, zone: "a" })) : ids.map((id) => ({ id, ok: true }));
      append({ type: "step-succeeded", effectId: e.effectId, results });
      if (e.type === "terminate") terminated = e.ids;
    }
    expect(terminated).toHaveLength(2);
    expect(terminated.map((id) => journal.state.instances.find((i) => i.id === id)?.server)).toEqual(["terminated", "terminated"]);
    expect(ids("web").filter((id) => terminated.includes(id))).toEqual([]);
    expect(ids("api").filter((id) => terminated.includes(id))).toEqual([]);
  });
});
