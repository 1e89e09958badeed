/**
 * Performing an `analyze` effect: watch the window, then judge (lib/analysis.ts).
 *
 * - Per-instance figures (the local fleet): a snapshot of every compared instance's cumulative
 *   counters at the start and at the end of the window; the difference is what each served meanwhile.
 * - Alarms (AWS CloudWatch): read at the start and every ALARM_POLL_MS; any in ALARM fails the batch
 *   at once (the rest of the window is not waited out). Each alarm's worst state is reported.
 * - The load balancer's own metrics over the window (AWS), for context on the rollout page.
 *
 * Never throws for a provider problem: figures that could not be read make the verdict inconclusive
 * (a person decides), with the reason. After a restart the window starts over: the first snapshot
 * lived in the old engine's memory.
 */
import { diffSnapshots, judge, sumStats, type AlarmState, type AnalysisCheck, type BackendStatsSnapshot, type LbWindowMetrics } from "@/lib/analysis";
import type { AnalysisReport, Effect } from "@/lib/rollout/types";
import { errorMessage, retrying, type EffectContext } from "./effects";
import { abortableSleep } from "./retry";

export type AnalyzeEffect = Extract<Effect, { type: "analyze" }>;

/** How often alarms are read during the window. */
export const ALARM_POLL_MS = Number(process.env.ROTOR_ALARM_POLL_MS ?? 10_000) || 10_000;

const SEVERITY: Record<AlarmState["state"], number> = { OK: 0, INSUFFICIENT_DATA: 1, ALARM: 2 };

export async function performAnalysis(effect: AnalyzeEffect, ctx: EffectContext): Promise<AnalysisReport> {
  const source = ctx.provider.analysis;
  const problems: string[] = [];
  const compare = effect.old.length > 0 && effect.fresh.length > 0;
  const ids = [...effect.fresh, ...effect.old];

  const snapshot = async (when: string): Promise<BackendStatsSnapshot | null> => {
    if (!compare) return null;
    if (!source?.snapshot) {
      if (when === "start") problems.push(`the ${ctx.provider.name} provider has no per-instance figures to compare`);
      return null;
    }
    try {
      return await retrying(`read the figures at the ${when} of the window`, ctx, () => source.snapshot!(ctx.lb, ids));
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      problems.push(`could not read the per-instance figures at the ${when} of the window: ${errorMessage(err)}`);
      return null;
    }
  };

  const worst = new Map<string, AlarmState>();
  const readAlarms = async (): Promise<void> => {
    if (effect.alarms.length === 0) return;
    if (!source?.alarms) {
      if (!problems.some((p) => p.startsWith("alarms"))) problems.push(`alarms ${effect.alarms.join(", ")} cannot be read: the ${ctx.provider.name} provider has no alarms`);
      return;
    }
    try {
      for (const a of await retrying("read the alarms", ctx, () => source.alarms!(effect.alarms))) {
        const seen = worst.get(a.name);
        if (!seen || SEVERITY[a.state] > SEVERITY[seen.state]) worst.set(a.name, a);
      }
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const line = `could not read alarms ${effect.alarms.join(", ")}: ${errorMessage(err)}`;
      if (!problems.includes(line)) problems.push(line);
    }
  };
  const alarmFired = () => [...worst.values()].some((a) => a.state === "ALARM");

  const from = Date.now();
  const before = await snapshot("start");
  await readAlarms();
  const end = from + effect.windowMs;
  while (!alarmFired()) {
    const left = end - Date.now();
    if (left <= 0) break;
    await abortableSleep(Math.min(left, effect.alarms.length > 0 ? ALARM_POLL_MS : left), ctx.signal);
    await readAlarms();
  }
  const after = alarmFired() ? null : await snapshot("end");
  const to = Date.now();

  let fresh = null;
  let old = null;
  let boundsMs: readonly number[] | undefined;
  if (before && after) {
    try {
      const w = diffSnapshots(before, after);
      boundsMs = w.boundsMs;
      fresh = sumStats(effect.fresh.map((id) => w.backends[id]), w.boundsMs);
      old = sumStats(effect.old.map((id) => w.backends[id]), w.boundsMs);
    } catch (err) {
      problems.push(`the figures could not be compared: ${errorMessage(err)}`);
    }
  }

  let lbMetrics: LbWindowMetrics | null | undefined;
  if (source?.lbMetrics) {
    lbMetrics = await source.lbMetrics(ctx.lb, from, to).catch((err: unknown) => {
      ctx.log.warn({ err }, "reading the load balancer's metrics for the analysis failed");
      return null;
    });
  }

  const alarms = effect.alarms.map((name) => worst.get(name)).filter((a): a is AlarmState => a !== undefined);
  const result = judge({ fresh, old, ...(boundsMs ? { boundsMs } : {}), thresholds: effect.thresholds, ...(alarms.length > 0 ? { alarms } : {}) });
  // What could not be read cannot pass: the verdict is at best inconclusive, and says why.
  const extra: AnalysisCheck[] = problems.map((p) => ({ check: "sample", outcome: "inconclusive", sentence: `${p[0]?.toUpperCase() ?? ""}${p.slice(1)}.` }));
  const checks = [...result.checks.filter((c) => c.outcome === "fail"), ...extra, ...result.checks.filter((c) => c.outcome !== "fail")];
  const verdict = result.verdict === "pass" && extra.length > 0 ? "inconclusive" : result.verdict;
  const report: AnalysisReport = {
    verdict,
    reasons: checks.map((c) => c.sentence),
    checks,
    fresh: result.fresh,
    old: result.old,
    thresholds: result.thresholds,
    from,
    to,
    freshIds: [...effect.fresh],
    oldIds: [...effect.old],
  };
  if (alarms.length > 0) report.alarms = alarms;
  if (lbMetrics !== undefined) report.lbMetrics = lbMetrics;
  return report;
}
