import type { AuditFilter } from "@/lib/audit";

/** The query string of a filter (for export links and paging); times as epoch ms. */
export function filterQuery(filter: AuditFilter, extra: Record<string, string | number> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filter, ...extra })) if (v !== undefined && v !== "") q.set(k, String(v));
  return q.toString();
}

/** epoch ms → the value of a `datetime-local` input, in UTC like every time on the page. */
export function toInputTime(at: number | undefined): string {
  return at === undefined ? "" : new Date(at).toISOString().slice(0, 16);
}
