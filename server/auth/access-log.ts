/**
 * Access facts for the audit trail: sign-in (and refused sign-in), sign-out, tokens created and
 * revoked, operators added, settings changed, refused requests. Append-only (`auth_events` has
 * triggers that refuse UPDATE and DELETE); never a password, a token or a session id.
 */
import type { Db } from "@/server/store/db";
import { componentLog } from "@/server/log";

export type AccessEventType =
  | "sign-in"
  | "sign-out"
  | "fault-injected"
  | "faults-cleared"
  | "token-created"
  | "token-revoked"
  | "operator-added"
  | "operator-disabled"
  | "setting-changed"
  | "lock-lifted"
  | "freeze-added"
  | "freeze-lifted"
  | "access-refused";

export interface AccessEvent {
  at?: number;
  actor: string;
  type: AccessEventType;
  outcome: "applied" | "rejected" | "info";
  reason?: string | null;
  details?: Record<string, unknown> | null;
}

export function recordAccess(db: Db, e: AccessEvent): number {
  const info = db
    .prepare("INSERT INTO auth_events (at, actor, type, outcome, reason, details) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq")
    .run(e.at ?? Date.now(), e.actor, e.type, e.outcome, e.reason ?? null, e.details ? JSON.stringify(e.details) : null);
  return Number(info.lastInsertRowid);
}

/**
 * A refusal for the audit trail: who (`anonymous` when no credential checked out), which action,
 * on what target (a path, a rollout id, an operator name), and why. Never throws: a refusal stands
 * even when it cannot be written down (the log says so).
 */
export function recordRefusal(
  db: Db,
  r: { actor: string; action: string; target?: string | null; reason: string; via?: string; details?: Record<string, unknown>; once?: string },
  at = Date.now(),
): void {
  if (r.once !== undefined && repeated(db, r.once, at)) return;
  try {
    recordAccess(db, {
      at,
      actor: r.actor,
      type: "access-refused",
      outcome: "rejected",
      reason: r.reason,
      details: { action: r.action, ...(r.target ? { target: r.target } : {}), ...(r.via ? { via: r.via } : {}), ...r.details },
    });
  } catch (err) {
    componentLog("auth").warn({ err, action: r.action }, "could not record a refused request");
  }
}

/**
 * A dead credential left in a browser tab is refused on every poll (every 2 s): one row per
 * credential per minute says it as well as thousands would. Bounded: the oldest keys go first.
 * Remembered per store connection: another store (a test's next database) has its own record.
 */
const REPEAT_MS = 60_000;
const seenBy = new WeakMap<Db, Map<string, number>>();

function repeated(db: Db, key: string, at: number): boolean {
  let lastSeen = seenBy.get(db);
  if (!lastSeen) seenBy.set(db, (lastSeen = new Map()));
  const last = lastSeen.get(key);
  if (last !== undefined && at - last < REPEAT_MS) return true;
  lastSeen.delete(key);
  lastSeen.set(key, at);
  while (lastSeen.size > 10_000) {
    const first = lastSeen.keys().next();
    if (first.done) break;
    lastSeen.delete(first.value);
  }
  return false;
}
