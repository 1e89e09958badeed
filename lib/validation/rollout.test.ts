import { describe, expect, it } from "vitest";
import { fail, ok } from "../result";
import { fieldErrorRecord, fieldErrorsFromZod } from "./errors";
import { operatorEventSchema, startRolloutSchema, toOperatorEvent, toRolloutRequest } from "./rollout";
import { VERSION_MESSAGE, isVersion, versionShellCheck } from "./version";

const base = { lb: "local", version: "v2.1.0+build_7", batchSize: { unit: "count", value: 2 } };

describe("startRolloutSchema", () => {
  it("fills defaults and turns into planner options", () => {
    const r = startRolloutSchema.safeParse(base);
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(r.data).toEqual({ ...base, canary: false, includeOutOfService: false, approval: { mode: "manual" }, strategy: "in-place", analysisOnFail: "pause" });
    // No window asked for: the server's default applies; no alarms of the rollout's own.
    expect(toRolloutRequest(r.data)).toEqual({ lb: "local", options: { version: "v2.1.0+build_7", batchSize: { unit: "count", value: 2 } }, approval: { kind: "manual" }, analysis: { onFail: "pause", alarms: [] } });
  });

  it("batch analysis: the window in seconds, the policy, alarms from the form's text, thresholds; refusals name the field", () => {
    const r = startRolloutSchema.safeParse({ ...base, analysisWindowSec: "90", analysisOnFail: "rollback", analysisAlarms: "web-5xx, web-p95\nweb-cpu", analysisThresholds: { minRequests: 20 } });
    expect(r.success && toRolloutRequest(r.data).analysis).toEqual({ windowMs: 90_000, onFail: "rollback", alarms: ["web-5xx", "web-p95", "web-cpu"], thresholds: { minRequests: 20, maxErrorRateIncreasePoints: 1, latencyFactor: 1.5, latencyMarginMs: 50 } });
    const empty = startRolloutSchema.safeParse({ ...base, analysisWindowSec: "", analysisOnFail: "", analysisAlarms: "" });
    expect(empty.success && toRolloutRequest(empty.data).analysis).toEqual({ onFail: "pause", alarms: [] });
    const issue = (input: Record<string, unknown>) => startRolloutSchema.safeParse({ ...base, ...input }).error?.issues[0];
    expect(issue({ analysisWindowSec: "4000" })).toMatchObject({ path: ["analysisWindowSec"], message: "The analysis window is 0–3600 seconds" });
    expect(issue({ analysisOnFail: "ignore" })).toMatchObject({ path: ["analysisOnFail"], message: "If the analysis fails: choose pause or rollback" });
    expect(issue({ analysisAlarms: ["ok", "bad\u0007name"] })).toMatchObject({ path: ["analysisAlarms", 1], message: "An alarm name cannot contain control characters" });
    expect(issue({ analysisThresholds: { latencyFactor: 0.5 } })?.path).toEqual(["analysisThresholds", "latencyFactor"]);
  });

  it("replace: the surge and the launch target (default: the version), refused when malformed", () => {
    const r = startRolloutSchema.safeParse({ ...base, strategy: "replace", surge: "2" });
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(toRolloutRequest(r.data).replace).toEqual({ surge: 2, target: "v2.1.0+build_7" });
    const ami = startRolloutSchema.safeParse({ ...base, strategy: "replace", surge: "", launchTarget: " ami-0123456789abcdef0 " });
    expect(ami.success && toRolloutRequest(ami.data).replace).toEqual({ surge: 0, target: "ami-0123456789abcdef0" });
    expect(startRolloutSchema.safeParse({ ...base, strategy: "replace", surge: "-1" }).error?.issues[0]?.message).toBe("Surge cannot be negative");
    expect(startRolloutSchema.safeParse({ ...base, strategy: "replace", surge: "1.5" }).error?.issues[0]?.message).toBe("Surge is a whole number of instances");
    expect(startRolloutSchema.safeParse({ ...base, strategy: "sideways" }).error?.issues[0]?.message).toBe("Choose in-place or replace");
  });

  it("reads form strings: numbers, checkboxes, empty optional fields", () => {
    const r = startRolloutSchema.safeParse({
      ...base,
      batchSize: { unit: "percent", value: "25" },
      minHealthy: { unit: "count", value: "" },
      canary: "on",
      drainTimeoutSec: "",
      approval: { mode: "auto", bakeSec: "30" },
      order: ["i-2", "i-1"],
    });
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(toRolloutRequest(r.data)).toEqual({
      lb: "local",
      options: { version: "v2.1.0+build_7", batchSize: { unit: "percent", value: 25 }, canary: true, order: ["i-2", "i-1"] },
      approval: { kind: "auto", bakeMs: 30_000 },
      analysis: { onFail: "pause", alarms: [] },
    });
  });

  it.each([
    { name: "a shell command as version", input: { ...base, version: "v2; rm -rf /" }, field: "version", message: VERSION_MESSAGE },
    { name: "an empty version", input: { ...base, version: "" }, field: "version", message: VERSION_MESSAGE },
    { name: "a 129-character version", input: { ...base, version: "a".repeat(129) }, field: "version", message: VERSION_MESSAGE },
    ...[".", "..", "--force", "-rf", "1.0;touch /tmp/x", "$(id)", "v2\n", "v2\nv3", "+1", "_x"].map((version) => ({
      name: `version ${JSON.stringify(version)}`,
      input: { ...base, version },
      field: "version",
      message: VERSION_MESSAGE,
    })),
    { name: "no load balancer", input: { ...base, lb: " " }, field: "lb", message: "Choose a load balancer" },
    { name: "a batch size that is not a number", input: { ...base, batchSize: { unit: "count", value: "two" } }, field: "batchSize.value", message: "Batch size must be a number" },
    { name: "an unknown unit", input: { ...base, batchSize: { unit: "pct", value: 2 } }, field: "batchSize.unit", message: "Batch size: choose count or percent" },
    { name: "a drain timeout over an hour", input: { ...base, drainTimeoutSec: 3601 }, field: "drainTimeoutSec", message: "Drain timeout is 0–3600 seconds" },
    { name: "a negative drain timeout", input: { ...base, drainTimeoutSec: "-1" }, field: "drainTimeoutSec", message: "Drain timeout is 0–3600 seconds" },
    { name: "auto without bake time", input: { ...base, approval: { mode: "auto" } }, field: "approval.bakeSec", message: "Bake time must be a number" },
    { name: "an empty id in the order", input: { ...base, order: ["i-1", ""] }, field: "order.1", message: "Instance ids in the order cannot be empty" },
  ])("refuses $name at $field", ({ input, field, message }) => {
    const r = startRolloutSchema.safeParse(input);
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(fieldErrorsFromZod(r.error)).toContainEqual({ field, message });
    expect(fieldErrorRecord(r.error)[field]).toBe(message);
  });
});

describe("minHealthy", () => {
  it("passes the count 0 through only when spelled out; an empty or omitted value leaves the planner's default", () => {
    const zero = startRolloutSchema.parse({ ...base, minHealthy: { unit: "count", value: 0 } });
    expect(toRolloutRequest(zero).options.minHealthy).toEqual({ unit: "count", value: 0 });
    expect(toRolloutRequest(startRolloutSchema.parse({ ...base, minHealthy: { unit: "count", value: "" } })).options.minHealthy).toBeUndefined();
    expect(toRolloutRequest(startRolloutSchema.parse(base)).options.minHealthy).toBeUndefined();
  });
});

describe("the version rule", () => {
  it.each(["1", "v2", "2.0.0-rc.1+build.7", "a".repeat(128), "V_1"])("accepts %j", (v) => {
    expect(isVersion(v)).toBe(true);
    expect(startRolloutSchema.safeParse({ ...base, version: v }).success).toBe(true);
  });
  it("forgives spaces around a typed version, not a newline", () => {
    expect(startRolloutSchema.parse({ ...base, version: "  v2 " }).version).toBe("v2");
    expect(startRolloutSchema.safeParse({ ...base, version: "v2\n" }).success).toBe(false);
  });
  it("builds a shell check only for a plain variable name", () => {
    expect(versionShellCheck("SSM_Version").join("\n")).toContain('case "$SSM_Version" in');
    expect(() => versionShellCheck("x; rm")).toThrow(/not a shell variable name/);
  });
});

describe("operatorEventSchema", () => {
  it("accepts each operator event with its rollout id", () => {
    for (const type of ["start", "pause", "resume", "abort", "rollback", "retry-step", "continue-now"] as const) {
      const r = operatorEventSchema.parse({ rolloutId: "r-1", type });
      expect(toOperatorEvent(r)).toEqual({ type });
    }
    expect(toOperatorEvent(operatorEventSchema.parse({ rolloutId: "r-1", type: "approve", batch: "2" }))).toEqual({ type: "approve", batch: 2 });
    expect(toOperatorEvent(operatorEventSchema.parse({ rolloutId: "r-1", type: "approve" }))).toEqual({ type: "approve" });
    expect(toOperatorEvent(operatorEventSchema.parse({ rolloutId: "r-1", type: "skip-instance", instanceId: "i-3" }))).toEqual({ type: "skip-instance", instanceId: "i-3" });
  });

  it("refuses unknown types, missing ids and skip without an instance", () => {
    expect(operatorEventSchema.safeParse({ rolloutId: "r-1", type: "explode" }).success).toBe(false);
    const noId = operatorEventSchema.safeParse({ type: "pause" });
    expect(noId.success || fieldErrorsFromZod(noId.error)).toEqual([{ field: "rolloutId", message: "Missing rollout id" }]);
    const skip = operatorEventSchema.safeParse({ rolloutId: "r-1", type: "skip-instance", instanceId: "" });
    expect(skip.success || fieldErrorsFromZod(skip.error)).toEqual([{ field: "instanceId", message: "Choose the instance to skip" }]);
    expect(operatorEventSchema.safeParse({ rolloutId: "r-1", type: "approve", batch: -1 }).success).toBe(false);
  });
});

describe("ActionResult helpers", () => {
  it("builds both shapes, leaving out empty field errors", () => {
    expect(ok(3)).toEqual({ ok: true, data: 3 });
    expect(fail("PLAN_REFUSED", "No")).toEqual({ ok: false, code: "PLAN_REFUSED", message: "No" });
    expect(fail("INVALID_INPUT", "Check", { version: "bad" })).toEqual({ ok: false, code: "INVALID_INPUT", message: "Check", fieldErrors: { version: "bad" } });
  });
});
