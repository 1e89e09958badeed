/**
 * `GET /api/auth/oidc/start?next=/…` → redirect to the provider (a short-lived `rotor_oidc`
 * cookie carries the PKCE verifier, state and nonce); `GET /api/auth/oidc/callback` → session
 * cookie and redirect to `next`, or back to the sign-in page with the reason.
 */
import { componentLog } from "@/server/log";
import { recordAccess } from "./access-log";
import { authDb } from "./db";
import { readCookie, safeReturnPath, serializeCookie, sessionSetCookie, wantsSecureCookie } from "./http";
import { beginLogin, decodePending, encodePending, finishLogin, OIDC_COOKIE, oidcSettings, PENDING_TTL_MS } from "./oidc";
import { createSession } from "./sessions";

function origin(request: Request): string {
  const url = new URL(request.url);
  const proto = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() ?? url.protocol.replace(":", "");
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host") ?? url.host;
  return `${proto}://${host}`;
}

function redirect(to: string, cookies: string[] = []): Response {
  const headers = new Headers({ location: to, "cache-control": "no-store" });
  for (const c of cookies) headers.append("set-cookie", c);
  return new Response(null, { status: 303, headers });
}

function backToSignIn(request: Request, message: string, cookies: string[] = []): Response {
  return redirect(`${origin(request)}/sign-in?error=${encodeURIComponent(message)}`, cookies);
}

function pendingCookie(value: string, secure: boolean, now = Date.now()): string {
  return serializeCookie(OIDC_COOKIE, value, { httpOnly: true, sameSite: "lax", secure, path: "/", expires: new Date(value ? now + PENDING_TTL_MS : 0) }, value ? now : 0);
}

export async function handleOidcStart(request: Request): Promise<Response> {
  let settings;
  try {
    settings = oidcSettings();
  } catch (err) {
    return backToSignIn(request, err instanceof Error ? err.message : String(err));
  }
  if (!settings) return backToSignIn(request, "Single sign-on is not configured.");
  const next = safeReturnPath(new URL(request.url).searchParams.get("next"));
  const redirectUri = settings.redirectUri ?? `${origin(request)}/api/auth/oidc/callback`;
  try {
    const { url, pending } = await beginLogin(settings, redirectUri, next);
    return redirect(url.href, [pendingCookie(encodePending(pending), wantsSecureCookie(request.headers))]);
  } catch (err) {
    componentLog("auth").error({ err, issuer: settings.issuer.href }, "OIDC discovery failed");
    return backToSignIn(request, `Cannot reach the sign-on provider at ${settings.issuer.href}.`);
  }
}

export async function handleOidcCallback(request: Request): Promise<Response> {
  const secure = wantsSecureCookie(request.headers);
  const clear = pendingCookie("", secure);
  const settings = (() => {
    try {
      return oidcSettings();
    } catch {
      return null;
    }
  })();
  if (!settings) return backToSignIn(request, "Single sign-on is not configured.", [clear]);
  const pending = decodePending(readCookie(request.headers, OIDC_COOKIE));
  if (!pending) return backToSignIn(request, "The sign-on took too long or started in another browser; try again.", [clear]);
  const url = new URL(request.url);
  const providerError = url.searchParams.get("error");
  if (providerError) return backToSignIn(request, `The provider refused: ${url.searchParams.get("error_description") ?? providerError}`, [clear]);
  const db = authDb();
  try {
    const outcome = await finishLogin(settings, pending, url);
    if (!outcome.ok) {
      recordAccess(db, { actor: "anonymous", type: "sign-in", outcome: "rejected", reason: outcome.message, details: { via: "oidc" } });
      return backToSignIn(request, outcome.message, [clear]);
    }
    const session = createSession(db, { name: outcome.name, role: outcome.role, source: "oidc" });
    recordAccess(db, { actor: outcome.name, type: "sign-in", outcome: "applied", details: { via: "oidc", role: outcome.role } });
    return redirect(`${origin(request)}${pending.next}`, [clear, sessionSetCookie(session.token, session.expiresAt, secure)]);
  } catch (err) {
    componentLog("auth").warn({ err }, "OIDC callback refused");
    return backToSignIn(request, "The sign-on answer did not check out (state, nonce or code); try again.", [clear]);
  }
}
