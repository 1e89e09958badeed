import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { handleSession, handleSignIn, handleSignOut } from "../auth-routes";
import { authDb } from "../db";
import { runtime } from "@/server/runtime";
import { tempEnv, type TempEnv } from "./helpers";

const jar = vi.hoisted(() => ({ value: undefined as string | undefined }));
vi.mock("next/headers", () => ({
  cookies: async () => ({ get: (name: string) => (name === "rotor_session" && jar.value ? { name, value: jar.value } : undefined) }),
}));
const { requireOperator, signedInOperator } = await import("../guard");

let env: TempEnv;
beforeEach(async () => {
  env = await tempEnv([
    { name: "alice", role: "operator", password: "alice-password" },
    { name: "vera", role: "viewer", password: "vera-password" },
  ]);
  jar.value = undefined;
  for (const k of ["account:alice", "account:vera", "account:nobody"]) runtime().signInLimits.account.reset(k);
  runtime().signInLimits.client.reset("client:unknown");
});
afterEach(() => env.cleanup());

function signInRequest(body: unknown, headers: Record<string, string> = {}, url = "http://127.0.0.1:3000/api/auth/sign-in") {
  return new Request(url, { method: "POST", headers: { "content-type": "application/json", host: new URL(url).host, ...headers }, body: JSON.stringify(body) });
}
function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie") ?? "";
  return set.match(/^rotor_session=([^;]*)/)?.[1] ?? "";
}

describe("POST /api/auth/sign-in", () => {
  it("sets an httpOnly, SameSite=Lax, path=/ session cookie; not Secure on loopback http", async () => {
    const res = await handleSignIn(signInRequest({ name: "alice", password: "alice-password" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, operator: { name: "alice", role: "operator" } });
    const set = res.headers.get("set-cookie")!;
    expect(set).toMatch(/^rotor_session=[\w-]{43}; Path=\/; Expires=.*; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    expect(set).not.toMatch(/Secure/);
  });

  it("marks the cookie Secure behind https or on a non-loopback host", async () => {
    const tls = await handleSignIn(signInRequest({ name: "alice", password: "alice-password" }, { "x-forwarded-proto": "https" }));
    expect(tls.headers.get("set-cookie")).toMatch(/; Secure$/);
    const remote = await handleSignIn(signInRequest({ name: "alice", password: "alice-password" }, {}, "http://rotor.internal:3000/api/auth/sign-in"));
    expect(remote.headers.get("set-cookie")).toMatch(/; Secure$/);
  });

  it("answers the same 401 for a wrong password and an unknown name, and sets no cookie", async () => {
    const wrong = await handleSignIn(signInRequest({ name: "alice", password: "nope" }));
    const unknown = await handleSignIn(signInRequest({ name: "nobody", password: "nope" }));
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(await wrong.json()).toEqual(await unknown.json());
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const rows = authDb().prepare("SELECT actor, outcome, reason FROM auth_events WHERE type = 'sign-in'").all();
    expect(rows).toEqual([
      { actor: "alice", outcome: "rejected", reason: "wrong name or password" },
      { actor: "nobody", outcome: "rejected", reason: "wrong name or password" },
    ]);
    expect(JSON.stringify(authDb().prepare("SELECT * FROM auth_events").all())).not.toContain("nope");
  });

  it("refuses login CSRF: a cross-site Origin, Sec-Fetch-Site cross-site, or a form post", async () => {
    const body = { name: "alice", password: "alice-password" };
    expect((await handleSignIn(signInRequest(body, { origin: "https://evil.example" }))).status).toBe(403);
    expect((await handleSignIn(signInRequest(body, { "sec-fetch-site": "cross-site" }))).status).toBe(403);
    const form = new Request("http://127.0.0.1:3000/api/auth/sign-in", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "name=alice&password=alice-password" });
    expect((await handleSignIn(form)).status).toBe(415);
    expect((await handleSignIn(signInRequest(body, { origin: "http://127.0.0.1:3000" }))).status).toBe(200);
  });

  it("sign-out revokes the session server-side and clears the cookie", async () => {
    const token = cookieOf(await handleSignIn(signInRequest({ name: "alice", password: "alice-password" })));
    const session = () => handleSession(new Request("http://127.0.0.1:3000/api/auth/session", { headers: { cookie: `rotor_session=${token}` } })).json();
    expect(await session()).toMatchObject({ operator: { name: "alice" } });
    const out = await handleSignOut(new Request("http://127.0.0.1:3000/api/auth/sign-out", { method: "POST", headers: { cookie: `other=1; rotor_session=${token}` } }));
    expect(await out.json()).toEqual({ ok: true, revoked: true });
    expect(out.headers.get("set-cookie")).toMatch(/^rotor_session=; .*Max-Age=0/);
    expect(await session()).toEqual({ operator: null, expiresAt: null });
  });
});

describe("requireOperator (server actions)", () => {
  it("refuses without a session, and after sign-out", async () => {
    expect(await requireOperator("rollout.approve")).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    jar.value = cookieOf(await handleSignIn(signInRequest({ name: "alice", password: "alice-password" })));
    expect(await requireOperator("rollout.approve")).toEqual({ ok: true, operator: { name: "alice", role: "operator" } });
    expect(await signedInOperator()).toEqual({ name: "alice", role: "operator" });
    await handleSignOut(new Request("http://127.0.0.1:3000/api/auth/sign-out", { method: "POST", headers: { cookie: `rotor_session=${jar.value}` } }));
    expect(await requireOperator("rollout.approve")).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
  });

  it("refuses a viewer's approve and records the refusal", async () => {
    jar.value = cookieOf(await handleSignIn(signInRequest({ name: "vera", password: "vera-password" })));
    expect(await requireOperator("read")).toMatchObject({ ok: true });
    expect(await requireOperator("tokens.manage")).toMatchObject({ ok: false, code: "FORBIDDEN", message: expect.stringMatching(/vera has the viewer role/) });
    const refused = authDb().prepare("SELECT actor, type, outcome FROM auth_events WHERE type = 'access-refused'").all();
    expect(refused).toEqual([{ actor: "vera", type: "access-refused", outcome: "rejected" }]);
  });
});

