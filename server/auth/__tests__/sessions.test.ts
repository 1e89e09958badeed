import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import { authorizeSession, sessionFor } from "../guard";
import { createSession, purgeSessions, resolveSession, revokeSession, revokeSessionsOf } from "../sessions";
import { aliceAndVera, type TempEnv } from "./helpers";
import { authDb } from "../db";

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  beforeEach(async () => {
    env = await aliceAndVera(kind);
  });
  afterEach(() => env.cleanup());

  describe("sessions", () => {
    it("resolve until they expire, and are stored only as a digest", () => {
      const db = authDb();
      const { token, expiresAt } = createSession(db, { name: "alice", role: "operator", source: "local" }, { now: 1_000, ttlMs: 60_000 });
      expect(expiresAt).toBe(61_000);
      expect(resolveSession(db, token, { now: 60_999 })?.operator).toEqual({ name: "alice", role: "operator" });
      expect(resolveSession(db, token, { now: 61_000 })).toBeNull();
      const rows = db.prepare("SELECT * FROM auth_sessions").all();
      expect(JSON.stringify(rows)).not.toContain(token);
    });

    it("sign-out revokes the session: the same cookie no longer works", () => {
      const db = authDb();
      const { token } = createSession(db, { name: "alice", role: "operator", source: "local" });
      expect(authorizeSession(db, token, "rollout.approve").ok).toBe(true);
      expect(revokeSession(db, token)).toBe(true);
      expect(revokeSession(db, token)).toBe(false);
      expect(authorizeSession(db, token, "rollout.approve")).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    });

    it("refuses unknown, empty and absurd cookie values", () => {
      const db = authDb();
      for (const t of [undefined, null, "", "nope", "x".repeat(500)]) expect(resolveSession(db, t)).toBeNull();
    });

    it("follows the account: a removed operator's session stops working", () => {
      const db = authDb();
      const { token } = createSession(db, { name: "alice", role: "operator", source: "local" });
      expect(sessionFor(db, token)?.operator.name).toBe("alice");
      process.env.ROTOR_OPERATORS = "[]";
      expect(sessionFor(db, token)).toBeNull();
    });

    it("checks the role: a viewer may read but not approve", () => {
      const db = authDb();
      const { token } = createSession(db, { name: "vera", role: "viewer", source: "local" });
      expect(authorizeSession(db, token, "read")).toEqual({ ok: true, operator: { name: "vera", role: "viewer" } });
      expect(authorizeSession(db, token, "rollout.approve")).toMatchObject({ ok: false, code: "FORBIDDEN" });
    });

    it("revokes every session of an operator, and purges long-dead ones", () => {
      const db = authDb();
      const a = createSession(db, { name: "alice", role: "operator", source: "local" }, { now: 0, ttlMs: 1000 });
      const b = createSession(db, { name: "alice", role: "operator", source: "local" });
      expect(revokeSessionsOf(db, "alice")).toBe(2);
      expect(resolveSession(db, b.token)).toBeNull();
      expect(purgeSessions(db, 2 * 86_400_000)).toBeGreaterThanOrEqual(1);
      expect(resolveSession(db, a.token, { now: 0 })).toBeNull();
    });
  });
});
