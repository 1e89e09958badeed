/**
 * What only PostgreSQL has to show, on the store port (server/store/pg/sync.ts) against the run's
 * throwaway cluster: replicas opening an empty database together, TRUNCATE refused, the NOTIFY
 * fan-out at commit, and a store whose connection is cut recovering with nothing lost. Each test has
 * its own database. (The rules both stores share run on both in store.test.ts and leases.test.ts.)
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { startPostgres } from "@/server/testing/postgres";
import { createTestDatabase, runningRollout, START_EVENT } from "@/server/testing/stores";
import { appliedMigrations } from "../db";
import { PG_MIGRATIONS } from "../pg/migrations";
import { type PgSyncDb, StoreUnavailableError } from "../pg/sync";
import { RotorStore } from "../index";
import { race } from "./fixtures/race";

const opened: { close(): void }[] = [];
const drops: (() => void)[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
  for (const d of drops.splice(0)) d();
});

async function database(o: { empty?: boolean } = {}): Promise<string> {
  const db = await createTestDatabase(o);
  drops.push(db.drop);
  return db.url;
}

function open(url: string): RotorStore {
  const s = new RotorStore({ kind: "postgres", url });
  opened.push(s);
  return s;
}

const rollout = (id: string, lb = "web") => runningRollout(id, lb);
const start = START_EVENT;
const tick = (rolloutId: string, at: number) => ({ rolloutId, at, actor: "engine", type: "tick", payload: { type: "tick" }, outcome: "info" as const });

describe("the throwaway cluster", () => {
  it("fails, never skips, naming what to install when PostgreSQL is missing", async () => {
    await expect(startPostgres({ env: { ROTOR_PG_BIN: "/nonexistent/bin" } })).rejects.toThrow(/^PostgreSQL server binaries not found .*: apt-get install postgresql/);
  });
});

describe("PostgreSQL migrations", () => {
  it("run once when two replicas open an empty database at the same moment", async () => {
    const url = await database({ empty: true });
    const results = await race("migrate-race.ts", [[url], [url]]);
    const versions = PG_MIGRATIONS.map((m) => m.version).sort((x, y) => x - y);
    const ran = results.flatMap((r) => (r as { applied: number[] }).applied);
    expect(ran.sort((x, y) => x - y)).toEqual(versions);
    const store = open(url);
    expect(appliedMigrations(store.db)).toEqual(versions);
    expect(store.db.prepare("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version").all()).toEqual(versions.map((version) => ({ version, n: 1 })));
  }, 30_000);

  it("mirror the SQLite store's and auth's version numbers and names", async () => {
    const { MIGRATIONS } = await import("../migrations");
    const { AUTH_MIGRATIONS } = await import("@/server/auth/schema");
    const name = (v: number) => PG_MIGRATIONS.find((m) => m.version === v)?.name;
    for (const m of [...MIGRATIONS, ...AUTH_MIGRATIONS]) expect(name(m.version)).toBe(m.name);
  });
});

describe("the database's own rules on PostgreSQL", () => {
  it("refuses TRUNCATE of events and auth events (it skips row triggers)", async () => {
    const store = open(await database());
    store.insertRollout(rollout("r1"), [start]);
    expect(() => store.db.exec("TRUNCATE events CASCADE")).toThrow("events are append-only: TRUNCATE refused");
    expect(() => store.db.exec("TRUNCATE auth_events")).toThrow("auth_events are append-only: TRUNCATE refused");
    expect(store.events("r1").map((e) => e.type)).toEqual(["start"]);
  });
});

/** Waits until `db`'s worker is LISTENing (its second connection shows in pg_stat_activity). */
async function listening(store: RotorStore): Promise<void> {
  await vi.waitFor(() => expect(store.db.prepare("SELECT 1 AS x FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'").all()).toHaveLength(1), {
    timeout: 5_000,
    interval: 20,
  });
}

describe("the NOTIFY fan-out", () => {
  it("tells another connection's listener of each committed append, and never of a rolled-back one", async () => {
    const url = await database();
    const writer = open(url);
    const reader = open(url);
    const notices: (string | null)[] = [];
    (reader.db as PgSyncDb).listen("rotor_events", (p) => notices.push(p));
    await listening(reader);

    writer.insertRollout(rollout("r1"), [start]);
    const first = writer.lastSeq("r1");
    writer.write(() => writer.appendEvent(tick("r1", 2)));
    expect(() =>
      writer.write(() => {
        writer.appendEvent(tick("r1", 3));
        throw new Error("roll back");
      }),
    ).toThrow("roll back");
    const last = writer.appendEvent(tick("r1", 4));
    await vi.waitFor(() => expect(notices).toHaveLength(3), { timeout: 2_000, interval: 10 });
    const seqs = writer.events("r1").map((e) => e.seq);
    expect(seqs).toEqual([first, expect.any(Number), last]);
    expect(notices.map((n) => JSON.parse(n!) as unknown)).toEqual(seqs.map((seq) => ({ rolloutId: "r1", seq })));
  });
});

describe("a dropped connection", () => {
  it("fails fast (StoreUnavailableError) while the store reconnects with backoff, or reconnects at once; nothing lost or doubled", async () => {
    const url = await database();
    const store = open(url);
    const admin = open(url);
    store.insertRollout(rollout("r1"), [start]);
    const pid = store.db.prepare<[], { pid: number }>("SELECT pg_backend_pid() AS pid").get()!.pid;
    expect(admin.db.prepare<[number], { ok: boolean }>("SELECT pg_terminate_backend(?) AS ok").get(pid)).toEqual({ ok: true });

    const failures: string[] = [];
    let appended = 0;
    await vi.waitFor(
      () => {
        try {
          store.appendEvent(tick("r1", 10 + appended));
          appended++;
        } catch (err) {
          expect(err).toBeInstanceOf(StoreUnavailableError);
          failures.push((err as Error).message);
        }
        expect(appended).toBe(1);
      },
      { timeout: 10_000, interval: 25 },
    );
    // Either the worker saw the connection end before the append and reconnected at once, or the
    // append met the cut connection (StoreUnavailableError) and the calls right after it were refused
    // at once while the worker waited out its backoff before reconnecting.
    if (failures.length > 0) {
      expect(failures[0]).toMatch(/terminat|unreachable/);
      expect(failures.slice(1).every((m) => /reconnecting in \d+ ms/.test(m))).toBe(true);
      expect(failures.length).toBeGreaterThanOrEqual(2);
    }
    const newPid = store.db.prepare<[], { pid: number }>("SELECT pg_backend_pid() AS pid").get()!.pid;
    expect(newPid).not.toBe(pid);
    // Nothing lost, nothing doubled: the start and exactly one tick, as seen from another connection.
    expect(admin.events("r1").map((e) => [e.type, e.at])).toEqual([
      ["start", 1],
      ["tick", 10],
    ]);
  });
});
