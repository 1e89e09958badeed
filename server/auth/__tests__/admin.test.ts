import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import { findAccount } from "../accounts";
import { addStoredOperator, createToken, disableStoredOperator, revokeToken, setTwoPersonLbs } from "../admin";
import { authDb } from "../db";
import { authorizeSession } from "../guard";
import { createSession } from "../sessions";
import { verifyApiToken } from "../tokens";
import { twoPersonLbs } from "../two-person";
import { tempEnv, type TempEnv } from "./helpers";

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  const amy = { name: "amy", role: "admin" as const };
  beforeEach(async () => {
    env = await tempEnv([], kind);
  });
  afterEach(() => env.cleanup());

  describe("admin", () => {
    it("creates a token (shown once), revokes it, and records both", () => {
      const db = authDb();
      const r = createToken(db, amy, { name: "ci", role: "operator", expiresInDays: "30" });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(verifyApiToken(db, r.data.token)?.name).toBe(`api:ci for ${amy.name}`);
      expect(createToken(db, amy, { name: "ci", role: "operator" })).toMatchObject({ ok: false, code: "NAME_TAKEN" });
      expect(createToken(db, amy, { name: "", role: "root" })).toMatchObject({ ok: false, code: "INVALID_INPUT", fieldErrors: { name: expect.any(String), role: expect.any(String) } });
      const id = verifyApiToken(db, r.data.token)!.tokenId;
      expect(revokeToken(db, amy, id)).toEqual({ ok: true, data: { name: "ci" } });
      expect(verifyApiToken(db, r.data.token)).toBeNull();
      const facts = db.prepare("SELECT actor, type, details FROM auth_events ORDER BY seq").all() as { actor: string; type: string; details: string }[];
      // The two refused creations (name taken, bad input) are in the trail too.
      expect(facts.map((f) => [f.actor, f.type])).toEqual([["amy", "token-created"], ["amy", "access-refused"], ["amy", "access-refused"], ["amy", "token-revoked"]]);
      expect(facts.map((f) => f.details).join()).not.toContain(r.data.token);
    });

    it("adds an operator who can then sign in, and disabling ends their sessions", async () => {
      const db = authDb();
      expect(await addStoredOperator(db, amy, { name: "bob", role: "operator", password: "short" })).toMatchObject({ ok: false, fieldErrors: { password: expect.any(String) } });
      expect(await addStoredOperator(db, amy, { name: "bob", role: "operator", password: "long-enough-password" })).toEqual({ ok: true, data: { name: "bob" } });
      expect(findAccount(db, "bob")?.role).toBe("operator");
      const { token } = createSession(db, { name: "bob", role: "operator", source: "local" });
      expect(authorizeSession(db, token, "rollout.approve").ok).toBe(true);
      expect(disableStoredOperator(db, amy, "amy")).toMatchObject({ ok: false });
      expect(disableStoredOperator(db, amy, "bob")).toEqual({ ok: true, data: { name: "bob" } });
      expect(authorizeSession(db, token, "rollout.approve")).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
      expect(findAccount(db, "bob")).toBeNull();
    });

    it("turns the two-person rule on per load balancer from the setting, alongside the environment", () => {
      const db = authDb();
      expect(setTwoPersonLbs(db, amy, "prod, prod-eu\nprod")).toEqual({ ok: true, data: { lbs: ["prod", "prod-eu"] } });
      expect([...twoPersonLbs(db, { ROTOR_TWO_PERSON_LBS: "staging" })].sort()).toEqual(["prod", "prod-eu", "staging"]);
      expect(setTwoPersonLbs(db, amy, "")).toEqual({ ok: true, data: { lbs: [] } });
      expect(twoPersonLbs(db, {}).size).toBe(0);
    });
  });
});
