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
 * The header carrying the TCP peer's address, stamped by `installPeerStamp` (peer.ts) on every
 * request before Next sees it; whatever a client sends under this name is overwritten.
 */
export const PEER_HEADER = "x-rotor-peer";

export type TrustProxy = { hops: number } | { addresses: Set<string> } | null;

/**
 * `ROTOR_TRUST_PROXY`: unset or `0` trusts no proxy (X-Forwarded-For is ignored); a number N trusts
 * the N nearest hops (the client is the N-th address from the right of X-Forwarded-For + peer); a
 * comma-separated list of addresses trusts exactly those proxies (the client is the rightmost
 * address not in the list). Anything else is a configuration error.
 */
export function trustProxy(env: Readonly<Record<string, string | undefined>> = process.env): TrustProxy {
  const raw = env.ROTOR_TRUST_PROXY?.trim();
  if (!raw || raw === "0") return null;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 10) throw new Error(`ROTOR_TRUST_PROXY=${raw}: at most 10 proxy hops`);
    return { hops };
  }
  const addresses = raw.split(",").map((a) => a.trim().toLowerCase()).filter(Boolean);
  const bad = addresses.find((a) => !/^[0-9a-f.:]+$/.test(a));
  if (bad) throw new Error(`ROTOR_TRUST_PROXY: "${bad}" is neither a hop count nor an IP address`);
  return { addresses: new Set(addresses) };
}

/**
 * The client's address for rate limiting. Without `ROTOR_TRUST_PROXY` it is the TCP peer and
 * X-Forwarded-For is never read: a client can write anything there, and would get a fresh address
 * per guess. Behind proxies, only the hops they added are believed.
 */
export function clientAddress(headers: HeaderSource, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const peer = headers.get(PEER_HEADER)?.trim() || null;
  const trust = trustProxy(env);
  const clip = (a: string | undefined) => (a ? a.slice(0, 64) : "unknown");
  if (!trust) return clip(peer ?? undefined);
  const chain = [
    ...(headers.get("x-forwarded-for") ?? "")
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean),
    ...(peer ? [peer] : []),
  ];
  if (chain.length === 0) return "unknown";
  if ("hops" in trust) return clip(chain[Math.max(0, chain.length - 1 - trust.hops)]);
  for (let i = chain.length - 1; i >= 0; i--) if (!trust.addresses.has(chain[i]!.toLowerCase())) return clip(chain[i]);
  return clip(chain[0]);
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

/**
 * Where to go after signing in: a path on this dashboard, never another site. The candidate is
 * parsed the way a browser would (`new URL(next, origin)`, which drops tabs and newlines and reads
 * `/\\evil` as `//evil`) and kept only when its origin is ours; control characters anywhere are
 * refused outright. The answer is the parsed path, so what we redirect to is what was checked.
 */
export function safeReturnPath(value: unknown, origin = "http://rotor.invalid"): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 2000) return "/";
  if (/[\u0000-\u001f\u007f]/.test(value)) return "/";
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return "/";
  }
  if (url.origin !== new URL(origin).origin) return "/";
  return url.pathname + url.search + url.hash;
}
