/**
 * API tokens for automation (a CI pipeline starting a rollout). An admin creates one for a role;
 * the token is shown once and stored as its SHA-256; it can be revoked. A token acts for the human
 * who created it: `api:<name> for <creator>` in the audit trail, and the two-person rule compares
 * that human. A token whose creator is disabled stops working at once.
 */
import { isUniqueViolation } from "@/server/store/sql";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Db } from "@/server/store/db";
import { ROLES, type Operator, type OperatorRole } from "./roles";
import { announceRevocation } from "./revocations";
import { digest, newSecret } from "./secrets";

export const TOKEN_PREFIX = "rotor_";
export const TOKEN_ACTOR_PREFIX = "api:";

export const tokenInputSchema = z.object({
  name: z.string().trim().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "a token name is 1–64 lower-case letters, digits and . _ -"),
  role: z.enum(ROLES),
  /** Days until it stops working; none: until revoked. */
  expiresInDays: z.coerce.number().int().min(1).max(3650).optional(),
});
export type TokenInput = z.infer<typeof tokenInputSchema>;

export type { ApiTokenInfo } from "@/lib/auth";
import type { ApiTokenInfo } from "@/lib/auth";

interface TokenRow {
  id: string;
  name: string;
  role: OperatorRole;
  token_hash: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

function info(r: TokenRow): ApiTokenInfo {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    createdAt: r.created_at,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
    revokedBy: r.revoked_by,
  };
}

export class TokenNameTaken extends Error {
  constructor(name: string) {
    super(`a working token named "${name}" exists; revoke it first or pick another name`);
    this.name = "TokenNameTaken";
  }
}

/** Creates a token; `token` is the only time the secret exists outside the caller's hands. */
export function createApiToken(db: Db, input: TokenInput, createdBy: string, now = Date.now()): { token: string; info: ApiTokenInfo } {
  const parsed = tokenInputSchema.parse(input);
  const token = newSecret(TOKEN_PREFIX);
  const row: TokenRow = {
    id: randomUUID(),
    name: parsed.name,
    role: parsed.role,
    token_hash: digest(token),
    created_at: now,
    created_by: createdBy,
    expires_at: parsed.expiresInDays ? now + parsed.expiresInDays * 86_400_000 : null,
    last_used_at: null,
    revoked_at: null,
    revoked_by: null,
  };
  try {
    db.prepare(
      `INSERT INTO auth_tokens (id, name, role, token_hash, created_at, created_by, expires_at, last_used_at, revoked_at, revoked_by)
       VALUES (@id, @name, @role, @token_hash, @created_at, @created_by, @expires_at, NULL, NULL, NULL)`,
    ).run(row);
  } catch (err) {
    if (isUniqueViolation(err)) throw new TokenNameTaken(parsed.name);
    throw new Error(`could not create token ${parsed.name}`, { cause: err });
  }
  return { token, info: info(row) };
}

/** The operator a bearer token acts as, or null (unknown, revoked, expired). Records its last use. */
export function verifyApiToken(db: Db, token: string | null | undefined, now = Date.now()): (Operator & { tokenId: string }) | null {
  if (!token || !token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
  const row = db
    .prepare<[string, number], TokenRow>("SELECT * FROM auth_tokens WHERE token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)")
    .get(digest(token), now);
  if (!row) return null;
  const creatorDisabled = db.prepare<[string], { n: number }>("SELECT 1 AS n FROM auth_operators WHERE name = ? AND disabled_at IS NOT NULL").get(row.created_by);
  if (creatorDisabled) return null;
  db.prepare("UPDATE auth_tokens SET last_used_at = ? WHERE id = ?").run(now, row.id);
  return { name: tokenActor(row.name, row.created_by), role: row.role, tokenId: row.id };
}

/** The actor a token acts as: `api:ci for alice`. */
export function tokenActor(name: string, creator: string): string {
  return `${TOKEN_ACTOR_PREFIX}${name} for ${creator}`;
}

/**
 * The human behind an actor: the creator of a token (`api:ci for alice` → `alice`), the operator a
 * Slack user is mapped to (`slack:U123 as alice` → `alice`), else the actor itself.
 */
export function humanOf(actor: string): string {
  const m = actor.match(/^api:[a-z0-9._-]+ for (.+)$/) ?? actor.match(/^slack:[A-Za-z0-9._-]+ as (.+)$/);
  return m?.[1] ?? actor;
}

export function listApiTokens(db: Db): ApiTokenInfo[] {
  return db.prepare<[], TokenRow>("SELECT * FROM auth_tokens ORDER BY revoked_at IS NOT NULL, created_at DESC").all().map(info);
}

/** Revokes a token; false when it was unknown or already revoked. */
export function revokeApiToken(db: Db, id: string, by: string, now = Date.now()): ApiTokenInfo | null {
  const changed = db.prepare("UPDATE auth_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL").run(now, by, id).changes === 1;
  if (!changed) return null;
  announceRevocation();
  const row = db.prepare<[string], TokenRow>("SELECT * FROM auth_tokens WHERE id = ?").get(id);
  return row ? info(row) : null;
}
