import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import { assertSafeBinding, configuredOperators, ensureDemoOperator, findAccount, isLoopbackHost, realAccounts } from "../accounts";
import { authDb } from "../db";
import { verifyPassword } from "../password";
import { signIn } from "../sign-in";
import { newSignInLimits } from "../rate-limit";
import { fastHash, tempEnv, type TempEnv } from "./helpers";

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  beforeEach(async () => {
    env = await tempEnv([], kind);
  });
  afterEach(() => env.cleanup());

  describe("configured operators", () => {
    it("reads ROTOR_OPERATORS, else operators.json in the data dir", async () => {
      const hash = await fastHash("pw-12345678");
      expect(configuredOperators({ ROTOR_DATA_DIR: env.dir })).toEqual([]);
      writeFileSync(path.join(env.dir, "operators.json"), JSON.stringify({ operators: [{ name: "filed", role: "viewer", passwordHash: hash }] }));
      expect(configuredOperators({ ROTOR_DATA_DIR: env.dir }).map((a) => a.name)).toEqual(["filed"]);
      const fromEnv = configuredOperators({ ROTOR_DATA_DIR: env.dir, ROTOR_OPERATORS: JSON.stringify([{ name: "env", role: "admin", passwordHash: hash }]) });
      expect(fromEnv).toEqual([{ name: "env", role: "admin", passwordHash: hash, source: "config" }]);
    });

    it("refuses bad configuration loudly instead of ignoring it", async () => {
      const hash = await fastHash("pw-12345678");
      expect(() => configuredOperators({ ROTOR_OPERATORS: "{not json" })).toThrow(/not valid JSON/);
      expect(() => configuredOperators({ ROTOR_OPERATORS: JSON.stringify([{ name: "a", role: "root", passwordHash: hash }]) })).toThrow(/role/);
      expect(() => configuredOperators({ ROTOR_OPERATORS: JSON.stringify([{ name: "a", role: "admin", passwordHash: "plaintext" }]) })).toThrow(/hash-password/);
      expect(() => configuredOperators({ ROTOR_OPERATORS: JSON.stringify([{ name: "engine", role: "admin", passwordHash: hash }]) })).toThrow(/reserved/);
      const dup = { name: "a", role: "admin", passwordHash: hash };
      expect(() => configuredOperators({ ROTOR_OPERATORS: JSON.stringify([dup, dup]) })).toThrow(/twice/);
    });
  });

  describe("binding and the demo operator", () => {
    it("knows loopback", () => {
      for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) expect(isLoopbackHost(h)).toBe(true);
      for (const h of ["0.0.0.0", "::", "10.0.0.5", "rotor.example.com", "127.0.0.1.nip.io"]) expect(isLoopbackHost(h)).toBe(false);
    });

    it("refuses a non-loopback binding with no operator configured, with a message that says what to do", () => {
      expect(() => assertSafeBinding("127.0.0.1", [])).not.toThrow();
      expect(() => assertSafeBinding("0.0.0.0", [])).toThrow(/refusing to listen on 0\.0\.0\.0.*ROTOR_OPERATORS.*hash-password/);
      expect(() => assertSafeBinding("0.0.0.0", [{ name: "a" }])).not.toThrow();
      expect(() => assertSafeBinding("0.0.0.0", [], { oidc: true })).not.toThrow();
    });

    it("on loopback creates demo (admin) with a printed-once password, stored hashed; a restart rotates it", async () => {
      const db = authDb();
      const first = await ensureDemoOperator(db, "127.0.0.1");
      expect(first?.name).toBe("demo");
      const stored = findAccount(db, "demo");
      expect(stored?.role).toBe("admin");
      expect(stored?.passwordHash).not.toContain(first!.password);
      expect(await verifyPassword(first!.password, stored!.passwordHash)).toBe(true);
      expect(realAccounts(db)).toEqual([]);
      expect((await signIn(db, { name: "demo", password: first!.password }, { client: "t", limits: newSignInLimits(() => db) })).ok).toBe(true);

      const second = await ensureDemoOperator(db, "127.0.0.1");
      expect(second!.password).not.toBe(first!.password);
      expect(await verifyPassword(first!.password, findAccount(db, "demo")!.passwordHash)).toBe(false);
    });

    it("makes no demo operator when operators are configured or off loopback, and disables a leftover one", async () => {
      const db = authDb();
      await ensureDemoOperator(db, "127.0.0.1");
      expect(await ensureDemoOperator(db, "0.0.0.0")).toBeNull();
      expect(findAccount(db, "demo")).toBeNull();
      const configured = { ...process.env, ROTOR_OPERATORS: JSON.stringify([{ name: "amy", role: "admin", passwordHash: await fastHash("amy-password") }]) };
      expect(await ensureDemoOperator(db, "127.0.0.1", configured)).toBeNull();
      expect(realAccounts(db, configured).map((a) => a.name)).toEqual(["amy"]);
    });
  });
});
