import { describe, expect, it } from "vitest";
import { checkTwoPersonRule, twoPersonLbs } from "../two-person";

const rollout = { id: "r-1", lb: "prod", createdBy: "alice" };

describe("two-person rule", () => {
  it("refuses the starter's approve (and continue-now) where it is on, and allows another operator", () => {
    const on = new Set(["prod"]);
    expect(checkTwoPersonRule(rollout, "alice", { type: "approve" }, on)).toMatchObject({ ok: false, code: "TWO_PERSON_RULE" });
    expect(checkTwoPersonRule(rollout, { name: "alice", role: "admin" }, { type: "continue-now" }, on)).toMatchObject({ ok: false });
    expect(checkTwoPersonRule(rollout, { name: "bob", role: "operator" }, { type: "approve" }, on)).toEqual({ ok: true });
  });

  it("lets the starter pause, abort and roll back: only approvals need a second person", () => {
    const on = new Set(["prod"]);
    for (const type of ["pause", "resume", "abort", "rollback", "retry-step"] as const) {
      expect(checkTwoPersonRule(rollout, "alice", { type }, on)).toEqual({ ok: true });
    }
  });

  it("is off for other load balancers, and * turns it on everywhere", () => {
    expect(checkTwoPersonRule(rollout, "alice", { type: "approve" }, new Set(["staging"]))).toEqual({ ok: true });
    expect(checkTwoPersonRule(rollout, "alice", { type: "approve" }, new Set(["*"]))).toMatchObject({ ok: false });
  });

  it("reads ROTOR_TWO_PERSON_LBS", () => {
    expect([...twoPersonLbs(null, { ROTOR_TWO_PERSON_LBS: " lb1, lb2 ,," })]).toEqual(["lb1", "lb2"]);
    expect(twoPersonLbs(null, {}).size).toBe(0);
  });
});
