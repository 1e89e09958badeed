/**
 * Server-side sessions. The browser holds a random 256-bit value in the `rotor_session` cookie;
 * the database holds its SHA-256 with the operator, role, expiry and revocation. Signing out
 * revokes the row, so a copied cookie stops working at once.
 */
import type { Db } from "@/server/store/db";
import type { Operator, OperatorRole } from "./roles";
import { announceRevocation } from "./revocations";
import { digest, newSecret } from "./secrets";

export const SESSION_COOKIE = "rotor_session";
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export function sessionTtlMs(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const hours = Number(env.ROTOR_SESSION_HOURS);
  return Number.isFinite(hours) && hours > 0 && hours <= 24 * 30 ? hours * 3_600_000 : DEFAULT_SESSION_TTL_MS;
}

export interface Session {
  operator: Operator;
  source: "local" | "oidc";
  createdAt: number;
  expiresAt: number;
}

export function createSession(
  db: Db,
  who: { name: string; role: OperatorRole; source: "local" | "oidc" },
  opts: { now?: number; ttlMs?: number } = {},
): { token: string; expiresAt: number } {
  const now = opts.now ?? Date.now();
  const expiresAt = now + (opts.ttlMs ?? sessionTtlMs());
  const token = newSecret();
  db.prepare("INSERT INTO auth_sessions (id_hash, operator, role, source, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)").run(
    digest(token),
    who.name,
    who.role,
    who.source,
    now,
    expiresAt,
  );
  return { token, expiresAt };
}

interface SessionRow {
  operator: string;
  role: OperatorRole;
  source: "local" | "oidc";
  created_at: number;
  expires_at: number;
}

/**
 * The live session of a cookie value, or null (unknown, expired, revoked). `currentRole` lets
 * local sessions follow the account: a removed account's sessions stop working, a changed role
 * applies at once. OIDC sessions keep the role mapped at sign-in until they expire.
 */
export function resolveSession(
  db: Db,
  token: string | undefined | null,
  opts: { now?: number; currentRole?: (name: string) => OperatorRole | null } = {},
): Session | null {
  if (!token || token.length > 200) return null;
  const now = opts.now ?? Date.now();
  const row = db
    .prepare<[string, number], SessionRow>(
      "SELECT operator, role, source, created_at, expires_at FROM auth_sessions WHERE id_hash = ? AND revoked_at IS NULL AND expires_at > ?",
    )
    .get(digest(token), now);
  if (!row) return null;
  let role = row.role;
  if (row.source === "local" && opts.currentRole) {
    const current = opts.currentRole(row.operator);
    if (!current) return null;
    role = current;
  }
  return { operator: { name: row.operator, role }, source: row.source, createdAt: row.created_at, expiresAt: row.expires_at };
}

/** Revokes one session (sign-out). True when a live session was revoked. */
export function revokeSession(db: Db, token: string | undefined | null, now = Date.now()): boolean {
  if (!token) return false;
  const revoked = db.prepare("UPDATE auth_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL").run(now, digest(token)).changes === 1;
  if (revoked) announceRevocation();
  return revoked;
}

/** Revokes every session of an operator (password changed, account disabled). */
export function revokeSessionsOf(db: Db, operator: string, now = Date.now()): number {
  const n = db.prepare("UPDATE auth_sessions SET revoked_at = ? WHERE operator = ? AND revoked_at IS NULL").run(now, operator).changes;
  if (n > 0) announceRevocation();
  return n;
}

/** Forgets sessions that ended more than a day ago (they can never be used again). */
export function purgeSessions(db: Db, now = Date.now()): number {
  const cutoff = now - 24 * 3_600_000;
  return db.prepare("DELETE FROM auth_sessions WHERE expires_at < ? OR (revoked_at IS NOT NULL AND revoked_at < ?)").run(cutoff, cutoff).changes;
}
