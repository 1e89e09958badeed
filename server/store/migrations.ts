/**
 * Schema migrations, applied in order, each once, inside one write transaction with its
 * `schema_migrations` row. Never edit a migration that has shipped: add a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "rollouts and the append-only event log",
    sql: `
      CREATE TABLE rollouts (
        id            TEXT PRIMARY KEY,
        lb            TEXT NOT NULL,
        provider      TEXT NOT NULL,
        created_by    TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        -- what the operator asked for (the validated start input), as JSON
        input         TEXT NOT NULL,
        -- what lib's createRollout was given (plan and options), as JSON: replay starts here
        create_input  TEXT NOT NULL,
        target_version TEXT NOT NULL,
        -- versions the fleet ran at the start: {"v1": 4, "unknown": 1}
        from_versions TEXT NOT NULL,
        -- cache for listing; the event log is the truth
        phase         TEXT NOT NULL,
        active        INTEGER NOT NULL CHECK (active IN (0, 1)),
        finished_at   INTEGER,
        updated_at    INTEGER NOT NULL
      );
      -- At most one active rollout per load balancer, whoever writes.
      CREATE UNIQUE INDEX rollouts_one_active_per_lb ON rollouts (lb) WHERE active = 1;
      CREATE INDEX rollouts_by_created ON rollouts (created_at DESC);

      CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        rollout_id TEXT NOT NULL REFERENCES rollouts (id),
        at         INTEGER NOT NULL,
        actor      TEXT NOT NULL,
        type       TEXT NOT NULL,
        -- the event itself (without at/actor), as JSON
        payload    TEXT NOT NULL,
        -- applied: fed to the state machine; rejected: refused (reason says why), kept for audit;
        -- info: an engine fact that is not a state-machine event (retry, crash found, resumed)
        outcome    TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected', 'info')),
        reason     TEXT,
        -- output tails, durations, the effect a step-started refers to, …, as JSON
        details    TEXT
      );
      CREATE INDEX events_by_rollout ON events (rollout_id, seq);

      CREATE TRIGGER events_no_update BEFORE UPDATE ON events
      BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
      CREATE TRIGGER events_no_delete BEFORE DELETE ON events
      BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;

      -- Which engine process runs the rollouts of this data dir (one at a time).
      CREATE TABLE engine_lease (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        owner        TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        acquired_at  INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "events: refuse REPLACE too",
    // A REPLACE (`INSERT OR REPLACE`, `REPLACE`) on the events table with an existing seq deletes and rewrites the row
    // without firing events_no_delete (SQLite fires delete triggers on REPLACE only with
    // recursive_triggers on). Refuse any insert that names an existing seq. (The auth migration 100
    // adds the same guard as events_no_replace_auth100; both may exist, both refuse.)
    sql: `
      CREATE TRIGGER IF NOT EXISTS events_no_replace BEFORE INSERT ON events
      WHEN EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq)
      BEGIN SELECT RAISE(ABORT, 'events are append-only: REPLACE refused'); END;
    `,
  },
  {
    version: 3,
    name: "instance locks: an instance belongs to at most one active rollout",
    // Whatever load balancer a rollout reached an instance through, the instance is locked to it from
    // the insert until the rollout is final (the whole plan, not only the batch in progress). The
    // primary key backs the store's check for a writer that skips it; the trigger releases a
    // rollout's locks in the very transaction that makes it inactive, whoever writes.
    // Back-fill: rollouts already active lock their plan's instances (the oldest first, should two
    // active rollouts of an older version already share one).
    sql: `
      CREATE TABLE instance_locks (
        instance_id TEXT PRIMARY KEY,
        rollout_id  TEXT NOT NULL REFERENCES rollouts (id)
      );
      CREATE INDEX instance_locks_by_rollout ON instance_locks (rollout_id);

      CREATE TRIGGER rollouts_release_instance_locks AFTER UPDATE OF active ON rollouts
      WHEN NEW.active = 0
      BEGIN DELETE FROM instance_locks WHERE rollout_id = NEW.id; END;

      INSERT OR IGNORE INTO instance_locks (instance_id, rollout_id)
        SELECT json_extract(p.value, '$.id'), r.id
        FROM rollouts r, json_each(r.create_input, '$.plan.instances') p
        WHERE r.active = 1 AND json_type(p.value, '$.id') = 'text'
        ORDER BY r.created_at, r.rowid;
    `,
  },
  {
    version: 4,
    name: "notifications: webhook targets, the delivery outbox, seen Slack requests",
    // Targets' URL and secret are sealed (AES-256-GCM, key in the data dir's notify.key, never in this
    // file): a copied database alone yields neither. The outbox holds each delivery with the exact body
    // sent, so a restart resends the same bytes under the same id (X-Rotor-Delivery) and receivers can
    // dedupe. The cursor is the last event seq turned into notifications; it starts at the end of the
    // log, so turning notifications on does not replay history.
    sql: `
      CREATE TABLE notify_targets (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        format       TEXT NOT NULL CHECK (format IN ('json', 'slack')),
        url_sealed   TEXT NOT NULL,
        -- scheme and host only, for the admin page and logs
        url_hint     TEXT NOT NULL,
        secret_sealed TEXT NOT NULL,
        -- NULL: every load balancer
        lb           TEXT,
        -- JSON array of notification kinds
        kinds        TEXT NOT NULL,
        enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        created_at   INTEGER NOT NULL,
        created_by   TEXT NOT NULL
      );

      CREATE TABLE notify_outbox (
        id            TEXT PRIMARY KEY,
        target_id     TEXT NOT NULL REFERENCES notify_targets (id) ON DELETE CASCADE,
        seq           INTEGER NOT NULL,
        kind          TEXT NOT NULL,
        rollout_id    TEXT NOT NULL,
        body          TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL,
        next_at       INTEGER NOT NULL,
        -- a process sending it holds it until then (a crashed sender's claim lapses)
        claimed_until INTEGER,
        delivered_at  INTEGER,
        last_status   INTEGER,
        last_error    TEXT,
        UNIQUE (target_id, seq, kind)
      );
      CREATE INDEX notify_outbox_pending ON notify_outbox (target_id, status);

      CREATE TABLE notify_cursor (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
      );
      INSERT INTO notify_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM events;

      -- Slack request signatures seen within the replay window (older rows are pruned).
      CREATE TABLE slack_seen (
        signature TEXT PRIMARY KEY,
        at        INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: "deploy freezes",
    // A freeze refuses new rollouts on a load balancer until it ends or is lifted; running rollouts are
    // untouched (they can still be paused, aborted, rolled back). The trigger makes the rule hold for
    // every writer, inside the transaction that inserts the rollout.
    sql: `
      CREATE TABLE freezes (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        lb         TEXT NOT NULL,
        reason     TEXT NOT NULL,
        ends_at    INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        lifted_by  TEXT,
        lifted_at  INTEGER
      );
      CREATE INDEX freezes_by_lb ON freezes (lb, ends_at);

      CREATE TRIGGER rollouts_refused_while_frozen BEFORE INSERT ON rollouts
      WHEN EXISTS (SELECT 1 FROM freezes WHERE lb = NEW.lb AND lifted_at IS NULL AND ends_at > NEW.created_at)
      BEGIN SELECT RAISE(ABORT, 'FROZEN: the load balancer is frozen'); END;
    `,
  },
  {
    version: 6,
    name: "rollouts: what was asked for never changes",
    // Only the listing cache (phase, active, finished_at, updated_at) may change: the rest is what the
    // operator asked for and where replay starts. Rollouts are never deleted (their events point at them).
    sql: `
      CREATE TRIGGER rollouts_immutable BEFORE UPDATE OF id, lb, provider, created_by, created_at, input,
        create_input, target_version, from_versions ON rollouts
      BEGIN SELECT RAISE(ABORT, 'rollouts: only phase, active, finished_at and updated_at may change'); END;
      CREATE TRIGGER rollouts_no_delete BEFORE DELETE ON rollouts
      BEGIN SELECT RAISE(ABORT, 'rollouts are kept: DELETE refused'); END;
    `,
  },
  {
    version: 7,
    name: "rollout leases: one driver per rollout, fenced",
    // One row per rollout ever driven, never deleted (a release only ends the term), so the fencing
    // token only grows; times are ms since the epoch. An event appended with a lease_token is refused
    // inside its own insert unless that token is the rollout's current, unexpired one: an engine that
    // lost its lease (paused past it, taken over) writes nothing, whatever code path it takes.
    // Events without a token (operators' commands, engine notes about itself) are not fenced.
    sql: `
      CREATE TABLE rollout_leases (
        rollout_id  TEXT PRIMARY KEY REFERENCES rollouts (id),
        owner       TEXT NOT NULL,
        host        TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        token       INTEGER NOT NULL CHECK (token > 0),
        acquired_at INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
      );
      ALTER TABLE events ADD COLUMN lease_token INTEGER;
      CREATE TRIGGER events_fenced BEFORE INSERT ON events
      WHEN NEW.lease_token IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM rollout_leases WHERE rollout_id = NEW.rollout_id AND token = NEW.lease_token
          AND expires_at > CAST(unixepoch('subsec') * 1000 AS INTEGER))
      BEGIN SELECT RAISE(ABORT, 'stale fencing token: the lease of this rollout has passed to another engine or expired'); END;
    `,
  },
];
