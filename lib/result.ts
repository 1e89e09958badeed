/**
 * What a server action or API mutation returns: data, or a code and a message the UI shows as it is,
 * with per-field messages for forms. Never a bare string, never a thrown error across the boundary.
 *
 *   ok({ id: "r-12" })                          → { ok: true, data: { id: "r-12" } }
 *   fail("INVALID_INPUT", "Check the form", { version: "Version may contain only …" })
 */
export type ActionResult<T> =
  | { ok: true; data: T }
  | { ok: false; code: string; message: string; fieldErrors?: Record<string, string> };

export function ok<T>(data: T): ActionResult<T> {
  return { ok: true, data };
}

export function fail<T = never>(code: string, message: string, fieldErrors?: Record<string, string>): ActionResult<T> {
  return fieldErrors && Object.keys(fieldErrors).length > 0 ? { ok: false, code, message, fieldErrors } : { ok: false, code, message };
}

/**
 * Every refusal code a command can answer, with its HTTP status for the API. The planner's codes
 * (lib/rollout/types.ts PlanErrorCode) are 422: the request was understood, the plan is impossible.
 */
export const ERROR_STATUS = {
  /** No session or token, or an unknown, revoked or expired one. */
  UNAUTHENTICATED: 401,
  /** The operator's role does not allow the action. */
  FORBIDDEN: 403,
  /** The two-person rule: the starter of a rollout cannot approve it. */
  TWO_PERSON_RULE: 403,
  NOT_FOUND: 404,
  /** skip-instance names an instance the rollout does not have. */
  UNKNOWN_INSTANCE: 404,
  /** The input did not validate; fieldErrors says where. */
  INVALID_INPUT: 400,
  INVALID_EVENT: 400,
  /** The load balancer already has an active rollout. */
  ROLLOUT_ACTIVE: 409,
  /** An instance of the plan belongs to another active rollout (through any load balancer). */
  INSTANCE_LOCKED: 409,
  /** The load balancer is frozen: new rollouts are refused until the freeze ends or is lifted. */
  FROZEN: 409,
  /** Lifting a freeze where there is none. */
  NOT_FROZEN: 409,
  /** Replace: the group's readiness check refused (every reason in the message). */
  REPLACE_REFUSED: 409,
  /** Replace: the provider has no Auto Scaling groups. */
  STRATEGY_UNSUPPORTED: 400,
  /** The rollout's phase does not allow the event now. */
  NOT_ALLOWED_IN_PHASE: 409,
  /** An approval for a batch other than the one waiting (the page was stale). */
  STALE_BATCH: 409,
  /** A touched instance's previous version is unknown. */
  ROLLBACK_UNAVAILABLE: 409,
  UNKNOWN_EFFECT: 409,
  /** Too many attempts or streams; retry later. */
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** The load balancer could not be read. */
  PROVIDER_ERROR: 503,
  /** Which load balancers the instances serve could not be read (a permission, the scope). */
  MEMBERSHIP_UNKNOWN: 503,
  /**
   * The provider's configuration is wrong (a bad variable, an unknown load balancer name, no region):
   * the server is misconfigured and asking again will not help until an operator fixes it.
   */
  CONFIG: 500,
  /** AWS refused Rotor's credentials or a permission: the upstream said no, Rotor itself is fine. */
  AUTH: 502,
  /** The provider (AWS, the local fleet) did not answer or kept throttling: retry later. */
  UNAVAILABLE: 503,
  THROTTLED: 503,
  /** The provider did not answer in time. */
  TIMEOUT: 504,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The HTTP status of a refusal code; the planner's refusals (and anything else) are 422. */
export function httpStatus(code: string): number {
  return Object.hasOwn(ERROR_STATUS, code) ? ERROR_STATUS[code as ErrorCode] : 422;
}
