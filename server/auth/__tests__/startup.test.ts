import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { authDb } from "../db";
import { findAccount } from "../accounts";
import { verifyPassword } from "../password";
import { prepareOperators } from "../startup";
import { fastHash, tempEnv, type TempEnv } from "./helpers";

let env: TempEnv;
beforeEach(async () => {
  env = await tempEnv();
});
afterEach(() => env.cleanup());

describe("prepareOperators (npm start)", () => {
  it("on loopback with nobody configured: prints the demo operator's password once, stores its hash", async () => {
    const r = await prepareOperators("127.0.0.1", { env: { ROTOR_DATA_DIR: env.dir } });
    expect(r.demo?.name).toBe("demo");
    expect(r.lines.join("\n")).toContain(r.demo!.password);
    expect(await verifyPassword(r.demo!.password, findAccount(authDb(), "demo")!.passwordHash)).toBe(true);
  });

  it("refuses 0.0.0.0 with nobody configured, even with a demo operator left from a loopback run", async () => {
    await prepareOperators("127.0.0.1", { env: { ROTOR_DATA_DIR: env.dir } });
    await expect(prepareOperators("0.0.0.0", { env: { ROTOR_DATA_DIR: env.dir } })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0/);
  });

  it("with operators configured: no demo, no password printed, and a non-loopback binding is allowed", async () => {
    const ops = JSON.stringify([{ name: "amy", role: "admin", passwordHash: await fastHash("amy-password") }]);
    const r = await prepareOperators("0.0.0.0", { env: { ROTOR_DATA_DIR: env.dir, ROTOR_OPERATORS: ops } });
    expect(r).toMatchObject({ demo: null, configured: 1, oidc: false, lines: ["rotor: 1 operator(s) configured"] });
  });

  it("stops on bad configuration with its message", async () => {
    await expect(prepareOperators("127.0.0.1", { env: { ROTOR_OPERATORS: "[{]" } })).rejects.toThrow(/ROTOR_OPERATORS is not valid JSON/);
    await expect(prepareOperators("127.0.0.1", { env: { ROTOR_OIDC_ISSUER: "https://id.example" } })).rejects.toThrow(/half configured/);
  });
});
