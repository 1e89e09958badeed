import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handleSignIn } from "../auth-routes";
import { authDb } from "../db";
import { clientAddress, PEER_HEADER } from "../http";
import { installPeerStamp } from "../peer";
import { runtime } from "@/server/runtime";
import { RotorStore } from "@/server/store";
import { STORE_KINDS, testStore, type TestStore } from "@/server/testing/stores";
import { newSignInLimits, SIGN_IN_WINDOW_MS, SlidingWindowLimiter } from "../rate-limit";
import { liftSignInLock, lockedAccounts, signIn } from "../sign-in";
import { tempEnv, type TempEnv } from "./helpers";

describe.each(STORE_KINDS)("SlidingWindowLimiter on %s", (kind) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await testStore(kind);
  });
  afterEach(() => t.cleanup());

  it("blocks at the limit within the window and frees up as failures age out", () => {
    const l = new SlidingWindowLimiter(() => t.store.db, "test", { limit: 3, windowMs: 1000 });
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

  it("forgets failures once they are out of the window, so a spray of keys leaves no rows behind", () => {
    const l = new SlidingWindowLimiter(() => t.store.db, "test", { limit: 1, windowMs: 1000 });
    for (let i = 0; i < 50; i++) l.fail(`k${i}`, 0);
    expect(l.check("k49", 1).allowed).toBe(false);
    l.fail("late", 2000);
    expect(t.store.db.prepare("SELECT subject FROM auth_sign_in_failures").all()).toEqual([{ subject: "late" }]);
  });

  it("holds across replicas: a lock counted by one store's process is seen by another's", () => {
    const other = new RotorStore(t.location);
    try {
      const a = newSignInLimits(() => t.store.db);
      const b = newSignInLimits(() => other.db);
      for (let i = 0; i < 3; i++) expect(a.account.reserve("account:alice", 10 + i).allowed).toBe(true);
      for (let i = 0; i < 2; i++) expect(b.account.reserve("account:alice", 20 + i).allowed).toBe(true);
      expect(a.account.reserve("account:alice", 30)).toEqual({ allowed: false, retryAfterMs: SIGN_IN_WINDOW_MS - 20 });
      expect(b.account.blocked(30)).toEqual([{ key: "account:alice", retryAfterMs: SIGN_IN_WINDOW_MS - 20 }]);
      a.account.reset("account:alice");
      expect(b.account.check("account:alice", 31).allowed).toBe(true);
    } finally {
      other.close();
    }
  });
});

describe.each(STORE_KINDS)("on %s", (kind) => {
  describe("sign-in rate limit", () => {
    let env: TempEnv;
    beforeEach(async () => {
      env = await tempEnv([{ name: "alice", role: "operator", password: "right-password" }], kind);
    });
    afterEach(() => env.cleanup());

    it("after 5 failures in 5 minutes even the right password is refused, until the window passes", async () => {
      const db = authDb();
      const limits = newSignInLimits(() => db);
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
      const limits = newSignInLimits(() => db);
      for (let i = 0; i < 20; i++) await signIn(db, { name: `user${i}`, password: "x" }, { client: "10.2.2.2", limits, now: 5 });
      expect(await signIn(db, { name: "alice", password: "right-password" }, { client: "10.2.2.2", limits, now: 6 })).toMatchObject({ code: "RATE_LIMITED" });
      expect((await signIn(db, { name: "alice", password: "right-password" }, { client: "10.3.3.3", limits, now: 6 })).ok).toBe(true);
    });

    it("the route answers 429 with Retry-After", async () => {
      // The route uses the process's limiter: start it clean for this account.
      runtime().signInLimits.account.reset("account:alice");
      const post = (password: string) =>
        handleSignIn(new Request("http://127.0.0.1:3000/api/auth/sign-in", { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "10.7.7.7" }, body: JSON.stringify({ name: "alice", password }) }));
      for (let i = 0; i < 5; i++) expect((await post("wrong")).status).toBe(401);
      const res = await post("right-password");
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(res.headers.get("set-cookie")).toBeNull();
      runtime().signInLimits.account.reset("account:alice");
      runtime().signInLimits.client.reset("client:10.7.7.7");
      runtime().signInLimits.client.reset("client:unknown");
    });

    it("counts an attempt before the hash runs: of 30 parallel guesses only 5 are tried, even with the right password among them", async () => {
      const db = authDb();
      const limits = newSignInLimits(() => db);
      const guesses = Array.from({ length: 30 }, (_, i) => (i === 29 ? "right-password" : `guess-${i}`));
      const results = await Promise.all(guesses.map((password) => signIn(db, { name: "alice", password }, { client: "10.4.4.4", limits, now: 1_000 })));
      const codes = results.map((r) => (r.ok ? "OK" : r.code));
      expect(codes.filter((c) => c === "INVALID_CREDENTIALS")).toHaveLength(5);
      expect(codes.filter((c) => c === "RATE_LIMITED")).toHaveLength(25);
      expect(codes[5]).toBe("RATE_LIMITED");
      expect(codes).not.toContain("OK");
    });

    it("a success settles its reservation: a signed-in operator does not use up the address's allowance", async () => {
      const db = authDb();
      const limits = newSignInLimits(() => db);
      for (let i = 0; i < 25; i++) expect((await signIn(db, { name: "alice", password: "right-password" }, { client: "10.5.5.5", limits, now: 7 })).ok).toBe(true);
    });

    it("tells the real user, with the right password, that the account is locked, for how long, and who can lift it", async () => {
      const db = authDb();
      const limits = newSignInLimits(() => db);
      for (let i = 0; i < 5; i++) await signIn(db, { name: "alice", password: `guess-${i}` }, { client: "10.6.6.6", limits, now: 0 });
      const r = await signIn(db, { name: "alice", password: "right-password" }, { client: "10.1.1.1", limits, now: 60_000 });
      expect(r).toMatchObject({ ok: false, code: "RATE_LIMITED", retryAfterMs: 240_000 });
      expect(!r.ok && r.message).toBe("Sign-in as alice is locked after too many failed attempts; try again in 4 min, or ask an admin to lift the lock (Settings → Operators).");
      expect(lockedAccounts(limits, 60_000)).toEqual([{ name: "alice", retryAfterMs: 240_000 }]);
    });

    it("an admin lifts a lock, and that is audited", async () => {
      const db = authDb();
      const limits = newSignInLimits(() => db);
      for (let i = 0; i < 5; i++) await signIn(db, { name: "alice", password: `guess-${i}` }, { client: "10.6.6.6", limits, now: 0 });
      expect(liftSignInLock(db, "root", "alice", limits, 10)).toBe(true);
      expect((await signIn(db, { name: "alice", password: "right-password" }, { client: "10.1.1.1", limits, now: 11 })).ok).toBe(true);
      const row = db.prepare("SELECT actor, outcome, details FROM auth_events WHERE type = 'lock-lifted'").get();
      expect(row).toEqual({ actor: "root", outcome: "applied", details: JSON.stringify({ name: "alice" }) });
    });
  });
});

describe("the client address", () => {
  const h = (o: Record<string, string>) => new Headers(o);

  it("ignores X-Forwarded-For unless ROTOR_TRUST_PROXY names the hops", () => {
    const spoofed = h({ "x-forwarded-for": "203.0.113.9", [PEER_HEADER]: "198.51.100.7" });
    expect(clientAddress(spoofed, {})).toBe("198.51.100.7");
    expect(clientAddress(spoofed, { ROTOR_TRUST_PROXY: "0" })).toBe("198.51.100.7");
    expect(clientAddress(h({ "x-forwarded-for": "203.0.113.9" }), {})).toBe("unknown");
  });

  it("with N hops, believes only the N nearest proxies; with a list, only those addresses", () => {
    // The client wrote 6.6.6.6 itself; the proxy (10.0.0.2) appended the address it saw, 203.0.113.9.
    const behindOne = h({ "x-forwarded-for": "6.6.6.6, 203.0.113.9", [PEER_HEADER]: "10.0.0.2" });
    expect(clientAddress(behindOne, { ROTOR_TRUST_PROXY: "1" })).toBe("203.0.113.9");
    expect(clientAddress(behindOne, { ROTOR_TRUST_PROXY: "10.0.0.2" })).toBe("203.0.113.9");
    expect(clientAddress(behindOne, { ROTOR_TRUST_PROXY: "2" })).toBe("6.6.6.6");
    // A list that does not name the peer believes nothing past it.
    expect(clientAddress(behindOne, { ROTOR_TRUST_PROXY: "10.9.9.9" })).toBe("10.0.0.2");
    expect(() => clientAddress(behindOne, { ROTOR_TRUST_PROXY: "yes" })).toThrow(/neither a hop count nor an IP address/);
  });

  it("a client rotating X-Forwarded-For still meets the per-address limit at the route", async () => {
    const saved = process.env.ROTOR_TRUST_PROXY;
    delete process.env.ROTOR_TRUST_PROXY;
    runtime().signInLimits.client.reset("client:192.0.2.50");
    const post = (i: number) =>
      handleSignIn(
        new Request("http://127.0.0.1:3000/api/auth/sign-in", {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": `10.8.${i}.1`, [PEER_HEADER]: "192.0.2.50" },
          body: JSON.stringify({ name: `spray${i}`, password: "x" }),
        }),
      );
    try {
      for (let i = 0; i < 20; i++) expect((await post(i)).status).toBe(401);
      expect((await post(20)).status).toBe(429);
    } finally {
      runtime().signInLimits.client.reset("client:192.0.2.50");
      for (let i = 0; i <= 20; i++) runtime().signInLimits.account.reset(`account:spray${i}`);
      if (saved !== undefined) process.env.ROTOR_TRUST_PROXY = saved;
    }
  });

  it("stamps the TCP peer on each request, over whatever the client sent under that name", async () => {
    const uninstall = installPeerStamp();
    const server = http.createServer((req, res) => res.end(String(req.headers[PEER_HEADER])));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { [PEER_HEADER]: "203.0.113.1" } });
      expect(await res.text()).toBe("127.0.0.1");
    } finally {
      uninstall();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
