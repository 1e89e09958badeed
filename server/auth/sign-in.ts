/**
 * Signing in with a local account: rate limits first, then the password, then a new session.
 * Whatever fails, the answer is the same ("name or password is wrong") and takes the same work,
 * so it does not tell which names exist.
 */
import { z } from "zod";
import type { Db } from "@/server/store/db";
import { findAccount } from "./accounts";
import { recordAccess } from "./access-log";
import { verifyPassword } from "./password";
import { signInLimits, type SignInLimits } from "./rate-limit";
import type { Operator } from "./roles";
import { createSession, revokeSession } from "./sessions";

export const signInSchema = z.object({
  name: z.string().trim().min(1, "Enter your operator name").max(128),
  password: z.string().min(1, "Enter your password").max(1024),
});

export type SignInResult =
  | { ok: true; operator: Operator; token: string; expiresAt: number }
  | { ok: false; code: "INVALID_INPUT" | "INVALID_CREDENTIALS"; message: string; fields?: Record<string, string> }
  | { ok: false; code: "RATE_LIMITED"; message: string; retryAfterMs: number };

export interface SignInContext {
  /** The client's address as far as it is known (see `clientAddress`). */
  client: string;
  now?: number;
  limits?: SignInLimits;
  env?: Readonly<Record<string, string | undefined>>;
}

export async function signIn(db: Db, input: unknown, ctx: SignInContext): Promise<SignInResult> {
  const parsed = signInSchema.safeParse(input);
  if (!parsed.success) {
    const fields: Record<string, string> = {};
    for (const issue of parsed.error.issues) fields[String(issue.path[0] ?? "form")] ??= issue.message;
    return { ok: false, code: "INVALID_INPUT", message: Object.values(fields)[0] ?? "Enter a name and a password", fields };
  }
  const { name, password } = parsed.data;
  const limits = ctx.limits ?? signInLimits();
  const now = ctx.now ?? Date.now();
  const accountKey = `account:${name.toLowerCase()}`;
  const clientKey = `client:${ctx.client}`;
  const a = limits.account.check(accountKey, now);
  const c = limits.client.check(clientKey, now);
  if (!a.allowed || !c.allowed) {
    const retryAfterMs = Math.max(a.retryAfterMs, c.retryAfterMs);
    recordAccess(db, { at: now, actor: name, type: "sign-in", outcome: "rejected", reason: "rate limited", details: { client: ctx.client } });
    return { ok: false, code: "RATE_LIMITED", message: `Too many failed sign-ins; try again in ${Math.ceil(retryAfterMs / 1000)} s.`, retryAfterMs };
  }
  const account = findAccount(db, name, ctx.env);
  const good = await verifyPassword(password, account?.passwordHash ?? null);
  if (!account || !good) {
    limits.account.fail(accountKey, now);
    limits.client.fail(clientKey, now);
    recordAccess(db, { at: now, actor: name, type: "sign-in", outcome: "rejected", reason: "wrong name or password", details: { client: ctx.client } });
    return { ok: false, code: "INVALID_CREDENTIALS", message: "That name or password is wrong." };
  }
  limits.account.reset(accountKey);
  const session = createSession(db, { name: account.name, role: account.role, source: "local" }, { now });
  recordAccess(db, { at: now, actor: account.name, type: "sign-in", outcome: "applied", details: { client: ctx.client, role: account.role, via: "password" } });
  return { ok: true, operator: { name: account.name, role: account.role }, ...session };
}

export function signOut(db: Db, token: string | undefined | null, actor: string | null, now = Date.now()): boolean {
  const revoked = revokeSession(db, token, now);
  if (revoked && actor) recordAccess(db, { at: now, actor, type: "sign-out", outcome: "applied" });
  return revoked;
}
