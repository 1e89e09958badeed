/**
 * Rotor's one backoff formula, for the engine's retries of a failed provider call and for the fleet
 * monitor's polls after failed refreshes: exponential, capped, with jitter so that many waiters do
 * not retry in step. (Below Rotor, the AWS SDK backs off its own attempts in its adaptive mode.)
 */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** The delay before retry number `attempt` (1-based): uniform in [d/2, d], d = min(max, base·2^(attempt-1)). */
export function backoffDelay(attempt: number, policy: Backoff, random: () => number = Math.random): number {
  const d = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}
