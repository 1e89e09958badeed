/**
 * What the `rotor` command line exits with, and what it draws while it watches a rollout. Pure: the
 * phase and the dashboard's answers in, an exit code or a line of text out.
 *
 *   EXIT.OK 0        succeeded, or the awaited point was reached
 *   EXIT.FAILED 1    failed (a step failed and waits for an operator), rolled back or aborted
 *   EXIT.TIMEOUT 2   --timeout passed first
 *   EXIT.REFUSED 3   refused: a bad or missing token, bad input, a forbidden action, not possible now
 *   EXIT.UNAVAILABLE 4  the dashboard could not be reached or failed (5xx): try again later
 */
import type { RolloutPhase } from "../rollout/types";
import type { WaitUntil } from "./args";

export const EXIT = { OK: 0, FAILED: 1, TIMEOUT: 2, REFUSED: 3, UNAVAILABLE: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Phases in which the rollout cannot reach anything without a human: a pipeline should stop there. */
const FAILED: ReadonlySet<RolloutPhase> = new Set(["failed-awaiting-operator", "rolled-back", "aborted"]);

/**
 * Whether waiting for `until` is over at `phase`, and with which code; null: keep waiting.
 * A paused rollout keeps the wait going (an operator may resume it); a failed step ends it with 1,
 * as does a rollout that ended without ever waiting for approval (it cannot wait any more).
 */
export function judge(until: WaitUntil, phase: RolloutPhase): { code: ExitCode; reached: boolean } | null {
  if (until === "awaiting-approval" && phase === "awaiting-approval") return { code: EXIT.OK, reached: true };
  if (FAILED.has(phase)) return { code: EXIT.FAILED, reached: false };
  if (phase === "succeeded") return until === "finished" ? { code: EXIT.OK, reached: true } : { code: EXIT.FAILED, reached: false };
  return null;
}

/** The exit code of a refused or failed HTTP request; 0 is a network failure (nothing answered). */
export function exitForStatus(status: number): ExitCode {
  if (status === 0 || status >= 500) return EXIT.UNAVAILABLE;
  if (status >= 400) return EXIT.REFUSED;
  return EXIT.OK;
}

/**
 * One sentence for a refused request, saying what to do: the dashboard's own message, with the remedy
 * for a token problem (the usual first failure of a pipeline).
 */
export function refusalSentence(status: number, body: { code?: string; message?: string; fieldErrors?: Record<string, string> } | null, what: string): string {
  // A form's "check the highlighted fields" means nothing in a terminal: name the first field instead.
  const field = Object.entries(body?.fieldErrors ?? {})[0];
  const said = (field ? `${field[0]}: ${field[1]}` : body?.message)?.trim().replace(/[.!]?$/, "");
  if (status === 401) return `ROTOR_TOKEN was refused (401${said ? `: ${lower(said)}` : ""}); create a token on the dashboard's Tokens page (/settings/tokens) and export ROTOR_TOKEN.`;
  if (status === 403) return `The dashboard refused to ${what} (403${said ? `: ${lower(said)}` : ""}); use a token whose role allows it (operator or admin).`;
  if (status === 0) return `Could not ${what}: the dashboard did not answer${said ? ` (${said})` : ""}; check ROTOR_URL and that the dashboard is running.`;
  if (status >= 500) return `The dashboard failed to ${what} (${status}${said ? `: ${lower(said)}` : ""}); try again, or read the dashboard's log.`;
  return `The dashboard refused to ${what} (${status}${body?.code ? ` ${body.code}` : ""}): ${said ?? "no reason given"}.`;
}

function lower(s: string): string {
  return s.length > 1 && /^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s;
}

export interface ProgressFrame {
  id: string;
  phase: RolloutPhase;
  /** 0–100. */
  progress: number;
  /** derivePhase's message: the batch and the step in progress, or what the rollout waits for. */
  message: string;
}

/** "[########------------]  40%" for a width of 20 cells. */
export function progressBar(progress: number, width = 24): string {
  const p = Math.max(0, Math.min(100, Math.round(progress)));
  const full = Math.round((p / 100) * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}] ${String(p).padStart(3)}%`;
}

/**
 * The terminal's status line: bar, phase and the current step, cut to `columns` so it stays on one line
 * (it is redrawn in place).
 */
export function progressLine(f: ProgressFrame, columns = 100): string {
  const line = `${progressBar(f.progress)} ${f.phase}  ${f.message}`;
  return line.length <= columns ? line : `${line.slice(0, Math.max(0, columns - 1))}…`;
}

/** One line per change when stdout is not a terminal (CI logs): time, id, phase, percent, step. */
export function plainLine(f: ProgressFrame, at: number): string {
  return `${new Date(at).toISOString()} ${f.id} ${f.phase} ${Math.round(f.progress)}% ${f.message}`;
}

/** Whether two frames would draw the same (redraw and log only on change). */
export function sameFrame(a: ProgressFrame | null, b: ProgressFrame): boolean {
  return a !== null && a.phase === b.phase && a.progress === b.progress && a.message === b.message;
}
