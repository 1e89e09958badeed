/**
 * The audit trail: every rollout event (operator and engine, applied, rejected and info) and every
 * access fact, newest first, filtered, and exported as JSON Lines or CSV. Read-only by
 * construction: this module only SELECTs.
 */
import { z } from "zod";
import type { AuditFilter, AuditPage, AuditRow } from "@/lib/audit";
import type { Db } from "@/server/store/db";

const time = z.preprocess((v) => {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "number") return v;
  const s = String(v).trim();
  if (/^\d+$/.test(s)) return Number(s);
  // datetime-local inputs send "2026-12-01T07:30" (no zone): read it as UTC, as the page shows times.
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? v : ms;
}, z.number({ error: "a time is an ISO date-time or epoch milliseconds" }).int().nonnegative().optional());

const text = z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), z.string().trim().max(200).optional());

export const auditQuerySchema = z.object({
  actor: text,
  rollout: text,
  type: text,
  outcome: z.preprocess((v) => (v === "" ? undefined : v), z.enum(["applied", "rejected", "info"]).optional()),
  kind: z.preprocess((v) => (v === "" || v === "all" ? undefined : v), z.enum(["rollout", "access"]).optional()),
  from: time,
  to: time,
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(100_000).default(200),
});
export type AuditQuery = z.infer<typeof auditQuerySchema>;

/** Parses a query string (URLSearchParams or a page's searchParams). */
export function parseAuditQuery(params: URLSearchParams | Record<string, string | string[] | undefined>) {
  const get = (k: string) => {
    if (params instanceof URLSearchParams) return params.get(k) ?? undefined;
    const v = params[k];
    return Array.isArray(v) ? v[0] : v;
  };
  return auditQuerySchema.safeParse(Object.fromEntries(["actor", "rollout", "type", "outcome", "kind", "from", "to", "offset", "limit"].map((k) => [k, get(k)])));
}

interface Row {
  kind: "rollout" | "access";
  seq: number;
  at: number;
  actor: string;
  type: string;
  outcome: AuditRow["outcome"];
  reason: string | null;
  rollout_id: string | null;
  lb: string | null;
  payload: string | null;
  details: string | null;
}

function json(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { raw: text };
  }
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : []);

/** The batch an event is about: its own `batch`, the effect's, or the one in its effect id (`f1:deploy#2` → 1). */
export function batchOf(payload: Record<string, unknown>, details: Record<string, unknown> | null): number | null {
  const effect = (details?.effect ?? null) as Record<string, unknown> | null;
  for (const v of [payload.batch, effect?.batch, details?.batch]) if (typeof v === "number" && Number.isInteger(v)) return v;
  const m = typeof payload.effectId === "string" ? payload.effectId.match(/^[a-z]+(\d+):/) : null;
  return m ? Number(m[1]) : null;
}

/** The instances an event is about: the skipped one, the effect's ids, the results' ids. */
export function instancesOf(payload: Record<string, unknown>, details: Record<string, unknown> | null): string[] {
  const effect = (details?.effect ?? null) as Record<string, unknown> | null;
  const results = Array.isArray(payload.results) ? payload.results.map((r) => (r as { id?: unknown }).id) : [];
  const found = [...strings(payload.instanceId), ...strings(payload.instance), ...strings(payload.ids), ...strings(effect?.ids), ...strings(details?.ids), ...strings(results)];
  return [...new Set(found)];
}

function toRow(r: Row): AuditRow {
  const payload = json(r.payload) ?? {};
  const details = json(r.details);
  return {
    kind: r.kind,
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    type: r.type,
    outcome: r.outcome,
    reason: r.reason,
    rolloutId: r.rollout_id,
    lb: r.lb,
    batch: r.kind === "rollout" ? batchOf(payload, details) : null,
    instances: r.kind === "rollout" ? instancesOf(payload, details) : [],
    payload,
    details,
  };
}

function where(filter: AuditFilter, table: "e" | "a"): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    clauses.push(sql);
    params.push(value);
  };
  if (filter.actor) add(`${table}.actor = ?`, filter.actor);
  if (filter.type) add(`${table}.type = ?`, filter.type);
  if (filter.outcome) add(`${table}.outcome = ?`, filter.outcome);
  if (filter.from !== undefined) add(`${table}.at >= ?`, filter.from);
  if (filter.to !== undefined) add(`${table}.at <= ?`, filter.to);
  if (table === "e" && filter.rollout) add("e.rollout_id = ?", filter.rollout);
  return { sql: clauses.length ? `WHERE ${clauses.join(" AND ")}` : "", params };
}

function parts(filter: AuditFilter): { sql: string; params: unknown[] } {
  const sqls: string[] = [];
  const params: unknown[] = [];
  if (filter.kind !== "access") {
    const w = where(filter, "e");
    sqls.push(`SELECT 'rollout' AS kind, e.seq, e.at, e.actor, e.type, e.outcome, e.reason, e.rollout_id, r.lb, e.payload, e.details
      FROM events e LEFT JOIN rollouts r ON r.id = e.rollout_id ${w.sql}`);
    params.push(...w.params);
  }
  // Access facts belong to no rollout: a rollout filter leaves them out.
  if (filter.kind !== "rollout" && !filter.rollout) {
    const w = where(filter, "a");
    sqls.push(`SELECT 'access' AS kind, a.seq, a.at, a.actor, a.type, a.outcome, a.reason, NULL AS rollout_id, NULL AS lb, NULL AS payload, a.details
      FROM auth_events a ${w.sql}`);
    params.push(...w.params);
  }
  return { sql: sqls.join(" UNION ALL "), params };
}

/** Matching rows, newest first. */
export function auditRows(db: Db, filter: AuditFilter, opts: { offset?: number; limit?: number } = {}): AuditRow[] {
  const { sql, params } = parts(filter);
  if (!sql) return [];
  const rows = db.prepare<unknown[], Row>(`${sql} ORDER BY at DESC, kind DESC, seq DESC LIMIT ? OFFSET ?`).all(...params, opts.limit ?? 200, opts.offset ?? 0);
  return rows.map(toRow);
}

/** One page for the audit page, with suggestions for the filter form. */
export function auditPage(db: Db, query: AuditQuery): AuditPage {
  const { offset, limit, ...rest } = query;
  const filter = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as AuditFilter;
  const rows = auditRows(db, filter, { offset, limit: limit + 1 });
  const distinct = (col: "actor" | "type") =>
    db
      .prepare<[], { v: string }>(`SELECT ${col} AS v FROM events UNION SELECT ${col} FROM auth_events ORDER BY v LIMIT 500`)
      .all()
      .map((r) => r.v);
  return { rows: rows.slice(0, limit), filter, offset, limit, more: rows.length > limit, actors: distinct("actor"), types: distinct("type") };
}

/** Plain JSON for one row (times as ISO and ms): a line of the JSON Lines export. */
export function exportRecord(r: AuditRow): Record<string, unknown> {
  return {
    time: new Date(r.at).toISOString(),
    at: r.at,
    kind: r.kind,
    seq: r.seq,
    actor: r.actor,
    type: r.type,
    outcome: r.outcome,
    reason: r.reason,
    rolloutId: r.rolloutId,
    lb: r.lb,
    batch: r.batch,
    instances: r.instances,
    payload: r.payload,
    details: r.details,
  };
}

export function toJsonLines(rows: readonly AuditRow[]): string {
  return rows.map((r) => JSON.stringify(exportRecord(r)) + "\n").join("");
}

export const CSV_COLUMNS = ["time", "kind", "seq", "actor", "type", "outcome", "rollout", "lb", "batch", "instances", "reason", "payload", "details"] as const;

/**
 * RFC 4180 quoting; text that a spreadsheet would run as a formula (=, +, -, @, tab, CR) is
 * prefixed with ' — actor names come from sign-in attempts, i.e. from anyone.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return "";
  if (typeof value === "number") return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(rows: readonly AuditRow[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push(
      [
        new Date(r.at).toISOString(),
        r.kind,
        r.seq,
        r.actor,
        r.type,
        r.outcome,
        r.rolloutId,
        r.lb,
        r.batch,
        r.instances.join(" "),
        r.reason,
        Object.keys(r.payload).length ? JSON.stringify(r.payload) : null,
        r.details ? JSON.stringify(r.details) : null,
      ]
        .map(csvCell)
        .join(","),
    );
  }
  return lines.join("\r\n") + "\r\n";
}
