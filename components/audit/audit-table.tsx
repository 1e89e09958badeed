import Link from "next/link";
import type { AuditRow } from "@/lib/audit";
import { describeAccess } from "./describe-access";
import { describeEvent } from "@/components/rollout/describe-event";
import { Badge, type Tone } from "@/components/ui/badges";
import { formatTime } from "@/components/ui/format";
import { ScrollBox, td, th } from "@/components/ui/table";

const outcomeTone: Record<AuditRow["outcome"], Tone> = { applied: "ok", rejected: "bad", info: "idle" };

function describe(r: AuditRow): string {
  if (r.kind === "access") return describeAccess(r);
  return describeEvent({ seq: r.seq, rolloutId: r.rolloutId ?? "", at: r.at, actor: r.actor, type: r.type, payload: r.payload, outcome: r.outcome, reason: r.reason, details: r.details });
}

/** The audit trail, newest first: who did what, when, to which rollout, batch and instance, and how it ended. */
export function AuditTable({ rows }: { rows: AuditRow[] }) {
  if (rows.length === 0) return <p className="p-4 text-sm text-zinc-600 dark:text-zinc-400">No events match these filters.</p>;
  return (
    <ScrollBox label="Audit trail, newest first">
      <table className="w-full text-sm">
        <caption className="sr-only">Audit trail, newest first</caption>
        <thead className="border-b border-zinc-200 dark:border-zinc-800">
          <tr>
            <th scope="col" className={th}>Time (UTC)</th>
            <th scope="col" className={th}>Actor</th>
            <th scope="col" className={th}>What</th>
            <th scope="col" className={th}>Rollout</th>
            <th scope="col" className={th}>Batch</th>
            <th scope="col" className={th}>Instance</th>
            <th scope="col" className={th}>Outcome</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {rows.map((r) => (
            <tr key={`${r.kind}-${r.seq}`} data-kind={r.kind}>
              <td className={`${td} whitespace-nowrap font-mono text-xs`}>{formatTime(r.at)}</td>
              <td className={`${td} font-mono text-xs`}>{r.actor}</td>
              <td className={td}>
                <span className="font-mono text-xs text-zinc-500 dark:text-zinc-400">{r.type}</span> {describe(r)}
              </td>
              <td className={`${td} font-mono text-xs`}>
                {r.rolloutId ? <Link href={`/rollouts/${encodeURIComponent(r.rolloutId)}`} className="text-sky-700 hover:underline dark:text-sky-400">{r.rolloutId}</Link> : "—"}
                {r.lb ? <span className="block text-zinc-500 dark:text-zinc-400">{r.lb}</span> : null}
              </td>
              <td className={td}>{r.batch === null ? "—" : r.batch + 1}</td>
              <td className={`${td} font-mono text-xs`}>{r.instances.length ? r.instances.join(", ") : "—"}</td>
              <td className={td}>
                <Badge t={outcomeTone[r.outcome]} title={r.reason ?? undefined}>{r.outcome}</Badge>
                {r.reason ? <span className="block max-w-xs text-xs text-zinc-600 dark:text-zinc-400">{r.reason}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollBox>
  );
}
