"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { rolloutListQuery } from "@/components/queries";
import { PhaseBadge } from "@/components/ui/badges";
import { formatDuration, formatTime } from "@/components/ui/format";
import { Panel, ScrollBox, td, th } from "@/components/ui/table";

const decided: Record<string, string> = { abort: "aborted by", rollback: "rolled back by" };

/** Every rollout, newest first: where, from what to what, who, how it ended, how long it took. */
export function RolloutHistory() {
  const { data, error } = useQuery(rolloutListQuery());
  if (error) return <p role="alert" className="text-sm text-red-700 dark:text-red-400">{error.message}</p>;
  if (!data) return <p className="text-sm text-zinc-500 dark:text-zinc-400">Loading rollouts…</p>;
  const rows = [...data].sort((a, b) => b.createdAt - a.createdAt);
  return (
    <Panel>
      <ScrollBox label="Rollouts, newest first">
        <table className="w-full text-sm">
          <caption className="sr-only">Rollouts, newest first</caption>
          <thead className="border-b border-zinc-200 dark:border-zinc-800">
            <tr>
              <th scope="col" className={th}>Rollout</th>
              <th scope="col" className={th}>Load balancer</th>
              <th scope="col" className={th}>Version</th>
              <th scope="col" className={th}>Started</th>
              <th scope="col" className={th}>Outcome</th>
              <th scope="col" className={`${th} text-right`}>Duration</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800/70">
            {rows.map((r) => (
              <tr key={r.id} className="hover:bg-zinc-50 dark:hover:bg-zinc-800/40">
                <th scope="row" className={`${td} text-left font-normal`}>
                  <Link href={`/rollouts/${encodeURIComponent(r.id)}`} className="font-mono text-xs text-sky-700 hover:underline dark:text-sky-400">
                    {r.id}
                  </Link>
                </th>
                <td className={`${td} font-mono text-xs`}>{r.lb}</td>
                <td className={`${td} font-mono text-xs`}>
                  {Object.keys(r.fromVersions).join(", ") || "—"} <span className="text-zinc-500 dark:text-zinc-400">→</span> {r.targetVersion}
                </td>
                <td className={`${td} text-xs`}>
                  <span className="font-mono">{formatTime(r.createdAt)}</span> <span className="text-zinc-500 dark:text-zinc-400">by</span> <span className="font-mono">{r.createdBy}</span>
                </td>
                <td className={`${td} text-xs`}>
                  <span className="flex flex-wrap items-center gap-1.5">
                    <PhaseBadge phase={r.phase} />
                    {r.decidedBy && (
                      <span className="text-zinc-500 dark:text-zinc-400">
                        {decided[r.decidedBy.type] ?? `${r.decidedBy.type} by`} <span className="font-mono text-zinc-800 dark:text-zinc-200">{r.decidedBy.actor}</span>
                      </span>
                    )}
                  </span>
                </td>
                <td className={`${td} text-right font-mono text-xs tabular-nums`}>{formatDuration(r.durationMs)}</td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={6} className={`${td} py-6 text-center text-zinc-500 dark:text-zinc-400`}>
                  No rollouts yet. Start one from a load balancer&apos;s page.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </ScrollBox>
    </Panel>
  );
}
