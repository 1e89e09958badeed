/**
 * Who may send which operator event to which rollout: the role table, then the two-person rule.
 * A refusal of an event for a known rollout is kept in that rollout's event log as `rejected`
 * (actor, reason), so the audit trail shows attempts as well as actions.
 */
import type { OperatorEvent } from "@/lib/rollout/types";
import type { RotorStore } from "@/server/store";
import { recordRefusal } from "./access-log";
import { ensureAuthSchema } from "./db";
import { actionForEvent, can, MIN_ROLE, type Operator } from "./roles";
import { checkTwoPersonRule, twoPersonLbs } from "./two-person";

export type RolloutAccess = { ok: true } | { ok: false; code: "FORBIDDEN" | "TWO_PERSON_RULE" | "NOT_FOUND"; message: string };

export function authorizeRolloutEvent(store: RotorStore, operator: Operator, rolloutId: string, event: OperatorEvent, now = Date.now()): RolloutAccess {
  const rollout = store.rollout(rolloutId);
  const action = actionForEvent(event.type);
  if (!rollout) {
    // No event log to keep it in: the access log keeps it.
    const reason = `No rollout ${rolloutId}`;
    recordRefusal(ensureAuthSchema(store.db), { actor: operator.name, action, target: rolloutId, reason: `NOT_FOUND: ${reason}`, details: { role: operator.role } }, now);
    return { ok: false, code: "NOT_FOUND", message: reason };
  }
  let refusal: RolloutAccess | null = null;
  if (!can(operator.role, action)) {
    refusal = { ok: false, code: "FORBIDDEN", message: `${operator.name} has the ${operator.role} role; ${event.type} needs ${MIN_ROLE[action]} or above` };
  } else {
    const rule = checkTwoPersonRule(rollout, operator, event, twoPersonLbs(ensureAuthSchema(store.db)));
    if (!rule.ok) refusal = rule;
  }
  if (!refusal) return { ok: true };
  const { type, ...rest } = event;
  store.appendEvent({ rolloutId, at: now, actor: operator.name, type, payload: { type, ...rest }, outcome: "rejected", reason: `${refusal.code}: ${refusal.message}` });
  return refusal;
}
