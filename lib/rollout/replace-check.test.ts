import { describe, expect, it } from "vitest";
import { capacitySteps, checkReplace, targetSpecSchema, type AutoScalingGroupView, type ReplaceCheckInput } from "./replace-check";

const ids = ["i-1", "i-2", "i-3", "i-4", "i-5", "i-6"];

function group(overrides: Partial<AutoScalingGroupView> = {}): AutoScalingGroupView {
  return {
    name: "web-asg",
    min: 2,
    desired: 6,
    max: 8,
    source: { kind: "launch-template", id: "lt-1", name: "web-lt", version: "1", resolvedVersion: 1 },
    instances: ids.map((id) => ({ id, lifecycleState: "InService", healthStatus: "Healthy", protectedFromScaleIn: false, launchTemplateVersion: "1" })),
    suspended: [],
    loadBalancerNames: ["web"],
    targetGroupArns: ["arn:tg/api"],
    lifecycleHooks: [],
    ...overrides,
  };
}

function input(overrides: Partial<ReplaceCheckInput> = {}): ReplaceCheckInput {
  return {
    lb: { kind: "classic", rotorName: "web", name: "web" },
    lbInstanceIds: ids,
    groupOf: Object.fromEntries(ids.map((id) => [id, "web-asg"])),
    group: group(),
    target: { kind: "version", launchTemplateId: "lt-1", version: 2, imageId: "ami-2" },
    options: { batchSize: 2, surge: 2 },
    ...overrides,
  };
}

const codes = (r: ReturnType<typeof checkReplace>) => r.refusals.map((x) => x.code);

describe("capacitySteps", () => {
  it("with a full surge never goes below desired and ends at desired", () => {
    expect(capacitySteps(6, 6, { batchSize: 2, surge: 2 })).toEqual([
      { batch: 1, replace: 2, surge: 2, peakDesired: 8, lowestInService: 6, endDesired: 6 },
      { batch: 2, replace: 2, surge: 2, peakDesired: 8, lowestInService: 6, endDesired: 6 },
      { batch: 3, replace: 2, surge: 2, peakDesired: 8, lowestInService: 6, endDesired: 6 },
    ]);
  });

  it("without surge dips by the batch; a short last batch surges only as many as it retires", () => {
    expect(capacitySteps(5, 5, { batchSize: 2, surge: 0 }).map((s) => s.lowestInService)).toEqual([3, 3, 4]);
    expect(capacitySteps(5, 5, { batchSize: 2, surge: 2 }).at(-1)).toEqual({ batch: 3, replace: 1, surge: 1, peakDesired: 6, lowestInService: 5, endDesired: 5 });
    expect(capacitySteps(6, 0, { batchSize: 2, surge: 2 })).toEqual([]);
  });
});

describe("checkReplace", () => {
  it("passes a steady group with a version that exists, and previews from → to and each step", () => {
    const r = checkReplace(input());
    expect(r.refusals).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.preview).toMatchObject({ group: "web-asg", min: 2, desired: 6, max: 8, from: "web-lt version 1", to: "version 2 (ami-2)", replace: ids });
    expect(r.preview?.steps).toHaveLength(3);
  });

  it("leaves instances already on the target version and names $Latest with the version it means", () => {
    const g = group({ source: { kind: "launch-template", id: "lt-1", name: "web-lt", version: "$Latest", resolvedVersion: 2 } });
    g.instances[0]!.launchTemplateVersion = "2";
    const r = checkReplace(input({ group: g }));
    expect(r.ok).toBe(true);
    expect(r.preview?.from).toBe("web-lt version $Latest = 2");
    expect(r.preview?.replace).toEqual(ids.slice(1));
  });

  it("refuses when no instance is in a group, when they are spread over groups, and names those in none", () => {
    expect(codes(checkReplace(input({ groupOf: Object.fromEntries(ids.map((id) => [id, null])), group: null })))).toEqual(["NO_GROUP"]);
    const spread = checkReplace(input({ groupOf: { ...input().groupOf, "i-6": "other-asg", "i-5": null }, group: null }));
    expect(codes(spread)).toEqual(["SEVERAL_GROUPS", "OUTSIDE_GROUP"]);
    expect(spread.refusals[0]?.message).toContain("web-asg (4 instances), other-asg (1 instance)");
    expect(spread.refusals[1]?.ids).toEqual(["i-5"]);
  });

  it("refuses a group whose instances are not all behind the load balancer, and one not attached to it", () => {
    const r = checkReplace(input({ lbInstanceIds: ids.slice(0, 5) }));
    expect(codes(r)).toEqual(["GROUP_OUTSIDE_LB"]);
    expect(r.refusals[0]?.ids).toEqual(["i-6"]);
    const tg = checkReplace(input({ lb: { kind: "target-group", rotorName: "tg_other", name: "other", arn: "arn:tg/other" } }));
    expect(codes(tg)).toEqual(["LB_NOT_ATTACHED"]);
    expect(tg.refusals[0]?.message).toContain("AttachLoadBalancerTargetGroups");
  });

  it("refuses each suspended process Rotor needs, naming it and how to resume it", () => {
    const r = checkReplace(input({ group: group({ suspended: [{ process: "Launch", reason: "User suspended" }, { process: "AZRebalance" }, { process: "ScheduledActions" }] }) }));
    expect(codes(r)).toEqual(["PROCESS_SUSPENDED", "PROCESS_SUSPENDED"]);
    expect(r.refusals[0]?.message).toContain("Launch process suspended (User suspended)");
    expect(r.refusals[0]?.message).toContain("resume-processes --auto-scaling-group-name web-asg --scaling-processes Launch");
    expect(r.refusals[1]?.message).toContain("AZRebalance");
  });

  it("refuses a surge above max, saying the max needed and the surge that fits", () => {
    const r = checkReplace(input({ group: group({ max: 7 }) }));
    expect(codes(r)).toEqual(["SURGE_ABOVE_MAX"]);
    expect(r.refusals[0]?.message).toContain("raise max to 8 or lower the surge to 1");
    expect(checkReplace(input({ group: group({ max: 7 }), options: { batchSize: 2, surge: 1 } })).ok).toBe(true);
    expect(checkReplace(input({ group: group({ max: 6 }) })).refusals[0]?.message).toContain("lower the surge to 0 (no surge)");
  });

  it("refuses a batch that would take in service below the minimum healthy", () => {
    expect(codes(checkReplace(input({ options: { batchSize: 3, surge: 0, minHealthy: 4 } })))).toEqual(["BELOW_MIN_HEALTHY"]);
    expect(checkReplace(input({ options: { batchSize: 3, surge: 1, minHealthy: 4 } })).ok).toBe(true);
  });

  it("refuses a target that does not exist, and a target every instance already runs", () => {
    expect(codes(checkReplace(input({ target: { kind: "missing", message: "AMI ami-0 does not exist" } })))).toEqual(["TARGET_MISSING"]);
    expect(codes(checkReplace(input({ target: { kind: "version", launchTemplateId: "lt-1", version: 1 } })))).toEqual(["TARGET_IS_CURRENT"]);
  });

  it("refuses a mixed instances policy and a launch configuration as unsupported", () => {
    expect(codes(checkReplace(input({ group: group({ source: { kind: "mixed-instances", id: "lt-1" } }), target: { kind: "missing", message: "x" } })))).toEqual(["UNSUPPORTED_LAUNCH"]);
    const lc = checkReplace(input({ group: group({ source: { kind: "launch-configuration", name: "web-lc" } }), target: { kind: "missing", message: "x" } }));
    expect(lc.refusals[0]?.message).toContain("launch configuration web-lc");
  });

  it("refuses Standby and scale-in protected instances, listing them", () => {
    const g = group({ desired: 5 });
    g.instances[0]!.protectedFromScaleIn = true;
    g.instances[1]!.lifecycleState = "Standby";
    const r = checkReplace(input({ group: g }));
    expect(codes(r)).toEqual(["STANDBY", "PROTECTED"]);
    expect(r.refusals.map((x) => x.ids)).toEqual([["i-2"], ["i-1"]]);
  });

  it("shows lifecycle hooks in the plan, and refuses instances a hook holds", () => {
    const hooks = [{ name: "warm-up", transition: "autoscaling:EC2_INSTANCE_LAUNCHING", heartbeatTimeoutSeconds: 300, defaultResult: "CONTINUE" }];
    const shown = checkReplace(input({ group: group({ lifecycleHooks: hooks }) }));
    expect(shown.ok).toBe(true);
    expect(shown.preview?.notes).toEqual(["lifecycle hook warm-up: each new instance waits until the hook completes, up to 300 s (then CONTINUE)"]);
    const g = group({ lifecycleHooks: hooks, desired: 7, max: 9, instances: [...group().instances, { id: "i-7", lifecycleState: "Pending:Wait", healthStatus: "Healthy", protectedFromScaleIn: false }] });
    const held = checkReplace(input({ group: g }));
    expect(codes(held)).toEqual(["WAITING_ON_HOOK"]);
    expect(held.refusals[0]?.message).toContain("i-7 Pending:Wait");
  });

  it("refuses a group that is scaling", () => {
    const g = group();
    g.instances[5]!.lifecycleState = "Terminating";
    expect(codes(checkReplace(input({ group: g })))).toContain("NOT_STEADY");
  });

  it("validates the options", () => {
    expect(() => checkReplace(input({ options: { batchSize: 2, surge: 3 } }))).toThrow(/Surge cannot exceed the batch size/);
    expect(() => checkReplace(input({ options: { batchSize: 0, surge: 0 } }))).toThrow(/at least 1/);
  });
});

describe("targetSpecSchema", () => {
  it("reads a version, $Latest, $Default or an AMI id, and refuses anything else", () => {
    expect(targetSpecSchema.parse("3")).toEqual({ version: 3 });
    expect(targetSpecSchema.parse("$Latest")).toEqual({ version: "$Latest" });
    expect(targetSpecSchema.parse(" ami-0123456789abcdef0 ")).toEqual({ imageId: "ami-0123456789abcdef0" });
    for (const bad of ["0", "v3", "ami-xyz", "$latest", "3; rm -rf /"]) expect(targetSpecSchema.safeParse(bad).success).toBe(false);
  });
});
