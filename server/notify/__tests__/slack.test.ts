/**
 * Approve from chat, end to end on the real local fleet: the awaiting-approval message a Slack-format
 * target receives carries the buttons; clicks are POSTed over HTTP to the interactions handler, signed
 * exactly as Slack signs them. Approve works for a mapped operator; the starter is refused under the
 * two-person rule; an unmapped user, an unsigned, forged, stale or replayed request is refused — each
 * on record (the rollout's log or the access log).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addOperator } from "@/server/auth/accounts";
import { ensureAuthSchema } from "@/server/auth/db";
import { writeSetting } from "@/server/auth/settings";
import { TWO_PERSON_SETTING } from "@/server/auth/two-person";
import { runCommand } from "@/server/commands";
import { TestControl, waitFor } from "@/server/engine/__tests__/harness";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { createRuntime, type Runtime } from "@/server/runtime";
import type { Db } from "@/server/store/db";
import { slackSignature } from "../sign";
import { handleSlackInteraction } from "../slack";
import { addTarget } from "../targets";
import { startReceiver, type Receiver } from "../testing";

const SIGNING = "8f742231b10e8888abcd99yyyzzz85a5";
const env = { ROTOR_SLACK_SIGNING_SECRET: SIGNING, ROTOR_SLACK_USERS: JSON.stringify({ UOLGA: "olga", UBOB: "bob", UGHOST: "ghost" }), ROTOR_PUBLIC_URL: "https://rotor.example" };

let dir: string;
let fleet: LocalFleetHandle;
let rt: Runtime;
let t: TestControl;
let db: Db;
let chat: Receiver;
let server: Server;
let endpoint: string;

/** The handler behind a real loopback HTTP server, as the Next route serves it. */
async function serve(): Promise<string> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) });
      void handleSlackInteraction(rt, request, env).then(async (r) => {
        res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/json" }).end(await r.text());
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/integrations/slack/interactions`;
}

/** A block_actions request as Slack sends it: form-encoded `payload`, signed v0 over timestamp and body. */
function slackRequest(user: string, actionId: string, value: string, opts: { ts?: number; secret?: string; unsigned?: boolean } = {}) {
  const payload = { type: "block_actions", user: { id: user, username: user.toLowerCase() }, actions: [{ action_id: actionId, value, type: "button" }], response_url: "https://hooks.slack.invalid/actions/x" };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (!opts.unsigned) {
    headers["x-slack-request-timestamp"] = ts;
    headers["x-slack-signature"] = slackSignature(opts.secret ?? SIGNING, ts, body);
  }
  return { body, headers };
}

async function post(req: { body: string; headers: Record<string, string> }) {
  const res = await fetch(endpoint, { method: "POST", headers: req.headers, body: req.body });
  return { status: res.status, body: (await res.json()) as { text?: string; replace_original?: boolean; error?: string } };
}

const refusals = () =>
  db
    .prepare<[], { actor: string; reason: string; details: string }>("SELECT actor, reason, details FROM auth_events WHERE type = 'access-refused' ORDER BY seq")
    .all()
    .filter((r) => r.details.includes("slack.interaction"));

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-slack-"));
  fleet = await startLocalFleet({ instances: 2, dataDir: path.join(dir, "fleet"), trafficRps: 10, slowFraction: 0 });
  rt = createRuntime({ dataDir: path.join(dir, "engine"), provider: fleet.provider, env, notify: { pollMs: 50 }, analysis: { windowMs: 0 } });
  db = ensureAuthSchema(rt.store.db);
  await addOperator(db, { name: "olga", role: "operator", password: "olga-password-long" }, "test");
  await addOperator(db, { name: "bob", role: "operator", password: "bob-password-long" }, "test");
  writeSetting(db, TWO_PERSON_SETTING, ["local"], "test");
  chat = await startReceiver("whsec_chat-secret-of-enough-length");
  const r = addTarget(db, rt.secretsKey, { name: "ada", role: "admin" }, { name: "chat", format: "slack", url: chat.url, secret: "whsec_chat-secret-of-enough-length", kinds: ["awaiting-approval"] });
  if (!r.ok) throw new Error(r.message);
  endpoint = await serve();
  t = new TestControl(path.join(dir, "engine"), fleet.provider);
  rt.startEngine();
}, 90_000);

afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await rt?.close();
  t?.close();
  await chat?.close();
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("Slack interactions", () => {
  it("approve from the message's button: refused for the starter, unmapped users and bad requests (audited), done for a mapped second operator", async () => {
    const start = await runCommand(rt, { name: "olga", role: "operator" }, {
      type: "start-rollout",
      input: { lb: "local", version: "2.0.0", batchSize: { unit: "count", value: 1 }, canary: false, includeOutOfService: false, approval: { mode: "manual" }, strategy: "in-place" },
    });
    if (!start.ok) throw new Error(start.message);
    const id = start.data.id;
    await t.waitPhase(id, "awaiting-approval");

    // The Slack message for the waiting batch, as the chat target received it.
    const msg = await waitFor(() => chat.received[0], { timeoutMs: 10_000, what: "the awaiting-approval message" });
    expect(msg.verified).toBe(true);
    const buttons = (msg.body.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find((b) => b.type === "actions")!.elements!;
    const approve = buttons.find((b) => b.action_id === "rotor.approve")!;
    expect(JSON.parse(approve.value)).toEqual({ rolloutId: id, batch: 1 });

    // The starter, under the two-person rule: refused, kept in the rollout's log as slack:UOLGA as olga.
    const own = await post(slackRequest("UOLGA", approve.action_id, approve.value));
    expect(own.status).toBe(200);
    expect(own.body.text).toMatch(/^Not done \(TWO_PERSON_RULE\): .*olga started rollout/);
    const rejected = t.events(id).filter((e) => e.outcome === "rejected");
    expect(rejected.map((e) => [e.actor, e.type, e.reason?.split(":")[0]])).toEqual([["slack:UOLGA as olga", "approve", "TWO_PERSON_RULE"]]);

    // An unmapped user, and one mapped to nobody who can sign in.
    const stranger = await post(slackRequest("UNOBODY", approve.action_id, approve.value));
    expect(stranger.body.text).toMatch(/not mapped to a Rotor operator/);
    const ghost = await post(slackRequest("UGHOST", approve.action_id, approve.value));
    expect(ghost.body.text).toMatch(/ghost is not an enabled Rotor operator/);

    // Unsigned, forged (wrong secret), stale (6 minutes old, correctly signed).
    expect((await post(slackRequest("UBOB", approve.action_id, approve.value, { unsigned: true }))).status).toBe(401);
    expect((await post(slackRequest("UBOB", approve.action_id, approve.value, { secret: "not-the-signing-secret" }))).status).toBe(401);
    expect((await post(slackRequest("UBOB", approve.action_id, approve.value, { ts: Math.floor(Date.now() / 1000) - 6 * 60 }))).status).toBe(401);
    expect(t.state(id).phase).toBe("awaiting-approval");

    // A mapped second operator approves; the event's actor says who, through what.
    const bobs = slackRequest("UBOB", approve.action_id, approve.value);
    const ok = await post(bobs);
    expect(ok).toMatchObject({ status: 200, body: { replace_original: true } });
    expect(ok.body.text).toBe(`Rollout ${id}: approved by bob (from Slack)`);
    const approved = t.events(id).filter((e) => e.type === "approve" && e.outcome === "applied");
    expect(approved.map((e) => e.actor)).toEqual(["slack:UBOB as bob"]);

    // The same signed request again: a replay.
    const again = await post(bobs);
    expect(again.status).toBe(401);
    expect(again.body.error).toBe("Replayed request.");

    expect(refusals().map((r) => [r.actor, r.reason.split(":")[0]])).toEqual([
      ["slack:UNOBODY", "UNMAPPED"],
      ["slack:UGHOST", "UNMAPPED"],
      ["anonymous", "UNSIGNED"],
      ["anonymous", "BAD_SIGNATURE"],
      ["anonymous", "STALE"],
      ["anonymous", "REPLAY"],
    ]);
    await t.waitPhase(id, "succeeded");
  }, 120_000);

  it("a stale button (a batch no longer waiting) is refused by the state machine, not applied", async () => {
    const last = rt.store.listRollouts({ lb: "local", limit: 1 })[0]!;
    const r = await post(slackRequest("UBOB", "rotor.approve", JSON.stringify({ rolloutId: last.id, batch: 0 })));
    expect(r.body.text).toMatch(/^Not done \(/);
    expect(t.state(last.id).phase).toBe("succeeded");
  });
});
