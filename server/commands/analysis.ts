/**
 * A new rollout's batch analysis, settled before anything starts: the window (the request's, else
 * the server's default), the alarms (the request's and the load balancer's configured ones), the
 * thresholds, and whether this provider can judge at all. Refusals name the field and what to do.
 *
 * - The local fleet has per-instance figures: analysis compares new instances with old ones.
 * - AWS has no per-instance split of its load balancer metrics: analysis there means CloudWatch
 *   alarms. Without alarms the default window turns analysis off (it could only ever say
 *   "inconclusive"); an explicitly asked-for window is refused with what to add.
 * - Every named alarm is read once now, so a typo is refused before any change, not found mid-rollout.
 */
import { parseThresholds } from "@/lib/analysis";
import type { AnalysisSettings } from "@/lib/rollout/types";
import type { AnalysisRequest } from "@/lib/validation";
import type { LoadBalancerProvider } from "@/server/providers/types";
import type { AnalysisDefaults } from "@/server/analysis-settings";

export type ResolvedAnalysis = { ok: true; settings?: AnalysisSettings } | { ok: false; code: string; message: string; field: "analysisWindowSec" | "analysisAlarms" };

export async function resolveAnalysis(provider: LoadBalancerProvider, lb: string, request: AnalysisRequest | undefined, defaults: AnalysisDefaults): Promise<ResolvedAnalysis> {
  const asked = request?.windowMs !== undefined;
  const windowMs = request?.windowMs ?? defaults.windowMs;
  if (!(windowMs > 0)) return { ok: true };
  const alarms = [...new Set([...(defaults.alarmsByLb[lb] ?? []), ...(request?.alarms ?? [])])];
  const source = provider.analysis;
  const perInstance = source?.snapshot !== undefined;
  if (!perInstance && alarms.length === 0) {
    if (!asked) return { ok: true };
    return {
      ok: false,
      code: "ANALYSIS_UNAVAILABLE",
      field: "analysisWindowSec",
      message: `Nothing was started: the ${provider.name} provider has no per-instance figures to compare a batch with, so its analysis needs CloudWatch alarms to watch — name them, or set the analysis window to 0`,
    };
  }
  if (alarms.length > 0) {
    if (!source?.alarms) {
      return { ok: false, code: "ANALYSIS_UNAVAILABLE", field: "analysisAlarms", message: `Nothing was started: the ${provider.name} provider cannot read alarms; remove ${alarms.join(", ")}` };
    }
    try {
      await source.alarms(alarms);
    } catch (err) {
      return { ok: false, code: "ANALYSIS_ALARMS", field: "analysisAlarms", message: `Nothing was started: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  return { ok: true, settings: { windowMs, thresholds: parseThresholds(request?.thresholds ?? {}), onFail: request?.onFail ?? "pause", alarms } };
}
