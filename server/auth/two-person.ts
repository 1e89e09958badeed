/**
 * The two-person rule, an option per load balancer: whoever started a rollout cannot approve its
 * batches (nor skip a bake with "continue now", which is an approval too); someone else must.
 * People are compared, not credentials: an API token acts for the human who created it, so a
 * starter cannot approve through a token they minted. Under the rule, a rollout in automatic mode or
 * of a single batch also waits for a second person before batch 1 (launch.ts sets approveFirstBatch).
 *
 * Where it is on: `ROTOR_TWO_PERSON_LBS=lb1,lb2` (`*` for every load balancer), plus the
 * `two-person-lbs` setting (a JSON array an admin sets in the dashboard).
 */
import type { OperatorEventType } from "@/lib/rollout/types";
import type { Db } from "@/server/store/db";
import type { Operator } from "./roles";
import { readSetting } from "./settings";
import { humanOf } from "./tokens";

export const TWO_PERSON_SETTING = "two-person-lbs";

/** Events that count as approving a batch. */
export const APPROVALS: readonly OperatorEventType[] = ["approve", "continue-now"];

export function twoPersonLbs(db: Db | null, env: Readonly<Record<string, string | undefined>> = process.env): Set<string> {
  const lbs = new Set(
    (env.ROTOR_TWO_PERSON_LBS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  if (db) {
    const stored = readSetting(db, TWO_PERSON_SETTING);
    if (Array.isArray(stored)) for (const lb of stored) if (typeof lb === "string" && lb) lbs.add(lb);
  }
  return lbs;
}

export function twoPersonRuleApplies(lb: string, lbs: Set<string>): boolean {
  return lbs.has("*") || lbs.has(lb);
}

export type TwoPersonCheck = { ok: true } | { ok: false; code: "TWO_PERSON_RULE"; message: string };

/**
 * Refuses `event` when it approves a batch of a rollout, on a load balancer with the rule on, and
 * `actor` is the one who started it. `lbs` defaults to the configured set.
 */
export function checkTwoPersonRule(
  rollout: { id: string; lb: string; createdBy: string },
  actor: Operator | string,
  event: { type: OperatorEventType },
  lbs: Set<string> = twoPersonLbs(null),
): TwoPersonCheck {
  const name = typeof actor === "string" ? actor : actor.name;
  if (!APPROVALS.includes(event.type) || !twoPersonRuleApplies(rollout.lb, lbs)) return { ok: true };
  const human = humanOf(name);
  if (human !== humanOf(rollout.createdBy)) return { ok: true };
  const via = human === name ? "" : ` (through ${name})`;
  return {
    ok: false,
    code: "TWO_PERSON_RULE",
    message: `Load balancer ${rollout.lb} requires a second person: ${human} started rollout ${rollout.id}, so another operator must approve its batches${via}.`,
  };
}

/** Under the rule, whether a new rollout must wait for a second person before batch 1. */
export function needsFirstApproval(lb: string, mode: { kind: string }, batches: number, lbs: Set<string>): boolean {
  return twoPersonRuleApplies(lb, lbs) && (mode.kind === "auto" || batches === 1);
}

/** The rollout page's line while a rule-bound rollout waits: who must act, on which batch. */
export function twoPersonWaiting(
  r: { lb: string; phase: string; waitingBatch: number | null; batches: number; startedBy: string },
  lbs: Set<string>,
): string | null {
  if (r.phase !== "awaiting-approval" || r.waitingBatch === null || !twoPersonRuleApplies(r.lb, lbs)) return null;
  return `Waiting for a second operator to approve batch ${r.waitingBatch + 1} of ${r.batches} (${humanOf(r.startedBy)} started this rollout and cannot approve it)`;
}
