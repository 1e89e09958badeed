/**
 * The one version rule, for every place a version is checked: the form and the API (versionSchema),
 * the planner and the providers (isVersion), and the hook scripts on the instances (versionShellCheck).
 * A version starts with a letter or digit, then letters, digits and `._+-`, 1–128 characters in all,
 * so `.`, `..`, `-rf`, `--force`, `1.0;touch /tmp/x`, `$(id)` and anything holding a newline are refused.
 *
 *   isVersion("2.0.0-rc.1+build.7") === true;  isVersion("--force") === false;  isVersion("..") === false
 */
import { z } from "zod";
import { HOOK_REFUSED_EXIT, VERSION_PATTERN } from "../rollout/types";

export { VERSION_PATTERN };

export const VERSION_MESSAGE = "Version must start with a letter or digit, then letters, digits and . _ - + (1–128 characters)";

export function isVersion(v: unknown): v is string {
  return typeof v === "string" && VERSION_PATTERN.test(v);
}

/** Exactly the rule: no trimming, so a version with a newline or space anywhere is refused, not repaired. */
export const versionSchema = z.string({ error: VERSION_MESSAGE }).regex(VERSION_PATTERN, { error: VERSION_MESSAGE });

// Spelled out rather than as ranges: a shell's bracket range follows the locale's collation order.
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * POSIX sh lines that exit HOOK_REFUSED_EXIT (64: refused, nothing changed) unless the variable named `name` holds a version by VERSION_PATTERN,
 * for hook scripts that receive the version as data (an environment variable). `name` is a constant
 * of the script, never operator input.
 */
export function versionShellCheck(name: string): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`versionShellCheck: ${JSON.stringify(name)} is not a shell variable name`);
  return [
    `case "$${name}" in`,
    `  ''|[!${ALNUM}]*|*[!${ALNUM}._+-]*) echo "rotor: refusing version: it must start with a letter or digit, then letters, digits and ._+- only" >&2; exit ${HOOK_REFUSED_EXIT} ;;`,
    "esac",
    `if [ "\${#${name}}" -gt 128 ]; then echo "rotor: refusing version: longer than 128 characters" >&2; exit ${HOOK_REFUSED_EXIT}; fi`,
  ];
}
