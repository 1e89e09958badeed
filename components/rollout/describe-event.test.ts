import { describe, expect, it } from "vitest";
import { describeEvent, effectNames } from "@/components/rollout/describe-event";
import type { StoredEvent } from "@/lib/views";

const ev = (type: string, payload: Record<string, unknown>, details: Record<string, unknown> | null = null): StoredEvent => ({ seq: 1, rolloutId: "r-1", at: 1, actor: "engine", type, payload, outcome: "applied", reason: null, details });

describe("the timeline's line for a replace rollout's group events", () => {
  it.each([
    [{ group: "web-asg", launchVersion: { from: "3", to: "4" } }, "pointed web-asg at launch version 4 (was 3)"],
    [{ group: "web-asg", desired: { from: 5, to: 7 } }, "set web-asg's desired capacity 5 → 7"],
    [{ group: "web-asg", terminated: "i-1", decrementDesired: true }, "terminated i-1 in web-asg, decrementing its desired capacity"],
    [{ group: "web-asg", terminated: "i-2", decrementDesired: false }, "terminated i-2 in web-asg without decrementing: the group launches a replacement"],
  ])("group-changed %j → %s", (payload, line) => {
    expect(describeEvent(ev("group-changed", payload))).toBe(line);
  });

  it("group-activity: the group's own words, with its status when it did not succeed", () => {
    const description = "Launching a new EC2 instance: i-0abc. Status Reason: an instance was started in response to a difference between desired and actual capacity";
    expect(describeEvent(ev("group-activity", { group: "web-asg", activity: "a-1", status: "Successful", description }))).toBe(`web-asg: ${description}`);
    expect(describeEvent(ev("group-activity", { group: "web-asg", activity: "a-2", status: "Failed", description: "Launching a new EC2 instance failed" }))).toBe("web-asg: Launching a new EC2 instance failed (Failed)");
  });

  it("names the group steps of a batch by what they do", () => {
    const started = (effectId: string, effect: Record<string, unknown>) => ev("step-started", { effectId }, { effect });
    const names = effectNames([
      started("f1", { type: "scaleGroup", step: "launch", batch: 0, ids: ["i-1", "i-2"] }),
      started("f2", { type: "terminate", batch: 0, ids: ["i-1", "i-2"] }),
      started("f3", { type: "scaleGroup", step: "replace", batch: 1, ids: ["i-3"] }),
    ]);
    expect(describeEvent(ev("step-succeeded", { effectId: "f1" }, { durationMs: 900 }), names)).toBe("batch 1 launch on i-1, i-2 succeeded in 900 ms");
    expect(describeEvent(ev("step-started", { effectId: "f2" }), names)).toBe("batch 1 terminate on i-1, i-2 started");
    expect(describeEvent(ev("step-started", { effectId: "f3" }), names)).toBe("batch 2 wait for replacements on i-3 started");
  });
});

describe("the timeline's line for a batch analysis", () => {
  it("names the batch and its new instances, the verdict and the reasons", () => {
    const names = effectNames([ev("step-started", { effectId: "f0:analysis#1" }, { effect: { type: "analyze", batch: 0, fresh: ["i-1", "i-2"], old: ["i-3"] } })]);
    const line = describeEvent(ev("analysis-finished", { effectId: "f0:analysis#1", analysis: { verdict: "fail", reasons: ["Error rate 12.00% on the new instances vs 0.00% on the old (limit 1.00%): over the limit."] } }), names);
    expect(line).toBe("batch 1 analysis on i-1, i-2 failed: Error rate 12.00% on the new instances vs 0.00% on the old (limit 1.00%): over the limit.");
    expect(describeEvent(ev("analysis-finished", { effectId: "f0:analysis#1", analysis: { verdict: "inconclusive", reasons: [] } }), names)).toBe("batch 1 analysis on i-1, i-2 was inconclusive");
  });
});
