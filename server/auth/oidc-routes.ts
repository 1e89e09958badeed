/**
 * `GET /api/auth/oidc/start?next=/…` → redirect to the provider (a short-lived `rotor_oidc`
 * cookie carries the PKCE verifier, state and nonce); `GET /api/auth/oidc/callback` → session
 * cookie and redirect to `next`, or back to the sign-in page with the reason.
 */
import { componentLog } from "@/server/log";
import { recordAccess } from "./access-log";
import { authDb } from "./db";
import { readCookie, safeReturnPath, serializeCookie, sessionSetCookie, wantsSecureCookie } from "./http";
import { beginLogin, decodePending, encodePending, finishLogin, OIDC_COOKIE, oidcSettings, PENDING_TTL_MS, publicUrlOrigin } from "./oidc";
import { createSession } from "./sessions";

function redirect(to: string, cookies: string[] = []): Response {
  const headers = new Headers({ location: to, "cache-control": "no-store" });
  for (const c of cookies) headers.append("set-cookie", c);
  return new Response(null, { status: 303, headers });
}

/**
 * A Location on this dashboard: absolute on ROTOR_PUBLIC_URL when known, else relative (the browser
 * resolves it against the URL it asked for). Never built from Host or X-Forwarded-Host.
 */
function here(path: string, publicOrigin: string | null | undefined): string {
  return publicOrigin ? `${publicOrigin}${path}` : path;
}

function backToSignIn(message: string, cookies: string[] = [], publicOrigin?: string | null): Response {
  return redirect(here(`/sign-in?error=${encodeURIComponent(message)}`, publicOrigin ?? safePublicOrigin()), cookies);
}

function safePublicOrigin(): string | null {
  try {
    return publicUrlOrigin();
  } catch {
    return null;
  }
}

function pendingCookie(value: string, secure: boolean, now = Date.now()): string {
  return serializeCookie(OIDC_COOKIE, value, { httpOnly: true, sameSite: "lax", secure, path: "/", expires: new Date(value ? now + PENDING_TTL_MS : 0) }, value ? now : 0);
}

export async function handleOidcStart(request: Request): Promise<Response> {
  let settings;
  try {
    settings = oidcSettings();
  } catch (err) {
    return backToSignIn(err instanceof Error ? err.message : String(err));
  }
  if (!settings) return backToSignIn("Single sign-on is not configured.");
  const next = safeReturnPath(new URL(request.url).searchParams.get("next"));
  const redirectUri = settings.redirectUri;
  if (!redirectUri) return backToSignIn("Single sign-on needs ROTOR_PUBLIC_URL (the dashboard's address as browsers reach it) or ROTOR_OIDC_REDIRECT_URI.");
  try {
    const { url, pending } = await beginLogin(settings, redirectUri, next);
    return redirect(url.href, [pendingCookie(encodePending(pending), wantsSecureCookie(request.headers))]);
  } catch (err) {
    componentLog("auth").error({ err, issuer: settings.issuer.href }, "OIDC discovery failed");
    return backToSignIn(`Cannot reach the sign-on provider at ${settings.issuer.href}.`);
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
  if (!settings) return backToSignIn("Single sign-on is not configured.", [clear]);
  const pending = decodePending(readCookie(request.headers, OIDC_COOKIE));
  if (!pending) return backToSignIn("The sign-on took too long or started in another browser; try again.", [clear], settings.publicOrigin);
  const url = new URL(request.url);
  const providerError = url.searchParams.get("error");
  if (providerError) return backToSignIn(`The provider refused: ${url.searchParams.get("error_description") ?? providerError}`, [clear], settings.publicOrigin);
  const db = authDb();
  try {
    const outcome = await finishLogin(settings, pending, url);
    if (!outcome.ok) {
      recordAccess(db, { actor: "anonymous", type: "sign-in", outcome: "rejected", reason: outcome.message, details: { via: "oidc" } });
      return backToSignIn(outcome.message, [clear], settings.publicOrigin);
    }
    const session = createSession(db, { name: outcome.name, role: outcome.role, source: "oidc" });
    recordAccess(db, { actor: outcome.name, type: "sign-in", outcome: "applied", details: { via: "oidc", role: outcome.role } });
    return redirect(here(safeReturnPath(pending.next), settings.publicOrigin), [clear, sessionSetCookie(session.token, session.expiresAt, secure)]);
  } catch (err) {
    componentLog("auth").warn({ err }, "OIDC callback refused");
    return backToSignIn("The sign-on answer did not check out (state, nonce or code); try again.", [clear], settings.publicOrigin);
  }
}
