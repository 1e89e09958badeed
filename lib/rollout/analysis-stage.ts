/**
 * Batch analysis, the machine's part. With `state.analysis` set, a forward batch back in service
 * goes through one more stage, `analysis`, before its gate:
 *
 *   … → wait-in-service (in-place) / verify (replace) → analysis → gate (approval or bake) → next batch
 *
 * The stage issues one `analyze` effect naming the batch's new instances and the instances still
 * serving the old version; the engine watches the window, judges (lib/analysis.ts) and reports
 * `analysis-finished`. What happens next is the rollout's policy:
 *   pass → the batch is done (then approval or bake, as usual);
 *   fail → roll back automatically (`onFail: "rollback"`, when every touched instance's previous
 *          version is known) or pause (`onFail: "pause"`, the default);
 *   inconclusive → pause: a person decides.
 * A pause here rests with the stage settled: resume accepts the batch and goes on; roll back and
 * abort work as anywhere else. Abort or rollback while the window runs cut it short at once.
 *
 * A batch with nothing to compare with (the last batch of an in-place rollout leaves no instance on
 * the old version) is judged on the named alarms alone, or skipped with a note when none are named.
 */
import { listIds } from "./plan";
import { activeIds, activePhase, isReplace, nextEffectId, setCursor } from "./cursor";
import { unknownFromVersions } from "./endings";
import { getInstance, type RolloutState } from "./state";
import type { AnalysisReport, BatchAnalysis, Effect } from "./types";

/** Whether forward batches are analysed. */
export function analysisOn(s: RolloutState): boolean {
  return s.analysis !== undefined && s.analysis.windowMs > 0;
}

/**
 * The instances a batch's analysis compares: its new instances (in-place: the batch's own, now on
 * the target version; replace: the ones the group launched for it) in service, and every other
 * instance in service still on another version.
 */
export function analysisPeers(s: RolloutState, batch: number): { fresh: string[]; old: string[] } {
  const ids = isReplace(s) ? (s.batches[batch]?.newIds ?? []) : activeIds(s, "forward", batch);
  const serving = (id: string) => {
    const i = getInstance(s, id);
    return i !== undefined && i.inRotation && i.server === "serving";
  };
  const fresh = ids.filter((id) => serving(id) && getInstance(s, id)?.version === s.plan.targetVersion);
  const mine = new Set(ids);
  const old = s.instances.filter((i) => !mine.has(i.id) && i.inRotation && i.server === "serving" && i.version !== s.plan.targetVersion).map((i) => i.id);
  return { fresh, old };
}

/** Issue the analysis of the cursor's forward batch, or skip it (with a note) when there is nothing to judge. */
export function issueAnalysis(s: RolloutState): "issued" | "settled" {
  const a = s.analysis;
  const batch = s.cursor.batch;
  const { fresh, old } = analysisPeers(s, batch);
  const why =
    a === undefined ? "analysis is off" : fresh.length === 0 ? "no new instance of the batch is in service" : old.length === 0 && a.alarms.length === 0 ? "no instance is left on the old version to compare with, and no alarm is named" : null;
  if (why !== null || a === undefined) {
    s.notes.push(`Batch ${batch + 1}: analysis skipped (${why})`);
    setCursor(s, "settled");
    return "settled";
  }
  const effect: Effect = { type: "analyze", effectId: nextEffectId(s, "analysis"), batch, fresh, old, windowMs: a.windowMs, alarms: [...a.alarms], thresholds: { ...a.thresholds } };
  s.outstanding.push(effect);
  setCursor(s, "active");
  s.phase = activePhase(s);
  return "issued";
}

/** The outstanding analyze effect, while the window runs. */
export function activeAnalysis(s: RolloutState): Extract<Effect, { type: "analyze" }> | undefined {
  if (s.cursor.stage !== "analysis" || s.cursor.status !== "active") return undefined;
  return s.outstanding.find((e): e is Extract<Effect, { type: "analyze" }> => e.type === "analyze");
}

/** Abort or rollback during the window: stop watching; the batch stays as it is (in service). */
export function cutAnalysisShort(s: RolloutState, why: string): void {
  const effect = activeAnalysis(s);
  if (!effect) return;
  s.outstanding = s.outstanding.filter((e) => e.effectId !== effect.effectId);
  s.notes.push(`Batch ${effect.batch + 1}: analysis cut short (${why})`);
  setCursor(s, "settled");
}

/** What the policy does with a verdict, and why when it cannot do what the policy says. */
export function analysisAction(s: RolloutState, report: AnalysisReport): Pick<BatchAnalysis, "action" | "note"> {
  if (report.verdict === "pass") return { action: "continued" };
  if (report.verdict === "inconclusive") return { action: "paused" };
  if (s.analysis?.onFail !== "rollback") return { action: "paused" };
  const unknown = unknownFromVersions(s);
  if (unknown.length > 0) return { action: "paused", note: `not rolled back automatically: the previous version of ${listIds(unknown)} is unknown` };
  return { action: "rolled-back" };
}

/** One line for the timeline and the notes: "Batch 2 analysis failed: … → rolling back". */
export function describeAnalysis(batch: number, a: Pick<BatchAnalysis, "verdict" | "reasons" | "action" | "note">): string {
  const verdict = a.verdict === "pass" ? "passed" : a.verdict === "fail" ? "failed" : "was inconclusive";
  const first = a.reasons[0] ? `: ${a.reasons[0].replace(/\.$/, "")}` : "";
  const then =
    a.action === "continued" ? "" : a.action === "rolled-back" ? " — rolling back automatically" : ` — paused for a person to decide${a.note ? ` (${a.note})` : ""}`;
  return `Batch ${batch + 1} analysis ${verdict}${first}${then}`;
}
