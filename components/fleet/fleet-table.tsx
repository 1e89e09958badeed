"use client";

import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { filterAndSort, type FleetSortKey } from "@/components/fleet/fleet-sort";
import { FleetFilters } from "@/components/fleet/fleet-filters";
import { instancesQuery } from "@/components/queries";
import { FleetRowView as Row } from "@/components/fleet/fleet-row";
import { buttonCls, Panel, ScrollBox, SortHeader, td } from "@/components/ui/table";
import type { LbState } from "@/lib/rollout/types";

const PAGE = 200;

export function FleetTable({ lb }: { lb: string }) {
  const { data, error } = useQuery(instancesQuery(lb));
  const [sort, setSort] = useState<{ key: FleetSortKey; dir: "asc" | "desc" }>({ key: "id", dir: "asc" });
  const [states, setStates] = useState<ReadonlySet<LbState>>(new Set());
  const [version, setVersion] = useState<string>("all");
  const [text, setText] = useState("");
  const [page, setPage] = useState(0);

  const rows = useMemo(() => data?.instances ?? [], [data]);
  const versions = useMemo(() => [...new Set(rows.map((r) => r.version ?? "unknown"))].sort(), [rows]);
  const shown = useMemo(() => filterAndSort(rows, { states, version, text }, sort), [rows, states, version, text, sort]);
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const current = Math.min(page, pages - 1);
  const slice = shown.slice(current * PAGE, (current + 1) * PAGE);

  const onSort = (key: FleetSortKey) => setSort((s) => (s.key === key ? { key, dir: s.dir === "asc" ? "desc" : "asc" } : { key, dir: "asc" }));

  return (
    <Panel
      id="fleet-heading"
      title={`Instances (${shown.length === rows.length ? rows.length : `${shown.length} of ${rows.length}`})`}
      actions={<FleetFilters states={states} setStates={setStates} versions={versions} version={version} setVersion={setVersion} text={text} setText={(t) => (setText(t), setPage(0))} />}
    >
      {(error || data?.error) && (
        <p role="alert" className="border-b border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-500/30 dark:bg-red-500/10 dark:text-red-300">
          {data?.error ?? (error instanceof Error ? error.message : "Could not load instances")}
        </p>
      )}
      <ScrollBox label={`Instances behind ${lb}`}>
        <table className="w-full text-sm">
          <caption className="sr-only">Instances behind {lb}</caption>
          <thead className="border-b border-zinc-200 dark:border-zinc-800">
            <tr>
              <SortHeader label="Instance" k="id" sort={sort} onSort={onSort} />
              <SortHeader label="Zone" k="zone" sort={sort} onSort={onSort} />
              <SortHeader label="LB state" k="state" sort={sort} onSort={onSort} />
              <SortHeader label="In flight" k="inFlight" sort={sort} onSort={onSort} className="text-right" />
              <SortHeader label="Version" k="version" sort={sort} onSort={onSort} />
              <SortHeader label="Health check" k="health" sort={sort} onSort={onSort} />
              <SortHeader label="Rollout step" k="step" sort={sort} onSort={onSort} />
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800/70">
            {slice.map((r) => (
              <Row key={r.id} r={r} />
            ))}
            {slice.length === 0 && (
              <tr>
                <td colSpan={7} className={`${td} py-6 text-center text-zinc-500 dark:text-zinc-400`}>
                  {data ? "No instance matches the filter." : "Loading instances…"}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </ScrollBox>
      {pages > 1 && (
        <nav aria-label="Instance pages" className="flex items-center gap-2 border-t border-zinc-200 px-3 py-2 text-xs dark:border-zinc-800">
          <button type="button" className={buttonCls.secondary} disabled={current === 0} onClick={() => setPage(current - 1)}>
            Previous
          </button>
          <span>
            Page {current + 1} of {pages}
          </span>
          <button type="button" className={buttonCls.secondary} disabled={current >= pages - 1} onClick={() => setPage(current + 1)}>
            Next
          </button>
        </nav>
      )}
    </Panel>
  );
}
