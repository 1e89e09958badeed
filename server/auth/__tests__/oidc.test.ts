/**
 * Single sign-on against a real OpenID provider (panva's oidc-provider) on loopback: the whole
 * authorization-code + PKCE flow through Rotor's start and callback handlers, with the provider's
 * login/consent answered programmatically in place of a person.
 */
import http from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import Provider from "oidc-provider";
import { freePort } from "@/server/testing/ports";
import { authDb } from "../db";
import { sessionFor } from "../guard";
import { nameFromClaims, oidcSettings, roleFromClaims } from "../oidc";
import { handleOidcCallback, handleOidcStart } from "../oidc-routes";
import { tempEnv, type TempEnv } from "./helpers";

const DASH = "http://127.0.0.1:3999";
const REDIRECT = `${DASH}/api/auth/oidc/callback`;
const USERS: Record<string, { groups: string[] }> = { alice: { groups: ["rotor-ops", "everyone"] }, eve: { groups: ["everyone"] }, amy: { groups: ["rotor-admins"] } };

let server: http.Server;
let issuer: string;
let env: TempEnv;
let nextLogin = "alice";

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: "rotor", client_secret: "rotor-test-secret", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], response_types: ["code"] }],
    claims: { openid: ["sub"], profile: ["preferred_username", "groups"] },
    conformIdTokenClaims: false,
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, preferred_username: id, groups: USERS[id]?.groups ?? [] }) }),
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    cookies: { keys: ["oidc-test-cookie-key"] },
    ttl: { Interaction: 600, Grant: 600, Session: 600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
  });
  const callback = provider.callback();
  server = http.createServer(async (req, res) => {
    if (req.url?.startsWith("/interaction/")) {
      // The person at the provider: signs in as `nextLogin` and consents.
      const details = await provider.interactionDetails(req, res);
      const grant = new provider.Grant({ accountId: nextLogin, clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope));
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId: nextLogin }, consent: { grantId } }, { mergeWithLastSubmission: false });
      return;
    }
    callback(req, res);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const saved = { ...process.env };
beforeEach(async () => {
  env = await tempEnv();
  Object.assign(process.env, {
    ROTOR_OIDC_ISSUER: issuer,
    ROTOR_OIDC_CLIENT_ID: "rotor",
    ROTOR_OIDC_CLIENT_SECRET: "rotor-test-secret",
    ROTOR_OIDC_ROLE_MAP: JSON.stringify({ "rotor-admins": "admin", "rotor-ops": "operator" }),
  });
  return () => {
    for (const k of ["ROTOR_OIDC_ISSUER", "ROTOR_OIDC_CLIENT_ID", "ROTOR_OIDC_CLIENT_SECRET", "ROTOR_OIDC_ROLE_MAP", "ROTOR_OIDC_REDIRECT_URI", "ROTOR_PUBLIC_URL"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    env.cleanup();
  };
});

/** Follows the provider's redirects with a cookie jar until it sends the browser back to Rotor. */
async function throughProvider(start: string): Promise<string> {
  const jar = new Map<string, string>();
  let url = start;
  for (let hop = 0; hop < 10; hop++) {
    if (url.startsWith(DASH)) return url;
    const res = await fetch(url, { redirect: "manual", headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      jar.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    const location = res.headers.get("location");
    if (!location) throw new Error(`the provider answered ${res.status} without a redirect at ${url}: ${(await res.text()).slice(0, 300)}`);
    url = new URL(location, url).href;
  }
  throw new Error("too many redirects");
}

const cookieValue = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.match(new RegExp(`^${name}=([^;]*)`))?.[1])
    .find((v) => v !== undefined);

async function signInVia(user: string, tamper?: (state: string) => string) {
  nextLogin = user;
  process.env.ROTOR_OIDC_REDIRECT_URI = REDIRECT;
  const start = await handleOidcStart(new Request(`${DASH}/api/auth/oidc/start?next=/audit`));
  expect(start.status).toBe(303);
  const auth = new URL(start.headers.get("location")!);
  const pending = cookieValue(start, "rotor_oidc")!;
  let back = await throughProvider(auth.href);
  if (tamper) {
    const u = new URL(back);
    u.searchParams.set("state", tamper(u.searchParams.get("state")!));
    back = u.href;
  }
  const res = await handleOidcCallback(new Request(back, { headers: { cookie: `rotor_oidc=${pending}` } }));
  return { auth, res, session: cookieValue(res, "rotor_session") };
}

describe("OIDC sign-in (authorization code + PKCE) against oidc-provider on loopback", () => {
  it("asks for code with an S256 challenge, state and nonce, then signs in with the mapped role", async () => {
    const { auth, res, session } = await signInVia("alice");
    expect(auth.origin).toBe(issuer);
    expect(Object.fromEntries(auth.searchParams)).toMatchObject({ response_type: "code", client_id: "rotor", redirect_uri: REDIRECT, code_challenge_method: "S256" });
    expect(auth.searchParams.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(auth.searchParams.get("state")).toBeTruthy();
    expect(auth.searchParams.get("nonce")).toBeTruthy();
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${DASH}/audit`);
    expect(sessionFor(authDb(), session)).toMatchObject({ operator: { name: "alice", role: "operator" }, source: "oidc" });
  });

  it("maps the highest role, and refuses someone the role map does not know", async () => {
    expect(sessionFor(authDb(), (await signInVia("amy")).session)?.operator.role).toBe("admin");
    const eve = await signInVia("eve");
    expect(eve.session).toBeUndefined();
    expect(decodeURIComponent(eve.res.headers.get("location")!)).toMatch(/\/sign-in\?error=eve has no Rotor role/);
  });

  it("refuses a callback whose state does not match the browser's pending login", async () => {
    const { res, session } = await signInVia("alice", (s) => s + "x");
    expect(session).toBeUndefined();
    expect(res.headers.get("location")).toMatch(/\/sign-in\?error=/);
  });

  it("refuses a callback without the pending-login cookie (another browser, or too late)", async () => {
    const res = await handleOidcCallback(new Request(`${REDIRECT}?code=abc&state=def`));
    expect(cookieValue(res, "rotor_session")).toBeUndefined();
    expect(decodeURIComponent(res.headers.get("location")!)).toMatch(/took too long or started in another browser/);
  });
});

describe("OIDC redirects come from ROTOR_PUBLIC_URL, never from Host or X-Forwarded-Host", () => {
  const spoofed = { host: "evil.example", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" };

  it("builds the redirect_uri and the way back from ROTOR_PUBLIC_URL under a spoofed Host", async () => {
    process.env.ROTOR_PUBLIC_URL = DASH;
    delete process.env.ROTOR_OIDC_REDIRECT_URI;
    nextLogin = "alice";
    const start = await handleOidcStart(new Request(`${DASH}/api/auth/oidc/start?next=/audit`, { headers: spoofed }));
    const auth = new URL(start.headers.get("location")!);
    expect(auth.searchParams.get("redirect_uri")).toBe(REDIRECT);
    const back = await throughProvider(auth.href);
    const res = await handleOidcCallback(new Request(back, { headers: { ...spoofed, cookie: `rotor_oidc=${cookieValue(start, "rotor_oidc")}` } }));
    expect(res.headers.get("location")).toBe(`${DASH}/audit`);
    const refused = await handleOidcCallback(new Request(`${REDIRECT}?code=x&state=y`, { headers: spoofed }));
    expect(refused.headers.get("location")).toMatch(new RegExp(`^${DASH}/sign-in\\?error=`));
  });

  it("with neither ROTOR_PUBLIC_URL nor a redirect URI, refuses to start rather than trust Host", async () => {
    delete process.env.ROTOR_PUBLIC_URL;
    delete process.env.ROTOR_OIDC_REDIRECT_URI;
    const start = await handleOidcStart(new Request(`${DASH}/api/auth/oidc/start`, { headers: spoofed }));
    const to = start.headers.get("location")!;
    expect(to.startsWith("/sign-in?error=")).toBe(true);
    expect(decodeURIComponent(to)).toMatch(/needs ROTOR_PUBLIC_URL/);
    expect(to).not.toMatch(/evil/);
  });

  it("keeps next on this dashboard: next=/%09/evil.example/ comes back as /", async () => {
    process.env.ROTOR_PUBLIC_URL = DASH;
    nextLogin = "alice";
    const start = await handleOidcStart(new Request(`${DASH}/api/auth/oidc/start?next=/%09/evil.example/`));
    const back = await throughProvider(start.headers.get("location")!);
    const res = await handleOidcCallback(new Request(back, { headers: { cookie: `rotor_oidc=${cookieValue(start, "rotor_oidc")}` } }));
    expect(res.headers.get("location")).toBe(`${DASH}/`);
  });
});

describe("OIDC configuration", () => {
  it("is off when unset, and refuses half or unsafe configurations", () => {
    expect(oidcSettings({})).toBeNull();
    expect(() => oidcSettings({ ROTOR_OIDC_ISSUER: "https://id.example" })).toThrow(/ROTOR_OIDC_CLIENT_ID and ROTOR_OIDC_CLIENT_SECRET/);
    const base = { ROTOR_OIDC_CLIENT_ID: "c", ROTOR_OIDC_CLIENT_SECRET: "s", ROTOR_OIDC_ROLE_MAP: '{"ops":"operator"}' };
    expect(() => oidcSettings({ ...base, ROTOR_OIDC_ISSUER: "http://id.example" })).toThrow(/must be https/);
    expect(() => oidcSettings({ ...base, ROTOR_OIDC_ISSUER: "https://id.example", ROTOR_OIDC_ROLE_MAP: '{"ops":"root"}' })).toThrow(/ROLE_MAP/);
    expect(() => oidcSettings({ ...base, ROTOR_OIDC_ISSUER: "https://id.example", ROTOR_OIDC_ROLE_MAP: "" })).toThrow(/ROLE_MAP is required/);
    expect(oidcSettings({ ...base, ROTOR_OIDC_ISSUER: "https://id.example" })).toMatchObject({ roleClaim: "groups", nameClaim: "preferred_username", scopes: "openid profile email" });
  });

  it("maps claims to a role and a name", () => {
    const s = { roleClaim: "groups", roleMap: { ops: "operator", admins: "admin", "*": "viewer" } as const, nameClaim: "preferred_username" };
    expect(roleFromClaims({ groups: ["ops", "admins"] }, s)).toBe("admin");
    expect(roleFromClaims({ groups: "ops" }, s)).toBe("operator");
    expect(roleFromClaims({}, s)).toBe("viewer");
    expect(roleFromClaims({ groups: ["x"] }, { ...s, roleMap: { ops: "operator" } })).toBeNull();
    expect(nameFromClaims({ preferred_username: "alice", email: "a@x" }, s)).toBe("alice");
    expect(nameFromClaims({ preferred_username: "engine", email: "e@x.io" }, s)).toBe("e@x.io");
    expect(nameFromClaims({ preferred_username: "bad name", sub: "123" }, s)).toBe("123");
  });
});
