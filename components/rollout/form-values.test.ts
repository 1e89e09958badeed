import { describe, expect, it } from "vitest";
import { defaultFormValues, readForm, replaceFieldErrors, replacePreviewParams, valuesFromFormData, type RolloutFormValues } from "@/components/rollout/form-values";

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

  it("replace: sends the surge and the launch target (the version when empty) through the start schema", () => {
    const r = readForm(form({ strategy: "replace", surge: "2", batchSize: "2" }));
    expect(r.ok && r.request.replace).toEqual({ surge: 2, target: "2.0.0" });
    const ami = readForm(form({ strategy: "replace", surge: "0", launchTarget: " ami-0123456789abcdef0 " }));
    expect(ami.ok && ami.request.replace).toEqual({ surge: 0, target: "ami-0123456789abcdef0" });
    // In place ignores the replace fields, even a bad surge left behind.
    const inPlace = readForm(form({ strategy: "in-place", surge: "-3" }));
    expect(inPlace.ok && inPlace.request.replace).toBe(undefined);
    const bad = readForm(form({ strategy: "replace", surge: "-1" }));
    expect(!bad.ok && bad.fields.surge).toBe("Surge cannot be negative");
    const fd = new FormData();
    for (const [k, v] of Object.entries({ strategy: "replace", surge: "1", launchTarget: "3" })) fd.set(k, v);
    expect(valuesFromFormData(fd)).toMatchObject({ strategy: "replace", surge: "1", launchTarget: "3" });
  });

  it("replace: the preview's query carries the form's numbers; none for in place", () => {
    expect(replacePreviewParams(form({}))).toBe(null);
    expect(replacePreviewParams(form({ strategy: "replace", batchSize: "40", batchUnit: "percent", surge: "" }))?.toString()).toBe("target=2.0.0&batchSize=40&batchUnit=percent&surge=0");
    expect(replacePreviewParams(form({ strategy: "replace", launchTarget: "$Latest", minHealthy: "4" }))?.toString()).toBe("target=%24Latest&batchSize=1&batchUnit=count&surge=0&minHealthy=4&minHealthyUnit=count");
  });

  it("replace: a refusal about the surge or the target is shown at that field", () => {
    const fields = replaceFieldErrors({
      ok: false,
      preview: null,
      fromLaunch: "1",
      toLaunch: "2",
      batchSize: 2,
      refusals: [
        { code: "SURGE_ABOVE_MAX", message: "max is 7" },
        { code: "TARGET_MISSING", message: "no version 9" },
        { code: "PROCESS_SUSPENDED", message: "Launch suspended" },
      ],
    });
    expect(fields).toEqual({ surge: "max is 7", launchTarget: "no version 9" });
    expect(replaceFieldErrors(undefined)).toEqual({});
  });
});
