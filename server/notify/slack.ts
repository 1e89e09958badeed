/**
 * Approve from chat: `POST /api/integrations/slack/interactions`, where Slack sends the clicks on the
 * buttons of an awaiting-approval message. The request is Slack's only if its signature checks out
 * (v0, ROTOR_SLACK_SIGNING_SECRET, timestamp within 5 minutes, constant-time compare) and was not seen
 * before; the Slack user must be mapped to an operator (ROTOR_SLACK_USERS='{"U123":"alice"}' and the
 * `slack-users` admin setting). Then the click is an ordinary command through runCommand, acting as
 * `slack:<user> as <operator>` with the operator's role: the same role and two-person checks as the
 * dashboard (the two-person rule sees the operator behind the Slack user). The answer replaces the
 * message in the HTTP response; Rotor makes no outbound call to Slack.
 *
 * Every refusal is audited: unsigned, stale, forged, replayed and unmapped requests in the access log
 * (actor `anonymous` until the signature checks out, then `slack:<user>`); a command refused for a
 * known rollout in that rollout's log, as the dashboard's refusals are.
 */
import { z } from "zod";
import { rolloutLink, SLACK_ACTIONS, slackActionOf, slackReply, type SlackAction } from "@/lib/notify";
import type { OperatorEvent } from "@/lib/rollout/types";
import { fail, ok, type ActionResult } from "@/lib/result";
import { recordAccess, recordRefusal } from "@/server/auth/access-log";
import { findAccount } from "@/server/auth/accounts";
import { ensureAuthSchema } from "@/server/auth/db";
import { readSetting, writeSetting } from "@/server/auth/settings";
import { runCommand } from "@/server/commands";
import type { Runtime } from "@/server/runtime";
import type { Db } from "@/server/store/db";
import { publicUrl } from "./notifier";
import { sameSignature, slackSignature } from "./sign";

type Env = Readonly<Record<string, string | undefined>>;

export const SLACK_USERS_SETTING = "slack-users";
/** Slack's own rule: a request older (or newer) than this is refused. */
export const SLACK_MAX_AGE_S = 5 * 60;
const MAX_BODY = 64 * 1024;
const ACTION = "slack.interaction";

const userMapSchema = z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "Slack user ids look like U0123ABCD"), z.string().min(1).max(128));

/** Slack user id → operator name: ROTOR_SLACK_USERS (JSON), then the admin setting (which wins). */
export function slackUsers(db: Db, env: Env = process.env): Record<string, string> {
  let fromEnv: Record<string, string> = {};
  if (env.ROTOR_SLACK_USERS) {
    const parsed = userMapSchema.safeParse(safeJson(env.ROTOR_SLACK_USERS));
    if (parsed.success) fromEnv = parsed.data;
  }
  const stored = userMapSchema.safeParse(readSetting(db, SLACK_USERS_SETTING));
  return { ...fromEnv, ...(stored.success ? stored.data : {}) };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

const payloadSchema = z.object({
  type: z.literal("block_actions"),
  user: z.object({ id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/) }),
  actions: z.array(z.object({ action_id: z.string().max(255), value: z.string().max(2000).optional() })).min(1),
});

const valueSchema = z.object({ rolloutId: z.string().min(1).max(100), batch: z.number().int().min(0).max(100_000).optional() });

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function eventFor(action: SlackAction, batch: number | undefined): OperatorEvent {
  if (action === "approve") return batch === undefined ? { type: "approve" } : { type: "approve", batch };
  return { type: action };
}

const DONE: Record<SlackAction, string> = { approve: "approved", pause: "paused", rollback: "asked to roll back", resume: "resumed" };

/** Handles one interaction request; never throws. */
export async function handleSlackInteraction(rt: Runtime, request: Request, env: Env = process.env, now = Date.now()): Promise<Response> {
  const db = ensureAuthSchema(rt.store.db);
  const audit = (actor: string, reason: string, target = "POST /api/integrations/slack/interactions") =>
    recordRefusal(db, { actor, action: ACTION, target, reason, via: "slack" }, now);
  const refuse = (status: number, actor: string, reason: string, message: string) => {
    audit(actor, reason);
    return json(status, { ok: false, error: message });
  };
  const secret = env.ROTOR_SLACK_SIGNING_SECRET;
  if (!secret) return refuse(404, "anonymous", "NOT_CONFIGURED: ROTOR_SLACK_SIGNING_SECRET is not set", "Slack interactions are not configured on this dashboard.");

  const raw = await request.text().catch(() => "");
  if (raw.length > MAX_BODY) return refuse(413, "anonymous", "TOO_LARGE: body over 64 KiB", "Request too large.");
  const ts = request.headers.get("x-slack-request-timestamp");
  const sig = request.headers.get("x-slack-signature");
  if (!ts || !sig) return refuse(401, "anonymous", "UNSIGNED: no X-Slack-Signature or X-Slack-Request-Timestamp", "Unsigned request.");
  if (!/^\d{1,12}$/.test(ts) || Math.abs(now / 1000 - Number(ts)) > SLACK_MAX_AGE_S) {
    return refuse(401, "anonymous", `STALE: timestamp ${ts.slice(0, 20)} is more than 5 minutes from now`, "Stale request.");
  }
  if (!sameSignature(sig, slackSignature(secret, ts, raw))) return refuse(401, "anonymous", "BAD_SIGNATURE: X-Slack-Signature does not match", "Bad signature.");
  // A valid signature seen before is a replay (within the window; older ones fail the timestamp check).
  const fresh = rt.store.write(() => {
    db.prepare("DELETE FROM slack_seen WHERE at < ?").run(now - 2 * SLACK_MAX_AGE_S * 1000);
    return db.prepare("INSERT INTO slack_seen (signature, at) VALUES (?, ?) ON CONFLICT DO NOTHING").run(sig, now).changes === 1;
  });
  if (!fresh) return refuse(401, "anonymous", "REPLAY: this signed request was already received", "Replayed request.");

  const payload = payloadSchema.safeParse(safeJson(new URLSearchParams(raw).get("payload") ?? ""));
  if (!payload.success) return refuse(400, "anonymous", "INVALID_INPUT: not a block_actions payload", "Unsupported interaction.");
  const slackUser = payload.data.user.id;
  const actor = `slack:${slackUser}`;
  const clicked = payload.data.actions[0]!;
  const action = slackActionOf(clicked.action_id);
  const value = valueSchema.safeParse(safeJson(clicked.value ?? ""));
  if (!action || !value.success) {
    return refuse(400, actor, `INVALID_INPUT: unknown action ${clicked.action_id.slice(0, 60)} (expected ${Object.values(SLACK_ACTIONS).join(", ")})`, "Unsupported action.");
  }
  const { rolloutId, batch } = value.data;
  const link = rolloutLink(publicUrl(env), rolloutId);

  const name = slackUsers(db, env)[slackUser];
  if (!name) {
    audit(actor, `UNMAPPED: Slack user ${slackUser} is not mapped to a Rotor operator`, rolloutId);
    return json(200, slackReply(`Not done: your Slack user (${slackUser}) is not mapped to a Rotor operator. Ask an admin to map it, or act in the dashboard.`, link));
  }
  const account = findAccount(db, name, env);
  if (!account) {
    audit(actor, `UNMAPPED: Slack user ${slackUser} maps to ${name}, who is not an enabled operator`, rolloutId);
    return json(200, slackReply(`Not done: ${name} is not an enabled Rotor operator.`, link));
  }
  const operator = { name: `${actor} as ${account.name}`, role: account.role };
  const r = await runCommand(rt, operator, { type: "operator-event", rolloutId, event: eventFor(action, batch) });
  const text = r.ok ? `Rollout ${rolloutId}: ${DONE[action]} by ${account.name} (from Slack)` : `Not done (${r.code}): ${r.message}`;
  return json(200, slackReply(text, link));
}

/** Lines of `<Slack user id> <operator>` (or `U123=alice`), as the admin page posts them. */
const userLines = z
  .string()
  .max(20_000)
  .transform((s, ctx) => {
    const map: Record<string, string> = {};
    for (const [n, line] of s.split("\n").entries()) {
      const t = line.trim();
      if (!t) continue;
      const m = /^([A-Za-z0-9._-]{1,64})\s*[=\s]\s*([A-Za-z0-9][A-Za-z0-9._@-]{0,127})$/.exec(t);
      if (!m) {
        ctx.addIssue({ code: "custom", message: `Line ${n + 1}: write a Slack user id and an operator, e.g. U0123ABCD alice` });
        return z.NEVER;
      }
      map[m[1]!] = m[2]!;
    }
    return map;
  });

/** Sets the stored Slack user → operator mapping (ROTOR_SLACK_USERS still applies beneath it). Audited either way. */
export function setSlackUsers(db: Db, by: { name: string }, input: unknown, now = Date.now()): ActionResult<{ users: number }> {
  const parsed = userLines.safeParse(typeof input === "string" ? input : "");
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? "Check the mapping";
    recordRefusal(db, { actor: by.name, action: "settings.manage", target: SLACK_USERS_SETTING, reason: `INVALID_INPUT: ${message}` }, now);
    return fail("INVALID_INPUT", message, { users: message });
  }
  writeSetting(db, SLACK_USERS_SETTING, parsed.data, by.name, now);
  recordAccess(db, { at: now, actor: by.name, type: "setting-changed", outcome: "applied", details: { key: SLACK_USERS_SETTING, value: parsed.data } });
  return ok({ users: Object.keys(parsed.data).length });
}

/** The stored mapping as the admin page's text area shows it. */
export function storedSlackUsers(db: Db): string {
  const stored = userMapSchema.safeParse(readSetting(db, SLACK_USERS_SETTING));
  return stored.success ? Object.entries(stored.data).map(([u, o]) => `${u} ${o}`).join("\n") : "";
}
