/**
 * Schemas for what operators send: starting a rollout and operator events. Server actions and API
 * handlers parse with these before anything else. Shapes only, plus the version allow-pattern; the
 * planner (lib/rollout/plan.ts) judges the numbers against the fleet and names them in its refusals.
 *
 *   startRolloutSchema.parse({ lb: "local", version: "v2", batchSize: { unit: "count", value: 2 },
 *     approval: { mode: "auto", bakeSec: 30 } })   → canary false, includeOutOfService false filled in
 *   startRolloutSchema.parse({ …, version: "v2; rm -rf /" })  → fails at "version" with VERSION_MESSAGE
 *
 * minHealthy: omitted (or an empty form field) leaves the planner's default, which never lets a batch
 * take every instance out; only `{ unit: "count", value: 0 }` spelled out allows that.
 */
import { z } from "zod";
import type { ApprovalMode, OperatorEvent, PlanOptions } from "../rollout/types";
import { versionSchema } from "./version";
import { analysisThresholdsSchema, type AnalysisThresholds } from "../analysis";

/** A CloudWatch alarm name: 1–255 printable characters (no control characters). */
const alarmName = z
  .string()
  .trim()
  .min(1, "An alarm name cannot be empty")
  .max(255, "An alarm name is at most 255 characters")
  .regex(/^[^\u0000-\u001f\u007f]+$/, "An alarm name cannot contain control characters");

/** Alarm names as a list, or as the form's text (commas or new lines between names). */
const alarmList = z.preprocess(
  (v) => (typeof v === "string" ? v.split(/[,\n]/).map((x) => x.trim()).filter((x) => x !== "") : v),
  z.array(alarmName).max(20, "Name at most 20 alarms"),
);

/** Form posts send strings: "" is "not given", "on"/"true" is true. */
const emptyToUndefined = (v: unknown) => (v === "" || v === null ? undefined : v);
const checkbox = z.preprocess(
  (v) => (v === "on" || v === "true" ? true : v === "false" || v === "" || v === undefined || v === null ? false : v),
  z.boolean(),
);
const number = (what: string) =>
  z.preprocess(
    (v) => (typeof v === "string" && v.trim() !== "" ? Number(v) : v),
    z.number({ error: `${what} must be a number` }).refine(Number.isFinite, `${what} must be a number`),
  );

export const quantitySchema = (what: string) =>
  z.object({
    unit: z.enum(["count", "percent"], { error: `${what}: choose count or percent` }),
    value: number(what),
  });

export const approvalSchema = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("manual") }),
  z.object({
    mode: z.literal("auto"),
    bakeSec: number("Bake time").pipe(z.number().int("Bake time is a whole number of seconds").min(0).max(86_400, "Bake time is at most 86400 seconds (a day)")),
  }),
]);

export const startRolloutSchema = z.object({
  lb: z.string({ error: "Choose a load balancer" }).trim().min(1, "Choose a load balancer").max(255),
  // Spaces around a typed version are forgiven; anything else (a newline included) is judged as it is.
  version: z.preprocess((v) => (typeof v === "string" ? v.replace(/^[ \t]+|[ \t]+$/g, "") : v), versionSchema),
  batchSize: quantitySchema("Batch size"),
  minHealthy: z.preprocess(
    (v) => (typeof v === "object" && v !== null && "value" in v && emptyToUndefined((v as { value: unknown }).value) === undefined ? undefined : v),
    quantitySchema("Minimum healthy").optional(),
  ),
  canary: checkbox.default(false),
  drainTimeoutSec: z.preprocess(
    emptyToUndefined,
    number("Drain timeout")
      .pipe(z.number().int("Drain timeout is a whole number of seconds").min(0, "Drain timeout is 0–3600 seconds").max(3600, "Drain timeout is 0–3600 seconds"))
      .optional(),
  ),
  approval: approvalSchema.default({ mode: "manual" }),
  order: z.array(z.string().trim().min(1, "Instance ids in the order cannot be empty")).optional(),
  includeOutOfService: checkbox.default(false),
  /** in-place: deploy on the instances; replace: new instances from the Auto Scaling group, old ones terminated. */
  strategy: z.enum(["in-place", "replace"], { error: "Choose in-place or replace" }).default("in-place"),
  /** Replace: new instances launched before each batch is taken out (0: none). */
  surge: z.preprocess(emptyToUndefined, number("Surge").pipe(z.number().int("Surge is a whole number of instances").min(0, "Surge cannot be negative").max(500, "Surge is at most 500")).optional()),
  /**
   * Replace: what new instances launch from. AWS: a launch template version (3, $Latest, $Default) or an
   * AMI id; the local fleet: a release (default: the version).
   */
  launchTarget: z.preprocess(emptyToUndefined, z.string().trim().min(1).max(128, "The launch target is at most 128 characters").optional()),
  /**
   * Batch analysis: seconds of traffic watched after each batch is back in service (0 = off; absent:
   * the server's default, ROTOR_ANALYSIS_WINDOW_SEC, 60 s unless set).
   */
  analysisWindowSec: z.preprocess(
    emptyToUndefined,
    number("Analysis window").pipe(z.number().int("The analysis window is a whole number of seconds").min(0, "The analysis window is 0–3600 seconds").max(3600, "The analysis window is 0–3600 seconds")).optional(),
  ),
  /** A failed analysis: pause for a person (default) or roll back automatically. */
  analysisOnFail: z.preprocess(emptyToUndefined, z.enum(["pause", "rollback"], { error: "If the analysis fails: choose pause or rollback" }).default("pause")),
  /** CloudWatch alarms read during each window (any in ALARM fails the batch), besides the load balancer's own. */
  analysisAlarms: z.preprocess(emptyToUndefined, alarmList.optional()),
  /** Thresholds (API): maxErrorRateIncreasePoints, latencyFactor, latencyMarginMs, minRequests. */
  analysisThresholds: analysisThresholdsSchema.optional(),
});

export type StartRolloutInput = z.infer<typeof startRolloutSchema>;

/** Parsed input → what planRollout and createRollout take. */
export function toRolloutRequest(input: StartRolloutInput): {
  lb: string;
  options: PlanOptions;
  approval: ApprovalMode;
  drainTimeoutMs?: number;
  replace?: ReplaceRequest;
  analysis: AnalysisRequest;
} {
  const options: PlanOptions = { version: input.version, batchSize: input.batchSize };
  if (input.minHealthy) options.minHealthy = input.minHealthy;
  if (input.canary) options.canary = true;
  if (input.includeOutOfService) options.includeOutOfService = true;
  if (input.order && input.order.length > 0) options.order = input.order;
  const approval: ApprovalMode = input.approval.mode === "auto" ? { kind: "auto", bakeMs: input.approval.bakeSec * 1000 } : { kind: "manual" };
  const replace: ReplaceRequest | undefined = input.strategy === "replace" ? { surge: input.surge ?? 0, target: input.launchTarget ?? input.version } : undefined;
  return {
    lb: input.lb,
    options,
    approval,
    ...(input.drainTimeoutSec !== undefined ? { drainTimeoutMs: input.drainTimeoutSec * 1000 } : {}),
    ...(replace ? { replace } : {}),
    analysis: {
      ...(input.analysisWindowSec !== undefined ? { windowMs: input.analysisWindowSec * 1000 } : {}),
      onFail: input.analysisOnFail,
      alarms: input.analysisAlarms ?? [],
      ...(input.analysisThresholds ? { thresholds: input.analysisThresholds } : {}),
    },
  };
}

/** Batch analysis as asked for; the server fills in its default window and the load balancer's alarms. */
export interface AnalysisRequest {
  /** Absent: the server's default. */
  windowMs?: number;
  onFail: "pause" | "rollback";
  alarms: string[];
  thresholds?: AnalysisThresholds;
}

/** The replace strategy's request: the surge per batch and what new instances launch from. */
export interface ReplaceRequest {
  surge: number;
  target: string;
}

const rolloutId = z.string({ error: "Missing rollout id" }).trim().min(1, "Missing rollout id").max(200);
const batchIndex = z.preprocess(emptyToUndefined, number("Batch").pipe(z.number().int().min(0)).optional());

/** An operator event addressed to a rollout. `approve.batch` is the 0-based index of the batch to start. */
export const operatorEventSchema = z.discriminatedUnion("type", [
  z.object({ rolloutId, type: z.literal("start") }),
  z.object({ rolloutId, type: z.literal("approve"), batch: batchIndex }),
  z.object({ rolloutId, type: z.literal("pause") }),
  z.object({ rolloutId, type: z.literal("resume") }),
  z.object({ rolloutId, type: z.literal("abort") }),
  z.object({ rolloutId, type: z.literal("rollback") }),
  z.object({ rolloutId, type: z.literal("retry-step") }),
  z.object({ rolloutId, type: z.literal("skip-instance"), instanceId: z.string().trim().min(1, "Choose the instance to skip").max(255) }),
  z.object({ rolloutId, type: z.literal("continue-now") }),
]);

export type OperatorEventInput = z.infer<typeof operatorEventSchema>;

/** The event for the state machine, without the rollout id. */
export function toOperatorEvent(input: OperatorEventInput): OperatorEvent {
  const { rolloutId: _rolloutId, ...event } = input;
  if (event.type === "approve" && event.batch === undefined) return { type: "approve" };
  return event;
}
