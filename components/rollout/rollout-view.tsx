"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { AnalysisPanel } from "@/components/rollout/analysis-panel";
import { BatchTable } from "@/components/rollout/batch-table";
import { EventTimeline } from "@/components/rollout/event-timeline";
import { RolloutControls } from "@/components/rollout/rollout-controls";
import { RolloutSummary } from "@/components/rollout/rollout-summary";
import { rolloutQuery } from "@/components/queries";
import type { FormAction } from "@/components/ui/action-state";
import { useNow } from "@/components/ui/use-now";

export function RolloutView({ id, act }: { id: string; act: FormAction }) {
  const { data: r, error } = useQuery({
    ...rolloutQuery(id),
    // Changes arrive through the event stream (live-updates.tsx); a bake has no events, so its
    // countdown (computed by the server) is refreshed every 5 s while it lasts.
    refetchInterval: (q) => (q.state.data?.view.phase === "baking" ? 5_000 : false),
  });
  const now = useNow(1_000, !!r?.summary.active);
  if (error) return <p role="alert" className="text-sm text-red-700 dark:text-red-400">{error.message}</p>;
  if (!r) return <p className="text-sm text-zinc-500 dark:text-zinc-400">Loading rollout…</p>;
  return (
    <div className="space-y-4">
      <header className="space-y-1">
        <p className="text-xs text-zinc-500 dark:text-zinc-400">
          <Link href={`/lb/${encodeURIComponent(r.summary.lb)}`} className="font-mono hover:underline">
            {r.summary.lb}
          </Link>{" "}
          · <span className="font-mono">{r.summary.id}</span>
        </p>
        <h1 className="text-xl font-semibold">
          Rollout to <span className="font-mono">{r.summary.targetVersion}</span>
          <span className="ml-2 text-sm font-normal text-zinc-500 dark:text-zinc-400">
            from{" "}
            {Object.entries(r.summary.fromVersions)
              .map(([v, n]) => `${v} ×${n}`)
              .join(", ")}
          </span>
        </h1>
      </header>
      <section aria-label="Status" className="space-y-3 rounded-md border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900">
        <RolloutSummary r={r} />
        {r.summary.active && r.view.nextActions.length > 0 && <RolloutControls rolloutId={r.summary.id} actions={r.view.nextActions} act={act} approveBatch={r.batches.find((b) => b.direction === "forward" && b.status === "pending")?.index} />}
      </section>
      <BatchTable batches={r.batches} targetVersion={r.summary.targetVersion} now={now} fleetSize={r.capacity.fleetSize} />
      <AnalysisPanel settings={r.analysis} batches={r.batches} />
      <EventTimeline events={r.events} />
    </div>
  );
}
