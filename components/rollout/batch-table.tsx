import { StepCell, stepLabel } from "@/components/rollout/step-cell";
import { Badge } from "@/components/ui/badges";
import { formatDuration } from "@/components/ui/format";
import { Panel, ScrollBox } from "@/components/ui/table";
import type { BatchView, InstanceProgress } from "@/lib/views";
import type { StepName } from "@/lib/rollout/types";

function batchStatus(b: BatchView): { label: string; t: "ok" | "busy" | "bad" | "idle" | "warn" } {
  if (b.instances.some((i) => !i.skipped && i.steps.some((s) => s.status === "failed" || s.status === "timed-out"))) return { label: "failed", t: "bad" };
  if (b.status === "done") return { label: "done", t: "ok" };
  if (b.status === "running") return { label: "in progress", t: "busy" };
  return { label: "pending", t: "idle" };
}

/** The step columns: every batch's steps, in the order they first appear (rollback may add its own). */
export function stepColumns(batches: readonly BatchView[]): StepName[] {
  const out: StepName[] = [];
  for (const b of batches) for (const s of b.steps) if (!out.includes(s)) out.push(s);
  return out;
}

/** "2 out", or for replace "2 replaced · 2 launched". */
function batchCounts(b: BatchView): string {
  if (!b.instances.some((i) => i.role)) return `${b.instances.length} out`;
  const n = (role: InstanceProgress["role"]) => b.instances.filter((i) => i.role === role).length;
  const returned = n("returned");
  return `${n("old")} replaced · ${n("new")} launched${returned > 0 ? ` · ${returned} put back` : ""}`;
}

/** Batches as rows of instances, each with its steps (in place: eight; replace: launch … verify). */
export function BatchTable({ batches, targetVersion, now, fleetSize }: { batches: BatchView[]; targetVersion: string; now: number; fleetSize: number }) {
  const columns = stepColumns(batches);
  return (
    <Panel id="batches-heading" title="Batches">
      <ScrollBox label="Batches and the steps of each instance">
        <table className="w-full text-sm">
          <caption className="sr-only">Batches and the steps of each instance</caption>
          <thead className="border-b border-zinc-200 text-xs text-zinc-500 dark:border-zinc-800 dark:text-zinc-400">
            <tr>
              <th scope="col" className="px-2 py-1.5 text-left font-medium">Instance</th>
              <th scope="col" className="px-2 py-1.5 text-left font-medium">Version</th>
              {columns.map((s) => (
                <th key={s} scope="col" className="px-1.5 py-1.5 text-left font-medium whitespace-nowrap">
                  {stepLabel(s)}
                </th>
              ))}
            </tr>
          </thead>
          {batches.map((b) => {
            const st = batchStatus(b);
            const label = `${b.direction === "rollback" ? "Rollback batch" : "Batch"} ${b.index + 1}`;
            return (
              <tbody key={`${b.direction}-${b.index}`} aria-label={label} className="border-b border-zinc-200 last:border-0 dark:border-zinc-800">
                <tr className="bg-zinc-50 dark:bg-zinc-800/40">
                  <th scope="rowgroup" colSpan={2 + columns.length} className="px-2 py-1 text-left text-xs font-medium">
                    <span className="flex flex-wrap items-center gap-2">
                      <span>{label}</span>
                      {b.canary && <Badge t="wait">canary</Badge>}
                      <Badge t={st.t}>{st.label}</Badge>
                      <span className="font-normal text-zinc-500 dark:text-zinc-400">
                        {batchCounts(b)} · {b.inServiceDuring}/{fleetSize} in service while out
                        {b.approvedBy && ` · approved by ${b.approvedBy}`}
                        {b.startedAt != null && (b.finishedAt != null || now > 0) && ` · ${formatDuration((b.finishedAt ?? now) - b.startedAt)}`}
                      </span>
                    </span>
                  </th>
                </tr>
                {b.instances.map((inst) => (
                  <InstanceRows key={inst.id} inst={inst} columns={columns} to={b.version} from={b.direction === "rollback" ? targetVersion : (inst.fromVersion ?? "unknown")} now={now} />
                ))}
              </tbody>
            );
          })}
        </table>
      </ScrollBox>
    </Panel>
  );
}

/** Replace: what became of the instance ("terminated", "launched from v2", "put back"); in place: nothing. */
export function instanceMark(inst: InstanceProgress): string | null {
  if (inst.role === "new") return inst.launchedFrom ? `launched from ${inst.launchedFrom}` : "launched";
  if (inst.role === "returned") return "put back";
  if (inst.role === "old") return inst.terminated ? "terminated" : "to be replaced";
  return null;
}

function VersionCell({ inst, from, to }: { inst: InstanceProgress; from: string; to: string }) {
  // Replace: an old instance keeps its version until it is gone; a new one runs what it was launched from.
  const text = inst.role === "new" ? (inst.launchedFrom ?? to) : inst.role ? (inst.fromVersion ?? "unknown") : null;
  return (
    <td className="px-2 py-1 font-mono text-xs whitespace-nowrap">
      {text ?? (
        <>
          {from} <span className="text-zinc-500 dark:text-zinc-400">→</span> {to}
        </>
      )}
    </td>
  );
}

function InstanceRows({ inst, columns, from, to, now }: { inst: InstanceProgress; columns: readonly StepName[]; from: string; to: string; now: number }) {
  const failed = inst.steps.filter((s) => (s.status === "failed" || s.status === "timed-out") && (s.outputTail || s.message));
  const mark = instanceMark(inst);
  const byName = new Map(inst.steps.map((s) => [s.name, s]));
  return (
    <>
      <tr className={inst.skipped || inst.terminated ? "opacity-60" : ""} data-role={inst.role} data-instance={inst.id}>
        <th scope="row" className="px-2 py-1 text-left font-normal whitespace-nowrap">
          <span className="font-mono text-xs">{inst.id}</span> <span className="text-xs text-zinc-500 dark:text-zinc-400">{inst.zone}</span>
          {inst.skipped && <span className="ml-1 text-xs text-amber-700 dark:text-amber-300">skipped</span>}
          {mark && <span className={`ml-1 text-xs ${inst.role === "new" ? "text-emerald-700 dark:text-emerald-400" : "text-zinc-500 dark:text-zinc-400"}`}>{mark}</span>}
        </th>
        <VersionCell inst={inst} from={from} to={to} />
        {columns.map((name) => {
          const s = byName.get(name);
          // A step this instance does not go through (replace: verify is the new instances' only step).
          return s ? <StepCell key={name} step={s} now={now} /> : <td key={name} className="px-1.5 py-1 text-xs text-zinc-300 dark:text-zinc-600" aria-label={`${stepLabel(name)}: not for this instance`} />;
        })}
      </tr>
      {failed.map((s) => (
        <tr key={`${s.name}-out`}>
          <td colSpan={2 + columns.length} className="px-2 pb-2">
            <div className="rounded border border-red-200 bg-red-50 p-2 dark:border-red-500/30 dark:bg-red-500/10">
              <p className="text-xs font-medium text-red-800 dark:text-red-300">
                {stepLabel(s.name)} {s.status} on {inst.id}
                {s.exitCode != null && ` (exit ${s.exitCode})`}
                {s.message && `: ${s.message}`}
              </p>
              {s.outputTail && (
                // Focusable: a long output scrolls inside its box, and a keyboard must be able to scroll it.
                <pre tabIndex={0} aria-label={`Output of ${stepLabel(s.name)} on ${inst.id}`} className="mt-1 max-h-48 overflow-auto font-mono text-xs whitespace-pre-wrap text-red-900 dark:text-red-200">
                  {s.outputTail}
                </pre>
              )}
            </div>
          </td>
        </tr>
      ))}
    </>
  );
}
