/**
 * The JSON auth endpoints, as plain functions of a Request (the route files only re-export them):
 *
 * - `POST /api/auth/sign-in` `{ name, password }` → 200 `{ ok, operator, expiresAt }` + the session
 *   cookie; 400 bad input; 401 wrong name or password; 429 with `Retry-After` after too many failures.
 *   Needs `Content-Type: application/json` (a cross-site HTML form cannot send that without a CORS
 *   preflight, which this route never answers) and a same-origin `Origin` when one is sent: no
 *   login CSRF. This is how the e2e fixture signs in.
 * - `POST /api/auth/sign-out` → revokes the cookie's session and clears the cookie (same origin check).
 * - `GET /api/auth/session` → who the cookie belongs to (`{ operator: null }` when nobody).
 */
import { componentLog } from "@/server/log";
import { recordRefusal } from "./access-log";
import { authDb } from "./db";
import { sessionFor } from "./guard";
import { clientAddress, readCookie, sameOriginProblem, sessionClearCookie, sessionSetCookie, wantsSecureCookie } from "./http";
import { SESSION_COOKIE } from "./sessions";
import { signIn, signOut } from "./sign-in";

const noStore = { "cache-control": "no-store" };

function answer(body: unknown, status: number, extra: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { ...noStore, ...extra } });
}

/** A cross-site request to a cookie-carrying auth route, for the audit trail. */
function refuseCrossSite(request: Request, action: string, reason: string, actor = "anonymous"): Response {
  recordRefusal(authDb(), { actor, action, target: `${request.method} ${new URL(request.url).pathname}`, reason, details: { origin: request.headers.get("origin"), site: request.headers.get("sec-fetch-site") } });
  return answer({ ok: false, code: "FORBIDDEN", message: reason }, 403);
}

export async function handleSignIn(request: Request): Promise<Response> {
  const crossSite = sameOriginProblem(request);
  if (crossSite) return refuseCrossSite(request, "sign-in", crossSite);
  if (!(request.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json")) {
    return answer({ ok: false, code: "INVALID_INPUT", message: "Send the name and password as JSON (Content-Type: application/json)." }, 415);
  }
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return answer({ ok: false, code: "INVALID_INPUT", message: "The body is not valid JSON." }, 400);
  }
  try {
    const r = await signIn(authDb(), body, { client: clientAddress(request.headers) });
    if (r.ok) {
      const cookie = sessionSetCookie(r.token, r.expiresAt, wantsSecureCookie(request.headers));
      return answer({ ok: true, operator: r.operator, expiresAt: r.expiresAt }, 200, { "set-cookie": cookie });
    }
    if (r.code === "RATE_LIMITED") return answer({ ok: false, code: r.code, message: r.message }, 429, { "retry-after": String(Math.ceil(r.retryAfterMs / 1000)) });
    return answer(r, r.code === "INVALID_INPUT" ? 400 : 401);
  } catch (err) {
    componentLog("auth").error({ err }, "sign-in failed");
    return answer({ ok: false, code: "INTERNAL", message: "Sign-in failed on the server; see the dashboard's log." }, 500);
  }
}

export async function handleSignOut(request: Request): Promise<Response> {
  const db = authDb();
  const token = readCookie(request.headers, SESSION_COOKIE);
  const who = sessionFor(db, token)?.operator.name ?? null;
  // The session stays: a page on another site must not sign the operator out.
  const crossSite = sameOriginProblem(request);
  if (crossSite) return refuseCrossSite(request, "sign-out", crossSite, who ?? "anonymous");
  const revoked = signOut(db, token, who);
  return answer({ ok: true, revoked }, 200, { "set-cookie": sessionClearCookie(wantsSecureCookie(request.headers)) });
}

export function handleSession(request: Request): Response {
  const session = sessionFor(authDb(), readCookie(request.headers, SESSION_COOKIE));
  return answer({ operator: session?.operator ?? null, expiresAt: session?.expiresAt ?? null }, 200);
}
