/**
 * The store's port: the SQL connection every store room (rollouts and events, leases, auth,
 * notifications, freezes) talks to, with two implementations:
 *
 * - SQLite (better-sqlite3), the embedded default: the connection itself fits this interface;
 * - PostgreSQL (`ROTOR_DATABASE_URL`), server/store/pg/sync.ts: node-postgres in a worker thread,
 *   the caller waiting for each answer.
 *
 * The port is synchronous on purpose. A checked append reads the rollout's events, runs them through
 * the state machine and appends, inside one write transaction; with a synchronous store nothing else
 * in the process runs between those steps, on either database, so no rollout state is ever decided
 * on a stale read. The price on PostgreSQL is that a query holds the process's event loop for its
 * round trip (measured by `npm run bench`: pg_append_p95_ms), as better-sqlite3 does for its disk.
 *
 * Statements are written once in the SQL both databases accept: `?` and `@name` parameters (the
 * PostgreSQL side numbers them), `INSERT … ON CONFLICT`, `RETURNING`, integers for flags and times.
 */

/** What `run` reports: rows changed, and the first returned column of an `INSERT … RETURNING` (SQLite: the rowid). */
export interface SqlRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement<P extends unknown[], R = unknown> {
  run(...params: P): SqlRunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/** A function run in one transaction; `immediate` takes the write lock at once (every write transaction here). */
export interface SqlTransaction<T> {
  (): T;
  immediate(): T;
}

export interface SqlDb {
  prepare<P extends unknown[] | object = unknown[], R = unknown>(sql: string): P extends unknown[] ? SqlStatement<P, R> : SqlStatement<[P], R>;
  exec(sql: string): void;
  transaction<T>(fn: () => T): SqlTransaction<T>;
  readonly open: boolean;
  close(): void;
}

export type SqlDialect = "sqlite" | "postgres";

/** An SQL error's database code, when it has one (SQLite: `SQLITE_…`, PostgreSQL: the SQLSTATE). */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A UNIQUE or PRIMARY KEY violation, on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "23505";
}

/** A statement translated for PostgreSQL: `$n` placeholders and, for named parameters, their order. */
export interface PgStatementText {
  text: string;
  /** Named parameters (`@name`) in `$n` order; null when the statement uses `?`. */
  names: string[] | null;
  /** How many `?` the statement has. */
  positional: number;
}

/**
 * Rewrites `?` and `@name` parameters as PostgreSQL's `$1…$n` (a name used twice is one parameter),
 * leaving string literals, quoted identifiers and comments alone. Mixing both styles is refused.
 */
export function toPgPlaceholders(sql: string): PgStatementText {
  let out = "";
  let positional = 0;
  const names: string[] = [];
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = closingQuote(sql, i, c);
      out += sql.slice(i, end + 1);
      i = end;
    } else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end === -1 ? sql.length - 1 : end;
      out += sql.slice(i, stop + 1);
      i = stop;
    } else if (c === "?") {
      out += `$${++positional}`;
    } else if (c === "@" && /[A-Za-z_]/.test(sql[i + 1] ?? "")) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      let n = names.indexOf(name);
      if (n === -1) n = names.push(name) - 1;
      out += `$${n + 1}`;
      i += name.length;
    } else {
      out += c;
    }
  }
  if (positional > 0 && names.length > 0) throw new Error(`a statement mixes ? and @name parameters: ${sql}`);
  return { text: out, names: names.length > 0 ? names : null, positional };
}

function closingQuote(sql: string, start: number, q: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] === q) {
      if (sql[i + 1] === q) i++;
      else return i;
    }
  }
  return sql.length - 1;
}
