import type { FleetRow } from "@/lib/views";
import type { LbState } from "@/lib/rollout/types";

export type FleetSortKey = "id" | "zone" | "state" | "inFlight" | "version" | "health" | "step";
export interface FleetFilter {
  states: ReadonlySet<LbState>;
  version: string | "all";
  text: string;
}

const stateRank: Record<LbState, number> = { "out-of-service": 0, draining: 1, registering: 2, unknown: 3, "in-service": 4 };

/** Natural order for ids like i-local-2 < i-local-10. */
const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

function compare(a: FleetRow, b: FleetRow, key: FleetSortKey): number {
  switch (key) {
    case "id":
      return collator.compare(a.id, b.id);
    case "zone":
      return collator.compare(a.zone, b.zone);
    case "state":
      return stateRank[a.state] - stateRank[b.state];
    case "inFlight":
      return (a.inFlight ?? -1) - (b.inFlight ?? -1);
    case "version":
      return collator.compare(a.version ?? "", b.version ?? "");
    case "health":
      return Number(a.healthCheck?.ok ?? false) - Number(b.healthCheck?.ok ?? false);
    case "step":
      return (a.rollout?.batch ?? 1e9) - (b.rollout?.batch ?? 1e9) || collator.compare(a.rollout?.step ?? "", b.rollout?.step ?? "");
  }
}

export function filterAndSort(rows: readonly FleetRow[], filter: FleetFilter, sort: { key: FleetSortKey; dir: "asc" | "desc" }): FleetRow[] {
  const text = filter.text.trim().toLowerCase();
  const out = rows.filter(
    (r) =>
      (filter.states.size === 0 || filter.states.has(r.state)) &&
      (filter.version === "all" || (r.version ?? "unknown") === filter.version) &&
      (text === "" || r.id.toLowerCase().includes(text) || (r.name ?? "").toLowerCase().includes(text) || r.zone.toLowerCase().includes(text)),
  );
  const sign = sort.dir === "asc" ? 1 : -1;
  return out.sort((a, b) => sign * compare(a, b, sort.key) || collator.compare(a.id, b.id));
}
