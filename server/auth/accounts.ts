/**
 * Local operator accounts.
 *
 * Two sources, configured wins on a name clash:
 * - configuration: `ROTOR_OPERATORS` (a JSON array) or, when that is unset, `${ROTOR_DATA_DIR}/operators.json`
 *   (the same array, or `{ "operators": [...] }`). Each entry: `{ "name", "role", "passwordHash" }`,
 *   the hash made by `npx tsx server/auth/hash-password.ts`. Invalid configuration is an error, never
 *   ignored: a typo must not silently leave the dashboard with no operators (or the demo one).
 * - the database (`auth_operators`): the demo operator, and accounts an admin adds.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { Db } from "@/server/store/db";
import { resolveDataDir } from "@/server/store/db";
import { hashPassword, isPasswordHash } from "./password";
import { announceRevocation } from "./revocations";
import { ROLES, type OperatorRole } from "./roles";

/** Names that mean something else in the audit trail. API tokens act as `api:<name>`. */
export const RESERVED_NAMES = ["engine", "system", "api", "anonymous"];
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export const operatorNameSchema = z
  .string()
  .regex(NAME_PATTERN, "a name is 1–128 letters, digits and . _ @ -, starting with a letter or digit")
  .refine((n) => !RESERVED_NAMES.includes(n.toLowerCase()), "that name is reserved");

export const configuredOperatorSchema = z.object({
  name: operatorNameSchema,
  role: z.enum(ROLES),
  passwordHash: z.string().refine(isPasswordHash, "not a hash from server/auth/hash-password.ts"),
});

/** The array, or `{ "operators": [...] }`. */
const configSchema = z.preprocess(
  (v) => (typeof v === "object" && v !== null && !Array.isArray(v) && "operators" in v ? (v as { operators: unknown }).operators : v),
  z.array(configuredOperatorSchema),
);

export interface Account {
  name: string;
  role: OperatorRole;
  passwordHash: string;
  source: "config" | "db";
}

export const DEMO_OPERATOR = "demo";

function parseConfig(text: string, where: string): Account[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new Error(`${where} is not valid JSON`, { cause });
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${where} is invalid at ${issue?.path.join(".") || "top level"}: ${issue?.message ?? "unknown problem"} (expected [{ "name", "role": "viewer"|"operator"|"admin", "passwordHash" }])`);
  }
  const list = parsed.data;
  const seen = new Set<string>();
  for (const a of list) {
    if (seen.has(a.name)) throw new Error(`${where} lists operator "${a.name}" twice`);
    seen.add(a.name);
  }
  return list.map((a) => ({ ...a, source: "config" as const }));
}

let fileCache: { file: string; mtimeMs: number; accounts: Account[] } | null = null;

/** Operators from `ROTOR_OPERATORS` or `operators.json` (empty when neither is set). Throws on bad configuration. */
export function configuredOperators(env: Readonly<Record<string, string | undefined>> = process.env, dataDir?: string): Account[] {
  const fromEnv = env.ROTOR_OPERATORS?.trim();
  if (fromEnv) return parseConfig(fromEnv, "ROTOR_OPERATORS");
  const file = path.join(resolveDataDir(dataDir ?? env.ROTOR_DATA_DIR), "operators.json");
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    return [];
  }
  if (fileCache?.file === file && fileCache.mtimeMs === mtimeMs) return fileCache.accounts;
  const accounts = parseConfig(readFileSync(file, "utf8"), file);
  fileCache = { file, mtimeMs, accounts };
  return accounts;
}

interface OperatorRow {
  name: string;
  role: OperatorRole;
  password_hash: string;
  created_at: number;
  created_by: string;
  disabled_at: number | null;
}

export type { StoredOperator } from "@/lib/auth";
import type { StoredOperator } from "@/lib/auth";

function dbOperators(db: Db): OperatorRow[] {
  return db.prepare<[], OperatorRow>("SELECT * FROM auth_operators ORDER BY name").all();
}

/** The account that may sign in as `name`, or null. */
export function findAccount(db: Db, name: string, env: Readonly<Record<string, string | undefined>> = process.env): Account | null {
  const configured = configuredOperators(env).find((a) => a.name === name);
  if (configured) return configured;
  const row = db.prepare<[string], OperatorRow>("SELECT * FROM auth_operators WHERE name = ? AND disabled_at IS NULL").get(name);
  return row ? { name: row.name, role: row.role, passwordHash: row.password_hash, source: "db" } : null;
}

/** Every operator, configured and stored, for the admin page (no hashes). */
export function listOperators(db: Db, env: Readonly<Record<string, string | undefined>> = process.env): StoredOperator[] {
  const configured = configuredOperators(env);
  const names = new Set(configured.map((a) => a.name));
  return [
    ...configured.map((a) => ({ name: a.name, role: a.role, createdAt: 0, createdBy: "configuration", disabled: false, source: "config" as const })),
    ...dbOperators(db)
      .filter((r) => !names.has(r.name))
      .map((r) => ({ name: r.name, role: r.role, createdAt: r.created_at, createdBy: r.created_by, disabled: r.disabled_at !== null, source: "db" as const })),
  ];
}

/**
 * The accounts that make a non-loopback binding safe: configured operators and operators an admin
 * added, not the demo operator (its password went to a terminal).
 */
export function realAccounts(db: Db, env: Readonly<Record<string, string | undefined>> = process.env): Account[] {
  const stored = dbOperators(db)
    .filter((r) => r.name !== DEMO_OPERATOR && r.disabled_at === null)
    .map((r) => ({ name: r.name, role: r.role, passwordHash: r.password_hash, source: "db" as const }));
  return [...configuredOperators(env), ...stored];
}

export async function addOperator(db: Db, input: { name: string; role: OperatorRole; password: string }, by: string, now = Date.now()): Promise<void> {
  const name = operatorNameSchema.parse(input.name);
  if (configuredOperators().some((a) => a.name === name)) throw new Error(`operator "${name}" is defined in configuration; change it there`);
  const hash = await hashPassword(input.password);
  db.prepare(
    `INSERT INTO auth_operators (name, role, password_hash, created_at, created_by, disabled_at) VALUES (?, ?, ?, ?, ?, NULL)
     ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, disabled_at = NULL`,
  ).run(name, input.role, hash, now, by);
}

/** Disables a stored operator and ends its sessions. */
export function disableOperator(db: Db, name: string, now = Date.now()): boolean {
  const changed = db.transaction(() => {
    const changed = db.prepare("UPDATE auth_operators SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL").run(now, name).changes === 1;
    if (changed) db.prepare("UPDATE auth_sessions SET revoked_at = ? WHERE operator = ? AND source = 'local' AND revoked_at IS NULL").run(now, name);
    return changed;
  })();
  if (changed) announceRevocation();
  return changed;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1";
}

/**
 * Refuses to serve beyond loopback with nobody to sign in as. `server/cli/start.ts` calls it before
 * starting the dashboard; the message says what to do.
 */
export function assertSafeBinding(host: string, accounts: readonly unknown[], opts: { oidc?: boolean } = {}): void {
  if (isLoopbackHost(host) || accounts.length > 0 || opts.oidc) return;
  throw new Error(
    `refusing to listen on ${host}: no operator is configured, and the demo operator exists only on loopback. ` +
      "Configure operators in ROTOR_OPERATORS or ${ROTOR_DATA_DIR}/operators.json (hashes from `npx tsx server/auth/hash-password.ts`), " +
      "or configure OIDC (ROTOR_OIDC_ISSUER, ROTOR_OIDC_CLIENT_ID, ROTOR_OIDC_CLIENT_SECRET), or bind to 127.0.0.1.",
  );
}

/**
 * At start-up: on loopback with no configured operator, (re)creates the `demo` admin with a fresh
 * random password and returns it, to be printed once; the previous demo password stops working.
 * Elsewhere, or with operators configured, disables a demo operator left from an earlier run and
 * returns null.
 */
export async function ensureDemoOperator(db: Db, host: string, env: Readonly<Record<string, string | undefined>> = process.env, now = Date.now()): Promise<{ name: string; password: string } | null> {
  if (!isLoopbackHost(host) || configuredOperators(env).length > 0) {
    disableOperator(db, DEMO_OPERATOR, now);
    return null;
  }
  const password = randomBytes(12).toString("base64url");
  const hash = await hashPassword(password);
  db.transaction(() => {
    db.prepare(
      `INSERT INTO auth_operators (name, role, password_hash, created_at, created_by, disabled_at) VALUES (?, 'admin', ?, ?, 'system', NULL)
       ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, disabled_at = NULL`,
    ).run(DEMO_OPERATOR, hash, now);
  })();
  return { name: DEMO_OPERATOR, password };
}
