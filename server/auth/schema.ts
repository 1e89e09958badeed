/**
 * The auth tables, applied through the store's own `migrate()` (same `schema_migrations` table,
 * same one-transaction-per-migration rule) to the store's database file. Versions 100+ are
 * reserved for auth so they never collide with the store's own sequence; they are kept out of
 * `server/store/migrations.ts` so the store's tests and its migration list stay as they are.
 *
 * Secrets are never stored: sessions and API tokens by their SHA-256, passwords as scrypt hashes.
 */
import { dialectOf, migrate, type Db } from "@/server/store/db";
import type { Migration } from "@/server/store/migrations";

const migrated = new WeakSet<Db>();

/** Applies the auth migrations to `db` if this process has not yet done so for this connection. */
export function ensureAuthSchema(db: Db): Db {
  if (!migrated.has(db)) {
    // PostgreSQL's auth tables come with the store's migrations (server/store/pg/migrations.ts, 100–101).
    if (dialectOf(db) === "sqlite") migrate(db, AUTH_MIGRATIONS);
    migrated.add(db);
  }
  return db;
}

export const AUTH_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: "auth: operators, sessions, api tokens, settings, access log",
    sql: `
      -- Operators managed in the dashboard (the demo operator, accounts an admin adds).
      -- Operators from ROTOR_OPERATORS / operators.json are configuration, not rows.
      CREATE TABLE auth_operators (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        created_by    TEXT NOT NULL,
        disabled_at   INTEGER
      );

      CREATE TABLE auth_sessions (
        id_hash      TEXT PRIMARY KEY,      -- sha256(cookie value), hex
        operator     TEXT NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        source       TEXT NOT NULL CHECK (source IN ('local', 'oidc')),
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        revoked_at   INTEGER
      );
      CREATE INDEX auth_sessions_by_operator ON auth_sessions (operator);

      CREATE TABLE auth_tokens (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        token_hash   TEXT NOT NULL UNIQUE,  -- sha256(token), hex
        created_at   INTEGER NOT NULL,
        created_by   TEXT NOT NULL,
        expires_at   INTEGER,
        last_used_at INTEGER,
        revoked_at   INTEGER,
        revoked_by   TEXT
      );
      -- A name is unique among tokens that still work, so the audit trail's actor is unambiguous.
      CREATE UNIQUE INDEX auth_tokens_live_name ON auth_tokens (name) WHERE revoked_at IS NULL;

      CREATE TABLE auth_settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,           -- JSON
        updated_at INTEGER NOT NULL,
        updated_by TEXT NOT NULL
      );

      -- Access facts for the audit trail (sign-in, sign-out, token created/revoked, refusals).
      -- Append-only like events.
      CREATE TABLE auth_events (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        actor   TEXT NOT NULL,
        type    TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected', 'info')),
        reason  TEXT,
        details TEXT
      );
      CREATE INDEX auth_events_by_at ON auth_events (at);
      CREATE TRIGGER auth_events_no_update BEFORE UPDATE ON auth_events
      BEGIN SELECT RAISE(ABORT, 'auth_events are append-only: UPDATE refused'); END;
      CREATE TRIGGER auth_events_no_delete BEFORE DELETE ON auth_events
      BEGIN SELECT RAISE(ABORT, 'auth_events are append-only: DELETE refused'); END;
      CREATE TRIGGER auth_events_no_replace BEFORE INSERT ON auth_events
      WHEN EXISTS (SELECT 1 FROM auth_events WHERE seq = NEW.seq)
      BEGIN SELECT RAISE(ABORT, 'auth_events are append-only: REPLACE refused'); END;

      -- The store's events table refuses UPDATE and DELETE, but \`INSERT OR REPLACE\` / \`REPLACE INTO\`
      -- with an existing seq deletes and rewrites the row without firing the DELETE trigger (SQLite
      -- fires delete triggers on REPLACE only with recursive_triggers on). Close that hole too (named so
      -- that a store migration adding its own events_no_replace cannot collide with it).
      CREATE TRIGGER IF NOT EXISTS events_no_replace_auth100 BEFORE INSERT ON events
      WHEN EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq)
      BEGIN SELECT RAISE(ABORT, 'events are append-only: REPLACE refused'); END;
    `,
  },
  {
    version: 101,
    name: "auth: sign-in failures for the rate limits",
    // Kept in the store rather than in each process's memory, so a limit holds across replicas
    // sharing the database. Rows older than the window are deleted as new failures come in.
    sql: `
      CREATE TABLE auth_sign_in_failures (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        scope   TEXT NOT NULL,              -- 'account' or 'client'
        subject TEXT NOT NULL,              -- account:<name> / client:<address>
        at      INTEGER NOT NULL
      );
      CREATE INDEX auth_sign_in_failures_by_subject ON auth_sign_in_failures (scope, subject, at);
      CREATE INDEX auth_sign_in_failures_by_at ON auth_sign_in_failures (scope, at);
    `,
  },
];
