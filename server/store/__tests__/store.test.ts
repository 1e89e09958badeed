import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS, testStore, type StoreKind, type TestStore } from "@/server/testing/stores";
import { appliedMigrations, migrate, openDatabase } from "../db";
import { MIGRATIONS } from "../migrations";
import { PG_MIGRATIONS } from "../pg/migrations";
import { ActiveRolloutExistsError, InstanceLockedError, RotorStore, type NewRollout } from "../index";

const run = promisify(execFile);
const root = path.resolve(__dirname, "../../..");

let dir: string;
let file: string;
let store: RotorStore;
let t: TestStore;

function rollout(id: string, lb = "local"): NewRollout {
  return { id, lb, provider: "local", createdBy: "alice", createdAt: Date.now(), input: { version: "v2" }, createInput: { plan: {} }, targetVersion: "v2", fromVersions: { v1: 5 }, phase: "planned" };
}
const start = { at: 1, actor: "alice", type: "start", payload: { type: "start" }, outcome: "applied" as const };

/** A fresh store of `kind` for each test of the describe block calling this. */
function freshStore(kind: StoreKind): void {
  beforeEach(async () => {
    t = await testStore(kind);
    store = t.store;
  });
  afterEach(() => t.cleanup());
}

/** SQLite-only checks (WAL, raw connections to the file, processes racing on it, old files upgraded). */
function sqliteFile(): void {
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "rotor-store-"));
    file = path.join(dir, "rotor.db");
    store = new RotorStore(file);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

/** The migrations of `kind`'s dialect, as applied to a new store (PostgreSQL's include auth and replica ones). */
const versions = (kind: StoreKind) => (kind === "sqlite" ? MIGRATIONS : PG_MIGRATIONS).map((m) => m.version).sort((a, b) => a - b);
const hasTable = (name: string) =>
  t.kind === "sqlite"
    ? store.db.prepare("SELECT name FROM sqlite_master WHERE name = ?").get(name) !== undefined
    : store.db.prepare<[string], { r: string | null }>("SELECT to_regclass(?)::text AS r").get(name)?.r !== null;

/** A rollout on `lb` whose plan holds `ids`. */
function planned(id: string, lb: string, ids: string[], targetVersion = "v2"): NewRollout {
  return { ...rollout(id, lb), targetVersion, createInput: { plan: { instances: ids.map((i) => ({ id: i, zone: "a" })) } } };
}
const locks = () => store.db.prepare("SELECT instance_id AS i, rollout_id AS r FROM instance_locks ORDER BY instance_id").all();

describe.each(STORE_KINDS)("the store on %s", (kind) => {
  freshStore(kind);

  describe("migrations", () => {
    it("applies every migration once, and a second open applies nothing", () => {
      expect(appliedMigrations(store.db)).toEqual(versions(kind));
      expect(migrate(store.db, kind === "sqlite" ? MIGRATIONS : PG_MIGRATIONS)).toEqual([]);
      const again = new RotorStore(store.location);
      expect(appliedMigrations(again.db)).toEqual(versions(kind));
      again.close();
    });

    it("applies a new migration on top of an existing database, keeping the data", () => {
      store.insertRollout(rollout("r1"), [start]);
      const extra = [...MIGRATIONS, { version: 999, name: "test column", sql: "ALTER TABLE rollouts ADD COLUMN note TEXT" }];
      expect(migrate(store.db, extra)).toEqual([999]);
      expect(store.rollout("r1")?.targetVersion).toBe("v2");
      expect(appliedMigrations(store.db)).toContain(999);
    });

    it("rolls a failing migration back and names it", () => {
      const bad = [...MIGRATIONS, { version: 1000, name: "broken", sql: "CREATE TABLE t1 (a INT); THIS IS NOT SQL" }];
      expect(() => migrate(store.db, bad)).toThrow(/migration 1000 \(broken\)/);
      expect(appliedMigrations(store.db)).not.toContain(1000);
      expect(hasTable("t1")).toBe(false);
    });
  });

  describe("the event log is append-only", () => {
    it("refuses UPDATE and DELETE of events", () => {
      store.insertRollout(rollout("r1"), [start]);
      const seq = store.appendEvent({ rolloutId: "r1", at: 2, actor: "engine", type: "tick", payload: { type: "tick" }, outcome: "applied" });
      expect(() => store.db.prepare("UPDATE events SET actor = 'mallory' WHERE seq = ?").run(seq)).toThrow(/append-only: UPDATE refused/);
      expect(() => store.db.prepare("DELETE FROM events WHERE seq = ?").run(seq)).toThrow(/append-only: DELETE refused/);
      expect(() => store.db.prepare("DELETE FROM events").run()).toThrow(/append-only/);
      expect(store.events("r1").map((e) => [e.type, e.actor])).toEqual([
        ["start", "alice"],
        ["tick", "engine"],
      ]);
    });

    it("keeps what a rollout asked for: only its listing cache changes, and it is never deleted", () => {
      store.insertRollout(rollout("r1"), [start]);
      expect(() => store.db.prepare("UPDATE rollouts SET target_version = 'v9' WHERE id = 'r1'").run()).toThrow(/only phase, active, finished_at and updated_at may change/);
      expect(() => store.db.prepare("UPDATE rollouts SET create_input = '{}' WHERE id = 'r1'").run()).toThrow(/only phase/);
      expect(() => store.db.prepare("DELETE FROM rollouts WHERE id = 'r1'").run()).toThrow(/rollouts are kept: DELETE refused/);
      store.db.prepare("UPDATE rollouts SET phase = 'paused', updated_at = 3 WHERE id = 'r1'").run();
      expect(store.db.prepare<[], { phase: string; target_version: string }>("SELECT phase, target_version FROM rollouts WHERE id = 'r1'").get()).toMatchObject({ phase: "paused" });
    });

    it("keeps events in seq order with payload, outcome, reason and details", () => {
      store.insertRollout(rollout("r1"), [start]);
      store.appendEvent({ rolloutId: "r1", at: 3, actor: "bob", type: "approve", payload: { type: "approve", batch: 9 }, outcome: "rejected", reason: "stale batch" });
      store.appendEvent({ rolloutId: "r1", at: 4, actor: "engine", type: "step-retry", payload: { type: "step-retry" }, outcome: "info", details: { attempt: 2 } });
      const events = store.events("r1");
      expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
      expect(events[1]).toMatchObject({ outcome: "rejected", reason: "stale batch", payload: { batch: 9 } });
      expect(events[2]).toMatchObject({ outcome: "info", details: { attempt: 2 } });
      expect(store.events("r1", events[1]!.seq).map((e) => e.type)).toEqual(["step-retry"]);
      expect(store.lastSeq("r1")).toBe(events[2]!.seq);
    });

    it("refuses an outcome outside applied/rejected/info", () => {
      store.insertRollout(rollout("r1"), [start]);
      expect(() => store.appendEvent({ ...start, rolloutId: "r1", outcome: "maybe" as never })).toThrow(/CHECK|check constraint/);
    });
  });


  describe("one active rollout per load balancer", () => {
    it("refuses a second start naming the running rollout and its version, and allows one on another load balancer", () => {
      store.insertRollout(rollout("r1"), [start]);
      let err: unknown;
      try {
        store.insertRollout({ ...rollout("r2"), targetVersion: "v3" }, [start]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ActiveRolloutExistsError);
      expect((err as Error).message).toMatch(/r1 to version v2/);
      expect(store.rollout("r2")).toBeNull();
      expect(store.events("r2")).toEqual([]);
      store.insertRollout(rollout("r3", "other"), [start]);
      expect(store.activeRollouts().map((r) => r.id)).toEqual(["r1", "r3"]);
    });

    it("allows a new start once the running rollout is finished", () => {
      store.insertRollout(rollout("r1"), [start]);
      store.setPhase("r1", "succeeded", false, 10);
      store.insertRollout(rollout("r2"), [start]);
      expect(store.activeRolloutFor("local")?.id).toBe("r2");
      expect(store.rollout("r1")).toMatchObject({ active: false, phase: "succeeded", finishedAt: 10 });
    });

    it("the partial unique index holds even for a writer that skips the check", () => {
      store.insertRollout(rollout("r1"), [start]);
      expect(() =>
        store.db
          .prepare("INSERT INTO rollouts (id, lb, provider, created_by, created_at, input, create_input, target_version, from_versions, phase, active, updated_at) VALUES ('x', 'local', 'local', 'm', 1, '{}', '{}', 'v9', '{}', 'planned', 1, 1)")
          .run(),
      ).toThrow(/UNIQUE|unique constraint/);
    });

  });


  describe("an instance belongs to at most one active rollout", () => {
    it("refuses a rollout on another load balancer sharing an instance, naming the holder and the instances, and changes nothing", () => {
      store.insertRollout(planned("r1", "web", ["i-1", "i-2", "i-3"], "6.0.0"), [start]);
      let err: unknown;
      try {
        store.insertRollout(planned("r2", "api", ["i-2", "i-3", "i-9"], "7.0.0"), [start]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InstanceLockedError);
      expect((err as InstanceLockedError).message).toBe("i-2, i-3 belong to active rollout r1 on web (to 6.0.0, planned); wait for it to finish or abort it");
      expect((err as InstanceLockedError).holders).toEqual([{ rollout: { id: "r1", lb: "web", targetVersion: "6.0.0", phase: "planned" }, instanceIds: ["i-2", "i-3"] }]);
      expect(store.rollout("r2")).toBeNull();
      expect(store.events("r2")).toEqual([]);
      expect(locks()).toEqual(["i-1", "i-2", "i-3"].map((i) => ({ i, r: "r1" })));
      // Disjoint instances on another load balancer: allowed.
      store.insertRollout(planned("r3", "api", ["i-9"]), [start]);
      expect(store.lockedInstances("r3")).toEqual(["i-9"]);
    });

    it("names every holder when the instances belong to several rollouts", () => {
      store.insertRollout(planned("r1", "web", ["i-1"]), [start]);
      store.insertRollout(planned("r2", "api", ["i-2"], "v3"), [start]);
      expect(() => store.insertRollout(planned("r3", "internal", ["i-1", "i-2"]), [start])).toThrow(
        "i-1 belongs to active rollout r1 on web (to v2, planned); i-2 belongs to active rollout r2 on api (to v3, planned); wait for them to finish or abort them",
      );
    });

    it("releases the whole plan's instances in the transaction that makes the rollout final", () => {
      store.insertRollout(planned("r1", "web", ["i-1", "i-2"]), [start]);
      store.setPhase("r1", "running", true, 5);
      expect(store.lockedInstances("r1")).toEqual(["i-1", "i-2"]);
      store.setPhase("r1", "aborted", false, 10);
      expect(store.lockedInstances("r1")).toEqual([]);
      store.insertRollout(planned("r2", "api", ["i-2"]), [start]);
      expect(locks()).toEqual([{ i: "i-2", r: "r2" }]);
    });

    it("the lock's primary key holds for a writer that skips the check", () => {
      store.insertRollout(planned("r1", "web", ["i-1"]), [start]);
      expect(() => store.db.prepare("INSERT INTO instance_locks (instance_id, rollout_id) VALUES ('i-1', 'r1')").run()).toThrow(/UNIQUE|unique constraint/);
    });

  });
});

describe("the store on sqlite: its file", () => {
  sqliteFile();

  it("is in WAL mode", () => {
    expect((store.db as Database.Database).pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("refuses UPDATE and DELETE of events, from any connection", () => {
    store.insertRollout(rollout("r1"), [start]);
    const seq = store.appendEvent({ rolloutId: "r1", at: 2, actor: "engine", type: "tick", payload: { type: "tick" }, outcome: "applied" });
    expect(() => store.db.prepare("UPDATE events SET actor = 'mallory' WHERE seq = ?").run(seq)).toThrow(/append-only: UPDATE refused/);
    expect(() => store.db.prepare("DELETE FROM events WHERE seq = ?").run(seq)).toThrow(/append-only: DELETE refused/);
    expect(() => store.db.prepare("DELETE FROM events").run()).toThrow(/append-only/);

    const other = new Database(file);
    expect(() => other.prepare("UPDATE events SET type = 'x'").run()).toThrow(/append-only/);
    expect(() => other.prepare("DELETE FROM events").run()).toThrow(/append-only/);
    other.close();

    expect(store.events("r1").map((e) => [e.type, e.actor])).toEqual([
      ["start", "alice"],
      ["tick", "engine"],
    ]);
  });


  it("refuses REPLACE of an event (INSERT OR REPLACE, REPLACE INTO, upsert) with only the store's own migrations", () => {
    store.insertRollout(rollout("r1"), [start]);
    const seq = store.appendEvent({ rolloutId: "r1", at: 2, actor: "engine", type: "tick", payload: { type: "tick" }, outcome: "applied" });
    // No auth tables here: the store's own migration holds the guard, for a headless engine's database too.
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%auth%'").all()).toEqual([]);
    const cols = "(seq, rollout_id, at, actor, type, payload, outcome)";
    expect(() => store.db.prepare(`INSERT OR REPLACE INTO events ${cols} VALUES (?, 'r1', 2, 'mallory', 'tick', '{}', 'applied')`).run(seq)).toThrow(/append-only: REPLACE refused/);
    expect(() => store.db.prepare(`REPLACE INTO events ${cols} SELECT seq, rollout_id, at, 'mallory', type, payload, outcome FROM events`).run()).toThrow(/append-only: REPLACE refused/);
    expect(() => store.db.prepare(`INSERT INTO events ${cols} VALUES (?, 'r1', 2, 'x', 'tick', '{}', 'applied') ON CONFLICT (seq) DO UPDATE SET actor = 'mallory'`).run(seq)).toThrow(/append-only/);

    const other = new Database(file);
    expect(() => other.prepare(`REPLACE INTO events ${cols} VALUES (?, 'r1', 2, 'mallory', 'tick', '{}', 'applied')`).run(seq)).toThrow(/append-only: REPLACE refused/);
    other.close();

    // Appending still works, and nothing was rewritten.
    store.appendEvent({ rolloutId: "r1", at: 3, actor: "bob", type: "pause", payload: { type: "pause" }, outcome: "applied" });
    expect(store.events("r1").map((e) => [e.type, e.actor])).toEqual([
      ["start", "alice"],
      ["tick", "engine"],
      ["pause", "bob"],
    ]);
  });


  it("two processes starting at the same moment: exactly one wins", async () => {
    const tsx = path.join(root, "node_modules", ".bin", "tsx");
    const script = path.join(__dirname, "fixtures", "start-race.ts");
    for (let round = 0; round < 3; round++) {
      const lb = `lb-${round}`;
      const at = String(Date.now() + 1500);
      const results = await Promise.all(
        ["a", "b"].map(async (who) => {
          const { stdout } = await run(tsx, [script, file, `${who}${round}`, lb, at], { cwd: root, timeout: 30_000 });
          return JSON.parse(stdout.trim().split("\n").pop()!) as { ok: boolean; id?: string; message?: string };
        }),
      );
      const winners = results.filter((r) => r.ok);
      const losers = results.filter((r) => !r.ok);
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(1);
      expect(losers[0]!.message).toContain(`${winners[0]!.id} to version v-${winners[0]!.id}`);
      expect(store.listRollouts({ lb }).map((r) => r.id)).toEqual([winners[0]!.id]);
    }
  }, 60_000);

  it("the migration locks the instances of rollouts already active in an existing database", () => {
    const file = path.join(dir, "old.db");
    const old = openDatabase(file, MIGRATIONS.filter((m) => m.version < 3));
    const insert = old.prepare(
      "INSERT INTO rollouts (id, lb, provider, created_by, created_at, input, create_input, target_version, from_versions, phase, active, updated_at) VALUES (?, ?, 'aws', 'm', ?, '{}', ?, 'v9', '{}', ?, ?, 1)",
    );
    const plan = (ids: string[]) => JSON.stringify({ plan: { instances: ids.map((id) => ({ id })) } });
    insert.run("r-old", "web", 1, plan(["i-1", "i-2"]), "succeeded", 0);
    insert.run("r-web", "web", 2, plan(["i-1", "i-2"]), "running", 1);
    // Two active rollouts sharing i-3, as an older Rotor allowed: the older one keeps it.
    insert.run("r-api", "api", 3, plan(["i-3", "i-4"]), "awaiting-approval", 1);
    insert.run("r-int", "internal", 4, plan(["i-3", "i-5"]), "running", 1);
    old.close();

    const upgraded = new RotorStore(file);
    try {
      expect(appliedMigrations(upgraded.db)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(upgraded.lockedInstances("r-old")).toEqual([]);
      expect(upgraded.lockedInstances("r-web")).toEqual(["i-1", "i-2"]);
      expect(upgraded.lockedInstances("r-api")).toEqual(["i-3", "i-4"]);
      expect(upgraded.lockedInstances("r-int")).toEqual(["i-5"]);
      expect(() => upgraded.insertRollout(planned("r-new", "other", ["i-2"]), [start])).toThrow(/i-2 belongs to active rollout r-web on web \(to v9, running\)/);
    } finally {
      upgraded.close();
    }
  });
});
