/**
 * `rotor migrate`: the store's schema migrations and the auth tables', applied without starting
 * anything (every start applies them too), so an operator can migrate before starting replicas of a
 * new version.
 */
import { AUTH_MIGRATIONS } from "@/server/auth/schema";
import { appliedMigrations, migrate, openDatabase, redactUrl, type StoreLocation } from "@/server/store/db";
import { MIGRATIONS } from "@/server/store/migrations";
import { PG_MIGRATIONS } from "@/server/store/pg/migrations";
import { PgSyncDb } from "@/server/store/pg/sync";

/** Applies what is not yet applied; says where, what, and the schema version now. */
export function migrateStore(location: StoreLocation): { where: string; applied: number[]; schemaVersion: number } {
  const where = location.kind === "sqlite" ? location.file : redactUrl(location.url);
  const db = location.kind === "sqlite" ? openDatabase(location.file, []) : new PgSyncDb(location.url);
  try {
    const applied = migrate(db, location.kind === "sqlite" ? [...MIGRATIONS, ...AUTH_MIGRATIONS] : PG_MIGRATIONS);
    return { where, applied, schemaVersion: Math.max(0, ...appliedMigrations(db)) };
  } catch (cause) {
    throw new Error(`could not migrate the Rotor database at ${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  } finally {
    db.close();
  }
}

