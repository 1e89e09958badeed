import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handleSignIn } from "../auth-routes";
import { authDb } from "../db";
import { newSignInLimits, signInLimits, SlidingWindowLimiter } from "../rate-limit";
import { signIn } from "../sign-in";
import { tempEnv, type TempEnv } from "./helpers";

describe("SlidingWindowLimiter", () => {
  it("blocks at the limit within the window and frees up as failures age out", () => {
    const l = new SlidingWindowLimiter({ limit: 3, windowMs: 1000 });
    l.fail("k", 0);
    l.fail("k", 100);
    expect(l.check("k", 200)).toEqual({ allowed: true, retryAfterMs: 0 });
    l.fail("k", 200);
    expect(l.check("k", 300)).toEqual({ allowed: false, retryAfterMs: 700 });
    // the failure at 0 ages out at 1000: one attempt is allowed again
    expect(l.check("k", 1000).allowed).toBe(true);
    expect(l.check("other", 300).allowed).toBe(true);
    l.reset("k");
    expect(l.check("k", 300).allowed).toBe(true);
  });

  it("bounds its memory", () => {
    const l = new SlidingWindowLimiter({ limit: 1, windowMs: 1000, maxKeys: 10 });
    for (let i = 0; i < 50; i++) l.fail(`k${i}`, 0);
    expect(l.check("k0", 1).allowed).toBe(true);
    expect(l.check("k49", 1).allowed).toBe(false);
  });
});

describe("sign-in rate limit", () => {
  let env: TempEnv;
  beforeEach(async () => {
    env = await tempEnv([{ name: "alice", role: "operator", password: "right-password" }]);
  });
  afterEach(() => env.cleanup());

  it("after 5 failures in 5 minutes even the right password is refused, until the window passes", async () => {
    const db = authDb();
    const limits = newSignInLimits();
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) {
      expect(await signIn(db, { name: "alice", password: "guess" + i }, { client: "10.9.9.9", limits, now: t0 + i })).toMatchObject({ code: "INVALID_CREDENTIALS" });
    }
    const blocked = await signIn(db, { name: "alice", password: "right-password" }, { client: "10.1.1.1", limits, now: t0 + 10 });
    expect(blocked).toMatchObject({ ok: false, code: "RATE_LIMITED" });
    expect(blocked.ok === false && blocked.code === "RATE_LIMITED" && blocked.retryAfterMs).toBe(5 * 60_000 - 10);
    const later = await signIn(db, { name: "alice", password: "right-password" }, { client: "10.1.1.1", limits, now: t0 + 5 * 60_000 + 1 });
    expect(later.ok).toBe(true);
  });

  it("limits a client address across accounts", async () => {
    const db = authDb();
    const limits = newSignInLimits();
    for (let i = 0; i < 20; i++) await signIn(db, { name: `user${i}`, password: "x" }, { client: "10.2.2.2", limits, now: 5 });
    expect(await signIn(db, { name: "alice", password: "right-password" }, { client: "10.2.2.2", limits, now: 6 })).toMatchObject({ code: "RATE_LIMITED" });
    expect((await signIn(db, { name: "alice", password: "right-password" }, { client: "10.3.3.3", limits, now: 6 })).ok).toBe(true);
  });

  it("the route answers 429 with Retry-After", async () => {
    // The route uses the process's limiter: start it clean for this account.
    signInLimits().account.reset("account:alice");
    const post = (password: string) =>
      handleSignIn(new Request("http://127.0.0.1:3000/api/auth/sign-in", { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "10.7.7.7" }, body: JSON.stringify({ name: "alice", password }) }));
    for (let i = 0; i < 5; i++) expect((await post("wrong")).status).toBe(401);
    const res = await post("right-password");
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.headers.get("set-cookie")).toBeNull();
    signInLimits().account.reset("account:alice");
    signInLimits().client.reset("client:10.7.7.7");
  });
});
