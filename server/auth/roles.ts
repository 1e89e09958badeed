/**
 * Roles and what each may do. `viewer` < `operator` < `admin`: each role may do everything the
 * roles below it may.
 *
 *   can("viewer", "read")              → true
 *   can("viewer", "rollout.approve")   → false
 *   can("operator", "rollout.abort")   → true
 *   can("operator", "tokens.manage")   → false
 *   can("admin", "tokens.manage")      → true
 */
import type { OperatorEventType } from "@/lib/rollout/types";
import { ROLES, type OperatorRole } from "@/lib/auth";

export type { Operator, OperatorRole } from "@/lib/auth";

export { ROLES };

/** Operator events, as actions: `rollout.start`, `rollout.approve`, … */
export type RolloutAction = `rollout.${OperatorEventType}`;

export type Action =
  /** Every page and read API: load balancers, fleet, rollouts, the audit trail. */
  | "read"
  | RolloutAction
  /** Arm or clear the local fleet's fault injection (a test tool that breaks deploys on purpose). */
  | "fleet.faults"
  | "tokens.manage"
  | "operators.manage"
  | "settings.manage"
  /** Freeze a load balancer (new rollouts refused until a time) or lift a freeze. */
  | "lb.freeze";

/** The least role allowed each action. */
export const MIN_ROLE: Readonly<Record<Action, OperatorRole>> = {
  read: "viewer",
  "rollout.start": "operator",
  "rollout.approve": "operator",
  "rollout.pause": "operator",
  "rollout.resume": "operator",
  "rollout.abort": "operator",
  "rollout.rollback": "operator",
  "rollout.retry-step": "operator",
  "rollout.skip-instance": "operator",
  "rollout.continue-now": "operator",
  "fleet.faults": "operator",
  "tokens.manage": "admin",
  "operators.manage": "admin",
  "settings.manage": "admin",
  "lb.freeze": "admin",
};

export const ACTIONS = Object.keys(MIN_ROLE) as Action[];

export function isRole(value: unknown): value is OperatorRole {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

export function roleRank(role: OperatorRole): number {
  return ROLES.indexOf(role);
}

export function can(role: OperatorRole, action: Action): boolean {
  const min = MIN_ROLE[action];
  // An action missing from the table (a bad cast) is refused, never allowed.
  return min !== undefined && roleRank(role) >= roleRank(min);
}

/** The action an operator event needs: `approve` → `rollout.approve`. */
export function actionForEvent(type: OperatorEventType): RolloutAction {
  return `rollout.${type}`;
}
