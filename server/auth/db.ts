/**
 * The auth tables live in the store's database. `authDb()` is the store's connection with
 * the auth migrations applied (once per connection).
 */
import { dialectOf, migrate, type Db } from "@/server/store/db";
import { runtime } from "@/server/runtime";
import { AUTH_MIGRATIONS } from "./schema";

const migrated = new WeakSet<Db>();

/** Applies the auth migrations to `db` if this process has not yet done so for this connection. */
export function ensureAuthSchema(db: Db): Db {
  if (!migrated.has(db)) {
    // PostgreSQL's auth tables come with the store's migrations (server/store/pg/migrations.ts, 100).
    if (dialectOf(db) === "sqlite") migrate(db, AUTH_MIGRATIONS);
    migrated.add(db);
  }
  return db;
}

/** The process runtime's database, with the auth tables. */
export function authDb(): Db {
  return ensureAuthSchema(runtime().store.db);
}
