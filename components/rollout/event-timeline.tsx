"use client";

import { useMemo, useState } from "react";
import { OBSERVATIONS, describeEvent, effectNames } from "@/components/rollout/describe-event";
import { Badge } from "@/components/ui/badges";
import { formatClock, formatTime } from "@/components/ui/format";
import { buttonCls, Panel, ScrollBox } from "@/components/ui/table";
import type { StoredEvent } from "@/lib/views";

const SHOWN = 60;

/** Who did what, when: newest first; operator actions stand out from the engine's steps. */
export function EventTimeline({ events }: { events: StoredEvent[] }) {
  const [all, setAll] = useState(false);
  const [operatorOnly, setOperatorOnly] = useState(false);
  const [observations, setObservations] = useState(false);
  const effects = useMemo(() => effectNames(events), [events]);
  const list = events.filter((e) => (!operatorOnly || e.actor !== "engine") && (observations || !OBSERVATIONS.has(e.type))).reverse();
  const shown = all ? list : list.slice(0, SHOWN);
  return (
    <Panel
      id="timeline-heading"
      title={`Timeline (${events.length})`}
      actions={
        <>
          <label className="flex items-center gap-1.5 text-xs">
            <input type="checkbox" checked={observations} onChange={(e) => setObservations(e.target.checked)} />
            Show observations
          </label>
          <label className="flex items-center gap-1.5 text-xs">
            <input type="checkbox" checked={operatorOnly} onChange={(e) => setOperatorOnly(e.target.checked)} />
            Operator actions only
          </label>
        </>
      }
    >
      <ScrollBox label="Timeline events" className="max-h-[32rem] overflow-y-auto">
        <ol aria-label="Events, newest first" className="divide-y divide-zinc-100 text-sm dark:divide-zinc-800/70">
          {shown.map((e) => (
            <li key={e.seq} className={`grid grid-cols-[4.5rem_8rem_1fr] gap-2 px-3 py-1 ${e.actor !== "engine" ? "bg-sky-50/60 dark:bg-sky-500/5" : ""} ${e.type === "step-failed" || e.type === "step-timed-out" ? "text-red-700 dark:text-red-400" : ""}`}>
              <time dateTime={new Date(e.at).toISOString()} title={formatTime(e.at)} className="font-mono text-xs text-zinc-500 dark:text-zinc-400 tabular-nums">
                {formatClock(e.at)}
              </time>
              <span className={`truncate font-mono text-xs ${e.actor !== "engine" ? "font-semibold" : "text-zinc-500 dark:text-zinc-400"}`}>{e.actor}</span>
              <span className="flex flex-wrap items-baseline gap-x-2">
                <span className={e.outcome === "rejected" ? "text-zinc-500 dark:text-zinc-400 line-through" : ""}>{describeEvent(e, effects)}</span>
                {e.outcome === "rejected" && (
                  <Badge t="bad" title={e.reason ?? undefined}>
                    refused{e.reason ? `: ${e.reason}` : ""}
                  </Badge>
                )}
              </span>
            </li>
          ))}
          {shown.length === 0 && <li className="px-3 py-3 text-zinc-500 dark:text-zinc-400">No events yet.</li>}
        </ol>
      </ScrollBox>
      {!all && list.length > SHOWN && (
        <div className="border-t border-zinc-200 px-3 py-2 dark:border-zinc-800">
          <button type="button" className={buttonCls.secondary} onClick={() => setAll(true)}>
            Show all {list.length} events
          </button>
        </div>
      )}
    </Panel>
  );
}
