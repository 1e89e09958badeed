/**
 * Per-rollout leases on both stores: one owner, renewed by it, taken over only after expiry (on
 * SQLite also at once from a dead process of this host; on PostgreSQL never by pid) with a larger token; of engines racing for an expired
 * lease exactly one wins; an append carrying a stale or expired token is refused and writes nothing.
 */
import { hostname } from "node:os";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { STORE_KINDS, testStore, type TestStore, runningRollout, START_EVENT } from "@/server/testing/stores";
import { type RotorStore, StaleLeaseError } from "../index";
import { acquireLease, liveLeases, readLease, releaseLease, renewLease, type RolloutLease } from "../leases";
import { race } from "./fixtures/race";

const rollout = (id: string) => runningRollout(id);
const start = START_EVENT;
const tick = (rolloutId: string) => ({ rolloutId, at: 2, actor: "engine", type: "tick", payload: { type: "tick" }, outcome: "info" as const });

describe.each(STORE_KINDS)("rollout leases on %s", (kind) => {
  let t: TestStore;
  let store: RotorStore;
  beforeEach(async () => {
    t = await testStore(kind);
    store = t.store;
    store.insertRollout(rollout("r1"), [start]);
  });
  afterEach(() => t.cleanup());

  /** Polls until the store's clock has passed the lease's expiry (no fixed sleep). */
  const pastExpiry = (lease: RolloutLease) => vi.waitFor(() => expect(store.now()).toBeGreaterThan(lease.expiresAt), { timeout: 5_000, interval: 20 });

  it("is held by one owner, renewed by it, and taken over only after expiry, with a larger token", async () => {
    const a = acquireLease(store, "r1", "engine-a", 300);
    if (!a.ok) throw new Error("a free lease was refused");
    expect(a).toMatchObject({ lease: { owner: "engine-a", token: 1, host: hostname(), pid: process.pid }, previous: null });
    expect(acquireLease(store, "r1", "engine-b", 300)).toMatchObject({ ok: false, holder: { owner: "engine-a", token: 1 } });
    const renewed = renewLease(store, a.lease, 300);
    expect(renewed).toMatchObject({ owner: "engine-a", token: 1 });
    expect(renewed!.expiresAt).toBeGreaterThanOrEqual(a.lease.expiresAt);
    // Acquiring a lease one holds extends it: the same term.
    expect(acquireLease(store, "r1", "engine-a", 300)).toMatchObject({ ok: true, lease: { token: 1 } });
    expect(liveLeases(store).map((l) => [l.rolloutId, l.owner])).toEqual([["r1", "engine-a"]]);

    await pastExpiry(readLease(store, "r1")!);
    expect(liveLeases(store)).toEqual([]);
    expect(renewLease(store, a.lease, 300)).toBeNull();
    const b = acquireLease(store, "r1", "engine-b", 5_000);
    expect(b).toMatchObject({ ok: true, lease: { owner: "engine-b", token: 2 }, previous: { owner: "engine-a", token: 1 } });
    expect(acquireLease(store, "r1", "engine-a", 300)).toMatchObject({ ok: false, holder: { owner: "engine-b" } });

    // A release hands over at once; the next term's token is larger still.
    if (!b.ok) return;
    expect(releaseLease(store, b.lease)).toBe(true);
    expect(releaseLease(store, b.lease)).toBe(false);
    expect(acquireLease(store, "r1", "engine-a", 300)).toMatchObject({ ok: true, lease: { owner: "engine-a", token: 3 } });
  });

  it(kind === "sqlite" ? "is taken over at once from an owner whose process is gone" : "is not taken over by pid: replicas' pids and hostnames prove nothing", () => {
    const farFuture = store.now() + 3_600_000;
    store.db
      .prepare("INSERT INTO rollout_leases (rollout_id, owner, host, pid, token, acquired_at, expires_at) VALUES ('r1', 'dead', ?, 2147483646, 4, 1, ?)")
      .run(hostname(), farFuture);
    if (kind === "postgres") {
      expect(acquireLease(store, "r1", "engine-b", 5_000)).toMatchObject({ ok: false, holder: { owner: "dead", token: 4 } });
      return;
    }
    expect(acquireLease(store, "r1", "engine-b", 5_000)).toMatchObject({ ok: true, lease: { owner: "engine-b", token: 5 }, previous: { owner: "dead", token: 4 } });
    // The same dead pid on another host is not ours to judge: its lease stands until it expires.
    store.insertRollout(rollout("r2"), [start]);
    store.db
      .prepare("INSERT INTO rollout_leases (rollout_id, owner, host, pid, token, acquired_at, expires_at) VALUES ('r2', 'remote', 'another-host', 2147483646, 1, 1, ?)")
      .run(farFuture);
    expect(acquireLease(store, "r2", "engine-b", 5_000)).toMatchObject({ ok: false, holder: { owner: "remote" } });
  });

  it("of two engines racing for an expired lease, exactly one wins", async () => {
    const first = acquireLease(store, "r1", "engine-a", 100);
    if (!first.ok) throw new Error("a free lease was refused");
    await pastExpiry(first.lease);
    const where = t.location.kind === "sqlite" ? t.location.file : t.location.url;
    const results = (await race("lease-race.ts", [
      [where, "r1", "engine-b"],
      [where, "r1", "engine-c"],
    ])) as { ok: boolean; token: number }[];
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.map((r) => r.token)).toEqual([2, 2]);
    expect(readLease(store, "r1")).toMatchObject({ token: 2, owner: expect.stringMatching(/^engine-[bc]$/) });
  }, 30_000);

  it("refuses an append carrying an expired or a stale token, and writes nothing", async () => {
    const a = acquireLease(store, "r1", "engine-a", 200);
    if (!a.ok) throw new Error("a free lease was refused");
    const seq = store.appendEvent(tick("r1"), a.lease.token);
    expect(store.db.prepare("SELECT lease_token FROM events WHERE seq = ?").get(seq)).toEqual({ lease_token: 1 });

    // Engine A paused past its lease: before anyone takes over, its token is already refused.
    await pastExpiry(a.lease);
    expect(() => store.appendEvent(tick("r1"), a.lease.token)).toThrow(StaleLeaseError);
    const b = acquireLease(store, "r1", "engine-b", 5_000);
    if (!b.ok) throw new Error("the takeover was refused");
    let refused: unknown;
    try {
      store.write(() => {
        store.setPhase("r1", "paused", true, 3);
        store.appendEvent(tick("r1"), a.lease.token);
      });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(StaleLeaseError);
    expect(refused).toMatchObject({ rolloutId: "r1", token: 1, eventType: "tick" });
    // Nothing written: not the event, not the phase change in the same transaction.
    expect(store.events("r1").map((e) => [e.type, e.seq])).toEqual([
      ["start", expect.any(Number)],
      ["tick", seq],
    ]);
    expect(store.rollout("r1")?.phase).toBe("running");
    // A token never issued is refused too; the current one works.
    expect(() => store.appendEvent(tick("r1"), 99)).toThrow(StaleLeaseError);
    store.appendEvent(tick("r1"), b.lease.token);
    expect(store.events("r1")).toHaveLength(3);
  });
});
