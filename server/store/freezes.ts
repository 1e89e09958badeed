/**
 * Deploy freezes: an admin freezes a load balancer with a reason until a time; new rollouts on it are
 * refused until then (the database refuses the insert too: migration 5's trigger), while rollouts
 * already running can still be paused, aborted and rolled back. Lifting ends a freeze early. Rows are
 * kept (who froze, who lifted, when) for the record.
 */
import type { Db } from "./db";

export interface Freeze {
  id: number;
  lb: string;
  reason: string;
  endsAt: number;
  createdBy: string;
  createdAt: number;
  liftedBy: string | null;
  liftedAt: number | null;
}

interface Row {
  id: number;
  lb: string;
  reason: string;
  ends_at: number;
  created_by: string;
  created_at: number;
  lifted_by: string | null;
  lifted_at: number | null;
}

const toFreeze = (r: Row): Freeze => ({ id: r.id, lb: r.lb, reason: r.reason, endsAt: r.ends_at, createdBy: r.created_by, createdAt: r.created_at, liftedBy: r.lifted_by, liftedAt: r.lifted_at });

/** A start refused by a freeze: says until when, by whom and why. */
export class FrozenError extends Error {
  constructor(readonly freeze: Freeze) {
    super(describeFreeze(freeze));
    this.name = "FrozenError";
  }
}

export function describeFreeze(f: Freeze): string {
  return `${f.lb} is frozen until ${new Date(f.endsAt).toISOString().replace("T", " ").slice(0, 16)} UTC by ${f.createdBy}: ${f.reason} — new rollouts are refused until then; running ones can still be paused, aborted or rolled back`;
}

/** The freeze in force on `lb` at `now` (the one ending last), or null. */
export function activeFreeze(db: Db, lb: string, now = Date.now()): Freeze | null {
  const row = db.prepare<[string, number], Row>("SELECT * FROM freezes WHERE lb = ? AND lifted_at IS NULL AND ends_at > ? ORDER BY ends_at DESC LIMIT 1").get(lb, now);
  return row ? toFreeze(row) : null;
}

/** Every freeze in force at `now`, by load balancer. */
export function activeFreezes(db: Db, now = Date.now()): Freeze[] {
  return db.prepare<[number], Row>("SELECT * FROM freezes WHERE lifted_at IS NULL AND ends_at > ? ORDER BY lb, ends_at DESC").all(now).map(toFreeze);
}

export function addFreeze(db: Db, f: { lb: string; reason: string; endsAt: number; createdBy: string; createdAt?: number }): Freeze {
  const at = f.createdAt ?? Date.now();
  const info = db.prepare("INSERT INTO freezes (lb, reason, ends_at, created_by, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id").run(f.lb, f.reason, f.endsAt, f.createdBy, at);
  return { id: Number(info.lastInsertRowid), lb: f.lb, reason: f.reason, endsAt: f.endsAt, createdBy: f.createdBy, createdAt: at, liftedBy: null, liftedAt: null };
}

/** Lifts every freeze in force on `lb`; answers those lifted. */
export function liftFreezes(db: Db, lb: string, by: string, now = Date.now()): Freeze[] {
  const lifted = db.prepare<[string, number], Row>("SELECT * FROM freezes WHERE lb = ? AND lifted_at IS NULL AND ends_at > ?").all(lb, now).map(toFreeze);
  db.prepare("UPDATE freezes SET lifted_by = ?, lifted_at = ? WHERE lb = ? AND lifted_at IS NULL AND ends_at > ?").run(by, now, lb, now);
  return lifted.map((f) => ({ ...f, liftedBy: by, liftedAt: now }));
}
