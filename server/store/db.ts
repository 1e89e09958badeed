/**
 * Opening the SQLite database: WAL, a busy timeout so concurrent writers queue instead of
 * failing, foreign keys, and the schema migrations. The data dir is 0700 and the database 0600.
 */
import Database from "better-sqlite3";
import path from "node:path";
import { ensurePrivateDir, ensurePrivateFile } from "./files";
import { MIGRATIONS, type Migration } from "./migrations";

export type Db = Database.Database;

/** `${ROTOR_DATA_DIR:-.rotor}`, resolved against the working directory. */
export function resolveDataDir(dataDir?: string): string {
  return path.resolve(dataDir ?? process.env.ROTOR_DATA_DIR ?? ".rotor");
}

export function databasePath(dataDir?: string): string {
  return path.join(resolveDataDir(dataDir), "rotor.db");
}

export function openDatabase(file: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  ensurePrivateDir(path.dirname(file));
  // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the main file's mode.
  ensurePrivateFile(file);
  const db = new Database(file);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("busy_timeout = 10000");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    migrate(db, migrations);
    return db;
  } catch (cause) {
    db.close();
    throw new Error(`could not open the Rotor database at ${file}`, { cause });
  }
}

/** Applies the migrations not yet applied. Safe when several processes open the same file at once. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied: number[] = [];
  const has = db.prepare<[number], { version: number }>("SELECT version FROM schema_migrations WHERE version = ?");
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const run = db.transaction(() => {
      if (has.get(m.version)) return false;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
      return true;
    });
    try {
      if (run.immediate()) applied.push(m.version);
    } catch (cause) {
      throw new Error(`migration ${m.version} (${m.name}) failed`, { cause });
    }
  }
  return applied;
}

export function appliedMigrations(db: Db): number[] {
  return db
    .prepare<[], { version: number }>("SELECT version FROM schema_migrations ORDER BY version")
    .all()
    .map((r) => r.version);
}
