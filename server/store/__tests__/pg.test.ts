/**
 * The PostgreSQL store foundations against a real throwaway cluster (server/testing/postgres.ts):
 * migrations under concurrent start-up, the database's append-only and active-rollout rules,
 * per-rollout leases with fencing, and the NOTIFY fan-out. One cluster for the file; each test
 * works on its own rollouts (or its own database) so the tests do not depend on each other.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type pg from "pg";
import { startPostgres, type TestPostgres } from "@/server/testing/postgres";
import { openPgPool, inTransaction } from "../pg/pool";
import { appliedPgMigrations, migratePg } from "../pg/migrate";
import { PG_MIGRATIONS } from "../pg/migrations";
import { acquireLease, appendFencedEvent, readLease, releaseLease, renewLease, StaleFencingTokenError, type RolloutLease } from "../pg/lease";
import { subscribeEvents, type AppendedNotice } from "../pg/notify";

let cluster: TestPostgres;
let pool: pg.Pool;
const pools: pg.Pool[] = [];

function poolFor(url: string): pg.Pool {
  const p = openPgPool(url, { max: 4 });
  pools.push(p);
  return p;
}

beforeAll(async () => {
  cluster = await startPostgres();
  pool = poolFor(cluster.url);
  await migratePg(pool);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await cluster?.stop();
});

/** A rollout row, active, locking its plan's instances in the same transaction (as the store does). */
async function insertRollout(c: pg.PoolClient | pg.Pool, r: { id: string; lb: string; instances?: string[] }): Promise<void> {
  const instances = r.instances ?? [];
  await c.query(
    `INSERT INTO rollouts (id, lb, provider, created_by, created_at, input, create_input, target_version, from_versions, phase, active, updated_at)
     VALUES ($1, $2, 'local', 'alice', $3, '{}', $4, 'v2', '{"v1": 1}', 'running', 1, $3)`,
    [r.id, r.lb, Date.now(), JSON.stringify({ plan: { instances: instances.map((id) => ({ id })) } })],
  );
  await c.query("INSERT INTO instance_locks (instance_id, rollout_id) SELECT unnest($1::text[]), $2", [instances, r.id]);
}

async function eventCount(rolloutId: string): Promise<number> {
  const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE rollout_id = $1", [rolloutId]);
  return (r.rows[0] as { n: number }).n;
}

const event = { at: 1, actor: "engine", type: "step-started", payload: { batch: 0 }, outcome: "info" as const };

async function plainAppend(rolloutId: string): Promise<number> {
  const r = await pool.query<{ seq: number }>(
    "INSERT INTO events (rollout_id, at, actor, type, payload, outcome) VALUES ($1, 1, 'alice', 'approve', '{}', 'applied') RETURNING seq",
    [rolloutId],
  );
  return (r.rows[0] as { seq: number }).seq;
}

/** Polls until the database's clock has passed the lease's expiry (no fixed sleep). */
async function waitPastExpiry(lease: RolloutLease): Promise<void> {
  await vi.waitFor(
    async () => {
      const r = await pool.query<{ now: number }>("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now");
      expect((r.rows[0] as { now: number }).now).toBeGreaterThan(lease.expiresAt);
    },
    { timeout: 5_000, interval: 20 },
  );
}

describe("the throwaway cluster", () => {
  it("fails, never skips, naming what to install when PostgreSQL is missing", async () => {
    await expect(startPostgres({ env: { ROTOR_PG_BIN: "/nonexistent/bin" } })).rejects.toThrow(
      /^PostgreSQL server binaries not found .*: apt-get install postgresql/,
    );
  });
});

describe("PostgreSQL migrations", () => {
  it("run each migration exactly once when two migrators start together on an empty database", async () => {
    const url = await cluster.createDatabase("race");
    const [a, b] = [poolFor(url), poolFor(url)];
    const [ranA, ranB] = await Promise.all([migratePg(a), migratePg(b)]);
    const versions = PG_MIGRATIONS.map((m) => m.version).sort((x, y) => x - y);
    expect([...ranA, ...ranB].sort((x, y) => x - y)).toEqual(versions);
    expect(await appliedPgMigrations(a)).toEqual(versions);
    expect(await migratePg(b)).toEqual([]);
  });

  it("mirror the SQLite store's and auth's version numbers and names", async () => {
    const { MIGRATIONS } = await import("../migrations");
    const { AUTH_MIGRATIONS } = await import("@/server/auth/schema");
    const name = (v: number) => PG_MIGRATIONS.find((m) => m.version === v)?.name;
    for (const m of [...MIGRATIONS, ...AUTH_MIGRATIONS]) expect(name(m.version)).toBe(m.name);
  });
});

describe("the database's own rules", () => {
  it("refuses UPDATE, DELETE and TRUNCATE of events and auth events, and changes to what a rollout asked for", async () => {
    await insertRollout(pool, { id: "r-append", lb: "lb-append" });
    await plainAppend("r-append");
    await pool.query("INSERT INTO auth_events (at, actor, type, outcome) VALUES (1, 'alice', 'sign-in', 'applied')");

    await expect(pool.query("UPDATE events SET actor = 'mallory' WHERE rollout_id = 'r-append'")).rejects.toThrow("events are append-only: UPDATE refused");
    await expect(pool.query("DELETE FROM events WHERE rollout_id = 'r-append'")).rejects.toThrow("events are append-only: DELETE refused");
    await expect(pool.query("TRUNCATE events CASCADE")).rejects.toThrow("events are append-only: TRUNCATE refused");
    await expect(pool.query("UPDATE auth_events SET actor = 'mallory'")).rejects.toThrow("auth_events are append-only: UPDATE refused");
    await expect(pool.query("DELETE FROM auth_events")).rejects.toThrow("auth_events are append-only: DELETE refused");
    await expect(pool.query("UPDATE rollouts SET target_version = 'v3' WHERE id = 'r-append'")).rejects.toThrow("only phase, active");
    expect(await eventCount("r-append")).toBe(1);
    expect((await pool.query("SELECT count(*)::int AS n FROM auth_events")).rows[0]).toEqual({ n: 1 });

    // The listing cache may change, and finishing a rollout releases nothing it should keep.
    await pool.query("UPDATE rollouts SET phase = 'completed', active = 0, finished_at = 2, updated_at = 2 WHERE id = 'r-append'");
  });

  it("allows one active rollout per load balancer, even from two concurrent transactions", async () => {
    const start = (id: string) => inTransaction(pool, (c) => insertRollout(c, { id, lb: "lb-one" }));
    const results = await Promise.allSettled([start("r-one-a"), start("r-one-b")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: "23505", constraint: "rollouts_one_active_per_lb" });
  });

  it("locks an instance to one active rollout across load balancers, in the transaction that inserts it, until it is final", async () => {
    await inTransaction(pool, (c) => insertRollout(c, { id: "r-lock-a", lb: "lb-x", instances: ["i-1", "i-2"] }));
    const second = inTransaction(pool, (c) => insertRollout(c, { id: "r-lock-b", lb: "lb-y", instances: ["i-3", "i-2"] }));
    await expect(second).rejects.toMatchObject({ code: "23505", constraint: "instance_locks_pkey" });
    // The refused rollout left nothing behind: neither its row nor its other locks.
    expect((await pool.query("SELECT id FROM rollouts WHERE id = 'r-lock-b'")).rowCount).toBe(0);
    expect((await pool.query("SELECT 1 FROM instance_locks WHERE instance_id = 'i-3'")).rowCount).toBe(0);

    // Becoming inactive releases the locks (a trigger, same statement), and the instance is free again.
    await pool.query("UPDATE rollouts SET phase = 'aborted', active = 0 WHERE id = 'r-lock-a'");
    await inTransaction(pool, (c) => insertRollout(c, { id: "r-lock-b", lb: "lb-y", instances: ["i-3", "i-2"] }));
    const held = await pool.query("SELECT instance_id, rollout_id FROM instance_locks WHERE instance_id IN ('i-1', 'i-2', 'i-3') ORDER BY 1");
    expect(held.rows).toEqual([
      { instance_id: "i-2", rollout_id: "r-lock-b" },
      { instance_id: "i-3", rollout_id: "r-lock-b" },
    ]);
  });

  it("refuses a new rollout on a frozen load balancer", async () => {
    await pool.query("INSERT INTO freezes (lb, reason, ends_at, created_by, created_at) VALUES ('lb-frozen', 'quarter end', $1, 'bob', 1)", [Date.now() + 60_000]);
    await expect(insertRollout(pool, { id: "r-frozen", lb: "lb-frozen" })).rejects.toThrow("FROZEN: the load balancer is frozen");
  });
});

describe("per-rollout leases", () => {
  it("are held by one owner, renewed by it, taken over only after expiry with a larger token", async () => {
    await insertRollout(pool, { id: "r-lease", lb: "lb-lease" });
    const a = await acquireLease(pool, "r-lease", "replica-a", 400);
    if (!a.ok) throw new Error("replica-a should get a free lease");
    expect(a.lease).toMatchObject({ owner: "replica-a", token: 1 });
    expect(a.tookOver).toBe(false);

    const early = await acquireLease(pool, "r-lease", "replica-b", 400);
    expect(early).toMatchObject({ ok: false, holder: { owner: "replica-a", token: 1 } });

    const renewed = await renewLease(pool, a.lease, 400);
    expect(renewed).toMatchObject({ owner: "replica-a", token: 1 });
    expect(renewed?.expiresAt).toBeGreaterThanOrEqual(a.lease.expiresAt);
    // Acquiring a lease one already holds extends it; it is not a new term.
    expect(await acquireLease(pool, "r-lease", "replica-a", 400)).toMatchObject({ ok: true, lease: { token: 1 }, tookOver: false });

    await waitPastExpiry((await readLease(pool, "r-lease")) as RolloutLease);
    expect(await renewLease(pool, a.lease, 400)).toBeNull();
    const b = await acquireLease(pool, "r-lease", "replica-b", 400);
    expect(b).toMatchObject({ ok: true, lease: { owner: "replica-b", token: 2 }, tookOver: true });
    expect(await acquireLease(pool, "r-lease", "replica-a", 400)).toMatchObject({ ok: false, holder: { owner: "replica-b" } });

    // A clean release hands over at once, and the next term's token is larger still.
    if (!b.ok) return;
    expect(await releaseLease(pool, b.lease)).toBe(true);
    expect(await releaseLease(pool, b.lease)).toBe(false);
    expect(await acquireLease(pool, "r-lease", "replica-a", 400)).toMatchObject({ ok: true, lease: { owner: "replica-a", token: 3 } });
  });

  it("of two replicas racing for an expired lease, exactly one wins", async () => {
    await insertRollout(pool, { id: "r-race", lb: "lb-race" });
    const racers = poolFor(cluster.url);
    const first = await acquireLease(pool, "r-race", "replica-a", 50);
    if (!first.ok) throw new Error("free lease refused");
    await waitPastExpiry(first.lease);
    // Hold the row so that all three contenders are inside acquireLease at once, then let them go.
    const blocker = await pool.connect();
    let results: Awaited<ReturnType<typeof acquireLease>>[];
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT 1 FROM rollout_leases WHERE rollout_id = 'r-race' FOR UPDATE");
      const racing = Promise.all(["replica-b", "replica-c", "replica-d"].map((o) => acquireLease(racers, "r-race", o, 5_000)));
      await vi.waitFor(
        async () => {
          const waiting = await pool.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%rollout_leases%'");
          expect(waiting.rowCount).toBe(3);
        },
        { timeout: 5_000, interval: 20 },
      );
      await blocker.query("COMMIT");
      results = await racing;
    } finally {
      blocker.release();
    }
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(await readLease(pool, "r-race")).toMatchObject({ token: 2 });
  });

  it("refuse an append carrying a stale token, or an expired one, and write nothing", async () => {
    await insertRollout(pool, { id: "r-fence", lb: "lb-fence" });
    const a = await acquireLease(pool, "r-fence", "replica-a", 100);
    if (!a.ok) throw new Error("free lease refused");
    const seq = await appendFencedEvent(pool, a.lease, event);
    expect((await pool.query("SELECT lease_token FROM events WHERE seq = $1", [seq])).rows).toEqual([{ lease_token: 1 }]);

    // Replica A pauses past its lease: before anyone takes over, its token is already refused.
    await waitPastExpiry(a.lease);
    const expired = appendFencedEvent(pool, a.lease, event);
    await expect(expired).rejects.toBeInstanceOf(StaleFencingTokenError);
    await expect(expired).rejects.toMatchObject({ current: { owner: "replica-a", token: 1, expired: true } });

    const b = await acquireLease(pool, "r-fence", "replica-b", 5_000);
    if (!b.ok) throw new Error("takeover refused");
    const stale = appendFencedEvent(pool, a.lease, event, async (c) => {
      await c.query("UPDATE rollouts SET phase = 'paused' WHERE id = 'r-fence'");
    });
    await expect(stale).rejects.toThrow("append to rollout r-fence refused: replica-a's fencing token 1 is stale (replica-b holds token 2)");
    expect(await eventCount("r-fence")).toBe(1);
    expect((await pool.query("SELECT phase FROM rollouts WHERE id = 'r-fence'")).rows).toEqual([{ phase: "running" }]);

    await appendFencedEvent(pool, b.lease, event);
    expect(await eventCount("r-fence")).toBe(2);
  });
});

describe("the NOTIFY fan-out", () => {
  it("tells a subscriber on another connection of each committed append, and resumes after its connection drops", async () => {
    await insertRollout(pool, { id: "r-notify", lb: "lb-notify" });
    const notices: AppendedNotice[] = [];
    const connects: boolean[] = [];
    const sub = subscribeEvents(cluster.url, {
      onNotice: (n) => notices.push(n),
      onConnected: ({ reconnect }) => connects.push(reconnect),
      backoff: { baseMs: 20, maxMs: 200 },
    });
    try {
      await sub.ready;
      const seq = await plainAppend("r-notify");
      await vi.waitFor(() => expect(notices).toContainEqual({ rolloutId: "r-notify", seq }), { timeout: 2_000, interval: 10 });

      // A rolled-back append is never announced (notices are delivered at commit).
      await inTransaction(pool, async (c) => {
        await c.query("INSERT INTO events (rollout_id, at, actor, type, payload, outcome) VALUES ('r-notify', 1, 'x', 'approve', '{}', 'applied')");
        throw new Error("roll back");
      }).catch(() => undefined);

      // The listener's connection is cut (as by a PostgreSQL restart): it reconnects and hears the next append.
      await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN rotor_events'`);
      await vi.waitFor(() => expect(connects).toEqual([false, true]), { timeout: 5_000, interval: 10 });
      const after = await plainAppend("r-notify");
      await vi.waitFor(() => expect(notices).toContainEqual({ rolloutId: "r-notify", seq: after }), { timeout: 2_000, interval: 10 });
      expect(notices.map((n) => n.seq)).toEqual([seq, after]);
    } finally {
      await sub.close();
    }
  });
});
