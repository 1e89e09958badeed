import { pluralize } from "@/components/ui/format";
import { ScrollBox } from "@/components/ui/table";
import { replaceBatches, type ReplacePreviewAnswer } from "@/lib/rollout/replace-preview";
import type { FleetInstance, PlanOptions } from "@/lib/rollout/types";

const th = "px-2 py-1 text-left font-medium";
const td = "px-2 py-1 font-mono tabular-nums";

/**
 * The replace strategy's plan, as the server's survey of the group answers it: the group, its
 * min/desired/max, the launch versions from → to, the instances to replace batch by batch, the
 * capacity at each step and the notes; or every reason Start would refuse, each in its sentence.
 */
export function ReplacePlanPreview({
  answer,
  loading,
  error,
  fleet,
  options,
  formError,
}: {
  answer: ReplacePreviewAnswer | undefined;
  loading: boolean;
  error: Error | null;
  fleet: FleetInstance[];
  options: PlanOptions | null;
  formError: string | null;
}) {
  const p = options && answer ? answer.preview : null;
  const planned = p && options ? replaceBatches(fleet, p, options) : null;
  const batches = planned?.ok ? planned.plan.batches.map((b) => b.instanceIds) : p ? [p.replace] : [];
  return (
    <section aria-labelledby="preview-heading" aria-live="polite" aria-busy={loading} className="self-start rounded-md border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
      <h2 id="preview-heading" className="border-b border-zinc-200 px-3 py-2 text-sm font-semibold dark:border-zinc-800">
        Plan preview: replace through the Auto Scaling group
      </h2>
      {!options && <p className="px-3 py-3 text-sm text-zinc-500 dark:text-zinc-400">{formError ? "No plan: fix the highlighted field." : "Fill in the form to see the group and its capacity at each step."}</p>}
      {options && error && (
        <p role="alert" className="px-3 py-2 text-sm text-red-700 dark:text-red-400">
          {error.message}
        </p>
      )}
      {options && !answer && !error && <p className="px-3 py-3 text-sm text-zinc-500 dark:text-zinc-400">Reading the Auto Scaling group…</p>}
      {options && answer && answer.refusals.length > 0 && (
        <div role="alert" className="border-b border-zinc-100 px-3 py-2 dark:border-zinc-800">
          <p className="text-sm font-medium text-red-700 dark:text-red-400">Start would refuse, and change nothing:</p>
          <ul aria-label="Refusals" className="list-inside list-disc text-sm text-red-700 dark:text-red-400">
            {answer.refusals.map((r) => (
              <li key={`${r.code}-${r.message}`} data-code={r.code}>
                {r.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {p && (
        <>
          <dl className="grid grid-cols-[7rem_1fr] gap-x-3 gap-y-0.5 px-3 py-2 text-sm">
            <dt className="text-zinc-500 dark:text-zinc-400">Group</dt>
            <dd aria-label="Auto Scaling group" className="font-mono">
              {p.group}
            </dd>
            <dt className="text-zinc-500 dark:text-zinc-400">Capacity</dt>
            <dd aria-label="Group capacity" className="font-mono tabular-nums">
              min {p.min} · desired {p.desired} · max {p.max}
            </dd>
            <dt className="text-zinc-500 dark:text-zinc-400">Launch</dt>
            <dd aria-label="Launch versions" className="font-mono">
              {p.from} <span className="text-zinc-500 dark:text-zinc-400">→</span> {p.to}
            </dd>
          </dl>
          <p className="px-3 pb-2 text-sm">
            {pluralize(p.replace.length, "instance")} replaced in {pluralize(p.steps.length, "batch", "batches")}
            {answer?.batchSize ? ` of up to ${answer.batchSize}` : ""}; the group ends at desired {p.desired}.
          </p>
          <ol aria-label="Instances to replace" className="divide-y divide-zinc-100 border-t border-zinc-100 dark:divide-zinc-800 dark:border-zinc-800">
            {batches.map((ids, i) => (
              <li key={i} className="grid grid-cols-[5rem_1fr] gap-2 px-3 py-1.5 text-sm">
                <span className="font-medium">Batch {i + 1}</span>
                <span className="flex flex-wrap gap-x-3 font-mono text-xs">
                  {ids.map((id) => (
                    <span key={id}>{id}</span>
                  ))}
                </span>
              </li>
            ))}
          </ol>
          <ScrollBox label="Capacity at each step">
            <table aria-label="Capacity at each step" className="w-full border-t border-zinc-100 text-sm dark:border-zinc-800">
              <thead className="text-xs text-zinc-500 dark:text-zinc-400">
                <tr>
                  <th scope="col" className={th}>Batch</th>
                  <th scope="col" className={th}>Replace</th>
                  <th scope="col" className={th}>Surge</th>
                  <th scope="col" className={th} title="Desired capacity after the surge">Peak desired</th>
                  <th scope="col" className={th} title="In service while the old batch is out and its replacements are not yet in service">Lowest in service</th>
                  <th scope="col" className={th}>End desired</th>
                </tr>
              </thead>
              <tbody>
                {p.steps.map((st) => (
                  <tr key={st.batch} className={st.peakDesired > p.max || st.lowestInService === 0 ? "text-red-700 dark:text-red-400" : ""}>
                    <th scope="row" className={`${th} font-normal`}>{st.batch}</th>
                    <td className={td}>{st.replace}</td>
                    <td className={td}>{st.surge}</td>
                    <td className={td}>{st.peakDesired}</td>
                    <td className={td}>{st.lowestInService}</td>
                    <td className={td}>{st.endDesired}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollBox>
          {p.notes.length > 0 && (
            <ul aria-label="Group notes" className="list-inside list-disc border-t border-zinc-100 px-3 py-2 text-sm text-amber-800 dark:border-zinc-800 dark:text-amber-300">
              {p.notes.map((n) => (
                <li key={n}>{n}</li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
