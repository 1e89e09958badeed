/**
 * The store: rollouts and their append-only event log in SQLite.
 *
 * The log is the truth; the `phase`/`active` columns of `rollouts` are a cache for listing, written
 * in the same transaction as the event that changed them. Nothing in this module (or the schema's
 * triggers) lets an event be updated or deleted.
 */
import type { EventOutcome, StoredEvent } from "@/lib/views";
import { activeFreeze, FrozenError } from "./freezes";
import type { RolloutPhase } from "@/lib/rollout/types";
import { openStoreDb, redactUrl, type Db, type StoreLocation } from "./db";

export { databasePath, resolveDataDir, storeLocation, type StoreLocation } from "./db";

export interface RolloutRow {
  id: string;
  lb: string;
  provider: string;
  createdBy: string;
  createdAt: number;
  input: unknown;
  createInput: unknown;
  targetVersion: string;
  fromVersions: Record<string, number>;
  phase: RolloutPhase;
  active: boolean;
  finishedAt: number | null;
  updatedAt: number;
}

/** An event to append: a stored event before the log gives it its seq (reason and details optional). */
export type NewEvent = Omit<StoredEvent, "seq" | "reason" | "details"> & Partial<Pick<StoredEvent, "reason" | "details">>;

export type NewRollout = Omit<RolloutRow, "active" | "finishedAt" | "updatedAt">;

/** Thrown by `insertRollout` when the load balancer already has an active rollout. */
export class ActiveRolloutExistsError extends Error {
  constructor(readonly running: { id: string; lb: string; targetVersion: string; phase: string }) {
    super(`load balancer ${running.lb} already has an active rollout: ${running.id} to version ${running.targetVersion} (${running.phase})`);
    this.name = "ActiveRolloutExistsError";
  }
}

/** A rollout that holds instances, as the refusal names it. */
export interface LockHolder {
  id: string;
  lb: string;
  targetVersion: string;
  phase: string;
}

/** How many instance ids a refusal lists before "and N more". */
const LISTED_IDS = 10;

function listIds(ids: readonly string[]): string {
  const shown = ids.slice(0, LISTED_IDS).join(", ");
  return ids.length > LISTED_IDS ? `${shown} and ${ids.length - LISTED_IDS} more` : shown;
}

/**
 * Thrown by `insertRollout` when an instance of the new rollout's plan belongs to another active
 * rollout (reached through this load balancer or another one sharing the instance).
 */
export class InstanceLockedError extends Error {
  constructor(readonly holders: { rollout: LockHolder; instanceIds: string[] }[]) {
    super(
      holders
        .map(({ rollout: r, instanceIds }) => {
          const verb = instanceIds.length === 1 ? "belongs" : "belong";
          return `${listIds(instanceIds)} ${verb} to active rollout ${r.id} on ${r.lb} (to ${r.targetVersion}, ${r.phase})`;
        })
        .join("; ") + `; wait for ${holders.length === 1 ? "it" : "them"} to finish or abort ${holders.length === 1 ? "it" : "them"}`,
    );
    this.name = "InstanceLockedError";
  }

  /** Every locked instance, whichever rollout holds it. */
  get instanceIds(): string[] {
    return this.holders.flatMap((h) => h.instanceIds);
  }
}

/** The instance ids of a rollout's plan (`createInput.plan.instances[].id`): what the rollout locks. */
export function plannedInstanceIds(createInput: unknown): string[] {
  const plan = (createInput as { plan?: { instances?: unknown } } | null)?.plan;
  const instances = Array.isArray(plan?.instances) ? (plan.instances as unknown[]) : [];
  const ids = instances.map((i) => (i as { id?: unknown } | null)?.id).filter((id): id is string => typeof id === "string");
  return [...new Set(ids)];
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface RolloutDbRow {
  id: string;
  lb: string;
  provider: string;
  created_by: string;
  created_at: number;
  input: string;
  create_input: string;
  target_version: string;
  from_versions: string;
  phase: string;
  active: number;
  finished_at: number | null;
  updated_at: number;
}

interface EventDbRow {
  seq: number;
  rollout_id: string;
  at: number;
  actor: string;
  type: string;
  payload: string;
  outcome: EventOutcome;
  reason: string | null;
  details: string | null;
}

function toRollout(r: RolloutDbRow): RolloutRow {
  return {
    id: r.id,
    lb: r.lb,
    provider: r.provider,
    createdBy: r.created_by,
    createdAt: r.created_at,
    input: JSON.parse(r.input) as unknown,
    createInput: JSON.parse(r.create_input) as unknown,
    targetVersion: r.target_version,
    fromVersions: JSON.parse(r.from_versions) as Record<string, number>,
    phase: r.phase as RolloutPhase,
    active: r.active === 1,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  };
}

function toEvent(r: EventDbRow): StoredEvent {
  return {
    seq: r.seq,
    rolloutId: r.rollout_id,
    at: r.at,
    actor: r.actor,
    type: r.type,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    outcome: r.outcome,
    reason: r.reason,
    details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
  };
}

export { FrozenError } from "./freezes";

/** An engine's append refused: its lease of the rollout expired or passed to another engine. */
export class StaleLeaseError extends Error {
  constructor(
    readonly rolloutId: string,
    readonly token: number,
    readonly eventType: string,
    options?: ErrorOptions,
  ) {
    super(`${eventType} on rollout ${rolloutId} refused: lease token ${token} is no longer this rollout's (the lease expired or passed to another engine)`, options);
    this.name = "StaleLeaseError";
  }
}

export class RotorStore {
  readonly db: Db;
  readonly location: StoreLocation;
  /** Where the store is, for messages: the SQLite file, or the PostgreSQL URL without its password. */
  readonly label: string;
  private readonly stmts;

  /** A SQLite file path, or where the store is (SQLite or PostgreSQL). */
  constructor(location: string | StoreLocation) {
    this.location = typeof location === "string" ? { kind: "sqlite", file: location } : location;
    this.label = this.location.kind === "sqlite" ? this.location.file : redactUrl(this.location.url);
    this.db = openStoreDb(this.location);
    const db = this.db;
    this.stmts = {
      insertRollout: db.prepare(`INSERT INTO rollouts
        (id, lb, provider, created_by, created_at, input, create_input, target_version, from_versions, phase, active, finished_at, updated_at)
        VALUES (@id, @lb, @provider, @createdBy, @createdAt, @input, @createInput, @targetVersion, @fromVersions, @phase, 1, NULL, @createdAt)`),
      activeFor: db.prepare<[string], RolloutDbRow>("SELECT * FROM rollouts WHERE lb = ? AND active = 1"),
      active: db.prepare<[], RolloutDbRow>("SELECT * FROM rollouts WHERE active = 1 ORDER BY created_at, id"),
      activeIds: db.prepare<[], { id: string }>("SELECT id FROM rollouts WHERE active = 1 ORDER BY created_at, id"),
      rollout: db.prepare<[string], RolloutDbRow>("SELECT * FROM rollouts WHERE id = ?"),
      list: db.prepare<[number], RolloutDbRow>("SELECT * FROM rollouts ORDER BY created_at DESC, id DESC LIMIT ?"),
      listFor: db.prepare<[string, number], RolloutDbRow>("SELECT * FROM rollouts WHERE lb = ? ORDER BY created_at DESC, id DESC LIMIT ?"),
      lockOf: db.prepare<[string], { instance_id: string; rollout_id: string }>("SELECT instance_id, rollout_id FROM instance_locks WHERE instance_id = ?"),
      lock: db.prepare<[string, string]>("INSERT INTO instance_locks (instance_id, rollout_id) VALUES (?, ?)"),
      locksHeldBy: db.prepare<[string], { instance_id: string }>("SELECT instance_id FROM instance_locks WHERE rollout_id = ? ORDER BY instance_id"),
      setPhase: db.prepare("UPDATE rollouts SET phase = @phase, active = @active, finished_at = @finishedAt, updated_at = @updatedAt WHERE id = @id"),
      append: db.prepare(`INSERT INTO events (rollout_id, at, actor, type, payload, outcome, reason, details, lease_token)
        VALUES (@rolloutId, @at, @actor, @type, @payload, @outcome, @reason, @details, @leaseToken) RETURNING seq`),
      events: db.prepare<[string, number], EventDbRow>("SELECT * FROM events WHERE rollout_id = ? AND seq > ? ORDER BY seq"),
      eventsAll: db.prepare<[number, number], EventDbRow>("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?"),
      lastSeq: db.prepare<[], { seq: number | null }>("SELECT max(seq) AS seq FROM events"),
      lastSeqOf: db.prepare<[string], { seq: number | null }>("SELECT max(seq) AS seq FROM events WHERE rollout_id = ?"),
      lastDecision: db.prepare<[string], EventDbRow>(
        "SELECT * FROM events WHERE rollout_id = ? AND outcome = 'applied' AND type IN ('abort', 'rollback') ORDER BY seq DESC LIMIT 1",
      ),
    };
  }

  /** Runs `fn` in a write transaction taken at once (BEGIN IMMEDIATE): writers from every process queue here. */
  write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * Creates a rollout and appends its first events, refusing when the load balancer already has an
   * active one (ActiveRolloutExistsError) or when an instance of its plan belongs to another active
   * rollout, whatever load balancer that one runs on (InstanceLockedError). Checks, insert and the
   * instance locks happen in one write transaction, and the partial unique index and the locks'
   * primary key back them up, so of two concurrent starts from any processes: exactly one wins.
   * The locks are released when the rollout becomes inactive (a trigger, same transaction).
   */
  insertRollout(r: NewRollout, firstEvents: Omit<NewEvent, "rolloutId">[]): number[] {
    return this.write(() => {
      // A deploy freeze refuses it (the trigger would too; this says until when, by whom and why).
      const frozen = activeFreeze(this.db, r.lb, r.createdAt);
      if (frozen) throw new FrozenError(frozen);
      const running = this.stmts.activeFor.get(r.lb);
      if (running) {
        throw new ActiveRolloutExistsError({ id: running.id, lb: running.lb, targetVersion: running.target_version, phase: running.phase });
      }
      const ids = plannedInstanceIds(r.createInput);
      const locked = ids
        .flatMap((id) => this.stmts.lockOf.all(id))
        .sort((a, b) => byText(a.rollout_id, b.rollout_id) || byText(a.instance_id, b.instance_id));
      if (locked.length > 0) throw this.lockedError(locked);
      this.stmts.insertRollout.run({
        ...r,
        input: JSON.stringify(r.input),
        createInput: JSON.stringify(r.createInput),
        fromVersions: JSON.stringify(r.fromVersions),
      });
      for (const id of ids) this.stmts.lock.run(id, r.id);
      return firstEvents.map((e) => this.appendEvent({ ...e, rolloutId: r.id }));
    });
  }

  private lockedError(locked: { instance_id: string; rollout_id: string }[]): InstanceLockedError {
    const byRollout = new Map<string, string[]>();
    for (const l of locked) byRollout.set(l.rollout_id, [...(byRollout.get(l.rollout_id) ?? []), l.instance_id]);
    return new InstanceLockedError(
      [...byRollout].map(([id, instanceIds]) => {
        const row = this.stmts.rollout.get(id);
        return { rollout: { id, lb: row?.lb ?? "?", targetVersion: row?.target_version ?? "?", phase: row?.phase ?? "?" }, instanceIds };
      }),
    );
  }

  /** The instances an active rollout holds (none once it is final). */
  lockedInstances(rolloutId: string): string[] {
    return this.stmts.locksHeldBy.all(rolloutId).map((l) => l.instance_id);
  }

  /**
   * Appends one event and returns its seq. The only way an event enters the log. An engine passes its
   * lease's token: the database refuses it (StaleLeaseError) unless it is the rollout's current one.
   */
  appendEvent(e: NewEvent, leaseToken: number | null = null): number {
    try {
      const info = this.stmts.append.run({
        rolloutId: e.rolloutId,
        at: e.at,
        actor: e.actor,
        type: e.type,
        payload: JSON.stringify(e.payload),
        outcome: e.outcome,
        reason: e.reason ?? null,
        details: e.details == null ? null : JSON.stringify(e.details),
        leaseToken,
      });
      return Number(info.lastInsertRowid);
    } catch (err) {
      if (leaseToken !== null && /stale fencing token/.test(String((err as Error | null)?.message))) {
        throw new StaleLeaseError(e.rolloutId, leaseToken, e.type, { cause: err });
      }
      throw err;
    }
  }

  /** The store's clock in ms: PostgreSQL's (the one every replica shares), or this machine's for SQLite. */
  now(): number {
    if (this.location.kind === "sqlite") return Date.now();
    return this.db.prepare<[], { now: number }>("SELECT rotor_now_ms() AS now").get()!.now;
  }

  /** Caches the phase; `active: false` also releases the rollout's instance locks (a trigger, same transaction). */
  setPhase(id: string, phase: RolloutPhase, active: boolean, at: number): void {
    this.stmts.setPhase.run({ id, phase, active: active ? 1 : 0, finishedAt: active ? null : at, updatedAt: at });
  }

  rollout(id: string): RolloutRow | null {
    const r = this.stmts.rollout.get(id);
    return r ? toRollout(r) : null;
  }

  activeRolloutFor(lb: string): RolloutRow | null {
    const r = this.stmts.activeFor.get(lb);
    return r ? toRollout(r) : null;
  }

  activeRollouts(): RolloutRow[] {
    return this.stmts.active.all().map(toRollout);
  }

  /** The ids of the active rollouts, oldest first: cheap enough to ask on every fleet refresh (no plan parsed). */
  activeRolloutIds(): string[] {
    return this.stmts.activeIds.all().map((r) => r.id);
  }

  listRollouts(filter: { lb?: string; limit?: number } = {}): RolloutRow[] {
    const limit = Math.max(1, Math.min(filter.limit ?? 200, 10_000));
    return (filter.lb === undefined ? this.stmts.list.all(limit) : this.stmts.listFor.all(filter.lb, limit)).map(toRollout);
  }

  /** A rollout's events after `afterSeq` (all of them by default), in order. */
  events(rolloutId: string, afterSeq = 0): StoredEvent[] {
    return this.stmts.events.all(rolloutId, afterSeq).map(toEvent);
  }

  /** Events of every rollout after `afterSeq`, in order (at most `limit`). */
  eventsSince(afterSeq: number, limit = 1000): StoredEvent[] {
    return this.stmts.eventsAll.all(afterSeq, limit).map(toEvent);
  }

  lastSeq(rolloutId?: string): number {
    const r = rolloutId === undefined ? this.stmts.lastSeq.get() : this.stmts.lastSeqOf.get(rolloutId);
    return r?.seq ?? 0;
  }

  lastDecision(rolloutId: string): StoredEvent | null {
    const r = this.stmts.lastDecision.get(rolloutId);
    return r ? toEvent(r) : null;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
