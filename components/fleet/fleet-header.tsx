"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { instancesQuery } from "@/components/queries";
import { PhaseBadge } from "@/components/ui/badges";
import { formatDuration } from "@/components/ui/format";
import { buttonCls } from "@/components/ui/table";

/** The fleet page's title line: what the load balancer is, and its active rollout (live). */
export function FleetHeader({ lb }: { lb: string }) {
  const { data } = useQuery(instancesQuery(lb));
  const active = data?.activeRollout ?? null;
  return (
    <div className="flex flex-wrap items-start gap-4">
      <div className="space-y-0.5">
        <h1 className="text-xl font-semibold">
          <span className="font-mono">{lb}</span>
        </h1>
        {data && (
          <p className="text-xs text-zinc-500 dark:text-zinc-400">
            {data.lb.provider} · {data.lb.kind}
            {data.lb.server ? ` · ${data.lb.server === "apache" ? "Apache httpd + mod_perl" : "Node"} servers` : ""} · drain timeout {formatDuration(data.lb.drainTimeoutMs)}
            {data.lb.description ? ` · ${data.lb.description}` : ""}
          </p>
        )}
      </div>
      <div className="ml-auto flex items-center gap-3">
        {active ? (
          <Link href={`/rollouts/${encodeURIComponent(active.id)}`} className="flex items-center gap-2 rounded border border-sky-200 bg-sky-50 px-3 py-1.5 text-sm hover:bg-sky-100 dark:border-sky-500/30 dark:bg-sky-500/10 dark:hover:bg-sky-500/20">
            <PhaseBadge phase={active.phase} />
            <span>
              Active rollout to <span className="font-mono">{active.targetVersion}</span>: {active.message}
            </span>
          </Link>
        ) : (
          <Link href={`/rollouts/new?lb=${encodeURIComponent(lb)}`} className={buttonCls.primary}>
            New rollout
          </Link>
        )}
      </div>
    </div>
  );
}
