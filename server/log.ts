/**
 * Structured logs (pino). Every line about a rollout carries `rolloutId`, `batch` and `instance`
 * (null when a line is not about one), so `grep rolloutId=…` or a log query finds a rollout's story.
 * Secrets never reach a line: well-known secret fields are redacted wherever they appear.
 */
import pino, { type Logger } from "pino";

/** pino redact paths: secrets are censored wherever these keys appear (up to two levels deep, plus request headers). */
export const REDACT = [
  "password",
  "secret",
  "token",
  "authorization",
  "cookie",
  "accessKeyId",
  "secretAccessKey",
  "sessionToken",
  "credentials",
  "passwordHash",
  "password_hash",
  "client_secret",
  "clientSecret",
  "code_verifier",
  "verifier",
  "id_token",
  "access_token",
  "refresh_token",
  "set-cookie",
  "ROTOR_OPERATORS",
  "ROTOR_OIDC_CLIENT_SECRET",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "SecretAccessKey",
  "SessionToken",
]
  .flatMap((k) => {
    // pino paths: a key with "-" needs bracket notation.
    const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
    const sep = key.startsWith("[") ? "" : ".";
    return [key, `*${sep}${key}`, `*.*${sep}${key}`];
  })
  // Request logs keep headers two levels deep.
  .concat(["req.headers.authorization", "req.headers.cookie", 'res.headers["set-cookie"]', "headers.authorization", "headers.cookie"]);

function level(): string {
  if (process.env.ROTOR_LOG_LEVEL) return process.env.ROTOR_LOG_LEVEL;
  return process.env.VITEST ? "silent" : "info";
}

/** A logger with Rotor's settings: level, base fields, time format and the redaction of secrets. */
export function createLogger(destination?: pino.DestinationStream, levelName = level()): Logger {
  const options = {
    level: levelName,
    base: { pid: process.pid, app: "rotor" },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The process's logger. Stateless apart from its settings, so a module-level one is safe. */
export const log: Logger = createLogger();

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
