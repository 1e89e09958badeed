import { Badge } from "@/components/ui/badges";
import { formatCount, formatDuration } from "@/components/ui/format";
import { Panel, ScrollBox } from "@/components/ui/table";
import type { AnalysisCheck, SideSummary } from "@/lib/analysis";
import type { AnalysisSettings, BatchAnalysis } from "@/lib/rollout/types";
import type { BatchView } from "@/lib/views";

const VERDICT: Record<BatchAnalysis["verdict"], { label: string; t: "ok" | "bad" | "warn" }> = {
  pass: { label: "pass", t: "ok" },
  fail: { label: "fail", t: "bad" },
  inconclusive: { label: "inconclusive", t: "warn" },
};

const ACTION: Record<BatchAnalysis["action"], string> = {
  continued: "Rotor went on with the rollout.",
  paused: "Rotor paused the rollout for a person to decide: resume accepts the batch.",
  "rolled-back": "Rotor rolled the rollout back automatically.",
};

const pct = (r: number | null | undefined) => (r == null ? "—" : `${(r * 100).toFixed(2)}%`);
const ms = (v: number | null | undefined) => (v == null ? "—" : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);

/** The rows of the side-by-side table: requests, failed, error rate and p95, with the limits where they apply. */
function rows(a: BatchAnalysis): { what: string; fresh: string; old: string; limit: string; outcome?: AnalysisCheck["outcome"] }[] {
  const side = (s: SideSummary | null, f: (s: SideSummary) => string) => (s ? f(s) : "—");
  const check = (name: AnalysisCheck["check"]) => a.checks.find((c) => c.check === name);
  const rate = check("error-rate");
  const p95 = check("p95");
  const sample = check("sample");
  return [
    { what: "Requests", fresh: side(a.fresh, (s) => formatCount(s.requests)), old: side(a.old, (s) => formatCount(s.requests)), limit: `≥ ${formatCount(a.thresholds.minRequests)} each`, outcome: sample?.outcome === "inconclusive" && sample.fresh !== undefined ? "inconclusive" : undefined },
    { what: "Failed (5xx, connection)", fresh: side(a.fresh, (s) => formatCount(s.failed)), old: side(a.old, (s) => formatCount(s.failed)), limit: "" },
    { what: "Error rate", fresh: side(a.fresh, (s) => pct(s.errorRate)), old: side(a.old, (s) => pct(s.errorRate)), limit: rate?.limit !== undefined ? `≤ ${pct(rate.limit)}` : `old + ${a.thresholds.maxErrorRateIncreasePoints} pt`, outcome: rate?.outcome },
    { what: "p95 latency", fresh: side(a.fresh, (s) => ms(s.p95Ms)), old: side(a.old, (s) => ms(s.p95Ms)), limit: p95?.limit !== undefined ? `≤ ${ms(p95.limit)}` : `${a.thresholds.latencyFactor} × old + ${a.thresholds.latencyMarginMs} ms`, outcome: p95?.outcome },
  ];
}

function Judged({ index, a }: { index: number; a: BatchAnalysis }) {
  const v = VERDICT[a.verdict];
  const compared = a.fresh !== null && a.old !== null;
  return (
    <section aria-label={`Batch ${index + 1} analysis`} className="space-y-2 px-3 py-2">
      <h3 className="flex flex-wrap items-center gap-2 text-sm font-medium">
        Batch {index + 1} <Badge t={v.t}>{v.label}</Badge>
        <span className="text-xs font-normal text-zinc-500 dark:text-zinc-400">
          {formatDuration(a.to - a.from)} window · {a.freshIds.length} new against {a.oldIds.length} old
        </span>
      </h3>
      {compared && (
        <ScrollBox label={`Batch ${index + 1}: new and old instances side by side`}>
          <table className="w-full text-sm">
            <caption className="sr-only">Batch {index + 1}: the new instances and the old ones over the same window</caption>
            <thead className="text-xs text-zinc-500 dark:text-zinc-400">
              <tr>
                <th scope="col" className="px-2 py-1 text-left font-medium">Figure</th>
                <th scope="col" className="px-2 py-1 text-right font-medium">New ({a.freshIds.join(", ")})</th>
                <th scope="col" className="px-2 py-1 text-right font-medium">Old</th>
                <th scope="col" className="px-2 py-1 text-right font-medium">Threshold</th>
                <th scope="col" className="px-2 py-1 text-left font-medium">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {rows(a).map((r) => (
                <tr key={r.what} className="border-t border-zinc-100 dark:border-zinc-800">
                  <th scope="row" className="px-2 py-1 text-left font-normal whitespace-nowrap">{r.what}</th>
                  <td className="px-2 py-1 text-right font-mono text-xs">{r.fresh}</td>
                  <td className="px-2 py-1 text-right font-mono text-xs">{r.old}</td>
                  <td className="px-2 py-1 text-right font-mono text-xs whitespace-nowrap">{r.limit}</td>
                  <td className="px-2 py-1 text-xs">{r.outcome && <Badge t={VERDICT[r.outcome].t}>{VERDICT[r.outcome].label}</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
      {a.alarms && a.alarms.length > 0 && (
        <ul aria-label={`Batch ${index + 1}: alarms`} className="flex flex-wrap gap-2 text-xs">
          {a.alarms.map((al) => (
            <li key={al.name}>
              <Badge t={al.state === "ALARM" ? "bad" : al.state === "OK" ? "ok" : "warn"}>{al.state}</Badge> <span className="font-mono">{al.name}</span>
            </li>
          ))}
        </ul>
      )}
      <ul className="list-disc space-y-0.5 pl-5 text-sm">
        {a.reasons.map((r) => (
          <li key={r}>{r}</li>
        ))}
      </ul>
      {a.lbMetrics && (
        <p className="text-xs text-zinc-500 dark:text-zinc-400">
          The whole load balancer meanwhile: {formatCount(a.lbMetrics.requests)} requests, {formatCount(a.lbMetrics.backend5xx)} 5xx from instances, p95 {ms(a.lbMetrics.p95Ms)} ({a.lbMetrics.source}).
        </p>
      )}
      <p className="text-sm font-medium">
        {ACTION[a.action]}
        {a.note && <span className="font-normal"> ({a.note})</span>}
      </p>
    </section>
  );
}

/** Each forward batch's analysis: the figures side by side, the thresholds, the verdict and what Rotor did. */
export function AnalysisPanel({ settings, batches }: { settings: AnalysisSettings | undefined; batches: readonly BatchView[] }) {
  if (!settings) return null;
  const forward = batches.filter((b) => b.direction === "forward" && (b.analysis || b.analysing));
  const t = settings.thresholds;
  return (
    <Panel id="analysis-heading" title="Batch analysis">
      <p className="border-b border-zinc-200 px-3 py-2 text-xs text-zinc-600 dark:border-zinc-800 dark:text-zinc-400">
        {formatDuration(settings.windowMs)} after each batch is back in service, its new instances against those still on the old version: error rate at most the old one + {t.maxErrorRateIncreasePoints} percentage point
        {t.maxErrorRateIncreasePoints === 1 ? "" : "s"}, p95 at most {t.latencyFactor} × the old one + {t.latencyMarginMs} ms, at least {t.minRequests} requests on each side.
        {settings.alarms.length > 0 && ` Alarms: ${settings.alarms.join(", ")} (any in ALARM fails the batch).`} A failed batch: {settings.onFail === "rollback" ? "roll back automatically" : "pause"}; an inconclusive one: pause.
      </p>
      {forward.length === 0 && <p className="px-3 py-2 text-sm text-zinc-500 dark:text-zinc-400">No batch has been analysed yet.</p>}
      <div className="divide-y divide-zinc-200 dark:divide-zinc-800">
        {forward.map((b) =>
          b.analysing ? (
            <p key={b.index} role="status" className="px-3 py-2 text-sm">
              Batch {b.index + 1}: analysing {b.analysing.fresh.join(", ")} for {formatDuration(b.analysing.windowMs)}
              {b.analysing.old.length > 0 && ` against ${b.analysing.old.length} instance${b.analysing.old.length === 1 ? "" : "s"} on the old version`}
              {b.analysing.alarms.length > 0 && `, watching ${b.analysing.alarms.join(", ")}`}…
            </p>
          ) : (
            b.analysis && <Judged key={b.index} index={b.index} a={b.analysis} />
          ),
        )}
      </div>
    </Panel>
  );
}
