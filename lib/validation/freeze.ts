/**
 * What an admin sends to freeze a load balancer: a reason and an end time. The end is given as an
 * ISO time ("2026-12-24T18:00Z"), a form's datetime-local value read as UTC ("2026-12-24T18:00"), or
 * a duration from now ("90m", "8h", "2d"); it must lie in the future and at most 30 days ahead. `now`
 * comes from the caller (lib reads no clock).
 *
 *   freezeSchema(now).parse({ lb: "web", reason: "quarter close", until: "8h" }) → { …, endsAt: now + 8 h }
 */
import { z } from "zod";

const MAX_MS = 30 * 24 * 3_600_000;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The end time an input names, or null when it names none. */
export function parseUntil(value: string, now: number): number | null {
  const v = value.trim();
  const d = /^(\d{1,5})\s*([mhd])$/.exec(v);
  if (d) return now + Number(d[1]) * (UNIT_MS[d[2]!] ?? 0);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v)) return null;
  // A datetime-local value carries no zone: read as UTC, as every time on the dashboard is shown.
  const t = Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(v) ? v : `${v}Z`);
  return Number.isFinite(t) ? t : null;
}

export const freezeSchema = (now: number) =>
  z
    .object({
      lb: z.string({ error: "Choose a load balancer" }).trim().min(1, "Choose a load balancer").max(255),
      reason: z.string({ error: "Say why the load balancer is frozen" }).trim().min(3, "Say why the load balancer is frozen (at least 3 characters)").max(500, "The reason is at most 500 characters"),
      until: z.string({ error: "Give an end time" }).trim().min(1, "Give an end time"),
    })
    .transform((v, ctx) => {
      const endsAt = parseUntil(v.until, now);
      if (endsAt === null) {
        ctx.addIssue({ code: "custom", path: ["until"], message: 'The end time is a time (2026-12-24T18:00, UTC) or a duration from now (90m, 8h, 2d)' });
        return z.NEVER;
      }
      if (endsAt <= now) {
        ctx.addIssue({ code: "custom", path: ["until"], message: "The end time must be in the future" });
        return z.NEVER;
      }
      if (endsAt - now > MAX_MS) {
        ctx.addIssue({ code: "custom", path: ["until"], message: "A freeze lasts at most 30 days: freeze again when it ends" });
        return z.NEVER;
      }
      return { lb: v.lb, reason: v.reason, endsAt };
    });

export const liftFreezeSchema = z.object({ lb: z.string({ error: "Choose a load balancer" }).trim().min(1, "Choose a load balancer").max(255) });
