/** The data dir is 0700; the database, its -wal and -shm, and operators.json are 0600, whatever the umask. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RotorStore } from "../index";
import { ensurePrivateDir, writePrivateFile } from "../files";

const mode = (p: string) => statSync(p).mode & 0o777;

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "rotor-files-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("private files", () => {
  it("creates the data dir 0700 and the database with its -wal and -shm 0600", () => {
    const dataDir = path.join(root, "data", ".rotor");
    const store = new RotorStore(path.join(dataDir, "rotor.db"));
    try {
      store.db.exec("CREATE TABLE probe (x INTEGER); INSERT INTO probe VALUES (1)");
      expect(mode(dataDir)).toBe(0o700);
      for (const f of ["rotor.db", "rotor.db-wal", "rotor.db-shm"]) expect([f, mode(path.join(dataDir, f))]).toEqual([f, 0o600]);
    } finally {
      store.close();
    }
  });

  it("tightens an existing data dir, database and operators.json made with loose modes", () => {
    const dataDir = path.join(root, "loose");
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    writeFileSync(path.join(dataDir, "operators.json"), "{}", { mode: 0o644 });
    writeFileSync(path.join(dataDir, "rotor.db"), "", { mode: 0o644 });
    chmodSync(path.join(dataDir, "rotor.db"), 0o644);
    const store = new RotorStore(path.join(dataDir, "rotor.db"));
    store.close();
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(path.join(dataDir, "operators.json"))).toBe(0o600);
    expect(mode(path.join(dataDir, "rotor.db"))).toBe(0o600);
  });

  it("writes a secret file 0600 and keeps the dir 0700", () => {
    const dir = ensurePrivateDir(path.join(root, "secret"));
    writePrivateFile(path.join(dir, "control.secret"), "s3cret\n");
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, "control.secret"))).toBe(0o600);
  });
});
