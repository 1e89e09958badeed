import { describe, expect, it } from "vitest";
import { ACTIONS, actionForEvent, can, isRole, MIN_ROLE, type Action } from "../roles";

describe("roles", () => {
  it.each<[Action, boolean, boolean, boolean]>([
    // action, viewer, operator, admin
    ["read", true, true, true],
    ["rollout.start", false, true, true],
    ["rollout.approve", false, true, true],
    ["rollout.pause", false, true, true],
    ["rollout.resume", false, true, true],
    ["rollout.abort", false, true, true],
    ["rollout.rollback", false, true, true],
    ["rollout.retry-step", false, true, true],
    ["rollout.skip-instance", false, true, true],
    ["rollout.continue-now", false, true, true],
    ["fleet.faults", false, true, true],
    ["tokens.manage", false, false, true],
    ["operators.manage", false, false, true],
    ["settings.manage", false, false, true],
    ["lb.freeze", false, false, true],
  ])("%s: viewer %s, operator %s, admin %s", (action, viewer, operator, admin) => {
    expect([can("viewer", action), can("operator", action), can("admin", action)]).toEqual([viewer, operator, admin]);
  });

  it("covers every action in the table, and refuses an action it does not know", () => {
    expect(ACTIONS.sort()).toEqual(Object.keys(MIN_ROLE).sort());
    expect(ACTIONS).toHaveLength(15);
    expect(can("admin", "rollout.explode" as Action)).toBe(false);
  });

  it("maps operator events to actions and knows its roles", () => {
    expect(actionForEvent("approve")).toBe("rollout.approve");
    expect(actionForEvent("skip-instance")).toBe("rollout.skip-instance");
    expect(isRole("admin")).toBe(true);
    expect(isRole("root")).toBe(false);
  });
});
