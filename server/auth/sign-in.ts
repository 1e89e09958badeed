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
import { runtime } from "@/server/runtime";
import type { SignInLimits } from "./rate-limit";
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
  const limits = ctx.limits ?? runtime().signInLimits;
  const now = ctx.now ?? Date.now();
  const accountKey = `account:${name.toLowerCase()}`;
  const clientKey = `client:${ctx.client}`;
  // Both limits are checked, then both reserved, in one write transaction and before the password
  // hash runs (it yields to the event loop): 30 parallel guesses, on one replica or several, see
  // each other's attempts, and the 6th on one account is refused.
  const gate = limits.atomically(() => {
    const a = limits.account.check(accountKey, now);
    const c = limits.client.check(clientKey, now);
    if (a.allowed && c.allowed) {
      limits.account.reserve(accountKey, now);
      limits.client.reserve(clientKey, now);
    }
    return { a, c };
  });
  const { a, c } = gate;
  if (!a.allowed || !c.allowed) {
    const retryAfterMs = Math.max(a.retryAfterMs, c.retryAfterMs);
    const message = !a.allowed
      ? `Sign-in as ${name} is locked after too many failed attempts; try again in ${formatWait(a.retryAfterMs)}, or ask an admin to lift the lock (Settings → Operators).`
      : `Too many failed sign-ins from your address; try again in ${formatWait(c.retryAfterMs)}.`;
    recordAccess(db, { at: now, actor: name, type: "sign-in", outcome: "rejected", reason: "rate limited", details: { client: ctx.client, locked: !a.allowed ? "account" : "address" } });
    return { ok: false, code: "RATE_LIMITED", message, retryAfterMs };
  }
  const account = findAccount(db, name, ctx.env);
  const good = await verifyPassword(password, account?.passwordHash ?? null);
  if (!account || !good) {
    // The reservations stay: they are this failure.
    recordAccess(db, { at: now, actor: name, type: "sign-in", outcome: "rejected", reason: "wrong name or password", details: { client: ctx.client } });
    return { ok: false, code: "INVALID_CREDENTIALS", message: "That name or password is wrong." };
  }
  limits.account.reset(accountKey);
  limits.client.release(clientKey, now);
  const session = createSession(db, { name: account.name, role: account.role, source: "local" }, { now });
  recordAccess(db, { at: now, actor: account.name, type: "sign-in", outcome: "applied", details: { client: ctx.client, role: account.role, via: "password" } });
  return { ok: true, operator: { name: account.name, role: account.role }, ...session };
}

/** "4 min 59 s", "40 s": the wait in a sign-in refusal. */
export function formatWait(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min${s % 60 ? ` ${s % 60} s` : ""}` : `${s} s`;
}

/** An admin lifts the lock on an account (Settings → Operators). True when it was locked. */
export function liftSignInLock(db: Db, by: string, name: string, limits: SignInLimits = runtime().signInLimits, now = Date.now()): boolean {
  const key = `account:${name.toLowerCase()}`;
  const locked = !limits.account.check(key, now).allowed;
  limits.account.reset(key);
  recordAccess(db, { at: now, actor: by, type: "lock-lifted", outcome: locked ? "applied" : "info", reason: locked ? null : "was not locked", details: { name } });
  return locked;
}

/** Accounts locked now, with the time left. */
export function lockedAccounts(limits: SignInLimits = runtime().signInLimits, now = Date.now()): { name: string; retryAfterMs: number }[] {
  return limits.account.blocked(now).map((b) => ({ name: b.key.replace(/^account:/, ""), retryAfterMs: b.retryAfterMs }));
}

export function signOut(db: Db, token: string | undefined | null, actor: string | null, now = Date.now()): boolean {
  const revoked = revokeSession(db, token, now);
  if (revoked && actor) recordAccess(db, { at: now, actor, type: "sign-out", outcome: "applied" });
  return revoked;
}
