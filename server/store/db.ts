/**
 * Opening the store's database: SQLite in the data dir (the embedded default) or PostgreSQL when
 * `ROTOR_DATABASE_URL` is set, and the schema migrations for that dialect.
 *
 * SQLite: WAL, a busy timeout so concurrent writers queue instead of failing, foreign keys; the data
 * dir is 0700 and the database 0600. PostgreSQL: server/store/pg/sync.ts; migrations run under the
 * write lock every replica's transactions take, so replicas starting together apply each one once.
 */
import Database from "better-sqlite3";
import path from "node:path";
import { ensurePrivateDir, ensurePrivateFile } from "./files";
import { MIGRATIONS, type Migration } from "./migrations";
import { PG_MIGRATIONS } from "./pg/migrations";
import { PgSyncDb } from "./pg/sync";
import type { SqlDb, SqlDialect } from "./sql";

export type Db = SqlDb;

/** Where the store lives: a SQLite file, or a PostgreSQL database shared by replicas. */
export type StoreLocation = { kind: "sqlite"; file: string } | { kind: "postgres"; url: string };

/** `${ROTOR_DATA_DIR:-.rotor}`, resolved against the working directory. */
export function resolveDataDir(dataDir?: string): string {
  return path.resolve(dataDir ?? process.env.ROTOR_DATA_DIR ?? ".rotor");
}

export function databasePath(dataDir?: string): string {
  return path.join(resolveDataDir(dataDir), "rotor.db");
}

/** The configured store: PostgreSQL when ROTOR_DATABASE_URL is set, else `rotor.db` in the data dir. */
export function storeLocation(env: Record<string, string | undefined>, dataDir: string): StoreLocation {
  const url = env.ROTOR_DATABASE_URL?.trim();
  if (!url) return { kind: "sqlite", file: databasePath(dataDir) };
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error(`ROTOR_DATABASE_URL must be a postgres:// URL (postgres://user:password@host:5432/rotor), got "${redactUrl(url)}"`);
  }
  return { kind: "postgres", url };
}

/** A database URL with its password hidden, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@]*@/i, "$1:***@");
}

export function dialectOf(db: Db): SqlDialect {
  return db instanceof PgSyncDb ? "postgres" : "sqlite";
}

/** Opens the store's database and applies the migrations not yet applied. */
export function openStoreDb(location: StoreLocation): Db {
  if (location.kind === "sqlite") return openDatabase(location.file);
  const db = new PgSyncDb(location.url);
  try {
    migrate(db, PG_MIGRATIONS);
    return db;
  } catch (cause) {
    db.close();
    throw new Error(`could not open the Rotor database at ${redactUrl(location.url)}`, { cause });
  }
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

/**
 * Applies the migrations not yet applied, each in its own write transaction with its
 * `schema_migrations` row. Safe when several processes (or replicas) open the database at once: they
 * queue on the write lock, and each one after the first finds the version recorded and skips it.
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const applied: number[] = [];
  const table = db.transaction(() =>
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`),
  );
  table.immediate();
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
