/**
 * Applies the PostgreSQL migrations not yet applied. Each runs in its own transaction with its
 * `schema_migrations` row, under a transaction-scoped advisory lock: replicas starting together on
 * an empty database queue on the lock, and each one that gets it after another finds the version
 * recorded and skips it, so every migration runs exactly once. The lock ends with the transaction,
 * so a migrator that dies mid-way frees it.
 */
import type pg from "pg";
import type { Migration } from "../migrations";
import { inTransaction } from "./pool";
import { PG_MIGRATIONS } from "./migrations";

/** The advisory lock key all Rotor migrators share ("Rotor" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x526f746f72;

/** Returns the versions this call applied (none when another process got there first). */
export async function migratePg(pool: pg.Pool, migrations: readonly Migration[] = PG_MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    try {
      const ran = await inTransaction(pool, async (c) => {
        await c.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
        // Under the lock too: two concurrent CREATE TABLE IF NOT EXISTS can still collide.
        await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
        const done = await c.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
        if (done.rowCount) return false;
        await c.query(m.sql);
        await c.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [m.version, m.name, Date.now()]);
        return true;
      });
      if (ran) applied.push(m.version);
    } catch (cause) {
      throw new Error(`PostgreSQL migration ${m.version} (${m.name}) failed`, { cause });
    }
  }
  return applied;
}

export async function appliedPgMigrations(pool: pg.Pool): Promise<number[]> {
  const r = await pool.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
  return r.rows.map((row) => row.version);
}
