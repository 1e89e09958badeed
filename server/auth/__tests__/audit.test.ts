import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import type { RolloutEvent } from "@/lib/rollout/types";
import { Journals } from "@/server/store/journal";
import { recordAccess } from "../access-log";
import { auditPage, auditRows, csvCell, parseAuditQuery, toCsv, toJsonLines } from "../audit";
import { handleAuditExport } from "../audit-route";
import { authDb } from "../db";
import { createSession } from "../sessions";
import { createApiToken } from "../tokens";
import { driveToApproval, seedRollout, tempEnv, type TempEnv } from "./helpers";

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  let id: string;
  beforeEach(async () => {
    env = await tempEnv([{ name: "vera", role: "viewer", password: "vera-password" }], kind);
    id = seedRollout(env.store, { createdBy: "alice" });
    driveToApproval(env.store, id);
    new Journals(env.store).get(id)!.append({ type: "skip-instance", instanceId: "i-9", at: Date.now(), actor: "bob" } as RolloutEvent);
    recordAccess(authDb(), { actor: "=HYPERLINK(\"http://evil\")", type: "sign-in", outcome: "rejected", reason: "wrong name or password" });
  });
  afterEach(() => env.cleanup());

  describe("audit trail", () => {
    it("lists every rollout event and access fact, newest first, with actor, rollout, batch, instance and outcome", () => {
      const rows = auditRows(authDb(), {}, { limit: 1000 });
      const events = env.store.events(id);
      expect(rows.filter((r) => r.kind === "rollout")).toHaveLength(events.length);
      expect(rows.filter((r) => r.kind === "access")).toHaveLength(1);
      for (let i = 1; i < rows.length; i++) expect(rows[i - 1]!.at).toBeGreaterThanOrEqual(rows[i]!.at);
      const start = rows.find((r) => r.type === "start")!;
      expect(start).toMatchObject({ actor: "alice", rolloutId: id, lb: "local", outcome: "applied" });
      const step = rows.find((r) => r.type === "step-succeeded")!;
      expect(step.actor).toBe("engine");
      expect(step.batch).toBe(0);
      expect(step.instances.length).toBeGreaterThan(0);
      const skip = rows.find((r) => r.type === "skip-instance")!;
      expect(skip).toMatchObject({ actor: "bob", instances: ["i-9"], outcome: "rejected" });
    });

    it("filters by actor, rollout, type, outcome, kind and time range", () => {
      const db = authDb();
      expect(auditRows(db, { actor: "alice" }).map((r) => r.type)).toEqual(["start"]);
      expect(auditRows(db, { outcome: "rejected", kind: "rollout" }).map((r) => r.actor)).toEqual(["bob"]);
      expect(auditRows(db, { kind: "access" })).toHaveLength(1);
      expect(auditRows(db, { rollout: id }).every((r) => r.rolloutId === id)).toBe(true);
      expect(auditRows(db, { rollout: "r-none" })).toEqual([]);
      expect(auditRows(db, { type: "step-started" }).every((r) => r.type === "step-started")).toBe(true);
      expect(auditRows(db, { from: Date.now() + 60_000 })).toEqual([]);
      expect(auditRows(db, { to: 0 })).toEqual([]);
    });

    it("parses the query string, with datetime-local times read as UTC", () => {
      const q = parseAuditQuery(new URLSearchParams("actor=alice&outcome=applied&from=2026-12-01T07:30&to=1790000000000&kind=all"));
      expect(q.success && q.data).toMatchObject({ actor: "alice", outcome: "applied", from: Date.UTC(2026, 11, 1, 7, 30), to: 1790000000000, limit: 200, offset: 0 });
      expect(q.success && q.data.kind).toBeUndefined();
      expect(parseAuditQuery(new URLSearchParams("outcome=maybe")).success).toBe(false);
      const page = auditPage(authDb(), { ...parseAuditQuery({}).data!, limit: 2 });
      expect(page.rows).toHaveLength(2);
      expect(page.more).toBe(true);
      expect(page.actors).toEqual(expect.arrayContaining(["alice", "bob", "engine"]));
    });

    it("exports JSON Lines (one record a line) and CSV (quoted, formula-safe)", () => {
      const rows = auditRows(authDb(), {}, { limit: 1000 });
      const lines = toJsonLines(rows).trimEnd().split("\n");
      expect(lines).toHaveLength(rows.length);
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ kind: "rollout", type: "start", actor: "alice", rolloutId: id, time: expect.stringMatching(/Z$/) });
      const csv = toCsv(rows).split("\r\n");
      expect(csv[0]).toBe("time,kind,seq,actor,type,outcome,rollout,lb,batch,instances,reason,payload,details");
      expect(csv).toHaveLength(rows.length + 2);
      expect(csv.find((l) => l.includes("HYPERLINK"))).toContain(`"'=HYPERLINK(""http://evil"")"`);
      expect(csvCell("a,b")).toBe('"a,b"');
      expect(csvCell("-1")).toBe("'-1");
      expect(csvCell(-1)).toBe("-1");
      expect(csvCell(null)).toBe("");
    });

    it("GET /api/audit needs a viewer (session cookie or bearer) and answers each format", async () => {
      const url = `http://127.0.0.1:3000/api/audit?rollout=${id}`;
      expect((await handleAuditExport(new Request(url))).status).toBe(401);
      const { token: cookie } = createSession(authDb(), { name: "vera", role: "viewer", source: "local" });
      const csv = await handleAuditExport(new Request(`${url}&format=csv`, { headers: { cookie: `rotor_session=${cookie}` } }));
      expect(csv.status).toBe(200);
      expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
      expect(csv.headers.get("content-disposition")).toMatch(/attachment; filename="rotor-audit-.*\.csv"/);
      expect((await csv.text()).split("\r\n").length).toBe(env.store.events(id).length + 2);
      const bearer = createApiToken(authDb(), { name: "siem", role: "viewer" }, "amy").token;
      const jsonl = await handleAuditExport(new Request(url, { headers: { authorization: `Bearer ${bearer}` } }));
      expect(jsonl.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
      expect((await jsonl.text()).trimEnd().split("\n")).toHaveLength(env.store.events(id).length);
      expect((await handleAuditExport(new Request(`${url}&format=xml`, { headers: { authorization: `Bearer ${bearer}` } }))).status).toBe(400);
      expect((await handleAuditExport(new Request(`${url}&outcome=bogus`, { headers: { authorization: `Bearer ${bearer}` } }))).status).toBe(400);
    });
  });
});
