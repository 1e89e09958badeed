/**
 * What the admin pages do, as plain functions of an authorized operator (the server actions in
 * app/settings/ only add requireOperator and revalidation). Each change leaves an access fact.
 */
import { z } from "zod";
import type { ActionResult } from "@/lib/result";
import type { Db } from "@/server/store/db";
import { recordAccess, recordRefusal } from "./access-log";
import { addOperator, disableOperator, operatorNameSchema } from "./accounts";
import { ROLES, type Operator } from "./roles";
import { revokeSessionsOf } from "./sessions";
import { liftSignInLock } from "./sign-in";
import { writeSetting } from "./settings";
import { createApiToken, revokeApiToken, tokenInputSchema, TokenNameTaken } from "./tokens";
import { TWO_PERSON_SETTING } from "./two-person";

function invalid(error: z.ZodError): ActionResult<never> {
  const fieldErrors: Record<string, string> = {};
  for (const i of error.issues) fieldErrors[String(i.path[0] ?? "form")] ??= i.message;
  return { ok: false, code: "INVALID_INPUT", message: Object.values(fieldErrors)[0] ?? "Check the form", fieldErrors };
}

/** Every admin change refused (bad input, unknown target, a name taken) is kept in the audit trail too. */
function audited<T>(db: Db, by: Operator, action: string, target: unknown, r: ActionResult<T>): ActionResult<T> {
  if (!r.ok) recordRefusal(db, { actor: by.name, action, target: typeof target === "string" ? target.slice(0, 200) : null, reason: `${r.code}: ${r.message}` });
  return r;
}

function createTokenUnaudited(db: Db, by: Operator, input: unknown): ActionResult<{ token: string; name: string; role: string }> {
  const parsed = tokenInputSchema.safeParse(input);
  if (!parsed.success) return invalid(parsed.error);
  try {
    const { token, info } = createApiToken(db, parsed.data, by.name);
    recordAccess(db, { actor: by.name, type: "token-created", outcome: "applied", details: { id: info.id, name: info.name, role: info.role, expiresAt: info.expiresAt } });
    return { ok: true, data: { token, name: info.name, role: info.role } };
  } catch (err) {
    if (err instanceof TokenNameTaken) return { ok: false, code: "NAME_TAKEN", message: err.message, fieldErrors: { name: err.message } };
    throw err;
  }
}

function revokeTokenUnaudited(db: Db, by: Operator, id: unknown): ActionResult<{ name: string }> {
  if (typeof id !== "string" || !id) return { ok: false, code: "INVALID_INPUT", message: "Which token?" };
  const info = revokeApiToken(db, id, by.name);
  if (!info) return { ok: false, code: "NOT_FOUND", message: "That token is unknown or already revoked." };
  recordAccess(db, { actor: by.name, type: "token-revoked", outcome: "applied", details: { id, name: info.name } });
  return { ok: true, data: { name: info.name } };
}

const operatorInput = z.object({
  name: operatorNameSchema,
  role: z.enum(ROLES),
  password: z.string().min(12, "Use at least 12 characters").max(1024),
});

async function addStoredOperatorUnaudited(db: Db, by: Operator, input: unknown): Promise<ActionResult<{ name: string }>> {
  const parsed = operatorInput.safeParse(input);
  if (!parsed.success) return invalid(parsed.error);
  try {
    await addOperator(db, parsed.data, by.name);
  } catch (err) {
    return { ok: false, code: "INVALID_INPUT", message: err instanceof Error ? err.message : String(err) };
  }
  // A new password or role: sessions signed in with the old one end.
  revokeSessionsOf(db, parsed.data.name);
  recordAccess(db, { actor: by.name, type: "operator-added", outcome: "applied", details: { name: parsed.data.name, role: parsed.data.role } });
  return { ok: true, data: { name: parsed.data.name } };
}

function disableStoredOperatorUnaudited(db: Db, by: Operator, name: unknown): ActionResult<{ name: string }> {
  if (typeof name !== "string" || !name) return { ok: false, code: "INVALID_INPUT", message: "Which operator?" };
  if (name === by.name) return { ok: false, code: "INVALID_INPUT", message: "You cannot disable yourself." };
  if (!disableOperator(db, name)) return { ok: false, code: "NOT_FOUND", message: `${name} is not a stored operator, or is already disabled (configured operators change in configuration).` };
  recordAccess(db, { actor: by.name, type: "operator-disabled", outcome: "applied", details: { name } });
  return { ok: true, data: { name } };
}

const lbList = z
  .string()
  .max(4000)
  .transform((s) => [...new Set(s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean))])
  .pipe(z.array(z.string().max(255)).max(200));

function setTwoPersonLbsUnaudited(db: Db, by: Operator, input: unknown): ActionResult<{ lbs: string[] }> {
  const parsed = lbList.safeParse(input);
  if (!parsed.success) return { ok: false, code: "INVALID_INPUT", message: "List load balancer names separated by commas" };
  writeSetting(db, TWO_PERSON_SETTING, parsed.data, by.name);
  recordAccess(db, { actor: by.name, type: "setting-changed", outcome: "applied", details: { key: TWO_PERSON_SETTING, value: parsed.data } });
  return { ok: true, data: { lbs: parsed.data } };
}

const lockName = z.string().trim().min(1, "Which account?").max(128);

/** Lifts the sign-in lock of an account (after too many failed attempts). Audited either way. */
function liftLockUnaudited(db: Db, by: Operator, name: unknown): ActionResult<{ name: string; wasLocked: boolean }> {
  const parsed = lockName.safeParse(name);
  if (!parsed.success) return invalid(parsed.error);
  const wasLocked = liftSignInLock(db, by.name, parsed.data);
  return { ok: true, data: { name: parsed.data, wasLocked } };
}

export function createToken(db: Db, by: Operator, input: unknown): ActionResult<{ token: string; name: string; role: string }> {
  return audited(db, by, "tokens.manage", (input as { name?: unknown } | null)?.name, createTokenUnaudited(db, by, input));
}

export function revokeToken(db: Db, by: Operator, id: unknown): ActionResult<{ name: string }> {
  return audited(db, by, "tokens.manage", id, revokeTokenUnaudited(db, by, id));
}

export async function addStoredOperator(db: Db, by: Operator, input: unknown): Promise<ActionResult<{ name: string }>> {
  return audited(db, by, "operators.manage", (input as { name?: unknown } | null)?.name, await addStoredOperatorUnaudited(db, by, input));
}

export function disableStoredOperator(db: Db, by: Operator, name: unknown): ActionResult<{ name: string }> {
  return audited(db, by, "operators.manage", name, disableStoredOperatorUnaudited(db, by, name));
}

export function setTwoPersonLbs(db: Db, by: Operator, input: unknown): ActionResult<{ lbs: string[] }> {
  return audited(db, by, "settings.manage", "two-person-lbs", setTwoPersonLbsUnaudited(db, by, input));
}

export function liftLock(db: Db, by: Operator, name: unknown): ActionResult<{ name: string; wasLocked: boolean }> {
  return audited(db, by, "operators.manage", name, liftLockUnaudited(db, by, name));
}
