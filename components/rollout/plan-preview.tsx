import type { PlanError, PlannedInstance, RolloutPlan } from "@/lib/rollout/types";
import { pluralize } from "@/components/ui/format";

/** The batches a plan would run, with zones and the capacity kept while each is out. */
export function PlanPreview({ plan, error, fleetSize }: { plan: RolloutPlan | null; error: PlanError | null; fleetSize: number }) {
  const alsoIn = new Map((plan?.instances ?? []).flatMap((i) => (i.alsoIn && i.alsoIn.length > 0 ? [[i.id, i.alsoIn] as const] : [])));
  const others = [...new Set([...alsoIn.values()].flat())].sort();
  return (
    <section aria-labelledby="preview-heading" aria-live="polite" className="self-start rounded-md border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
      <h2 id="preview-heading" className="border-b border-zinc-200 px-3 py-2 text-sm font-semibold dark:border-zinc-800">
        Plan preview
      </h2>
      {error?.field === "fleet" && (
        <p role="alert" className="px-3 py-2 text-sm text-red-700 dark:text-red-400">
          {error.message}
        </p>
      )}
      {!plan && !error && <p className="px-3 py-3 text-sm text-zinc-500 dark:text-zinc-400">Fill in the form to see the batches.</p>}
      {!plan && error && error.field !== "fleet" && <p className="px-3 py-3 text-sm text-zinc-500 dark:text-zinc-400">No plan: fix the highlighted field.</p>}
      {plan && (
        <>
          <p className="px-3 py-2 text-sm">
            {pluralize(plan.fleetSize, "instance")} → <span className="font-mono">{plan.targetVersion}</span> in {pluralize(plan.batches.length, "batch", "batches")} of up to {plan.batchSize}; at least{" "}
            <strong>{plan.minHealthy}</strong> stay in service.
          </p>
          <FromVersions instances={plan.instances} />
          {others.length > 0 && (
            <p className="px-3 pb-2 text-sm text-zinc-600 dark:text-zinc-400">
              {pluralize(alsoIn.size, "instance")} also serve {others.join(", ")}: each is taken out of every load balancer it serves, drained at all of them, and put back in all of them.
            </p>
          )}
          {plan.batches.some((b) => b.inServiceDuring === 0) && (
            <p role="alert" className="px-3 pb-2 text-sm font-medium text-red-700 dark:text-red-400">
              Capacity goes to 0: the whole load balancer is out of service while{" "}
              {plan.batches
                .filter((b) => b.inServiceDuring === 0)
                .map((b) => `batch ${b.index + 1}`)
                .join(", ")}{" "}
              runs.
            </p>
          )}
          <ol aria-label="Planned batches" className="divide-y divide-zinc-100 border-t border-zinc-100 dark:divide-zinc-800 dark:border-zinc-800">
            {plan.batches.map((b) => (
              <li key={b.index} className="grid grid-cols-[8rem_1fr_7rem] items-start gap-2 px-3 py-1.5 text-sm">
                <span className="font-medium">
                  Batch {b.index + 1}
                  {b.canary && <span className="ml-1 text-xs font-normal text-violet-700 dark:text-violet-300">canary</span>}
                </span>
                <span className="flex flex-wrap gap-x-3 gap-y-0.5">
                  {b.instanceIds.map((id, i) => (
                    <span key={id} className="font-mono text-xs">
                      {id} <span className="text-zinc-500 dark:text-zinc-400">{b.zones[i]}</span>
                      {alsoIn.has(id) && <span className="text-zinc-500 dark:text-zinc-400" data-also-in={alsoIn.get(id)!.join(" ")}> +{alsoIn.get(id)!.join(", ")}</span>}
                    </span>
                  ))}
                </span>
                <Capacity during={b.inServiceDuring} min={plan.minHealthy} total={fleetSize} />
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

const SOURCE: Record<string, string> = { tag: "from tag", hook: "from hook", instance: "from instance" };

/** The versions the instances run now, and where each was learnt: what a rollback would return them to. */
function FromVersions({ instances }: { instances: PlannedInstance[] }) {
  const groups = new Map<string, { version: string | null; source?: string; count: number }>();
  for (const i of instances) {
    const key = `${i.fromVersion ?? ""}|${i.versionSource ?? ""}`;
    const g = groups.get(key) ?? { version: i.fromVersion, source: i.versionSource, count: 0 };
    g.count++;
    groups.set(key, g);
  }
  const unknown = instances.filter((i) => i.fromVersion === null).length;
  return (
    <p aria-label="Current versions" className="flex flex-wrap items-baseline gap-x-3 gap-y-0.5 px-3 pb-2 text-xs">
      <span className="text-zinc-500 dark:text-zinc-400">Now:</span>
      {[...groups.values()].map((g) => (
        <span key={`${g.version}|${g.source}`} data-version-source={g.source ?? "unknown"}>
          <span className="font-mono">{g.version ?? "unknown"}</span> ×{g.count}
          {g.version !== null && g.source && <span className="text-zinc-500 dark:text-zinc-400"> ({SOURCE[g.source] ?? g.source})</span>}
        </span>
      ))}
      {unknown > 0 && <span className="text-amber-700 dark:text-amber-400">rollback cannot return {pluralize(unknown, "instance")} of unknown version</span>}
    </p>
  );
}

function Capacity({ during, min, total }: { during: number; min: number; total: number }) {
  const pct = total > 0 ? (during / total) * 100 : 0;
  const minPct = total > 0 ? (min / total) * 100 : 0;
  const empty = during === 0;
  return (
    <span
      data-capacity={empty ? "none" : "some"}
      className={`flex items-center gap-2 text-xs ${empty ? "font-semibold text-red-700 dark:text-red-400" : ""}`}
      title={`${during} of ${total} in service while this batch is out (minimum ${min})`}
    >
      <span aria-hidden className={`relative h-1.5 w-16 overflow-hidden rounded ${empty ? "bg-red-500" : "bg-zinc-200 dark:bg-zinc-700"}`}>
        <span className="absolute inset-y-0 left-0 bg-emerald-500" style={{ width: `${pct}%` }} />
        <span className="absolute inset-y-0 w-px bg-zinc-900 dark:bg-zinc-100" style={{ left: `${minPct}%` }} />
      </span>
      <span className="font-mono tabular-nums">
        {during}/{total}
        {empty && <span className="sr-only"> (none in service)</span>}
      </span>
    </span>
  );
}
