/**
 * A fresh store of either kind for a test: SQLite in a temp dir, or a new database on the run's
 * PostgreSQL cluster (server/testing/postgres-global.ts), and its cleanup. Tests that touch the store
 * run once per kind:
 *
 *   describe.each(STORE_KINDS)("the store on %s", (kind) => {
 *     let t: TestStore;
 *     beforeEach(async () => (t = await testStore(kind)));
 *     afterEach(() => t.cleanup());
 *   });
 *
 * A PostgreSQL database is created from a template that already has the store's migrations, so a
 * test's store opens as fast as on SQLite; `createTestDatabase({ empty: true })` gives an empty one.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { inject } from "vitest";
import { RotorStore, type NewRollout } from "@/server/store";
import { databasePath, type StoreLocation } from "@/server/store/db";

export const STORE_KINDS = ["sqlite", "postgres"] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** The migrated database every test database is copied from (made by the global setup). */
export const TEMPLATE_DATABASE = "rotor_template";

let counter = 0;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: `${inject("pgAdminUrl")}/postgres` });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

interface TestDatabase {
  url: string;
  name: string;
  /** Drops it; runs in the background (the cluster is thrown away after the run anyway), never fails a test. */
  drop(): void;
}

async function newDatabase(empty: boolean): Promise<TestDatabase> {
  const name = `t_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  // FILE_COPY: copying the template's files beats replaying them through the WAL for a small database.
  await admin((c) => c.query(`CREATE DATABASE ${name}${empty ? "" : ` TEMPLATE ${TEMPLATE_DATABASE} STRATEGY FILE_COPY`}`));
  return {
    url: `${inject("pgAdminUrl")}/${name}`,
    name,
    // FORCE: a store closed a moment ago may still be ending its connection in its worker.
    drop: () => void admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined),
  };
}

/** The next migrated database, created while the current test runs (creating one takes ~150 ms). */
let next: Promise<TestDatabase> | null = null;

/** A new database on the test cluster (migrated from the template unless `empty`): its URL, and how to drop it. */
export async function createTestDatabase(o: { empty?: boolean } = {}): Promise<TestDatabase> {
  if (o.empty) return newDatabase(true);
  const db = next ?? newDatabase(false);
  next = newDatabase(false);
  // A prefetched database nobody asks for is dropped with the cluster; its failure surfaces when it is asked for.
  next.catch(() => undefined);
  return db;
}

export interface TestStoreLocation {
  kind: StoreKind;
  /** A temp data dir (also for PostgreSQL: the secrets key and other files live there). */
  dir: string;
  location: StoreLocation;
  /** What selects this store in a runtime's environment (ROTOR_DATABASE_URL for PostgreSQL, nothing for SQLite). */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Where a fresh store of `kind` lives; nothing is opened. */
export async function testStoreLocation(kind: StoreKind): Promise<TestStoreLocation> {
  const dir = mkdtempSync(path.join(tmpdir(), `rotor-${kind}-`));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  if (kind === "sqlite") {
    return { kind, dir, location: { kind, file: databasePath(dir) }, env: {}, cleanup: async () => removeDir() };
  }
  const db = await createTestDatabase();
  return {
    kind,
    dir,
    location: { kind, url: db.url },
    env: { ROTOR_DATABASE_URL: db.url },
    cleanup: async () => {
      removeDir();
      db.drop();
    },
  };
}

export interface TestStore extends TestStoreLocation {
  store: RotorStore;
}

/** A fresh, open store of `kind`; `cleanup` closes it and removes its file or database. */
export async function testStore(kind: StoreKind): Promise<TestStore> {
  const where = await testStoreLocation(kind);
  const store = new RotorStore(where.location);
  return {
    ...where,
    store,
    cleanup: async () => {
      store.close();
      await where.cleanup();
    },
  };
}

/** A rollout row for store-level tests: running, with no plan (it locks no instance). */
export function runningRollout(id: string, lb = `lb-${id}`): NewRollout {
  return { id, lb, provider: "local", createdBy: "alice", createdAt: Date.now(), input: {}, createInput: { plan: {} }, targetVersion: "v2", fromVersions: { v1: 1 }, phase: "running" };
}

/** The first event a rollout is inserted with. */
export const START_EVENT = { at: 1, actor: "alice", type: "start", payload: { type: "start" }, outcome: "applied" as const };
