/** Small admin settings (JSON values by key) in `auth_settings`. */
import type { Db } from "@/server/store/db";

export function readSetting(db: Db, key: string): unknown {
  const row = db.prepare<[string], { value: string }>("SELECT value FROM auth_settings WHERE key = ?").get(key);
  if (!row) return undefined;
  try {
    return JSON.parse(row.value) as unknown;
  } catch {
    return undefined;
  }
}

export function writeSetting(db: Db, key: string, value: unknown, by: string, now = Date.now()): void {
  db.prepare(
    `INSERT INTO auth_settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
  ).run(key, JSON.stringify(value), now, by);
}
