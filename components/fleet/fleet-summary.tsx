"use client";

import { useQuery } from "@tanstack/react-query";
import { TrafficCounter } from "@/components/fleet/traffic-counter";
import { instancesQuery } from "@/components/queries";
import { Badge, LB_STATES, LbStateBadge } from "@/components/ui/badges";

/** One dense line over the table: rotation, version mix, traffic. */
export function FleetSummary({ lb }: { lb: string }) {
  const { data } = useQuery(instancesQuery(lb));
  const rows = data?.instances ?? [];
  const counts = new Map<string, number>();
  const versions = new Map<string, number>();
  for (const r of rows) {
    counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
    versions.set(r.version ?? "unknown", (versions.get(r.version ?? "unknown") ?? 0) + 1);
  }
  const inService = counts.get("in-service") ?? 0;
  return (
    <div className="flex flex-wrap items-center gap-x-6 gap-y-2 rounded-md border border-zinc-200 bg-white px-3 py-2 dark:border-zinc-800 dark:bg-zinc-900">
      <span className="flex items-center gap-2 text-sm">
        <span className="text-xs text-zinc-500 dark:text-zinc-400">In rotation</span>
        <span aria-label="Instances in service" className="font-mono font-semibold tabular-nums">
          {inService}/{rows.length}
        </span>
        {LB_STATES.filter((s) => s !== "in-service" && (counts.get(s) ?? 0) > 0).map((s) => (
          <LbStateBadge key={s} state={s} count={counts.get(s)} />
        ))}
      </span>
      <span className="flex flex-wrap items-center gap-1.5 text-sm">
        <span className="text-xs text-zinc-500 dark:text-zinc-400">Versions</span>
        {[...versions].map(([v, n]) => (
          <Badge key={v} t="idle">
            <span className="font-mono">{v}</span>
            <span className="text-zinc-600 dark:text-zinc-400">×{n}</span>
          </Badge>
        ))}
      </span>
      <TrafficCounter lb={lb} />
    </div>
  );
}
