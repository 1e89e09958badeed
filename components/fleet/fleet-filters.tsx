"use client";

import { LB_STATES } from "@/components/ui/badges";
import { inputCls } from "@/components/ui/table";
import type { LbState } from "@/lib/rollout/types";

export function FleetFilters(props: {
  states: ReadonlySet<LbState>;
  setStates: (s: ReadonlySet<LbState>) => void;
  versions: string[];
  version: string;
  setVersion: (v: string) => void;
  text: string;
  setText: (t: string) => void;
}) {
  const toggle = (s: LbState) => {
    const next = new Set(props.states);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    props.setStates(next);
  };
  return (
    <div className="flex flex-wrap items-center gap-2 text-xs">
      <fieldset className="flex flex-wrap items-center gap-1">
        <legend className="sr-only">Filter by state</legend>
        {LB_STATES.map((s) => (
          <label key={s} className="flex cursor-pointer items-center gap-1 rounded border border-zinc-200 px-1.5 py-0.5 has-checked:border-sky-500 has-checked:bg-sky-50 dark:border-zinc-700 dark:has-checked:bg-sky-500/10">
            <input type="checkbox" className="size-3" checked={props.states.has(s)} onChange={() => toggle(s)} />
            {s}
          </label>
        ))}
      </fieldset>
      <label className="flex items-center gap-1">
        <span className="text-zinc-500 dark:text-zinc-400">Version</span>
        <select className={`${inputCls} py-0.5 text-xs`} value={props.version} onChange={(e) => props.setVersion(e.target.value)}>
          <option value="all">all</option>
          {props.versions.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </label>
      <input type="search" aria-label="Filter by id, name or zone" placeholder="id, name, zone" className={`${inputCls} w-36 py-0.5 text-xs`} value={props.text} onChange={(e) => props.setText(e.target.value)} />
    </div>
  );
}
