/**
 * Single sign-on with an OpenID Connect provider (optional): authorization code flow with PKCE
 * (S256), state and nonce, through panva's `openid-client`. Configured by environment:
 *
 *   ROTOR_OIDC_ISSUER          https://login.example.com/realms/ops   (https; http only on loopback)
 *   ROTOR_OIDC_CLIENT_ID       rotor
 *   ROTOR_OIDC_CLIENT_SECRET   …
 *   ROTOR_PUBLIC_URL           https://rotor.example.com  (where browsers reach the dashboard)
 *   ROTOR_OIDC_REDIRECT_URI    https://rotor.example.com/api/auth/oidc/callback (default: ROTOR_PUBLIC_URL's)
 *   ROTOR_OIDC_ROLE_CLAIM      groups           (a string or an array of strings in the ID token)
 *   ROTOR_OIDC_ROLE_MAP        {"rotor-admins":"admin","rotor-ops":"operator","*":"viewer"}
 *   ROTOR_OIDC_NAME_CLAIM      preferred_username (then email, then sub)
 *   ROTOR_OIDC_SCOPES          openid profile email (plus the claim's scope if the provider needs one)
 *
 * The highest role any claim value maps to wins; "*" maps everyone else; nobody mapped → refused.
 * The three first variables come together or not at all (a partial configuration is an error).
 * Redirects (the redirect_uri, the way back after sign-in) are built from ROTOR_PUBLIC_URL (or the
 * redirect URI's origin), never from the request's Host or X-Forwarded-Host, which a client writes.
 */
import * as client from "openid-client";
import { z } from "zod";
import { isLoopbackHost, NAME_PATTERN, RESERVED_NAMES } from "./accounts";
import { ROLES, roleRank, type OperatorRole } from "./roles";
import { runtime } from "@/server/runtime";

type Env = Readonly<Record<string, string | undefined>>;

export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  redirectUri: string | null;
  /** The dashboard's public origin, from ROTOR_PUBLIC_URL, else the redirect URI's; null: neither set. */
  publicOrigin: string | null;
  roleClaim: string;
  roleMap: Record<string, OperatorRole>;
  nameClaim: string;
  scopes: string;
}

const roleMapSchema = z.record(z.string().min(1), z.enum(ROLES));

/** The OIDC settings, null when OIDC is not configured; throws on a partial or invalid configuration. */
export function oidcSettings(env: Env = process.env): OidcSettings | null {
  const issuer = env.ROTOR_OIDC_ISSUER?.trim();
  const clientId = env.ROTOR_OIDC_CLIENT_ID?.trim();
  const clientSecret = env.ROTOR_OIDC_CLIENT_SECRET?.trim();
  if (!issuer && !clientId && !clientSecret) return null;
  const missing = [["ROTOR_OIDC_ISSUER", issuer], ["ROTOR_OIDC_CLIENT_ID", clientId], ["ROTOR_OIDC_CLIENT_SECRET", clientSecret]].filter(([, v]) => !v).map(([k]) => k);
  if (missing.length) throw new Error(`OIDC is half configured: set ${missing.join(" and ")} too, or unset all three`);
  let url: URL;
  try {
    url = new URL(issuer!);
  } catch {
    throw new Error(`ROTOR_OIDC_ISSUER is not a URL: ${issuer}`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
    throw new Error(`ROTOR_OIDC_ISSUER must be https (http is accepted only on loopback, for tests): ${issuer}`);
  }
  let roleMap: Record<string, OperatorRole> = {};
  if (env.ROTOR_OIDC_ROLE_MAP?.trim()) {
    let raw: unknown;
    try {
      raw = JSON.parse(env.ROTOR_OIDC_ROLE_MAP);
    } catch {
      throw new Error("ROTOR_OIDC_ROLE_MAP is not valid JSON");
    }
    const parsed = roleMapSchema.safeParse(raw);
    if (!parsed.success) throw new Error('ROTOR_OIDC_ROLE_MAP must map claim values to roles, e.g. {"rotor-admins":"admin","*":"viewer"}');
    roleMap = parsed.data;
  }
  if (Object.keys(roleMap).length === 0) throw new Error('ROTOR_OIDC_ROLE_MAP is required with OIDC: map claim values to roles, e.g. {"rotor-admins":"admin","rotor-ops":"operator"}');
  const redirectUri = env.ROTOR_OIDC_REDIRECT_URI?.trim() || null;
  if (redirectUri) {
    try {
      new URL(redirectUri);
    } catch {
      throw new Error(`ROTOR_OIDC_REDIRECT_URI is not a URL: ${redirectUri}`);
    }
  }
  const publicOrigin = publicUrlOrigin(env) ?? (redirectUri ? new URL(redirectUri).origin : null);
  return {
    issuer: url,
    clientId: clientId!,
    clientSecret: clientSecret!,
    redirectUri: redirectUri ?? (publicOrigin ? `${publicOrigin}/api/auth/oidc/callback` : null),
    publicOrigin,
    roleClaim: env.ROTOR_OIDC_ROLE_CLAIM?.trim() || "groups",
    roleMap,
    nameClaim: env.ROTOR_OIDC_NAME_CLAIM?.trim() || "preferred_username",
    scopes: env.ROTOR_OIDC_SCOPES?.trim() || "openid profile email",
  };
}

/** ROTOR_PUBLIC_URL's origin (`https://rotor.example.com`), or null when unset; throws when it is not an http(s) URL. */
export function publicUrlOrigin(env: Env = process.env): string | null {
  const raw = env.ROTOR_PUBLIC_URL?.trim();
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`ROTOR_PUBLIC_URL is not a URL: ${raw}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`ROTOR_PUBLIC_URL must be http(s): ${raw}`);
  return url.origin;
}

/** The role the claims map to (the highest), or null. */
export function roleFromClaims(claims: Record<string, unknown>, s: Pick<OidcSettings, "roleClaim" | "roleMap">): OperatorRole | null {
  const raw = claims[s.roleClaim];
  const values = Array.isArray(raw) ? raw.filter((v): v is string => typeof v === "string") : typeof raw === "string" ? [raw] : [];
  let best: OperatorRole | null = null;
  for (const v of values) {
    const role = s.roleMap[v];
    if (role && (best === null || roleRank(role) > roleRank(best))) best = role;
  }
  return best ?? s.roleMap["*"] ?? null;
}

/** The operator name for the audit trail: the name claim, else email, else sub. */
export function nameFromClaims(claims: Record<string, unknown>, s: Pick<OidcSettings, "nameClaim">): string | null {
  for (const k of [s.nameClaim, "email", "sub"]) {
    const v = claims[k];
    if (typeof v === "string" && NAME_PATTERN.test(v) && !RESERVED_NAMES.includes(v.toLowerCase())) return v;
  }
  return null;
}

/** The provider's configuration (discovered once per runtime and settings). */
export function oidcConfiguration(s: OidcSettings): Promise<client.Configuration> {
  const parts = runtime().parts;
  const key = `oidc|${s.issuer.href}|${s.clientId}`;
  let config = parts.get(key) as Promise<client.Configuration> | undefined;
  if (!config) {
    const insecure = s.issuer.protocol === "http:";
    const discovering = client.discovery(s.issuer, s.clientId, s.clientSecret, undefined, insecure ? { execute: [client.allowInsecureRequests] } : undefined);
    // Forget a failed discovery so the next sign-in tries again.
    discovering.catch(() => {
      if (parts.get(key) === discovering) parts.delete(key);
    });
    parts.set(key, discovering);
    config = discovering;
  }
  return config;
}

/** What the browser carries between the redirect to the provider and the callback. */
export interface PendingLogin {
  verifier: string;
  state: string;
  nonce: string;
  next: string;
  redirectUri: string;
  expiresAt: number;
}

export const OIDC_COOKIE = "rotor_oidc";
export const PENDING_TTL_MS = 10 * 60_000;

export function encodePending(p: PendingLogin): string {
  return Buffer.from(JSON.stringify(p), "utf8").toString("base64url");
}

const pendingSchema = z.object({
  verifier: z.string().min(43).max(128),
  state: z.string().min(16).max(200),
  nonce: z.string().min(16).max(200),
  next: z.string().max(2000),
  redirectUri: z.string().url(),
  expiresAt: z.number(),
});

export function decodePending(value: string | undefined, now = Date.now()): PendingLogin | null {
  if (!value || value.length > 4096) return null;
  try {
    const parsed = pendingSchema.safeParse(JSON.parse(Buffer.from(value, "base64url").toString("utf8")));
    return parsed.success && parsed.data.expiresAt > now ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Starts a login: the provider's authorization URL and the pending login to keep in a cookie. */
export async function beginLogin(s: OidcSettings, redirectUri: string, next: string, now = Date.now()): Promise<{ url: URL; pending: PendingLogin }> {
  const config = await oidcConfiguration(s);
  const verifier = client.randomPKCECodeVerifier();
  const pending: PendingLogin = { verifier, state: client.randomState(), nonce: client.randomNonce(), next, redirectUri, expiresAt: now + PENDING_TTL_MS };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: s.scopes,
    response_type: "code",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state: pending.state,
    nonce: pending.nonce,
  });
  return { url, pending };
}

export type LoginOutcome = { ok: true; name: string; role: OperatorRole } | { ok: false; message: string };

/** Finishes a login at the callback: code for tokens (PKCE, state, nonce checked), claims to a name and a role. */
export async function finishLogin(s: OidcSettings, pending: PendingLogin, callbackUrl: URL): Promise<LoginOutcome> {
  const config = await oidcConfiguration(s);
  // The provider redirected to redirectUri; compare against exactly that (the request's own URL may be internal).
  const current = new URL(pending.redirectUri);
  current.search = callbackUrl.search;
  const tokens = await client.authorizationCodeGrant(config, current, {
    pkceCodeVerifier: pending.verifier,
    expectedState: pending.state,
    expectedNonce: pending.nonce,
    idTokenExpected: true,
  });
  const claims = (tokens.claims() ?? {}) as Record<string, unknown>;
  const name = nameFromClaims(claims, s);
  if (!name) return { ok: false, message: `The provider's ID token has no usable ${s.nameClaim}, email or sub for an operator name.` };
  const role = roleFromClaims(claims, s);
  if (!role) return { ok: false, message: `${name} has no Rotor role: none of the ${s.roleClaim} claim's values is in ROTOR_OIDC_ROLE_MAP.` };
  return { ok: true, name, role };
}
