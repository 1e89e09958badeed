/**
 * Structured logs (pino). Every line about a rollout carries `rolloutId`, `batch` and `instance`
 * (null when a line is not about one), so `grep rolloutId=…` or a log query finds a rollout's story.
 * Secrets never reach a line: well-known secret fields are redacted wherever they appear.
 */
import pino, { type Logger } from "pino";

const REDACT = [
  "password",
  "secret",
  "token",
  "authorization",
  "cookie",
  "accessKeyId",
  "secretAccessKey",
  "sessionToken",
  "credentials",
].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

function level(): string {
  if (process.env.ROTOR_LOG_LEVEL) return process.env.ROTOR_LOG_LEVEL;
  return process.env.VITEST ? "silent" : "info";
}

const g = globalThis as unknown as { __rotorLogger?: Logger };

/** The process-wide logger (one per process, surviving Next dev reloads). */
export const log: Logger =
  g.__rotorLogger ??
  (g.__rotorLogger = pino({
    level: level(),
    base: { pid: process.pid, app: "rotor" },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  }));

export interface RolloutLogContext {
  rolloutId: string;
  batch?: number | null;
  instance?: string | readonly string[] | null;
}

/** A child logger for one rollout (and optionally one batch and instance or set of instances). */
export function rolloutLog(ctx: RolloutLogContext): Logger {
  const instance = ctx.instance == null ? null : typeof ctx.instance === "string" ? ctx.instance : ctx.instance.join(",");
  return log.child({ rolloutId: ctx.rolloutId, batch: ctx.batch ?? null, instance });
}

/** A child logger for lines that are not about a rollout (monitor, engine lifecycle). */
export function componentLog(component: string, fields: Record<string, unknown> = {}): Logger {
  return log.child({ component, rolloutId: null, batch: null, instance: null, ...fields });
}
