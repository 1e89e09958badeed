import { describe, expect, it } from "vitest";
import {
  CLASSIC_DESCRIPTIONS,
  classicDescription,
  classicState,
  instanceView,
  parseInFlight,
  parseLbName,
  parseObservedVersion,
  rotorLbName,
  tail,
  targetState,
} from "@/server/providers/aws/reshape";

describe("classicState: Classic ELB DescribeInstanceHealth → LbState", () => {
  it.each([
    ["InService", "N/A", "N/A", "in-service"],
    // Draining: still InService, told apart only by the description.
    ["InService", "N/A", "Instance deregistration currently in progress.", "draining"],
    ["OutOfService", "ELB", "Instance registration is still in progress.", "registering"],
    ["OutOfService", "Instance", "Instance has not passed the configured HealthyThreshold number of health checks consecutively.", "registering"],
    ["OutOfService", "Instance", "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.", "out-of-service"],
    ["OutOfService", "Instance", "Instance is not currently registered with the LoadBalancer.", "out-of-service"],
    ["OutOfService", "ELB", "Instance is in stopped state.", "out-of-service"],
    ["Unknown", "ELB", "A transient error occurred. Please try again later.", "unknown"],
  ] as const)("%s / %s / %s → %s", (state, reasonCode, description, expected) => {
    expect(classicState({ state, reasonCode, description })).toBe(expected);
  });

  it("reads an instance missing from the load balancer's list as out of service, unless it is still draining", () => {
    expect(classicState({ state: "Unknown", reasonCode: "N/A", description: "N/A" }, false)).toBe("out-of-service");
    expect(classicState({ state: "InService", description: CLASSIC_DESCRIPTIONS.deregistering }, false)).toBe("draining");
    expect(classicDescription({ state: "Unknown", description: "N/A" }, false)).toBe(CLASSIC_DESCRIPTIONS.notRegistered);
    expect(classicDescription({ state: "InService", description: "N/A" }, true)).toBe("InService");
  });
});

describe("targetState: ALB/NLB TargetHealth → LbState", () => {
  it.each([
    ["healthy", undefined, "in-service"],
    ["initial", "Elb.RegistrationInProgress", "registering"],
    ["initial", "Elb.InitialHealthChecking", "registering"],
    ["unhealthy", "Target.FailedHealthChecks", "out-of-service"],
    ["unhealthy", "Target.ResponseCodeMismatch", "out-of-service"],
    ["unhealthy", "Target.Timeout", "out-of-service"],
    ["unused", "Target.NotRegistered", "out-of-service"],
    ["unused", "Target.NotInUse", "out-of-service"],
    ["unused", "Target.InvalidState", "out-of-service"],
    ["draining", "Target.DeregistrationInProgress", "draining"],
    ["unhealthy.draining", "Target.DeregistrationInProgress", "draining"],
    ["unavailable", "Target.HealthCheckDisabled", "unknown"],
    ["something-new", undefined, "unknown"],
  ] as const)("%s / %s → %s", (state, reason, expected) => {
    expect(targetState({ state, reason })).toBe(expected);
  });
});

describe("instanceView", () => {
  it("never reports a stopped EC2 instance as in service", () => {
    const v = instanceView("i-0123456789abcdef0", { state: "in-service", description: "N/A" }, { id: "i-0123456789abcdef0", zone: "eu-west-1a", ec2State: "stopped", version: "1.0" }, null);
    expect(v).toMatchObject({ state: "out-of-service", zone: "eu-west-1a", version: "1.0" });
    expect(v.description).toContain("stopped");
  });
  it("keeps the load balancer's state for a running instance and an unknown zone without EC2 facts", () => {
    expect(instanceView("i-0123456789abcdef0", { state: "draining", description: "d" }, undefined, 3)).toMatchObject({ state: "draining", zone: "unknown", inFlight: 3, version: null });
  });
});

describe("names and output parsing", () => {
  it("names target groups tg_<name> and Classic ELBs by their own name, both ways", () => {
    expect(parseLbName("tg_web-tg")).toEqual({ kind: "target-group", awsName: "web-tg" });
    expect(parseLbName("my-elb")).toEqual({ kind: "classic", awsName: "my-elb" });
    expect(rotorLbName(parseLbName("tg_web-tg"))).toBe("tg_web-tg");
    expect(encodeURIComponent("tg_web-tg")).toBe("tg_web-tg");
  });
  it("reads the in-flight probe's last integer", () => {
    expect(parseInFlight("BusyWorkers: 7\n")).toBe(7);
    expect(parseInFlight("Total Accesses: 100\nBusyWorkers: 2")).toBe(2);
    expect(parseInFlight("no numbers")).toBeNull();
  });
  it("reads the version the verify hook saw", () => {
    expect(parseObservedVersion("ok\nrotor-version=1.4.2\n")).toBe("1.4.2");
    expect(parseObservedVersion("rotor-version=\n")).toBeUndefined();
  });
  it("keeps the tail of long output", () => {
    const long = Array.from({ length: 2_000 }, (_, i) => `line ${i}`).join("\n");
    const t = tail(long, 100);
    expect(t.length).toBeLessThanOrEqual(100);
    expect(t.endsWith("line 1999")).toBe(true);
    expect(t.startsWith("line")).toBe(true);
  });
});
