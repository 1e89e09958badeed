/**
 * Rotor's data dir holds the database (operators' sessions, tokens, the audit trail), operators.json
 * (password hashes) and the fleet's control secret: the dir is kept 0700 and those files 0600, whatever
 * the umask, and tightened when they already exist with looser modes (a dir made by hand, an older Rotor).
 * No SQLite here: the fleet process uses this too.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Files of the data dir that hold secrets, tightened to 0600 whenever the data dir is opened. */
const SECRET_FILES = ["operators.json"];

/** Creates `dir` (and missing parents) 0700, or tightens it to 0700; then tightens the data dir's secret files. */
export function ensurePrivateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  chmodSync(dir, PRIVATE_DIR_MODE);
  for (const name of SECRET_FILES) {
    const file = path.join(dir, name);
    if (existsSync(file)) chmodSync(file, PRIVATE_FILE_MODE);
  }
  return dir;
}

/** Creates `file` empty with mode 0600 if it does not exist, and makes an existing one 0600. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, "a", PRIVATE_FILE_MODE));
  chmodSync(file, PRIVATE_FILE_MODE);
}

/** Writes `content` to `file` with mode 0600 from its first byte (a temp file renamed over it). */
export function writePrivateFile(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: PRIVATE_FILE_MODE });
  chmodSync(tmp, PRIVATE_FILE_MODE);
  renameSync(tmp, file);
}
