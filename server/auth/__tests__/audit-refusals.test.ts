/** Every refusal leaves a row in the audit trail, with who (anonymous when nobody checked out), what and on what. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import { handleSignOut } from "../auth-routes";
import { createToken } from "../admin";
import { authDb } from "../db";
import { authorizeSession, requireBearer, sessionFor } from "../guard";
import { authorizeRolloutEvent } from "../rollout-access";
import { createSession, revokeSession } from "../sessions";
import { createApiToken, revokeApiToken } from "../tokens";
import { aliceAndVera, type TempEnv } from "./helpers";

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  beforeEach(async () => {
    env = await aliceAndVera(kind);
  });
  afterEach(() => env.cleanup());

  function refusals() {
    return (authDb().prepare("SELECT actor, reason, details FROM auth_events WHERE type = 'access-refused' AND outcome = 'rejected' ORDER BY seq").all() as { actor: string; reason: string; details: string }[]).map(
      (r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }),
    );
  }

  const post = (path: string, headers: Record<string, string> = {}) => new Request(`http://127.0.0.1:3000${path}`, { method: "POST", headers: { host: "127.0.0.1:3000", ...headers } });

  describe("refusals in the audit trail", () => {
    it("an unknown or a revoked API token", () => {
      const db = authDb();
      expect(requireBearer(post("/api/rollouts", { authorization: "Bearer rotor_bogus" }), "rollout.start", db).ok).toBe(false);
      const { token, info } = createApiToken(db, { name: "ci", role: "operator" }, "amy");
      revokeApiToken(db, info.id, "amy");
      expect(requireBearer(post("/api/rollouts/r-1/events", { authorization: `Bearer ${token}` }), "read", db).ok).toBe(false);
      expect(refusals()).toEqual([
        { actor: "anonymous", reason: expect.stringMatching(/token unknown, revoked/), details: { action: "rollout.start", target: "POST /api/rollouts", via: "token" } },
        { actor: "anonymous", reason: expect.stringMatching(/token unknown, revoked/), details: { action: "read", target: "POST /api/rollouts/r-1/events", via: "token" } },
      ]);
      expect(JSON.stringify(refusals())).not.toContain(token);
    });

    it("a revoked session cookie (and not a visit with no cookie at all)", () => {
      const db = authDb();
      const { token } = createSession(db, { name: "alice", role: "operator", source: "local" });
      revokeSession(db, token);
      expect(authorizeSession(db, token, "read", Date.now(), "GET /api/audit").ok).toBe(false);
      expect(authorizeSession(db, undefined, "read", Date.now(), "GET /api/audit").ok).toBe(false);
      // A tab polling with the dead cookie: refused every time, written down once a minute.
      for (let i = 0; i < 5; i++) expect(authorizeSession(db, token, "read", Date.now(), "GET /api/audit").ok).toBe(false);
      expect(refusals()).toEqual([{ actor: "anonymous", reason: "session cookie unknown, expired or revoked", details: { action: "read", target: "GET /api/audit", via: "session" } }]);
    });

    it("a cross-origin sign-out, which leaves the session alive", async () => {
      const db = authDb();
      const { token } = createSession(db, { name: "alice", role: "operator", source: "local" });
      const res = await handleSignOut(post("/api/auth/sign-out", { origin: "https://evil.example", cookie: `rotor_session=${token}` }));
      expect(res.status).toBe(403);
      expect(sessionFor(db, token)?.operator.name).toBe("alice");
      expect(refusals()).toEqual([
        {
          actor: "alice",
          reason: expect.stringMatching(/cross-origin request refused/),
          details: { action: "sign-out", target: "POST /api/auth/sign-out", origin: "https://evil.example", site: null },
        },
      ]);
    });

    it("a server action refused for the role, and one refused for its input", () => {
      const db = authDb();
      const { token } = createSession(db, { name: "vera", role: "viewer", source: "local" });
      expect(authorizeSession(db, token, "tokens.manage", Date.now(), "server action tokens.manage")).toMatchObject({ ok: false, code: "FORBIDDEN" });
      expect(createToken(db, { name: "amy", role: "admin" }, { name: "Bad Name!", role: "operator" })).toMatchObject({ ok: false, code: "INVALID_INPUT" });
      expect(refusals()).toEqual([
        { actor: "vera", reason: expect.stringMatching(/viewer role; tokens.manage needs admin/), details: { action: "tokens.manage", target: "server action tokens.manage", via: "session" } },
        { actor: "amy", reason: expect.stringMatching(/^INVALID_INPUT: /), details: { action: "tokens.manage", target: "Bad Name!" } },
      ]);
    });

    it("a viewer's event on a rollout that does not exist", () => {
      expect(authorizeRolloutEvent(env.store, { name: "vera", role: "viewer" }, "r-missing", { type: "approve" })).toMatchObject({ ok: false, code: "NOT_FOUND" });
      expect(refusals()).toEqual([{ actor: "vera", reason: "NOT_FOUND: No rollout r-missing", details: { action: "rollout.approve", target: "r-missing", role: "viewer" } }]);
    });
  });
});
