/**
 * The checks every mutation makes inside itself (middleware is never the only guard):
 *
 * - server actions: `const auth = await requireOperator("rollout.approve"); if (!auth.ok) return auth;`
 *   reads the `rotor_session` cookie. Cross-origin posts to server actions are refused by Next's
 *   own Origin/Host check (keep `serverActions.allowedOrigins` unset).
 * - route handlers: `requireBearer(request, "rollout.start")` reads `Authorization: Bearer <token>`
 *   and nothing else. Route handlers have no CSRF protection, so a mutating one never accepts the
 *   session cookie: a browser on another site can make a cookie-carrying POST, but cannot make one
 *   carrying a bearer token it does not have.
 */
import type { Db } from "@/server/store/db";
import { findAccount } from "./accounts";
import { recordRefusal } from "./access-log";
import { authDb } from "./db";
import { can, MIN_ROLE, type Action, type Operator } from "./roles";
import { resolveSession, SESSION_COOKIE, type Session } from "./sessions";
import { digest } from "./secrets";
import { verifyApiToken } from "./tokens";

export type AuthFailureCode = "UNAUTHENTICATED" | "FORBIDDEN";
export type AuthResult = { ok: true; operator: Operator } | { ok: false; code: AuthFailureCode; message: string };

function forbidden(db: Db, operator: Operator, action: Action, via: "session" | "token", target?: string): AuthResult {
  const message = `${operator.name} has the ${operator.role} role; ${action} needs ${MIN_ROLE[action]} or above`;
  if (action !== "read") recordRefusal(db, { actor: operator.name, action, target, reason: message, via });
  return { ok: false, code: "FORBIDDEN", message };
}

/** The live session of a cookie value, following the account's current role. */
export function sessionFor(db: Db, token: string | undefined | null, now = Date.now()): Session | null {
  return resolveSession(db, token, { now, currentRole: (name) => findAccount(db, name)?.role ?? null });
}

/**
 * Checks a session cookie value against an action. A cookie that is sent but matches no live session
 * (revoked, expired, forged) is a refusal for the audit trail; no cookie at all is just "not signed in".
 */
export function authorizeSession(db: Db, token: string | undefined | null, action: Action, now = Date.now(), target?: string): AuthResult {
  const session = sessionFor(db, token, now);
  if (!session) {
    if (token) recordRefusal(db, { actor: "anonymous", action, target, reason: "session cookie unknown, expired or revoked", via: "session", once: `session:${digest(token)}` }, now);
    return { ok: false, code: "UNAUTHENTICATED", message: "Sign in first: no live session (signed out, expired or never signed in)." };
  }
  if (!can(session.operator.role, action)) return forbidden(db, session.operator, action, "session", target);
  return { ok: true, operator: session.operator };
}

/** The bearer token of a request, or null. */
export function bearerToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1] ?? null;
}

/** Checks `Authorization: Bearer <token>` against an action. Cookies are ignored on purpose (see above). */
export function requireBearer(request: Request, action: Action, db: Db = authDb(), now = Date.now()): AuthResult {
  const token = bearerToken(request);
  if (!token) {
    return { ok: false, code: "UNAUTHENTICATED", message: "Send Authorization: Bearer <API token>. This endpoint does not accept the session cookie." };
  }
  const operator = verifyApiToken(db, token, now);
  const target = `${request.method} ${new URL(request.url).pathname}`;
  if (!operator) {
    recordRefusal(db, { actor: "anonymous", action, target, reason: "API token unknown, revoked, expired, or its creator disabled", via: "token", once: `token:${digest(token)}:${target}` }, now);
    return { ok: false, code: "UNAUTHENTICATED", message: "The API token is unknown, revoked or expired." };
  }
  if (!can(operator.role, action)) return forbidden(db, { name: operator.name, role: operator.role }, action, "token", target);
  return { ok: true, operator: { name: operator.name, role: operator.role } };
}

/** The session cookie of the current request (server components, server actions). */
export async function sessionCookie(): Promise<string | undefined> {
  const { cookies } = await import("next/headers");
  return (await cookies()).get(SESSION_COOKIE)?.value;
}

/** For server actions: the operator of the request's session, if allowed `action`. Call it first. */
export async function requireOperator(action: Action, db: Db = authDb(), target = `server action ${action}`): Promise<AuthResult> {
  return authorizeSession(db, await sessionCookie(), action, Date.now(), target);
}

/** The signed-in operator, or null (for the layout's name, the nav). */
export async function signedInOperator(db: Db = authDb()): Promise<Operator | null> {
  return sessionFor(db, await sessionCookie())?.operator ?? null;
}

export type PageAuth = { ok: true; operator: Operator } | { ok: false; code: "FORBIDDEN"; message: string };

/**
 * For pages: the operator if allowed `action`; with no session, redirects to the sign-in page
 * (coming back to `returnTo`); signed in with too low a role, the refusal for the page to show.
 */
export async function pageOperator(action: Action, returnTo: string): Promise<PageAuth> {
  const r = await requireOperator(action, authDb(), `page ${returnTo}`);
  if (r.ok) return r;
  if (r.code === "UNAUTHENTICATED") {
    const { redirect } = await import("next/navigation");
    redirect(`/sign-in?next=${encodeURIComponent(returnTo)}`);
  }
  return { ok: false, code: "FORBIDDEN", message: r.message };
}

/** The HTTP answer to a refusal: 401 with a Bearer challenge, or 403. */
export function authFailureResponse(r: { code: AuthFailureCode; message: string }): Response {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (r.code === "UNAUTHENTICATED") headers["www-authenticate"] = 'Bearer realm="rotor"';
  return Response.json({ ok: false, code: r.code, message: r.message }, { status: r.code === "UNAUTHENTICATED" ? 401 : 403, headers });
}
