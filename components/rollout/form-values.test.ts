import { describe, expect, it } from "vitest";
import { defaultFormValues, readForm, valuesFromFormData, type RolloutFormValues } from "@/components/rollout/form-values";

const form = (over: Partial<RolloutFormValues>): RolloutFormValues => ({ ...defaultFormValues("local"), version: "2.0.0", ...over });

describe("new-rollout form reading", () => {
  it("turns the form's strings into the planner's options", () => {
    const r = readForm(form({ batchSize: "40", batchUnit: "percent", minHealthy: "3", canary: true, drainTimeout: "10", approval: "auto", bake: "30", order: "i-1, i-2\ni-3" }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.request.options).toEqual({ version: "2.0.0", batchSize: { unit: "percent", value: 40 }, minHealthy: { unit: "count", value: 3 }, canary: true, order: ["i-1", "i-2", "i-3"] });
    expect(r.request.approval).toEqual({ kind: "auto", bakeMs: 30_000 });
    expect(r.request.drainTimeoutMs).toBe(10_000);
  });

  it("leaves min healthy and drain timeout to their defaults when empty", () => {
    const r = readForm(form({}));
    expect(r.ok && r.request.options.minHealthy).toBe(undefined);
    expect(r.ok && r.request.drainTimeoutMs).toBe(undefined);
    expect(r.ok && r.request.approval).toEqual({ kind: "manual" });
  });

  it.each([
    ["a version with a shell metacharacter", { version: "1.2; rm -rf /" }, "version"],
    ["an empty batch size", { batchSize: "" }, "batchSize"],
    ["a batch size that is not a number", { batchSize: "two" }, "batchSize"],
    ["a fractional drain timeout", { drainTimeout: "1.5" }, "drainTimeout"],
    ["a negative bake time", { approval: "auto", bake: "-1" }, "bake"],
  ] as const)("puts %s at its field", (_name, over, field) => {
    const r = readForm(form(over as Partial<RolloutFormValues>));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(Object.keys(r.fields)).toContain(field);
  });

  it("asks for a second confirmation before min healthy 0 is taken", () => {
    const unconfirmed = readForm(form({ batchSize: "100", batchUnit: "percent", minHealthy: "0" }));
    expect(unconfirmed.ok).toBe(false);
    if (!unconfirmed.ok) expect(unconfirmed.fields.minHealthy).toMatch(/whole load balancer out of service/);
    const confirmed = readForm(form({ batchSize: "100", batchUnit: "percent", minHealthy: "0", confirmNoCapacity: true }));
    expect(confirmed.ok && confirmed.request.options.minHealthy).toEqual({ unit: "count", value: 0 });
    // A percent 0 is not the explicit 0: no confirmation asked, the planner keeps 1 in service.
    expect(readForm(form({ minHealthy: "0", minHealthyUnit: "percent" })).ok).toBe(true);
    const fd = new FormData();
    fd.set("confirmNoCapacity", "on");
    expect(valuesFromFormData(fd).confirmNoCapacity).toBe(true);
  });

  it("reads FormData as the browser posts it", () => {
    const fd = new FormData();
    for (const [k, v] of Object.entries({ lb: "local", version: "3.1.4", batchSize: "2", batchUnit: "count", minHealthy: "", minHealthyUnit: "percent", canary: "on", approval: "manual", bake: "60", order: "" })) fd.set(k, v);
    const v = valuesFromFormData(fd);
    expect(v).toMatchObject({ lb: "local", version: "3.1.4", batchSize: "2", canary: true, includeOutOfService: false, approval: "manual" });
    expect(readForm(v).ok).toBe(true);
  });
});
