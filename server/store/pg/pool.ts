/**
 * Connecting to PostgreSQL: a pool whose BIGINT columns read as numbers (times in ms, seqs, fencing
 * tokens: all far below 2^53), and one helper for "this function's queries in one transaction".
 */
import pg from "pg";

const INT8_OID = 20;

/** pg's parsers, except BIGINT as a number instead of a string (per pool: pg's global table stays as it is). */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary" ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Settings every Rotor connection uses; `url` is `postgres://user@host:port/db`. */
export function pgConfig(url: string): pg.ClientConfig {
  return { connectionString: url, types, application_name: "rotor" };
}

export function openPgPool(url: string, o: { max?: number } = {}): pg.Pool {
  const pool = new pg.Pool({ ...pgConfig(url), max: o.max ?? 10 });
  // An idle client's connection can drop (the server restarted); the pool discards that client, and
  // without a listener the 'error' event would end the process.
  pool.on("error", () => undefined);
  return pool;
}

/** Runs `fn` inside BEGIN … COMMIT on one client, rolling back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
