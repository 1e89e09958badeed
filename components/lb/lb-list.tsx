"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { ApiError, loadBalancersQuery } from "@/components/queries";
import { ProviderProblem } from "@/components/ui/provider-problem";
import { Badge, LB_STATES, LbStateBadge, PhaseBadge } from "@/components/ui/badges";
import { formatCount } from "@/components/ui/format";
import { Panel, ScrollBox, td, th } from "@/components/ui/table";

export function LoadBalancerList() {
  const { data, error } = useQuery(loadBalancersQuery());
  if (error) return <ProviderProblem problem={{ code: (error instanceof ApiError && error.code) || "INTERNAL", message: error.message }} />;
  if (!data) return <p className="text-sm text-zinc-500 dark:text-zinc-400">Loading load balancers…</p>;
  if (data.length === 0) return <p className="text-sm text-zinc-500 dark:text-zinc-400">No load balancers found for this provider.</p>;
  return (
    <Panel>
      <ScrollBox label="Load balancers">
        <table className="w-full text-sm">
          <caption className="sr-only">Load balancers</caption>
          <thead className="border-b border-zinc-200 dark:border-zinc-800">
            <tr>
              <th scope="col" className={th}>Load balancer</th>
              <th scope="col" className={th}>Provider</th>
              <th scope="col" className={th}>Instances</th>
              <th scope="col" className={th}>Versions</th>
              <th scope="col" className={th}>Active rollout</th>
              <th scope="col" className={`${th} text-right`}>Traffic failed</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800/70">
            {data.map((lb) => (
              <tr key={lb.name} className="hover:bg-zinc-50 dark:hover:bg-zinc-800/40">
                <th scope="row" className={`${td} text-left`}>
                  <Link href={`/lb/${encodeURIComponent(lb.name)}`} className="font-mono font-medium text-sky-700 hover:underline dark:text-sky-400">
                    {lb.name}
                  </Link>
                  {lb.description && <div className="text-xs font-normal text-zinc-500 dark:text-zinc-400">{lb.description}</div>}
                  {lb.error && <div role="alert" className="text-xs font-normal text-red-700 dark:text-red-400">{lb.error}</div>}
                </th>
                <td className={`${td} text-xs`}>
                  {lb.provider} · {lb.kind}
                </td>
                <td className={td}>
                  <div className="flex flex-wrap items-center gap-1">
                    <span className="mr-1 font-mono text-xs tabular-nums" title="instances">{lb.total}</span>
                    {LB_STATES.filter((s) => (lb.counts[s] ?? 0) > 0).map((s) => (
                      <LbStateBadge key={s} state={s} count={lb.counts[s]} />
                    ))}
                  </div>
                </td>
                <td className={td}>
                  <div className="flex flex-wrap gap-1">
                    {lb.versions.map((v) => (
                      <Badge key={v.version ?? "unknown"} t="idle">
                        <span className="font-mono">{v.version ?? "unknown"}</span>
                        <span className="text-zinc-600 dark:text-zinc-400">×{v.count}</span>
                      </Badge>
                    ))}
                  </div>
                </td>
                <td className={td}>
                  {lb.activeRollout ? (
                    <Link href={`/rollouts/${encodeURIComponent(lb.activeRollout.id)}`} className="group flex flex-col gap-0.5">
                      <span className="flex items-center gap-2">
                        <PhaseBadge phase={lb.activeRollout.phase} />
                        <span className="font-mono text-xs">→ {lb.activeRollout.targetVersion}</span>
                      </span>
                      <span className="text-xs text-zinc-500 dark:text-zinc-400 group-hover:underline">{lb.activeRollout.message}</span>
                    </Link>
                  ) : (
                    <span className="text-xs text-zinc-500 dark:text-zinc-400">none</span>
                  )}
                </td>
                <td className={`${td} text-right font-mono text-xs tabular-nums`}>
                  {lb.traffic ? (
                    <span className={lb.traffic.failed > 0 ? "font-semibold text-red-700 dark:text-red-400" : ""}>
                      {formatCount(lb.traffic.failed)} / {formatCount(lb.traffic.requests)}
                      {Object.entries(lb.traffic.failuresByKind)
                        .filter(([, n]) => n > 0)
                        .map(([k, n]) => (
                          <span key={k} className="block font-normal">
                            {k}: {formatCount(n)}
                          </span>
                        ))}
                    </span>
                  ) : (
                    "—"
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
    </Panel>
  );
}
