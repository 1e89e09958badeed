/**
 * The new-rollout form's values, and their reading through lib's startRolloutSchema: pure, shared
 * by the browser's plan preview and the server action, so both say the same thing about one input.
 */
import { fieldErrorRecord, startRolloutSchema, toRolloutRequest } from "@/lib/validation";
import type { ReplacePreviewAnswer } from "@/lib/rollout/replace-preview";

export type FormField = "version" | "batchSize" | "minHealthy" | "drainTimeout" | "bake" | "order" | "strategy" | "surge" | "launchTarget" | "analysisWindow" | "analysisAlarms" | "fleet" | "form";

export interface RolloutFormValues {
  lb: string;
  version: string;
  batchSize: string;
  batchUnit: "count" | "percent";
  minHealthy: string;
  minHealthyUnit: "count" | "percent";
  canary: boolean;
  includeOutOfService: boolean;
  /** Seconds; empty: the load balancer's own drain timeout. */
  drainTimeout: string;
  approval: "manual" | "auto";
  /** Seconds of bake time in auto mode. */
  bake: string;
  /** Instance ids, separated by spaces, commas or new lines; empty: spread across zones. */
  order: string;
  /** The second confirmation that min healthy 0 may take the whole load balancer out of service. */
  confirmNoCapacity: boolean;
  /** in-place: deploy on the instances; replace: new instances from the Auto Scaling group. */
  strategy: "in-place" | "replace";
  /** Replace: new instances launched before each batch goes out (0: none). */
  surge: string;
  /** Replace: launch template version, AMI id or release; empty: the version. */
  launchTarget: string;
  /** Seconds of batch analysis after each batch; empty: the server's default; 0: off. */
  analysisWindow: string;
  analysisOnFail: "pause" | "rollback";
  /** CloudWatch alarm names, separated by commas or new lines. */
  analysisAlarms: string;
}

export const defaultFormValues = (lb: string): RolloutFormValues => ({
  lb,
  version: "",
  batchSize: "1",
  batchUnit: "count",
  minHealthy: "",
  minHealthyUnit: "count",
  canary: false,
  includeOutOfService: false,
  drainTimeout: "",
  approval: "manual",
  bake: "60",
  order: "",
  confirmNoCapacity: false,
  strategy: "in-place",
  surge: "0",
  launchTarget: "",
  analysisWindow: "",
  analysisOnFail: "pause",
  analysisAlarms: "",
});

export function valuesFromFormData(fd: FormData): RolloutFormValues {
  const s = (k: string) => {
    const v = fd.get(k);
    return typeof v === "string" ? v : "";
  };
  return {
    lb: s("lb"),
    version: s("version"),
    batchSize: s("batchSize"),
    batchUnit: s("batchUnit") === "percent" ? "percent" : "count",
    minHealthy: s("minHealthy"),
    minHealthyUnit: s("minHealthyUnit") === "percent" ? "percent" : "count",
    canary: fd.get("canary") === "on",
    includeOutOfService: fd.get("includeOutOfService") === "on",
    drainTimeout: s("drainTimeout"),
    approval: s("approval") === "auto" ? "auto" : "manual",
    bake: s("bake"),
    order: s("order"),
    confirmNoCapacity: fd.get("confirmNoCapacity") === "on",
    strategy: s("strategy") === "replace" ? "replace" : "in-place",
    surge: s("surge"),
    launchTarget: s("launchTarget"),
    analysisWindow: s("analysisWindow"),
    analysisOnFail: s("analysisOnFail") === "rollback" ? "rollback" : "pause",
    analysisAlarms: s("analysisAlarms"),
  };
}

/** The schema's input shape, from the form's strings. */
export function schemaInput(v: RolloutFormValues): Record<string, unknown> {
  const order = v.order
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    lb: v.lb,
    version: v.version,
    batchSize: { unit: v.batchUnit, value: v.batchSize.trim() === "" ? undefined : v.batchSize },
    minHealthy: { unit: v.minHealthyUnit, value: v.minHealthy },
    canary: v.canary,
    includeOutOfService: v.includeOutOfService,
    drainTimeoutSec: v.drainTimeout,
    approval: v.approval === "auto" ? { mode: "auto", bakeSec: v.bake } : { mode: "manual" },
    ...(order.length > 0 ? { order } : {}),
    analysisWindowSec: v.analysisWindow,
    analysisOnFail: v.analysisOnFail,
    analysisAlarms: v.analysisAlarms,
    // Surge and launch target mean something only to replace: hidden fields are not judged.
    ...(v.strategy === "replace" ? { strategy: "replace", surge: v.surge, launchTarget: v.launchTarget } : { strategy: "in-place" }),
  };
}

/**
 * The replace preview's query (GET /api/load-balancers/{lb}/replace-preview), or null while the
 * strategy is in-place. The target defaults to the version, as Start does.
 */
export function replacePreviewParams(v: RolloutFormValues): URLSearchParams | null {
  if (v.strategy !== "replace") return null;
  const p = new URLSearchParams({ target: v.launchTarget.trim() || v.version.trim(), batchSize: v.batchSize.trim(), batchUnit: v.batchUnit, surge: v.surge.trim() || "0" });
  if (v.minHealthy.trim() !== "") {
    p.set("minHealthy", v.minHealthy.trim());
    p.set("minHealthyUnit", v.minHealthyUnit);
  }
  return p;
}

/** A schema path ("batchSize.value", "approval.bakeSec") → the form field that shows it. */
export function formFieldOf(path: string): FormField {
  const head = path.split(".")[0] ?? "form";
  if (head === "drainTimeoutSec") return "drainTimeout";
  if (head === "approval") return "bake";
  if (head === "analysisWindowSec") return "analysisWindow";
  if (head === "analysisAlarms") return "analysisAlarms";
  if (head === "version" || head === "batchSize" || head === "minHealthy" || head === "order" || head === "fleet" || head === "strategy" || head === "surge" || head === "launchTarget") return head;
  return "form";
}

export function toFormFields(errors: Record<string, string>): Partial<Record<FormField, string>> {
  const out: Partial<Record<FormField, string>> = {};
  for (const [path, message] of Object.entries(errors)) out[formFieldOf(path)] ??= message;
  return out;
}

export type ReadResult = { ok: true; request: ReturnType<typeof toRolloutRequest> } | { ok: false; fields: Partial<Record<FormField, string>> };

export const NO_CAPACITY_WARNING = "Min healthy 0 takes the whole load balancer out of service";

/** Min healthy 0 asks for a second, explicit yes on the form (the API takes the count 0 spelled out as that yes). */
export function needsNoCapacityConfirmation(v: RolloutFormValues): boolean {
  return v.minHealthyUnit === "count" && v.minHealthy.trim() !== "" && Number(v.minHealthy) === 0 && !v.confirmNoCapacity;
}

/** Parses the form like the server will; the planner then judges the numbers against the fleet. */
export function readForm(v: RolloutFormValues): ReadResult {
  const parsed = startRolloutSchema.safeParse(schemaInput(v));
  if (!parsed.success) return { ok: false, fields: toFormFields(fieldErrorRecord(parsed.error)) };
  const request = toRolloutRequest(parsed.data);
  if (needsNoCapacityConfirmation(v)) {
    return { ok: false, fields: { minHealthy: `${NO_CAPACITY_WARNING}: tick the confirmation to do it on purpose` } };
  }
  return { ok: true, request };
}

/** The preview's refusals that belong to a field (surge, launch target), shown there as well as in the preview. */
export function replaceFieldErrors(answer: ReplacePreviewAnswer | undefined): Partial<Record<FormField, string>> {
  const out: Partial<Record<FormField, string>> = {};
  for (const r of answer?.refusals ?? []) {
    const field: FormField | null =
      r.code === "SURGE_ABOVE_MAX" || (r.code === "INVALID_INPUT" && /surge/i.test(r.message)) ? "surge" : r.code === "TARGET_MISSING" || r.code === "TARGET_IS_CURRENT" ? "launchTarget" : r.code === "BELOW_MIN_HEALTHY" ? "minHealthy" : null;
    if (field) out[field] ??= r.message;
  }
  return out;
}
