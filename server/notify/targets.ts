/**
 * Webhook targets and their delivery logs, as plain functions of the database (the admin page's
 * server actions add the session check). A target's URL and secret are sealed at rest and never leave
 * the server: answers carry the URL's scheme and host only, and the secret exists in one answer — the
 * one that creates it (like an API token).
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { fail, ok, type ActionResult } from "@/lib/result";
import { NOTIFICATION_KINDS, type DeliveryView, type NotificationKind, type NotifyTargetView } from "@/lib/notify";
import { recordAccess, recordRefusal } from "@/server/auth/access-log";
import type { Operator } from "@/server/auth/roles";
import { newSecret, openSecret, sealSecret } from "@/server/auth/secrets";
import type { Db } from "@/server/store/db";

export const targetInputSchema = z.object({
  name: z.string().trim().min(1, "Name the target").max(64, "Use at most 64 characters"),
  format: z.enum(["json", "slack"], { message: "Choose JSON or Slack" }),
  url: z
    .string()
    .trim()
    .max(2000, "The URL is too long")
    .refine((u) => {
      try {
        return ["http:", "https:"].includes(new URL(u).protocol);
      } catch {
        return false;
      }
    }, "Enter an http(s) URL"),
  /** Empty: Rotor makes one (shown once). */
  secret: z.string().max(512).optional().transform((s) => (s?.trim() ? s.trim() : undefined)).pipe(z.string().min(16, "Use a secret of at least 16 characters").optional()),
  /** Empty: every load balancer. */
  lb: z.string().trim().max(255).optional().transform((s) => s || null),
  kinds: z.array(z.enum(NOTIFICATION_KINDS)).min(1, "Choose at least one event").default([...NOTIFICATION_KINDS]),
});

export type TargetInput = z.input<typeof targetInputSchema>;

interface TargetRow {
  id: string;
  name: string;
  format: "json" | "slack";
  url_sealed: string;
  url_hint: string;
  secret_sealed: string;
  lb: string | null;
  kinds: string;
  enabled: number;
  created_at: number;
  created_by: string;
}

/** A target ready to send to: URL and secret opened. Server-side only; never logged. */
export interface LiveTarget {
  id: string;
  name: string;
  format: "json" | "slack";
  url: string;
  secret: string;
  urlHint: string;
}

function view(r: TargetRow): NotifyTargetView {
  return {
    id: r.id,
    name: r.name,
    format: r.format,
    urlHint: r.url_hint,
    lb: r.lb,
    kinds: JSON.parse(r.kinds) as NotificationKind[],
    enabled: r.enabled === 1,
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

function hint(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}/…`;
}

export function listTargets(db: Db): NotifyTargetView[] {
  return db.prepare<[], TargetRow>("SELECT * FROM notify_targets ORDER BY name").all().map(view);
}

/** Enabled targets that want `kind` for load balancer `lb`. */
export function targetsFor(db: Db, lb: string, kind: NotificationKind): NotifyTargetView[] {
  return db
    .prepare<[string], TargetRow>("SELECT * FROM notify_targets WHERE enabled = 1 AND (lb IS NULL OR lb = ?) ORDER BY created_at, id")
    .all(lb)
    .map(view)
    .filter((t) => t.kinds.includes(kind));
}

export function liveTarget(db: Db, key: Buffer, id: string): LiveTarget | null {
  const r = db.prepare<[string], TargetRow>("SELECT * FROM notify_targets WHERE id = ?").get(id);
  if (!r) return null;
  return { id: r.id, name: r.name, format: r.format, url: openSecret(key, r.url_sealed), secret: openSecret(key, r.secret_sealed), urlHint: r.url_hint };
}

function invalid(error: z.ZodError): { message: string; fieldErrors: Record<string, string> } {
  const fieldErrors: Record<string, string> = {};
  for (const i of error.issues) fieldErrors[String(i.path[0] ?? "form")] ??= i.message;
  return { message: Object.values(fieldErrors)[0] ?? "Check the form", fieldErrors };
}

/** Adds a target; the answer carries its secret, the only time it is shown. Audited either way. */
export function addTarget(db: Db, key: Buffer, by: Operator, input: unknown, now = Date.now()): ActionResult<{ id: string; name: string; secret: string }> {
  const parsed = targetInputSchema.safeParse(input);
  if (!parsed.success) {
    const r = invalid(parsed.error);
    recordRefusal(db, { actor: by.name, action: "settings.manage", target: "notify-target", reason: `INVALID_INPUT: ${r.message}` }, now);
    return fail("INVALID_INPUT", r.message, r.fieldErrors);
  }
  const t = parsed.data;
  if (db.prepare("SELECT 1 FROM notify_targets WHERE name = ?").get(t.name)) {
    recordRefusal(db, { actor: by.name, action: "settings.manage", target: "notify-target", reason: `NAME_TAKEN: ${t.name}` }, now);
    return fail("NAME_TAKEN", `A target named ${t.name} exists`, { name: "That name is taken" });
  }
  const secret = t.secret ?? newSecret("whsec_");
  const id = `wh-${randomBytes(6).toString("hex")}`;
  db.prepare(
    `INSERT INTO notify_targets (id, name, format, url_sealed, url_hint, secret_sealed, lb, kinds, enabled, created_at, created_by)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
  ).run(id, t.name, t.format, sealSecret(key, t.url), hint(t.url), sealSecret(key, secret), t.lb, JSON.stringify(t.kinds), now, by.name);
  recordAccess(db, { at: now, actor: by.name, type: "setting-changed", outcome: "applied", details: { key: "notify-target", change: "added", id, name: t.name, format: t.format, url: hint(t.url), lb: t.lb, kinds: t.kinds } });
  return ok({ id, name: t.name, secret });
}

/** Turns a target on or off (pending deliveries wait while it is off), or removes it with its log. */
export function changeTarget(db: Db, by: Operator, id: unknown, change: unknown, now = Date.now()): ActionResult<{ name: string }> {
  const row = typeof id === "string" ? db.prepare<[string], TargetRow>("SELECT * FROM notify_targets WHERE id = ?").get(id) : undefined;
  if (!row || (change !== "enable" && change !== "disable" && change !== "remove")) {
    recordRefusal(db, { actor: by.name, action: "settings.manage", target: typeof id === "string" ? id.slice(0, 100) : "notify-target", reason: "NOT_FOUND: no such target or change" }, now);
    return fail("NOT_FOUND", "That target is unknown");
  }
  if (change === "remove") db.prepare("DELETE FROM notify_targets WHERE id = ?").run(row.id);
  else db.prepare("UPDATE notify_targets SET enabled = ? WHERE id = ?").run(change === "enable" ? 1 : 0, row.id);
  recordAccess(db, { at: now, actor: by.name, type: "setting-changed", outcome: "applied", details: { key: "notify-target", change, id: row.id, name: row.name } });
  return ok({ name: row.name });
}

interface OutboxRow {
  id: string;
  kind: NotificationKind;
  rollout_id: string;
  status: DeliveryView["status"];
  attempts: number;
  created_at: number;
  next_at: number;
  delivered_at: number | null;
  last_status: number | null;
  last_error: string | null;
}

/** A target's most recent deliveries, newest first. */
export function deliveryLog(db: Db, targetId: string, limit = 20): DeliveryView[] {
  return db
    .prepare<[string, number], OutboxRow>("SELECT * FROM notify_outbox WHERE target_id = ? ORDER BY created_at DESC, seq DESC, id DESC LIMIT ?")
    .all(targetId, limit)
    .map((r) => ({
      id: r.id,
      kind: r.kind,
      rolloutId: r.rollout_id,
      status: r.status,
      attempts: r.attempts,
      createdAt: r.created_at,
      nextAt: r.next_at,
      deliveredAt: r.delivered_at,
      lastStatus: r.last_status,
      lastError: r.last_error,
    }));
}
