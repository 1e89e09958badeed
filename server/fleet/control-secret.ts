/**
 * The control API's bearer secret: a new random one at each fleet start, written 0600 into the data
 * dir (`control.secret`), where the dashboard (same `ROTOR_DATA_DIR`) and tests read it. Read afresh
 * on each request, so a restarted fleet's new secret is picked up without restarting the dashboard.
 *
 * `ROTOR_CONTROL_SECRET_FILE` names another file (a fleet and a dashboard with different data dirs).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ensurePrivateDir, writePrivateFile } from "@/server/store/files";

export const CONTROL_SECRET_FILE = "control.secret";

export function controlSecretPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.ROTOR_CONTROL_SECRET_FILE ? path.resolve(env.ROTOR_CONTROL_SECRET_FILE) : path.join(path.resolve(env.ROTOR_DATA_DIR ?? ".rotor"), CONTROL_SECRET_FILE);
}

/** Makes and stores a fresh secret (256 random bits); the fleet calls this once per start. */
export function createControlSecret(file: string): string {
  const secret = randomBytes(32).toString("base64url");
  ensurePrivateDir(path.dirname(file));
  writePrivateFile(file, `${secret}\n`);
  return secret;
}

/** The current secret, or null when no fleet has written one there. */
export function readControlSecret(file: string = controlSecretPath()): string | null {
  try {
    return readFileSync(file, "utf8").trim() || null;
  } catch {
    return null;
  }
}

/** Constant-time check of an `Authorization` header against the secret. */
export function bearerMatches(header: string | undefined, secret: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? "")?.[1]?.trim() ?? "", "utf8");
  const want = Buffer.from(secret, "utf8");
  return given.length === want.length && timingSafeEqual(given, want);
}
