import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import { authDb } from "../db";
import { requireBearer } from "../guard";
import { createApiToken, listApiTokens, revokeApiToken, TokenNameTaken, verifyApiToken } from "../tokens";
import { tempEnv, type TempEnv } from "./helpers";

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  beforeEach(async () => {
    env = await tempEnv([], kind);
  });
  afterEach(() => env.cleanup());

  const withBearer = (token: string, extra: Record<string, string> = {}) =>
    new Request("http://127.0.0.1/api/x", { method: "POST", headers: { authorization: `Bearer ${token}`, ...extra } });

  describe("API tokens", () => {
    it("verify as api:<name> with their role, stored only as a digest, shown once", () => {
      const db = authDb();
      const { token, info } = createApiToken(db, { name: "ci", role: "operator" }, "admin-amy");
      expect(token).toMatch(/^rotor_/);
      expect(verifyApiToken(db, token)).toMatchObject({ name: "api:ci for admin-amy", role: "operator", tokenId: info.id });
      expect(JSON.stringify(db.prepare("SELECT * FROM auth_tokens").all())).not.toContain(token);
      expect(JSON.stringify(listApiTokens(db))).not.toContain(token);
      expect(listApiTokens(db)[0]?.lastUsedAt).not.toBeNull();
    });

    it("a revoked token stops working", () => {
      const db = authDb();
      const { token, info } = createApiToken(db, { name: "ci", role: "operator" }, "admin-amy");
      expect(requireBearer(withBearer(token), "rollout.start", db).ok).toBe(true);
      expect(revokeApiToken(db, info.id, "admin-amy")).toMatchObject({ revokedBy: "admin-amy" });
      expect(revokeApiToken(db, info.id, "admin-amy")).toBeNull();
      expect(verifyApiToken(db, token)).toBeNull();
      expect(requireBearer(withBearer(token), "rollout.start", db)).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    });

    it("expires, and refuses look-alikes", () => {
      const db = authDb();
      const { token } = createApiToken(db, { name: "nightly", role: "viewer", expiresInDays: 1 }, "amy", 0);
      expect(verifyApiToken(db, token, 86_399_999)).not.toBeNull();
      expect(verifyApiToken(db, token, 86_400_000)).toBeNull();
      expect(verifyApiToken(db, token.slice(0, -1) + (token.endsWith("A") ? "B" : "A"))).toBeNull();
      expect(verifyApiToken(db, "Bearer")).toBeNull();
    });

    it("a name is unique among working tokens, and reusable after revocation", () => {
      const db = authDb();
      const first = createApiToken(db, { name: "ci", role: "operator" }, "amy");
      expect(() => createApiToken(db, { name: "ci", role: "viewer" }, "amy")).toThrow(TokenNameTaken);
      revokeApiToken(db, first.info.id, "amy");
      expect(createApiToken(db, { name: "ci", role: "viewer" }, "amy").info.role).toBe("viewer");
      expect(() => createApiToken(db, { name: "Bad Name!", role: "viewer" }, "amy")).toThrow();
    });

    it("requireBearer: the role decides, and a session cookie is not a credential", () => {
      const db = authDb();
      const viewer = createApiToken(db, { name: "dash", role: "viewer" }, "amy").token;
      expect(requireBearer(withBearer(viewer), "read", db).ok).toBe(true);
      expect(requireBearer(withBearer(viewer), "rollout.approve", db)).toMatchObject({ ok: false, code: "FORBIDDEN" });
      const cookieOnly = new Request("http://127.0.0.1/api/x", { method: "POST", headers: { cookie: "rotor_session=whatever" } });
      expect(requireBearer(cookieOnly, "read", db)).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
      expect(requireBearer(withBearer(viewer).clone(), "read", db).ok).toBe(true);
      expect(requireBearer(new Request("http://x/", { headers: { authorization: `Basic ${viewer}` } }), "read", db).ok).toBe(false);
    });
  });
});
