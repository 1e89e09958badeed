import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../views";
import { Driver, fleetOf, inputFor } from "./__tests__/helpers";
import { batchViews, replaceSummary } from "./batch-views";
import { createRollout } from "./machine";
import { REPLACE_STEPS, STEPS, type Effect } from "./types";

/** 5 instances replaced through group "web-asg" in batches of 2 with a surge of 2; the group's new ids are i-100, i-101, … */
function replaceDriver(): Driver {
  const input = inputFor(fleetOf(5), { batchSize: { unit: "count", value: 2 } });
  input.plan = { ...input.plan, minHealthy: 5, strategy: "replace", replace: { group: "web-asg", min: 1, desired: 5, max: 7, fromLaunch: "v1", toLaunch: "v2", surge: 2 } };
  return new Driver(createRollout(input));
}

function answer(d: Driver, next: { id: number }): void {
  for (let i = 0; i < 100; i++) {
    const e: Effect | undefined = d.state.outstanding[0];
    if (!e || e.type === "awaitApproval" || e.type === "sleep") return;
    const results = e.type === "scaleGroup" ? Array.from({ length: e.want }, () => ({ id: `i-${next.id++}`, ok: true, zone: "a" })) : undefined;
    d.send({ type: "step-succeeded", effectId: e.effectId, ...(results ? { results } : {}) });
  }
}

describe("batch views of a replace rollout", () => {
  it("columns are the replace steps; old instances carry the group's steps and end terminated, new ones verify and say their launch version", () => {
    const d = replaceDriver();
    d.send({ type: "start" });
    answer(d, { id: 100 });
    const [b1, b2] = batchViews(d.state);
    expect(b1!.steps).toEqual([...REPLACE_STEPS]);
    const old = b1!.instances.filter((i) => i.role === "old");
    const fresh = b1!.instances.filter((i) => i.role === "new");
    expect(old).toHaveLength(2);
    expect(old.every((i) => i.terminated === true)).toBe(true);
    expect(old[0]!.steps.map((s) => s.name)).toEqual(["launch", "deregister", "drain", "terminate", "replace"]);
    expect(old[0]!.steps.every((s) => s.status === "succeeded")).toBe(true);
    expect(fresh.map((i) => [i.id, i.launchedFrom, i.steps.map((s) => `${s.name} ${s.status}`)])).toEqual([
      ["i-100", "v2", ["verify succeeded"]],
      ["i-101", "v2", ["verify succeeded"]],
    ]);
    // In service while a batch is out: desired + surge − batch, the group's arithmetic.
    expect(b1!.inServiceDuring).toBe(5);
    expect(b2!.instances.every((i) => i.role === "old" && !i.terminated)).toBe(true);
  });

  it("in place keeps the eight steps and no roles", () => {
    const d = new Driver(createRollout(inputFor(fleetOf(3), { batchSize: { unit: "count", value: 1 } })));
    const [b] = batchViews(d.state);
    expect(b!.steps).toEqual([...STEPS]);
    expect(b!.instances[0]!.role).toBeUndefined();
    expect(b!.instances[0]!.steps).toHaveLength(8);
  });

  it("the summary follows the group-changed events: desired up with the surge, down with each decrementing terminate", () => {
    const d = replaceDriver();
    const ev = (payload: Record<string, unknown>): StoredEvent => ({ seq: 1, rolloutId: "r", at: 1, actor: "engine", type: "group-changed", payload, outcome: "applied", reason: null, details: null });
    const events = [ev({ launchVersion: { from: "v1", to: "v2" } }), ev({ desired: { from: 5, to: 7 } }), ev({ terminated: "i-1", decrementDesired: true })];
    expect(replaceSummary(d.state, events)).toMatchObject({ group: "web-asg", desiredAtStart: 5, desired: 6, launchNow: "v2", fromLaunch: "v1", toLaunch: "v2", surge: 2 });
    expect(replaceSummary(d.state, [])).toMatchObject({ desired: 5, launchNow: "v1" });
    expect(replaceSummary(createRollout(inputFor(fleetOf(3))), events)).toBeUndefined();
  });
});
