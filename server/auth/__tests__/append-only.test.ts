/** The audit trail cannot be rewritten: the database refuses it, and no code offers it. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import { recordAccess } from "../access-log";
import { authDb } from "../db";
import { seedRollout, tempEnv, type TempEnv } from "./helpers";

const root = path.resolve(__dirname, "../../..");

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  beforeEach(async () => {
    env = await tempEnv([], kind);
  });
  afterEach(() => env.cleanup());

  describe("append-only", () => {
    it("the database refuses UPDATE and DELETE on events and auth_events", () => {
      const id = seedRollout(env.store, { createdBy: "alice" });
      recordAccess(authDb(), { actor: "alice", type: "sign-in", outcome: "applied" });
      const db = env.store.db;
      expect(() => db.prepare("UPDATE events SET actor = 'mallory' WHERE rollout_id = ?").run(id)).toThrow(/append-only: UPDATE refused/);
      expect(() => db.prepare("DELETE FROM events WHERE rollout_id = ?").run(id)).toThrow(/append-only: DELETE refused/);
      expect(() => db.prepare("UPDATE auth_events SET actor = 'mallory'").run()).toThrow(/append-only: UPDATE refused/);
      expect(() => db.prepare("DELETE FROM auth_events").run()).toThrow(/append-only: DELETE refused/);
      if (env.kind === "sqlite") {
        // REPLACE deletes the old row without firing the DELETE trigger; the auth migration's trigger refuses it.
        expect(() => db.prepare("INSERT OR REPLACE INTO events (seq, rollout_id, at, actor, type, payload, outcome) SELECT seq, rollout_id, at, 'mallory', type, payload, outcome FROM events").run()).toThrow(/append-only: REPLACE refused/);
        expect(() => db.prepare("REPLACE INTO auth_events (seq, at, actor, type, outcome) SELECT seq, at, 'mallory', type, outcome FROM auth_events").run()).toThrow(/append-only: REPLACE refused/);
      } else {
        // PostgreSQL has no REPLACE; TRUNCATE skips row triggers, so statement triggers refuse it.
        expect(() => db.prepare("TRUNCATE events CASCADE").run()).toThrow(/append-only: TRUNCATE refused/);
        expect(() => db.prepare("TRUNCATE auth_events").run()).toThrow(/append-only: TRUNCATE refused/);
      }
      const seq = env.store.events(id)[0]!.seq;
      // An upsert on an existing seq: refused by the trigger (SQLite), or a chosen seq refused outright (PostgreSQL: GENERATED ALWAYS).
      expect(() => db.prepare("INSERT INTO events (seq, rollout_id, at, actor, type, payload, outcome) VALUES (?, ?, 1, 'x', 'pause', '{}', 'info') ON CONFLICT (seq) DO UPDATE SET actor = 'y'").run(seq, id)).toThrow(
        /append-only|non-DEFAULT value into column "seq"/,
      );
      expect(env.store.events(id).map((e) => e.actor)).toEqual(["alice"]);
    });

    it("no code in server/ or app/ updates, deletes, replaces or drops events", () => {
      const offenders: string[] = [];
      const pattern = /\b(UPDATE\s+(OR\s+\w+\s+)?(auth_)?events\b|DELETE\s+FROM\s+(auth_)?events\b|REPLACE\s+INTO\s+(auth_)?events\b|INSERT\s+OR\s+REPLACE\s+INTO\s+(auth_)?events\b|DROP\s+(TABLE|TRIGGER)\s+(IF\s+EXISTS\s+)?(auth_)?events)/i;
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const full = path.join(dir, name);
          if (statSync(full).isDirectory()) {
            if (name !== "node_modules" && name !== "__tests__") walk(full);
          } else if (/\.(ts|tsx|mts|js)$/.test(name) && !name.endsWith(".test.ts")) {
            readFileSync(full, "utf8")
              .split("\n")
              .forEach((line, i) => {
                if (pattern.test(line)) offenders.push(`${path.relative(root, full)}:${i + 1}: ${line.trim()}`);
              });
          }
        }
      };
      walk(path.join(root, "server"));
      walk(path.join(root, "app"));
      // The triggers' own messages name the refused statements; they are the guard, not a path.
      expect(offenders.filter((o) => !/RAISE\(ABORT/.test(o))).toEqual([]);
    });
  });
});
