/** `rotor migrate` opens the store itself (no dashboard needed) and says what it applied. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { MIGRATIONS } from "@/server/store/migrations";
import { AUTH_MIGRATIONS } from "@/server/auth/schema";
import { main } from "./program";

let dir: string | null = null;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

async function rotor(args: string[], env: Record<string, string>) {
  let out = "";
  let err = "";
  const code = await main(args, { env, stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

it("applies every migration once, then nothing, and names the store", async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-migrate-"));
  const versions = [...MIGRATIONS, ...AUTH_MIGRATIONS].map((m) => m.version).sort((a, b) => a - b);
  const first = await rotor(["migrate"], { ROTOR_DATA_DIR: dir });
  expect(first).toMatchObject({ code: 0, err: "" });
  expect(first.out).toBe(`${path.join(dir, "rotor.db")}: applied ${versions.join(", ")}; schema version ${Math.max(...versions)}.\n`);
  const again = await rotor(["migrate", "--json"], { ROTOR_DATA_DIR: dir });
  expect(JSON.parse(again.out)).toEqual({ where: path.join(dir, "rotor.db"), applied: [], schemaVersion: Math.max(...versions) });
});

it("refuses a database URL that is not postgres:// before connecting, without echoing its password", async () => {
  const r = await rotor(["migrate"], { ROTOR_DATABASE_URL: "mysql://admin:hunter2@db/rotor" });
  expect(r.code).not.toBe(0);
  expect(r.err).toContain("ROTOR_DATABASE_URL must be a postgres:// URL");
  expect(r.err).not.toContain("hunter2");
});
