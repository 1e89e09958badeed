/**
 * HTTP details of sign-in: the session cookie's attributes, the client's address, and the
 * same-origin check for the few cookie-carrying auth routes (sign-in, sign-out).
 */
import { isLoopbackHost } from "./accounts";
import { SESSION_COOKIE } from "./sessions";

type HeaderSource = { get(name: string): string | null };

function hostname(hostHeader: string): string {
  // "[::1]:3000" → "::1", "127.0.0.1:3000" → "127.0.0.1"
  const m = hostHeader.match(/^\[([^\]]+)\](?::\d+)?$/) ?? hostHeader.match(/^([^:]+)(?::\d+)?$/);
  return m?.[1] ?? hostHeader;
}

/**
 * Whether the session cookie gets `Secure`: always, except plain http to a loopback host (the
 * local demo). Behind a TLS-terminating proxy Next sees `x-forwarded-proto: https`.
 */
export function wantsSecureCookie(headers: HeaderSource): boolean {
  const proto = headers.get("x-forwarded-proto")?.split(",")[0]?.trim() ?? "http";
  const host = headers.get("x-forwarded-host") ?? headers.get("host") ?? "";
  return !(proto === "http" && isLoopbackHost(hostname(host)));
}

export interface CookieOptions {
  httpOnly: true;
  sameSite: "lax";
  secure: boolean;
  path: "/";
  expires: Date;
}

/**
 * `SameSite=Lax`, not Strict: a link to a rollout pasted in chat must open signed in, and the
 * OIDC callback arrives as a cross-site top-level GET. Lax still withholds the cookie from
 * cross-site POSTs.
 */
export function sessionCookieOptions(secure: boolean, expiresAt: number): CookieOptions {
  return { httpOnly: true, sameSite: "lax", secure, path: "/", expires: new Date(expiresAt) };
}

export function serializeCookie(name: string, value: string, opts: CookieOptions, now = Date.now()): string {
  const maxAge = Math.max(0, Math.floor((opts.expires.getTime() - now) / 1000));
  return [
    `${name}=${value}`,
    "Path=/",
    `Expires=${opts.expires.toUTCString()}`,
    `Max-Age=${maxAge}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(opts.secure ? ["Secure"] : []),
  ].join("; ");
}

export function sessionSetCookie(token: string, expiresAt: number, secure: boolean, now = Date.now()): string {
  return serializeCookie(SESSION_COOKIE, token, sessionCookieOptions(secure, expiresAt), now);
}

export function sessionClearCookie(secure: boolean): string {
  return serializeCookie(SESSION_COOKIE, "", sessionCookieOptions(secure, 0), 0);
}

/** A cookie's value from a Cookie header. */
export function readCookie(headers: HeaderSource, name: string): string | undefined {
  for (const part of (headers.get("cookie") ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * The client's address for rate limiting. Next fills `x-forwarded-for` from the socket when the
 * request has none; a client can send its own, so this key can be dodged and the per-account limit
 * is the one that holds. Behind a proxy, have the proxy overwrite `x-forwarded-for`.
 */
export function clientAddress(headers: HeaderSource): string {
  return headers.get("x-forwarded-for")?.split(",")[0]?.trim().slice(0, 64) || "unknown";
}

/**
 * For cookie-carrying auth routes: refuse a request a browser made from another site. A browser
 * always sends `Origin` on a cross-origin POST, and `Sec-Fetch-Site` when it knows it; tools
 * (curl, Playwright's request fixture) send neither and are not a CSRF vector.
 */
export function sameOriginProblem(request: Request): string | null {
  const site = request.headers.get("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = request.headers.get("origin");
  if (!origin) return null;
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host");
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return "cross-origin request refused (unreadable Origin)";
  }
  return host && originHost === host ? null : `cross-origin request refused (Origin ${origin} is not this dashboard)`;
}

/** Where to go after signing in: a path on this dashboard, never another site (`//evil`, `/\\evil`, `https:`). */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== "string" || value.length > 2000) return "/";
  return /^\/(?![/\\])/.test(value) && !/[\r\n]/.test(value) ? value : "/";
}
