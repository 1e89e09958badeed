import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSecret, sealSecret, secretsKey } from "@/server/auth/secrets";

const dir = mkdtempSync(path.join(tmpdir(), "rotor-seal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("sealed secrets", () => {
  it("round-trip under the data dir's key (made 0600, the same on every read); refuse another key and a tampered value", () => {
    const key = secretsKey(dir);
    expect(statSync(path.join(dir, "notify.key")).mode & 0o777).toBe(0o600);
    expect(secretsKey(dir).equals(key)).toBe(true);
    const sealed = sealSecret(key, "https://hooks.example/T0/B0/xyz");
    expect(sealed).not.toContain("xyz");
    expect(sealSecret(key, "same")).not.toBe(sealSecret(key, "same"));
    expect(openSecret(key, sealed)).toBe("https://hooks.example/T0/B0/xyz");
    const other = secretsKey(dir, { ROTOR_SECRETS_KEY: Buffer.alloc(32, 7).toString("base64") });
    expect(() => openSecret(other, sealed)).toThrow(/could not be opened/);
    const tampered = sealed.slice(0, -2) + (sealed.endsWith("A") ? "BB" : "AA");
    expect(() => openSecret(key, tampered)).toThrow(/could not be opened/);
    expect(() => secretsKey(dir, { ROTOR_SECRETS_KEY: "c2hvcnQ=" })).toThrow(/must be 32 bytes/);
  });
});
