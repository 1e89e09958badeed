/**
 * The store port (server/store/sql.ts) on PostgreSQL: node-postgres runs in a worker thread with one
 * connection, and the caller waits for each answer (Atomics.wait on a shared flag, the answer read
 * with receiveMessageOnPort), so the store reads and writes PostgreSQL synchronously, as it does SQLite.
 *
 * - Parameters are rewritten once per statement (`?` / `@name` → `$n`); BIGINT and NUMERIC read as numbers.
 * - A transaction is BEGIN + a transaction-scoped advisory lock (every replica's writers queue on it,
 *   as SQLite's writers queue on BEGIN IMMEDIATE) … COMMIT, or ROLLBACK when the function throws.
 *   Nested transactions are savepoints.
 * - Every wait is bounded (`timeoutMs`). When the connection fails, the worker reconnects with
 *   backoff (250 ms doubling to 5 s); meanwhile every query fails at once with StoreUnavailableError
 *   instead of holding the caller. The worker keeps its own event loop, so it reconnects while the
 *   caller is free.
 * - LISTEN: `listen(channel, onNotice)` runs on a second connection in the same worker and calls
 *   back on the caller's event loop (asynchronously); after a reconnect the callback gets `null`:
 *   notices may have been missed, catch up from the log.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import path from "node:path";
import { toPgPlaceholders, type PgStatementText, type SqlDb, type SqlRunResult, type SqlStatement, type SqlTransaction } from "../sql";

/** The advisory lock every write transaction takes ("RotorW"): one writer at a time across replicas. */
export const WRITE_LOCK_KEY = 0x526f746f7257;

/** The store could not reach PostgreSQL (down, restarting, unreachable, or no answer in time). */
export class StoreUnavailableError extends Error {
  readonly code = "STORE_UNAVAILABLE";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** An error PostgreSQL answered (constraint, trigger, syntax): its SQLSTATE in `code`. */
export class PgQueryError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly detail: string | undefined,
  ) {
    super(message);
    this.name = "PgQueryError";
  }
}

export interface PgSyncOptions {
  /** Longest wait for one answer (default 10 s: a writer may queue behind another replica's transaction). */
  timeoutMs?: number;
  /** Connect timeout for each (re)connection (default 3 s). */
  connectTimeoutMs?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

interface Reply {
  id: number;
  rows?: Record<string, unknown>[];
  rowCount?: number;
  error?: { message: string; code?: string; detail?: string; unavailable: boolean };
}

// The worker: plain CommonJS (it is eval'd, never bundled), pg required from the app's node_modules.
const WORKER = String.raw`
const { workerData } = require("node:worker_threads");
const { createRequire } = require("node:module");
const pg = createRequire(workerData.requireFrom)("pg");
const flag = new Int32Array(workerData.flag);
const { port, events } = workerData;
const numeric = (v) => Number(v);
const text = (v) => v;
// BIGINT and NUMERIC as numbers (times in ms, seqs, counts: far below 2^53); JSON as the text stored (callers parse it).
const types = { getTypeParser: (oid, format) => format === "binary" ? pg.types.getTypeParser(oid, format) : oid === 20 || oid === 1700 ? numeric : oid === 114 || oid === 3802 ? text : pg.types.getTypeParser(oid, format) };
const config = { connectionString: workerData.url, types, application_name: workerData.applicationName, connectionTimeoutMillis: workerData.connectTimeoutMs };
const UNAVAILABLE = /^(08|57P|53)/;
const isUnavailable = (e) => !e.code || UNAVAILABLE.test(e.code) || ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"].includes(e.code);

let client = null;
let connecting = null;
let backoff = 0;
let downUntil = 0;
let lastError = "";

function drop(c) {
  if (client === c) client = null;
  c.removeAllListeners("error");
  c.on("error", () => {});
  c.end().catch(() => {});
}

function failed(e) {
  backoff = Math.min(backoff ? backoff * 2 : 250, 5000);
  downUntil = Date.now() + backoff;
  lastError = e.message || String(e);
}

async function connection() {
  if (client) return client;
  if (Date.now() < downUntil) {
    const err = new Error("PostgreSQL unreachable (" + lastError + "); reconnecting in " + (downUntil - Date.now()) + " ms");
    err.code = "ECONNREFUSED";
    throw err;
  }
  connecting ??= (async () => {
    const c = new pg.Client(config);
    c.on("error", () => drop(c));
    try {
      await c.connect();
    } catch (e) {
      c.end().catch(() => {});
      failed(e);
      throw e;
    }
    backoff = 0;
    client = c;
    return c;
  })().finally(() => { connecting = null; });
  return connecting;
}

port.on("message", async (m) => {
  let reply;
  try {
    const c = await connection();
    try {
      const r = await c.query({ text: m.text, values: m.values });
      reply = { id: m.id, rows: r.rows, rowCount: r.rowCount ?? 0 };
    } catch (e) {
      if (isUnavailable(e)) { drop(c); failed(e); }
      throw e;
    }
  } catch (e) {
    reply = { id: m.id, error: { message: e.message || String(e), code: e.code, detail: e.detail, unavailable: isUnavailable(e) } };
  }
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});

// LISTEN on a connection of its own; notices go out on the events port.
const channels = new Set();
let listener = null;
let listenBackoff = 0;
async function listen() {
  const c = new pg.Client(config);
  c.on("error", () => {});
  c.on("end", () => { if (listener === c) { listener = null; retryListen(); } });
  try {
    await c.connect();
    for (const ch of channels) await c.query('LISTEN "' + ch.replace(/"/g, '""') + '"');
  } catch (e) {
    c.end().catch(() => {});
    return retryListen();
  }
  const reconnected = listenBackoff > 0;
  listenBackoff = 0;
  listener = c;
  c.on("notification", (n) => events.postMessage({ channel: n.channel, payload: n.payload ?? "" }));
  if (reconnected) for (const ch of channels) events.postMessage({ channel: ch, payload: null });
}
function retryListen() {
  listenBackoff = Math.min(listenBackoff ? listenBackoff * 2 : 250, 5000);
  setTimeout(listen, listenBackoff).unref();
}
events.on("message", (m) => {
  if (m.listen) {
    channels.add(m.listen);
    if (listener) listener.query('LISTEN "' + m.listen.replace(/"/g, '""') + '"').catch(() => {});
    else if (listenBackoff === 0 && channels.size === 1) listen();
  }
  if (m.close) {
    port.close();
    events.close();
    if (client) client.end().catch(() => {});
    if (listener) { const l = listener; listener = null; l.end().catch(() => {}); }
  }
});
`;

export class PgSyncDb implements SqlDb {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly events: MessagePort;
  private readonly flag: Int32Array;
  private readonly timeoutMs: number;
  private nextId = 0;
  private depth = 0;
  private closed = false;
  private readonly texts = new Map<string, PgStatementText>();
  private readonly listeners = new Map<string, Set<(payload: string | null) => void>>();

  constructor(
    readonly url: string,
    o: PgSyncOptions = {},
  ) {
    this.timeoutMs = o.timeoutMs ?? 10_000;
    const shared = new SharedArrayBuffer(4);
    this.flag = new Int32Array(shared);
    const queries = new MessageChannel();
    const events = new MessageChannel();
    this.port = queries.port1;
    this.events = events.port1;
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        url,
        flag: shared,
        port: queries.port2,
        events: events.port2,
        requireFrom: path.join(process.cwd(), "package.json"),
        applicationName: o.applicationName ?? "rotor",
        connectTimeoutMs: o.connectTimeoutMs ?? 3_000,
      },
      transferList: [queries.port2, events.port2],
    });
    this.worker.unref();
    this.events.on("message", (m: { channel: string; payload: string | null }) => {
      for (const fn of this.listeners.get(m.channel) ?? []) fn(m.payload);
    });
    this.events.unref();
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Runs one statement and waits for its answer. */
  query<R = Record<string, unknown>>(sql: string, params: unknown[] | Record<string, unknown> = []): { rows: R[]; rowCount: number } {
    if (this.closed) throw new Error("the PostgreSQL store is closed");
    const t = this.translate(sql);
    const values = (t.names ? t.names.map((n) => (params as Record<string, unknown>)[n]) : (params as unknown[])).map(toPgValue);
    const id = ++this.nextId;
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ id, text: t.text, values });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      // Cleared before reading the port: an answer posted after this sets the flag again, so the wait below returns.
      Atomics.store(this.flag, 0, 0);
      let m: { message: Reply } | undefined;
      while ((m = receiveMessageOnPort(this.port) as { message: Reply } | undefined)) {
        if (m.message.id === id) return this.answer<R>(m.message, sql);
        // An answer to a query that timed out earlier: dropped.
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new StoreUnavailableError(`PostgreSQL did not answer within ${this.timeoutMs} ms`);
      Atomics.wait(this.flag, 0, 0, left);
    }
  }

  private answer<R>(reply: Reply, sql: string): { rows: R[]; rowCount: number } {
    const e = reply.error;
    if (e) {
      if (e.unavailable) throw new StoreUnavailableError(`the PostgreSQL store is unreachable: ${e.message}`);
      const err = new PgQueryError(e.message, e.code, e.detail);
      err.cause = new Error(`in statement: ${sql.replace(/\s+/g, " ").trim().slice(0, 200)}`);
      throw err;
    }
    return { rows: (reply.rows ?? []) as R[], rowCount: reply.rowCount ?? 0 };
  }

  private translate(sql: string): PgStatementText {
    let t = this.texts.get(sql);
    if (!t) {
      t = toPgPlaceholders(sql);
      this.texts.set(sql, t);
    }
    return t;
  }

  prepare<P extends unknown[] | object = unknown[], R = unknown>(sql: string): P extends unknown[] ? SqlStatement<P, R> : SqlStatement<[P], R> {
    this.translate(sql);
    const args = (params: unknown[]): unknown[] | Record<string, unknown> => {
      const t = this.translate(sql);
      return t.names ? ((params[0] ?? {}) as Record<string, unknown>) : params;
    };
    const statement: SqlStatement<unknown[], R> = {
      run: (...params: unknown[]): SqlRunResult => {
        const r = this.query<Record<string, unknown>>(sql, args(params));
        const first = r.rows[0];
        const returned = first ? Object.values(first)[0] : undefined;
        return { changes: r.rowCount, lastInsertRowid: typeof returned === "number" ? returned : 0 };
      },
      get: (...params: unknown[]) => this.query<R>(sql, args(params)).rows[0],
      all: (...params: unknown[]) => this.query<R>(sql, args(params)).rows,
    };
    return statement as P extends unknown[] ? SqlStatement<P, R> : SqlStatement<[P], R>;
  }

  exec(sql: string): void {
    this.query(sql);
  }

  /** Whether a transaction of this connection is open. */
  get inTransaction(): boolean {
    return this.depth > 0;
  }

  transaction<T>(fn: () => T): SqlTransaction<T> {
    const run = (): T => {
      const outer = this.depth === 0;
      const savepoint = `rotor_sp_${this.depth}`;
      if (outer) {
        this.query("BEGIN");
        try {
          this.query("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK_KEY]);
        } catch (err) {
          this.rollbackQuietly("ROLLBACK");
          throw err;
        }
      } else {
        this.query(`SAVEPOINT ${savepoint}`);
      }
      this.depth++;
      let result: T;
      try {
        result = fn();
      } catch (err) {
        this.depth--;
        this.rollbackQuietly(outer ? "ROLLBACK" : `ROLLBACK TO SAVEPOINT ${savepoint}`);
        throw err;
      }
      this.depth--;
      this.query(outer ? "COMMIT" : `RELEASE SAVEPOINT ${savepoint}`);
      return result;
    };
    return Object.assign(run, { immediate: run });
  }

  private rollbackQuietly(sql: string): void {
    try {
      this.query(sql);
    } catch {
      // The connection is gone: PostgreSQL rolled the transaction back with it.
    }
  }

  /** Calls `onNotice` for each NOTIFY on `channel` (null after the listening connection was re-established). */
  listen(channel: string, onNotice: (payload: string | null) => void): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.events.postMessage({ listen: channel });
    }
    set.add(onNotice);
    return () => set.delete(onNotice);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.postMessage({ close: true });
    this.port.close();
    this.events.close();
    void this.worker.terminate();
  }
}

function toPgValue(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "boolean") return v ? 1 : 0;
  return v;
}
