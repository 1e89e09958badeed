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

export interface AnalysisDefaults {
  /** Used when the request names no window (ROTOR_ANALYSIS_WINDOW_SEC, 60 s unless set). */
  windowMs: number;
  /** Alarms configured for each load balancer (ROTOR_ANALYSIS_ALARMS), read with every rollout's own. */
  alarmsByLb: Record<string, string[]>;
}

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

/** `ROTOR_ANALYSIS_WINDOW_SEC` (default 60) and `ROTOR_ANALYSIS_ALARMS` ({"lb": ["alarm", …]}), checked. */
export function analysisDefaults(env: Record<string, string | undefined>): AnalysisDefaults {
  const raw = env.ROTOR_ANALYSIS_WINDOW_SEC?.trim();
  const sec = raw === undefined || raw === "" ? 60 : Number(raw);
  if (!Number.isInteger(sec) || sec < 0 || sec > 3600) throw new Error(`ROTOR_ANALYSIS_WINDOW_SEC must be a whole number of seconds from 0 to 3600, got ${JSON.stringify(raw)}`);
  const alarmsByLb: Record<string, string[]> = {};
  const text = env.ROTOR_ANALYSIS_ALARMS?.trim();
  if (text) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new Error('ROTOR_ANALYSIS_ALARMS must be JSON like {"web": ["web-5xx", "web-latency"]}', { cause });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error('ROTOR_ANALYSIS_ALARMS must be a JSON object like {"web": ["web-5xx"]}');
    for (const [lb, names] of Object.entries(parsed)) {
      if (!Array.isArray(names) || !names.every((n) => typeof n === "string" && n.trim() !== "")) throw new Error(`ROTOR_ANALYSIS_ALARMS: ${lb} must map to a list of alarm names`);
      alarmsByLb[lb] = names.map((n: string) => n.trim());
    }
  }
  return { windowMs: sec * 1000, alarmsByLb };
}
