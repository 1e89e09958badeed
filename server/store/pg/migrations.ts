/**
 * The schema in PostgreSQL's dialect. Versions 1–7 mirror `server/store/migrations.ts` and 100–101
 * mirror `server/auth/schema.ts` (same numbers, same names, same tables and rules), so one
 * `schema_migrations` history means the same schema on either store. Versions 200+ exist only here:
 * what several replicas sharing one database need. Never edit a migration that has shipped.
 *
 * Dialect choices:
 * - times stay integer milliseconds (BIGINT) and flags integers 0/1, as in SQLite, so rows read the
 *   same on both stores and one statement text serves both;
 *   lease expiry alone uses the database's clock, the one clock every replica shares;
 * - JSON columns are `json` (the exact text written, like SQLite's TEXT), not `jsonb`, which would
 *   reorder keys of the log, the truth replay starts from;
 * - append-only rules are triggers calling `rotor_refuse()`, which raises the same messages as
 *   SQLite's RAISE(ABORT, …).
 */
import type { Migration } from "../migrations";

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "rollouts and the append-only event log",
    sql: `
      -- Raises its first trigger argument: one function behind every "refused" trigger.
      CREATE FUNCTION rotor_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$;

      CREATE TABLE rollouts (
        id             TEXT PRIMARY KEY,
        lb             TEXT NOT NULL,
        provider       TEXT NOT NULL,
        created_by     TEXT NOT NULL,
        created_at     BIGINT NOT NULL,
        -- what the operator asked for (the validated start input)
        input          JSON NOT NULL,
        -- what lib's createRollout was given (plan and options): replay starts here
        create_input   JSON NOT NULL,
        target_version TEXT NOT NULL,
        -- versions the fleet ran at the start: {"v1": 4, "unknown": 1}
        from_versions  JSON NOT NULL,
        -- cache for listing; the event log is the truth
        phase          TEXT NOT NULL,
        active         INTEGER NOT NULL CHECK (active IN (0, 1)),
        finished_at    BIGINT,
        updated_at     BIGINT NOT NULL
      );
      -- At most one active rollout per load balancer, whoever writes (concurrent inserts wait on the
      -- index entry, then the later one fails).
      CREATE UNIQUE INDEX rollouts_one_active_per_lb ON rollouts (lb) WHERE active = 1;
      CREATE INDEX rollouts_by_created ON rollouts (created_at DESC);

      CREATE TABLE events (
        seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        rollout_id TEXT NOT NULL REFERENCES rollouts (id),
        at         BIGINT NOT NULL,
        actor      TEXT NOT NULL,
        type       TEXT NOT NULL,
        -- the event itself (without at/actor)
        payload    JSON NOT NULL,
        -- applied: fed to the state machine; rejected: refused (reason says why), kept for audit;
        -- info: an engine fact that is not a state-machine event (retry, crash found, resumed)
        outcome    TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected', 'info')),
        reason     TEXT,
        -- output tails, durations, the effect a step-started refers to, …
        details    JSON
      );
      CREATE INDEX events_by_rollout ON events (rollout_id, seq);

      CREATE TRIGGER events_no_update BEFORE UPDATE ON events
      FOR EACH ROW EXECUTE FUNCTION rotor_refuse('events are append-only: UPDATE refused');
      CREATE TRIGGER events_no_delete BEFORE DELETE ON events
      FOR EACH ROW EXECUTE FUNCTION rotor_refuse('events are append-only: DELETE refused');

      -- Which engine process runs the rollouts of one data dir (the single-machine lease; several
      -- replicas use the per-rollout leases of migration 201).
      CREATE TABLE engine_lease (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        owner        TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        acquired_at  BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "events: refuse REPLACE too",
    // SQLite's hole was REPLACE, a delete that skips delete triggers. PostgreSQL has no REPLACE (an
    // upsert is an UPDATE, refused above, and GENERATED ALWAYS refuses a chosen seq), but TRUNCATE
    // likewise skips row triggers: refuse it with a statement trigger.
    sql: `
      CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
      FOR EACH STATEMENT EXECUTE FUNCTION rotor_refuse('events are append-only: TRUNCATE refused');
    `,
  },
  {
    version: 3,
    name: "instance locks: an instance belongs to at most one active rollout",
    // The primary key backs the store's check in the transaction that inserts a rollout and its
    // locks; the trigger releases a rollout's locks in the very transaction that makes it inactive.
    // Back-fill as in SQLite (a no-op on a new database): active rollouts lock their plan's instances,
    // the oldest first.
    sql: `
      CREATE TABLE instance_locks (
        instance_id TEXT PRIMARY KEY,
        rollout_id  TEXT NOT NULL REFERENCES rollouts (id)
      );
      CREATE INDEX instance_locks_by_rollout ON instance_locks (rollout_id);

      CREATE FUNCTION rotor_release_instance_locks() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN DELETE FROM instance_locks WHERE rollout_id = NEW.id; RETURN NULL; END $$;
      CREATE TRIGGER rollouts_release_instance_locks AFTER UPDATE OF active ON rollouts
      FOR EACH ROW WHEN (NEW.active = 0) EXECUTE FUNCTION rotor_release_instance_locks();

      INSERT INTO instance_locks (instance_id, rollout_id)
        SELECT p ->> 'id', r.id
        FROM rollouts r,
          json_array_elements(CASE WHEN json_typeof(r.create_input -> 'plan' -> 'instances') = 'array'
                                   THEN r.create_input -> 'plan' -> 'instances' ELSE '[]'::json END) p
        WHERE r.active = 1 AND json_typeof(p -> 'id') = 'string'
        ORDER BY r.created_at, r.id
      ON CONFLICT DO NOTHING;
    `,
  },
  {
    version: 4,
    name: "notifications: webhook targets, the delivery outbox, seen Slack requests",
    // URL and secret sealed with a key kept outside the database; the outbox keeps the exact body
    // sent (TEXT: its bytes are signed), so a resend is byte-identical.
    sql: `
      CREATE TABLE notify_targets (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        format        TEXT NOT NULL CHECK (format IN ('json', 'slack')),
        url_sealed    TEXT NOT NULL,
        url_hint      TEXT NOT NULL,
        secret_sealed TEXT NOT NULL,
        lb            TEXT,
        kinds         JSON NOT NULL,
        enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        created_at    BIGINT NOT NULL,
        created_by    TEXT NOT NULL
      );

      CREATE TABLE notify_outbox (
        id            TEXT PRIMARY KEY,
        target_id     TEXT NOT NULL REFERENCES notify_targets (id) ON DELETE CASCADE,
        seq           BIGINT NOT NULL,
        kind          TEXT NOT NULL,
        rollout_id    TEXT NOT NULL,
        body          TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        created_at    BIGINT NOT NULL,
        next_at       BIGINT NOT NULL,
        claimed_until BIGINT,
        delivered_at  BIGINT,
        last_status   INTEGER,
        last_error    TEXT,
        UNIQUE (target_id, seq, kind)
      );
      CREATE INDEX notify_outbox_pending ON notify_outbox (target_id, status);

      CREATE TABLE notify_cursor (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL
      );
      INSERT INTO notify_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM events;

      CREATE TABLE slack_seen (
        signature TEXT PRIMARY KEY,
        at        BIGINT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: "deploy freezes",
    sql: `
      CREATE TABLE freezes (
        id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        lb         TEXT NOT NULL,
        reason     TEXT NOT NULL,
        ends_at    BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        lifted_by  TEXT,
        lifted_at  BIGINT
      );
      CREATE INDEX freezes_by_lb ON freezes (lb, ends_at);

      CREATE FUNCTION rotor_refuse_while_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM freezes WHERE lb = NEW.lb AND lifted_at IS NULL AND ends_at > NEW.created_at) THEN
          RAISE EXCEPTION 'FROZEN: the load balancer is frozen';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER rollouts_refused_while_frozen BEFORE INSERT ON rollouts
      FOR EACH ROW EXECUTE FUNCTION rotor_refuse_while_frozen();
    `,
  },
  {
    version: 100,
    name: "auth: operators, sessions, api tokens, settings, access log",
    // Secrets are never stored: sessions and API tokens by their SHA-256, passwords as scrypt hashes.
    sql: `
      CREATE TABLE auth_operators (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        password_hash TEXT NOT NULL,
        created_at    BIGINT NOT NULL,
        created_by    TEXT NOT NULL,
        disabled_at   BIGINT
      );

      CREATE TABLE auth_sessions (
        id_hash    TEXT PRIMARY KEY,
        operator   TEXT NOT NULL,
        role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        source     TEXT NOT NULL CHECK (source IN ('local', 'oidc')),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        revoked_at BIGINT
      );
      CREATE INDEX auth_sessions_by_operator ON auth_sessions (operator);

      CREATE TABLE auth_tokens (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        token_hash   TEXT NOT NULL UNIQUE,
        created_at   BIGINT NOT NULL,
        created_by   TEXT NOT NULL,
        expires_at   BIGINT,
        last_used_at BIGINT,
        revoked_at   BIGINT,
        revoked_by   TEXT
      );
      CREATE UNIQUE INDEX auth_tokens_live_name ON auth_tokens (name) WHERE revoked_at IS NULL;

      CREATE TABLE auth_settings (
        key        TEXT PRIMARY KEY,
        value      JSON NOT NULL,
        updated_at BIGINT NOT NULL,
        updated_by TEXT NOT NULL
      );

      CREATE TABLE auth_events (
        seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at      BIGINT NOT NULL,
        actor   TEXT NOT NULL,
        type    TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected', 'info')),
        reason  TEXT,
        details JSON
      );
      CREATE INDEX auth_events_by_at ON auth_events (at);
      CREATE TRIGGER auth_events_no_update BEFORE UPDATE ON auth_events
      FOR EACH ROW EXECUTE FUNCTION rotor_refuse('auth_events are append-only: UPDATE refused');
      CREATE TRIGGER auth_events_no_delete BEFORE DELETE ON auth_events
      FOR EACH ROW EXECUTE FUNCTION rotor_refuse('auth_events are append-only: DELETE refused');
      CREATE TRIGGER auth_events_no_truncate BEFORE TRUNCATE ON auth_events
      FOR EACH STATEMENT EXECUTE FUNCTION rotor_refuse('auth_events are append-only: TRUNCATE refused');
    `,
  },
  {
    version: 6,
    name: "rollouts: what was asked for never changes",
    // Only the listing cache (phase, active, finished_at, updated_at) may change: the rest is what
    // the operator asked for and where replay starts (the SQLite store's migration 6 says the same).
    sql: `
      CREATE TRIGGER rollouts_immutable BEFORE UPDATE OF id, lb, provider, created_by, created_at, input,
        create_input, target_version, from_versions ON rollouts
      FOR EACH ROW EXECUTE FUNCTION rotor_refuse('rollouts: only phase, active, finished_at and updated_at may change');
      CREATE TRIGGER rollouts_no_delete BEFORE DELETE ON rollouts
      FOR EACH ROW EXECUTE FUNCTION rotor_refuse('rollouts are kept: DELETE refused');
    `,
  },
  {
    version: 7,
    name: "rollout leases: one driver per rollout, fenced",
    // As SQLite's 7. Expiry is checked with the database's clock (clock_timestamp()), the one clock
    // every replica shares. FOR SHARE makes an append and a takeover of the same lease serialize: the
    // takeover waits for the append to commit, or the append sees the new token.
    sql: `
      CREATE TABLE rollout_leases (
        rollout_id  TEXT PRIMARY KEY REFERENCES rollouts (id),
        owner       TEXT NOT NULL,
        host        TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        token       BIGINT NOT NULL CHECK (token > 0),
        acquired_at BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL
      );
      ALTER TABLE events ADD COLUMN lease_token BIGINT;

      CREATE FUNCTION rotor_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS
        $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

      CREATE FUNCTION rotor_events_fenced() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM 1 FROM rollout_leases WHERE rollout_id = NEW.rollout_id AND token = NEW.lease_token
          AND expires_at > rotor_now_ms() FOR SHARE;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'stale fencing token: the lease of this rollout has passed to another engine or expired'
            USING ERRCODE = 'RF001';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER events_fenced BEFORE INSERT ON events
      FOR EACH ROW WHEN (NEW.lease_token IS NOT NULL) EXECUTE FUNCTION rotor_events_fenced();
    `,
  },
  {
    version: 101,
    name: "auth: sign-in failures for the rate limits",
    // As auth's 101: shared by every replica, so a sign-in limit holds across them.
    sql: `
      CREATE TABLE auth_sign_in_failures (
        id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        scope   TEXT NOT NULL,
        subject TEXT NOT NULL,
        at      BIGINT NOT NULL
      );
      CREATE INDEX auth_sign_in_failures_by_subject ON auth_sign_in_failures (scope, subject, at);
      CREATE INDEX auth_sign_in_failures_by_at ON auth_sign_in_failures (scope, at);
    `,
  },
  {
    version: 201,
    name: "events fan out to every replica",
    // Every insert notifies 'rotor_events' with the rollout id and seq; PostgreSQL delivers it at
    // commit only, so listeners never hear of a rolled-back append.
    sql: `
      CREATE FUNCTION rotor_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('rotor_events', json_build_object('rolloutId', NEW.rollout_id, 'seq', NEW.seq)::text);
        RETURN NULL;
      END $$;
      CREATE TRIGGER events_notify AFTER INSERT ON events
      FOR EACH ROW EXECUTE FUNCTION rotor_events_notify();
    `,
  },
];
