/**
 * The `rotor` command line's arguments, checked before any request: each command's flags (strings, as a
 * shell passes them) become the API's request body, or one sentence saying what to change.
 *
 *   parseStart({ lb: "local", version: "v2", batch: "25%", auto: "30s" })
 *     → { ok: true, value: { body: { lb, version, batchSize: { unit: "percent", value: 25 },
 *         approval: { mode: "auto", bakeSec: 30 }, strategy: "in-place" }, wait: false, timeoutMs: 1_800_000 } }
 *   parseDuration("1h30m") → 5_400_000;  parseDuration("soon") → null
 *
 * The body is then judged again by the dashboard (startRolloutSchema, the planner): the CLI only refuses
 * early what can never be right, so a pipeline fails in its own log instead of on the server.
 */
import { z } from "zod";
import { startRolloutSchema, type StartRolloutInput } from "../validation/rollout";
import { versionSchema } from "../validation/version";

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * "90s", "30m", "1h30m", "500ms", or a bare number of seconds ("45") → milliseconds; null when it is not
 * a duration. Parts must come largest first, each unit once ("30m1h" and "1m1m" are refused).
 */
export function parseDuration(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== t) return null;
  const order = ["h", "m", "s", "ms"];
  let last = -1;
  let total = 0;
  for (const [, n, unit] of parts) {
    const at = order.indexOf(unit!);
    if (at <= last) return null;
    last = at;
    total += Number(n) * UNITS[unit!]!;
  }
  return Math.round(total);
}

const duration = (flag: string, { min, max }: { min: number; max: number }) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null || ms < min || ms > max) {
      ctx.addIssue({ code: "custom", message: `${flag} takes a duration like 90s, 30m or 1h (${fmt(min)}–${fmt(max)}); got "${text}"` });
      return z.NEVER;
    }
    return ms;
  });

function fmt(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** "3" → a count, "25%" → a percentage (whole numbers; the planner judges them against the fleet). */
const quantity = (flag: string) =>
  z.string().transform((text, ctx) => {
    const m = /^\s*(\d{1,6})\s*(%?)\s*$/.exec(text);
    if (!m) {
      ctx.addIssue({ code: "custom", message: `${flag} takes a count (3) or a percentage (25%); got "${text}"` });
      return z.NEVER;
    }
    return { unit: m[2] ? ("percent" as const) : ("count" as const), value: Number(m[1]) };
  });

const count = (flag: string) =>
  z.string().transform((text, ctx) => {
    if (!/^\s*\d{1,6}\s*$/.test(text)) {
      ctx.addIssue({ code: "custom", message: `${flag} takes a whole number; got "${text}"` });
      return z.NEVER;
    }
    return Number(text);
  });

const HOUR = 3_600_000;
/** How long `wait` and `start --wait` wait by default. */
export const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const timeout = duration("--timeout", { min: 1000, max: 7 * 24 * HOUR }).optional();

const name = (what: string, flag: string) =>
  z
    .string({ error: `Name the ${what} (${flag})` })
    .trim()
    .min(1, `Name the ${what} (${flag})`)
    .max(255, `The ${what} name is at most 255 characters`);

/** What `start` accepts, as the shell passes it (commander's option values). */
export interface StartFlags {
  lb?: string;
  version?: string;
  batch?: string;
  minHealthy?: string;
  auto?: string;
  analysis?: string;
  onAnalysisFail?: string;
  alarms?: string;
  strategy?: string;
  surge?: string;
  launchTarget?: string;
  drainTimeout?: string;
  canary?: boolean;
  wait?: boolean;
  timeout?: string;
}

const startFlagsSchema = z
  .object({
    lb: name("load balancer", "rotor start LB VERSION"),
    version: versionSchema,
    batch: quantity("--batch"),
    minHealthy: quantity("--min-healthy").optional(),
    auto: duration("--auto", { min: 0, max: 24 * HOUR }).optional(),
    analysis: duration("--analysis", { min: 0, max: HOUR }).optional(),
    onAnalysisFail: z.enum(["pause", "rollback"], { error: "--on-analysis-fail is pause or rollback" }).optional(),
    alarms: z.string().optional(),
    strategy: z.enum(["in-place", "replace"], { error: "--strategy is in-place or replace" }).default("in-place"),
    surge: count("--surge").optional(),
    launchTarget: z.string().trim().min(1, "--launch-target cannot be empty").max(128, "--launch-target is at most 128 characters").optional(),
    drainTimeout: duration("--drain-timeout", { min: 0, max: HOUR }).optional(),
    canary: z.boolean().optional(),
    wait: z.boolean().optional(),
    timeout,
  })
  .superRefine((f, ctx) => {
    if (f.analysis !== undefined && f.analysis % 1000 !== 0) ctx.addIssue({ code: "custom", message: "--analysis takes whole seconds (e.g. 60s, 2m, or 0s for none)", path: ["analysis"] });
    if (f.strategy !== "replace" && (f.surge !== undefined || f.launchTarget !== undefined)) {
      ctx.addIssue({ code: "custom", message: "--surge and --launch-target apply to --strategy replace only; add --strategy replace or drop them", path: ["strategy"] });
    }
    if (f.auto !== undefined && f.auto % 1000 !== 0) ctx.addIssue({ code: "custom", message: "--auto takes whole seconds (e.g. 30s or 2m)", path: ["auto"] });
    if (f.drainTimeout !== undefined && f.drainTimeout % 1000 !== 0) ctx.addIssue({ code: "custom", message: "--drain-timeout takes whole seconds", path: ["drainTimeout"] });
    if (f.timeout !== undefined && !f.wait) ctx.addIssue({ code: "custom", message: "--timeout applies with --wait only; add --wait or drop it", path: ["timeout"] });
  });

export interface StartRequest {
  /** The body of POST /api/rollouts. */
  body: StartRolloutInput;
  wait: boolean;
  timeoutMs: number;
}

/** The first issue of a failed parse, as one sentence ending with a full stop. */
function sentence(error: z.ZodError): string {
  const issue = error.issues[0];
  const text = issue?.message ?? "The arguments are not valid";
  // The version's own rule names no flag: say which argument it is about.
  const named = issue?.path[0] === "version" ? `VERSION: ${text}` : text;
  return /[.!?]$/.test(named) ? named : `${named}.`;
}

export function parseStart(flags: StartFlags): Parsed<StartRequest> {
  const f = startFlagsSchema.safeParse({ ...flags, batch: flags.batch ?? "1" });
  if (!f.success) return { ok: false, message: sentence(f.error) };
  const v = f.data;
  const body = startRolloutSchema.safeParse({
    lb: v.lb,
    version: v.version,
    batchSize: v.batch,
    ...(v.minHealthy ? { minHealthy: v.minHealthy } : {}),
    approval: v.auto === undefined ? { mode: "manual" } : { mode: "auto", bakeSec: v.auto / 1000 },
    strategy: v.strategy,
    ...(v.canary ? { canary: true } : {}),
    ...(v.surge !== undefined ? { surge: v.surge } : {}),
    ...(v.launchTarget !== undefined ? { launchTarget: v.launchTarget } : {}),
    ...(v.drainTimeout !== undefined ? { drainTimeoutSec: v.drainTimeout / 1000 } : {}),
    ...(v.analysis !== undefined ? { analysisWindowSec: v.analysis / 1000 } : {}),
    ...(v.onAnalysisFail !== undefined ? { analysisOnFail: v.onAnalysisFail } : {}),
    ...(v.alarms !== undefined ? { analysisAlarms: v.alarms } : {}),
  });
  if (!body.success) return { ok: false, message: sentence(body.error) };
  return { ok: true, value: { body: body.data, wait: v.wait ?? false, timeoutMs: v.timeout ?? DEFAULT_TIMEOUT_MS } };
}

const rolloutId = z
  .string({ error: "Name the rollout (its id, e.g. r-1a2b3c)" })
  .trim()
  .min(1, "Name the rollout (its id, e.g. r-1a2b3c)")
  .max(200, "A rollout id is at most 200 characters");

/** The operator commands and the API event each sends. */
export const EVENT_COMMANDS = {
  approve: "approve",
  pause: "pause",
  resume: "resume",
  abort: "abort",
  rollback: "rollback",
  retry: "retry-step",
  skip: "skip-instance",
} as const;
export type EventCommand = keyof typeof EVENT_COMMANDS;

export type EventBody = { type: Exclude<(typeof EVENT_COMMANDS)[EventCommand], "skip-instance"> } | { type: "skip-instance"; instanceId: string };

/** `rotor approve ID`, `rotor skip ID INSTANCE`, …: the rollout and the body of POST /api/rollouts/{id}/events. */
export function parseEvent(command: EventCommand, id: string | undefined, instance: string | undefined): Parsed<{ id: string; body: EventBody }> {
  const rid = rolloutId.safeParse(id);
  if (!rid.success) return { ok: false, message: sentence(rid.error) };
  if (command === "skip") {
    const inst = name("instance to skip", "rotor skip ID INSTANCE").safeParse(instance);
    if (!inst.success) return { ok: false, message: sentence(inst.error) };
    return { ok: true, value: { id: rid.data, body: { type: "skip-instance", instanceId: inst.data } } };
  }
  if (instance !== undefined) return { ok: false, message: `rotor ${command} takes only the rollout id; "${instance}" is one argument too many.` };
  return { ok: true, value: { id: rid.data, body: { type: EVENT_COMMANDS[command] } } };
}

export type WaitUntil = "awaiting-approval" | "finished";

const waitSchema = z.object({
  id: rolloutId,
  until: z.enum(["awaiting-approval", "finished"], { error: "--until is awaiting-approval or finished" }),
  timeout,
});

export function parseWait(flags: { id?: string; until?: string; timeout?: string }): Parsed<{ id: string; until: WaitUntil; timeoutMs: number }> {
  const w = waitSchema.safeParse(flags);
  if (!w.success) return { ok: false, message: sentence(w.error) };
  return { ok: true, value: { id: w.data.id, until: w.data.until, timeoutMs: w.data.timeout ?? DEFAULT_TIMEOUT_MS } };
}

export function parseRolloutId(id: string | undefined): Parsed<string> {
  const r = rolloutId.safeParse(id);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: sentence(r.error) };
}

export function parseLbName(lb: string | undefined): Parsed<string> {
  const r = name("load balancer", "rotor instances LB").safeParse(lb);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: sentence(r.error) };
}
