import type { ReactNode } from "react";
import { Stat } from "@/components/fleet/traffic-counter";
import { PhaseBadge } from "@/components/ui/badges";
import { formatCount, formatDuration, formatTime } from "@/components/ui/format";
import type { RolloutDetailView } from "@/lib/views";

/** Phase and message (from derivePhase, never recomputed here), progress, time left, capacity, traffic. */
export function RolloutSummary({ r }: { r: RolloutDetailView }) {
  const pct = Math.round(Math.min(100, Math.max(0, r.view.progress)));
  const { inService, minHealthy, fleetSize } = r.capacity;
  const low = inService !== null && inService < minHealthy;
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-3">
        <PhaseBadge phase={r.view.phase} />
        <p className="text-sm font-medium" aria-label="Rollout status">
          {r.view.message}
        </p>
      </div>
      {r.notes.length > 0 && (
        <ul aria-label="Rollout notes" className="list-inside list-disc text-sm text-zinc-700 dark:text-zinc-300">
          {r.notes.map((note, i) => (
            <li key={i}>{note}</li>
          ))}
        </ul>
      )}
      <div className="flex items-center gap-3">
        <div role="progressbar" aria-label="Rollout progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} className="h-2 flex-1 overflow-hidden rounded bg-zinc-200 dark:bg-zinc-800">
          <div className={`h-full transition-[width] duration-500 ${r.view.phase === "failed-awaiting-operator" ? "bg-red-500" : r.view.phase === "paused" ? "bg-amber-500" : "bg-sky-600"}`} style={{ width: `${pct}%` }} />
        </div>
        <span className="w-10 text-right font-mono text-xs tabular-nums">{pct}%</span>
        <span className="text-xs text-zinc-500 dark:text-zinc-400">{r.summary.active ? (r.remainingMs != null ? `about ${formatDuration(r.remainingMs)} left` : "estimating time left…") : `took ${formatDuration(r.summary.durationMs)}`}</span>
      </div>
      <dl className="grid grid-cols-2 gap-x-6 gap-y-1 text-sm sm:grid-cols-4">
        <Item label="Capacity">
          <span aria-label="In service now" className={`font-mono tabular-nums ${low ? "font-semibold text-red-700 dark:text-red-400" : ""}`}>
            {inService ?? "?"}
          </span>
          <span className="text-zinc-500 dark:text-zinc-400"> in service / min {minHealthy} of {fleetSize}</span>
        </Item>
        <Item label="Started">
          <span className="font-mono text-xs">{formatTime(r.summary.createdAt)}</span> <span className="text-zinc-500 dark:text-zinc-400">by</span> <span className="font-mono text-xs">{r.summary.createdBy}</span>
        </Item>
        <Item label="Approval">{r.approval.kind === "manual" ? "manual, each batch" : `auto after ${formatDuration(r.approval.bakeMs)} bake`}</Item>
        {r.replace && (
          <Item label="Auto Scaling group">
            <span aria-label="Group" className="font-mono text-xs">
              {r.replace.group}
            </span>{" "}
            <span aria-label="Desired capacity" className="font-mono tabular-nums">
              desired {r.replace.desired}
            </span>
            <span className="text-zinc-500 dark:text-zinc-400">
              {r.replace.desired !== r.replace.desiredAtStart && ` (${r.replace.desiredAtStart} at start)`} · min {r.replace.min} · max {r.replace.max}
              {r.replace.surge > 0 && ` · surge ${r.replace.surge}`}
            </span>
            <span aria-label="Launch versions" className="block font-mono text-xs" title={[r.replace.fromLabel, r.replace.toLabel].filter(Boolean).join(" → ")}>
              launch {r.replace.fromLaunch} <span className="text-zinc-500 dark:text-zinc-400">→</span> {r.replace.toLaunch}
              <span className="text-zinc-500 dark:text-zinc-400"> (group on {r.replace.launchNow})</span>
            </span>
          </Item>
        )}
        <Item label="Traffic during rollout">
          {r.traffic ? (
            <span className="flex flex-wrap gap-x-3">
              <Stat label="Succeeded requests" short="ok" value={formatCount(r.traffic.ok)} />
              <Stat label="Failed requests" short="failed" value={formatCount(r.traffic.failed)} bad={r.traffic.failed > 0} />
            </span>
          ) : (
            <span className="text-zinc-500 dark:text-zinc-400">not counted by this provider</span>
          )}
        </Item>
      </dl>
    </div>
  );
}

function Item({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="text-xs text-zinc-500 dark:text-zinc-400">{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
