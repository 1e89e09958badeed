import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { hashPassword, hashPasswordSync, isPasswordHash, verifyPassword } from "../password";
import { digest, newSecret } from "../secrets";
import { fastHash } from "./helpers";

const root = path.resolve(__dirname, "../../..");

describe("password hashing (scrypt)", () => {
  it("verifies the right password and refuses a wrong one", async () => {
    const hash = await fastHash("correct horse battery");
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await verifyPassword("correct horse battery", hash)).toBe(true);
    expect(await verifyPassword("correct horse batterY", hash)).toBe(false);
    expect(await verifyPassword("", hash)).toBe(false);
  });

  it("salts every hash, so the same password hashes differently", async () => {
    const [a, b] = await Promise.all([fastHash("same"), fastHash("same")]);
    expect(a).not.toBe(b);
    expect(await verifyPassword("same", a)).toBe(true);
    expect(await verifyPassword("same", b)).toBe(true);
  });

  it("hashes synchronously too (for playwright.config.ts), to the same format", async () => {
    const hash = hashPasswordSync("sync password", { N: 1024, r: 8, p: 1 });
    expect(isPasswordHash(hash)).toBe(true);
    expect(await verifyPassword("sync password", hash)).toBe(true);
    expect(await verifyPassword("sync passwort", hash)).toBe(false);
  });

  it("uses N=2^15 by default and never hashes an empty password", async () => {
    const hash = await hashPassword("default cost");
    expect(hash.split("$").slice(0, 4)).toEqual(["scrypt", "32768", "8", "1"]);
    await expect(hashPassword("")).rejects.toThrow(/empty/);
  });

  it("answers false for no account (decoy work) and for malformed or hostile hashes", async () => {
    expect(await verifyPassword("anything", null)).toBe(false);
    for (const bad of ["", "plain", "scrypt$3$8$1$c2FsdHNhbHQ$AAAA", "bcrypt$10$x", "scrypt$1048576000$8$1$c2FsdHNhbHQ$" + "A".repeat(43)]) {
      expect(isPasswordHash(bad)).toBe(false);
      expect(await verifyPassword("anything", bad)).toBe(false);
    }
  });

  it("hash-password.ts reads the password from stdin and prints a hash that verifies", async () => {
    const child = execFile(process.execPath, ["--import", "tsx", path.join(root, "server/auth/hash-password.ts")], { cwd: root });
    child.stdin?.end("s3cret-enough\n");
    const out = await new Promise<string>((resolve, reject) => {
      let text = "";
      child.stdout?.on("data", (c: Buffer) => (text += c.toString()));
      child.on("error", reject);
      child.on("exit", (code) => (code === 0 ? resolve(text.trim()) : reject(new Error(`exit ${code}`))));
    });
    expect(isPasswordHash(out)).toBe(true);
    expect(await verifyPassword("s3cret-enough", out)).toBe(true);
  });

  it("refuses a password given as an argument", async () => {
    const run = promisify(execFile);
    await expect(run(process.execPath, ["--import", "tsx", path.join(root, "server/auth/hash-password.ts"), "hunter2hunter2"], { cwd: root })).rejects.toMatchObject({ code: 2 });
  });
});

describe("secrets", () => {
  it("are 256 random bits, and the stored digest is SHA-256 hex", () => {
    const a = newSecret("rotor_");
    expect(a).toMatch(/^rotor_[\w-]{43}$/);
    expect(newSecret()).not.toBe(newSecret());
    expect(digest(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(digest(a)).not.toContain(a);
  });
});
