/**
 * The auth tables live in the store's database file. `authDb()` is the store's connection with
 * the auth migrations applied (once per connection).
 */
import { migrate, type Db } from "@/server/store/db";
import { getStore } from "@/server/store";
import { AUTH_MIGRATIONS } from "./schema";

const migrated = new WeakSet<Db>();

/** Applies the auth migrations to `db` if this process has not yet done so for this connection. */
export function ensureAuthSchema(db: Db): Db {
  if (!migrated.has(db)) {
    migrate(db, AUTH_MIGRATIONS);
    migrated.add(db);
  }
  return db;
}

/** The database of `${ROTOR_DATA_DIR}` (or `dataDir`), with the auth tables. */
export function authDb(dataDir?: string): Db {
  return ensureAuthSchema(getStore(dataDir).db);
}
