/**
 * The replace strategy's plan preview, before anything starts: the read the new-rollout form makes
 * (GET /api/load-balancers/{lb}/replace-preview) validated with the start command's own field rules,
 * and the answer built from a provider's survey by the same readiness check the start command runs
 * (replace-check.ts). Pure: the server does the survey, this file does the rest.
 *
 *   replacePreviewQuerySchema.parse({ target: "v2", batchSize: "2", surge: "2" })
 *     → { target: "v2", batchSize: { unit: "count", value: 2 }, surge: 2 }
 *   answerReplacePreview(survey, query) → { ok, preview (group, capacity per batch), refusals, … }
 */
import { z } from "zod";
import { startRolloutSchema } from "../validation/rollout";
import { planRollout, resolveBatchSize } from "./plan";
import { checkReplace, replaceOptionsSchema, type ReplacePreview, type ReplaceSurveyResult } from "./replace-check";
import type { FleetInstance, PlanOptions, PlanResult } from "./types";

const flat = (v: unknown): unknown => {
  if (typeof v !== "object" || v === null) return v;
  const q = v as Record<string, unknown>;
  return {
    target: q.target,
    batchSize: { unit: q.batchUnit ?? "count", value: q.batchSize },
    minHealthy: { unit: q.minHealthyUnit ?? "count", value: q.minHealthy ?? "" },
    surge: q.surge,
  };
};

/**
 * The preview's query (flat, as a URL carries it: batchSize + batchUnit, minHealthy + minHealthyUnit),
 * checked with the start command's rules for the same fields, so the preview refuses what Start would.
 */
export const replacePreviewQuerySchema = z.preprocess(
  flat,
  startRolloutSchema.pick({ batchSize: true, minHealthy: true, surge: true }).extend({
    target: z.string({ error: "Give the launch target (or the version)" }).trim().min(1, "Give the launch target (or the version)").max(128, "The launch target is at most 128 characters"),
  }),
);

export type ReplacePreviewQuery = z.infer<typeof replacePreviewQuerySchema>;

/** Why the rollout cannot start, in one sentence each (replace-check's refusals, and the preview's own). */
export interface PreviewRefusal {
  code: string;
  message: string;
  ids?: string[];
}

export interface ReplacePreviewAnswer {
  /** Start would pass the readiness check with these values. */
  ok: boolean;
  /** The group and capacity at each step; null when the group could not be found or the options are wrong. */
  preview: ReplacePreview | null;
  refusals: PreviewRefusal[];
  /** The launch version new instances start from; null when Start creates it (an AMI target). */
  toLaunch: string | null;
  fromLaunch: string | null;
  /** The batch size in instances the preview was computed for. */
  batchSize: number | null;
}

/** A provider that cannot replace instances: the one refusal, in the start command's words. */
export function unsupportedAnswer(provider: string): ReplacePreviewAnswer {
  return {
    ok: false,
    preview: null,
    refusals: [{ code: "STRATEGY_UNSUPPORTED", message: `The ${provider} provider cannot replace instances through an Auto Scaling group: use the in-place strategy` }],
    toLaunch: null,
    fromLaunch: null,
    batchSize: null,
  };
}

/** The minimum healthy in instances, a percent of the group's desired capacity rounded up (the preview and Start alike). */
export function minHealthyCount(q: Pick<ReplacePreviewQuery, "minHealthy">, desired: number): number | undefined {
  if (!q.minHealthy) return undefined;
  return q.minHealthy.unit === "count" ? q.minHealthy.value : Math.ceil((q.minHealthy.value * desired) / 100);
}

/** The survey judged with the operator's options: the preview, or every refusal with its sentence. */
export function answerReplacePreview(survey: ReplaceSurveyResult, q: ReplacePreviewQuery): ReplacePreviewAnswer {
  const fleetSize = survey.check.lbInstanceIds.length;
  const batchSize = resolveBatchSize(q.batchSize, fleetSize);
  const desired = survey.check.group?.desired ?? fleetSize;
  const minHealthy = minHealthyCount(q, desired);
  const base = { fromLaunch: survey.fromLaunch, toLaunch: survey.toLaunch, batchSize };
  const options = replaceOptionsSchema.safeParse({ batchSize, surge: q.surge ?? 0, ...(minHealthy !== undefined ? { minHealthy } : {}) });
  if (!options.success) {
    return { ...base, ok: false, preview: null, refusals: options.error.issues.map((i) => ({ code: "INVALID_INPUT", message: i.message })) };
  }
  const check = checkReplace({ ...survey.check, options: options.data });
  return { ...base, ok: check.ok, preview: check.preview ?? null, refusals: check.refusals };
}

/**
 * The batches the start command plans for a preview: the instances to replace, spread across zones
 * by the in-place planner, with no capacity floor of its own (the group's arithmetic is the floor).
 */
export function replaceBatches(fleet: readonly FleetInstance[], preview: Pick<ReplacePreview, "replace">, options: PlanOptions): PlanResult {
  const toReplace = new Set(preview.replace);
  const subset = fleet.filter((i) => toReplace.has(i.id));
  return planRollout(subset, { ...options, minHealthy: { unit: "count", value: 0 }, ...(options.order ? { order: options.order.filter((id) => toReplace.has(id)) } : {}) });
}
