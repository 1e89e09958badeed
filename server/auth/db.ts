/**
 * The auth tables live in the store's database. `authDb()` is the store's connection with
 * the auth migrations applied (once per connection).
 */
import type { Db } from "@/server/store/db";
import { runtime } from "@/server/runtime";
import { ensureAuthSchema } from "./schema";

export { ensureAuthSchema } from "./schema";

/** The process runtime's database, with the auth tables. */
export function authDb(): Db {
  return ensureAuthSchema(runtime().store.db);
}
