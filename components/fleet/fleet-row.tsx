import Link from "next/link";
import { memo } from "react";
import { LbStateBadge } from "@/components/ui/badges";
import { td } from "@/components/ui/table";
import type { FleetRow } from "@/lib/views";

const stepTone = { pending: "text-zinc-500 dark:text-zinc-400", running: "text-sky-700 dark:text-sky-300", succeeded: "text-emerald-700 dark:text-emerald-400", failed: "text-red-700 dark:text-red-400 font-medium", "timed-out": "text-red-700 dark:text-red-400 font-medium", skipped: "text-zinc-500 dark:text-zinc-400 line-through" } as const;

/** The rollout that holds the instance out of rotation (its own load balancer named when it is another rollout's). */
function HeldBy({ held, showLb }: { held: NonNullable<FleetRow["heldBy"]>; showLb: boolean }) {
  return (
    <span className="block text-amber-800 dark:text-amber-300" data-held-by={held.rolloutId}>
      held by{" "}
      <Link href={`/rollouts/${encodeURIComponent(held.rolloutId)}`} className="font-mono text-sky-700 hover:underline dark:text-sky-400">
        {held.rolloutId}
      </Link>
      {showLb ? ` on ${held.lb}` : ""}
    </span>
  );
}

export const FleetRowView = memo(function FleetRowView({ r }: { r: FleetRow }) {
  return (
    <tr className="hover:bg-zinc-50 dark:hover:bg-zinc-800/40" data-instance={r.id}>
      <th scope="row" className={`${td} text-left font-normal`}>
        <span className="font-mono text-xs">{r.id}</span>
        {r.name && r.name !== r.id && <span className="ml-2 text-xs text-zinc-500 dark:text-zinc-400">{r.name}</span>}
        {typeof r.pid === "number" && <span className="ml-2 font-mono text-xs text-zinc-500 dark:text-zinc-400" data-pid={r.pid}>pid {r.pid}</span>}
        {r.alsoIn && r.alsoIn.length > 0 && (
          <span className="block text-xs text-zinc-500 dark:text-zinc-400" data-also-in={r.alsoIn.join(" ")} title="A rollout takes this instance out of these load balancers too">
            also in {r.alsoIn.join(", ")}
          </span>
        )}
      </th>
      <td className={`${td} font-mono text-xs`}>{r.zone}</td>
      <td className={td}>
        <div className="flex flex-col items-start gap-0.5">
          <LbStateBadge state={r.state} title={r.reasonCode ? `reason: ${r.reasonCode}` : undefined} />
          <span className="text-xs text-zinc-500 dark:text-zinc-400">{r.description}</span>
        </div>
      </td>
      <td className={`${td} text-right font-mono text-xs tabular-nums`}>{r.inFlight ?? "—"}</td>
      <td className={`${td} font-mono text-xs`}>{r.version ?? <span className="text-zinc-500 dark:text-zinc-400">unknown</span>}</td>
      <td className={`${td} text-xs`}>
        {r.healthCheck ? (
          <span className={r.healthCheck.ok ? "text-emerald-700 dark:text-emerald-400" : "text-red-700 dark:text-red-400"}>
            {r.healthCheck.ok ? "✓ " : "✗ "}
            {r.healthCheck.detail}
          </span>
        ) : (
          <span className="text-zinc-500 dark:text-zinc-400">—</span>
        )}
      </td>
      <td className={`${td} text-xs`}>
        {r.rollout ? (
          <span className={stepTone[r.rollout.status]}>
            batch {r.rollout.batch + 1} · {r.rollout.step}
            {r.rollout.direction === "rollback" ? " (rollback)" : ""}
            {r.rollout.status === "failed" || r.rollout.status === "timed-out" ? ` (${r.rollout.status})` : ""}
          </span>
        ) : (
          !r.heldBy && <span className="text-zinc-500 dark:text-zinc-400">—</span>
        )}
        {r.heldBy && <HeldBy held={r.heldBy} showLb={!r.rollout} />}
      </td>
    </tr>
  );
});

