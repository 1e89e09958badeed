import type { AuditFilter } from "@/lib/audit";
import { filterQuery, toInputTime } from "./audit-query";
import { buttonCls, inputCls } from "@/components/ui/table";

const label = "block text-xs font-medium text-zinc-700 dark:text-zinc-300";

/** The filter form (a plain GET form: works without JavaScript) and the export links. */
export function AuditFilters({ filter, actors, types, error }: { filter: AuditFilter; actors: string[]; types: string[]; error?: string }) {
  return (
    <form method="get" action="/audit" aria-label="Filter the audit trail" className="flex flex-wrap items-end gap-3 rounded-md border border-zinc-200 bg-white p-3 dark:border-zinc-800 dark:bg-zinc-900">
      <div>
        <label htmlFor="f-actor" className={label}>Actor</label>
        <input id="f-actor" name="actor" list="f-actors" defaultValue={filter.actor ?? ""} className={`${inputCls} w-40`} placeholder="anyone" />
        <datalist id="f-actors">
          {actors.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
      </div>
      <div>
        <label htmlFor="f-rollout" className={label}>Rollout</label>
        <input id="f-rollout" name="rollout" defaultValue={filter.rollout ?? ""} className={`${inputCls} w-56 font-mono`} placeholder="any" />
      </div>
      <div>
        <label htmlFor="f-type" className={label}>Event</label>
        <select id="f-type" name="type" defaultValue={filter.type ?? ""} className={inputCls}>
          <option value="">any</option>
          {types.map((t) => (
            <option key={t} value={t}>{t}</option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="f-outcome" className={label}>Outcome</label>
        <select id="f-outcome" name="outcome" defaultValue={filter.outcome ?? ""} className={inputCls}>
          <option value="">any</option>
          <option value="applied">applied</option>
          <option value="rejected">rejected</option>
          <option value="info">info</option>
        </select>
      </div>
      <div>
        <label htmlFor="f-kind" className={label}>Kind</label>
        <select id="f-kind" name="kind" defaultValue={filter.kind ?? ""} className={inputCls}>
          <option value="">rollouts and access</option>
          <option value="rollout">rollout events</option>
          <option value="access">access (sign-in, tokens)</option>
        </select>
      </div>
      <div>
        <label htmlFor="f-from" className={label}>From (UTC)</label>
        <input id="f-from" name="from" type="datetime-local" defaultValue={toInputTime(filter.from)} className={inputCls} />
      </div>
      <div>
        <label htmlFor="f-to" className={label}>To (UTC)</label>
        <input id="f-to" name="to" type="datetime-local" defaultValue={toInputTime(filter.to)} className={inputCls} />
      </div>
      <button type="submit" className={buttonCls.primary}>Apply</button>
      <a href="/audit" className={buttonCls.secondary}>Clear</a>
      <span className="ml-auto flex gap-2 text-sm">
        <a href={`/api/audit?${filterQuery(filter, { format: "jsonl" })}`} className={buttonCls.secondary} download>
          Export JSON Lines
        </a>
        <a href={`/api/audit?${filterQuery(filter, { format: "csv" })}`} className={buttonCls.secondary} download>
          Export CSV
        </a>
      </span>
      {error ? <p role="alert" className="w-full text-sm text-red-700 dark:text-red-400">{error}</p> : null}
    </form>
  );
}
