import { describe, expect, it } from "vitest";
import { fail, ok } from "../result";
import { fieldErrorRecord, fieldErrorsFromZod } from "./errors";
import { VERSION_MESSAGE, operatorEventSchema, startRolloutSchema, toOperatorEvent, toRolloutRequest } from "./rollout";

const base = { lb: "local", version: "v2.1.0+build_7", batchSize: { unit: "count", value: 2 } };

describe("startRolloutSchema", () => {
  it("fills defaults and turns into planner options", () => {
    const r = startRolloutSchema.safeParse(base);
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(r.data).toEqual({ ...base, canary: false, includeOutOfService: false, approval: { mode: "manual" } });
    expect(toRolloutRequest(r.data)).toEqual({ lb: "local", options: { version: "v2.1.0+build_7", batchSize: { unit: "count", value: 2 } }, approval: { kind: "manual" } });
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
    });
  });

  it.each([
    { name: "a shell command as version", input: { ...base, version: "v2; rm -rf /" }, field: "version", message: VERSION_MESSAGE },
    { name: "an empty version", input: { ...base, version: "" }, field: "version", message: VERSION_MESSAGE },
    { name: "a 129-character version", input: { ...base, version: "a".repeat(129) }, field: "version", message: VERSION_MESSAGE },
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
