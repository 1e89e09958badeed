/**
 * Retrying transient provider errors (THROTTLED, UNAVAILABLE, TIMEOUT) with exponential backoff and
 * full jitter, up to a bound. Anything else is not retried: it is the caller's failure to report.
 */
import { ProviderError } from "@/server/providers/types";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: Number(process.env.ROTOR_RETRY_ATTEMPTS ?? 5),
  baseMs: Number(process.env.ROTOR_RETRY_BASE_MS ?? 200),
  maxMs: 5_000,
};

export interface RetryNotice {
  attempt: number;
  of: number;
  delayMs: number;
  code: string;
  message: string;
}

export function isTransient(err: unknown): err is ProviderError {
  return err instanceof ProviderError && err.transient;
}

/** The delay before retry number `attempt` (1-based): uniform in [d/2, d], d = min(max, base·2^(attempt-1)). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const d = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error("aborted"));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `fn`; on a transient ProviderError waits and tries again, calling `onRetry` before each wait.
 * Rethrows the last error after `policy.attempts` attempts, or any non-transient error at once.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: { policy?: RetryPolicy; signal?: AbortSignal; onRetry?: (n: RetryNotice) => void } = {},
): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransient(err) || attempt >= policy.attempts || options.signal?.aborted) throw err;
      const delayMs = backoffDelay(attempt, policy);
      options.onRetry?.({ attempt, of: policy.attempts, delayMs, code: err.code, message: err.message });
      await abortableSleep(delayMs, options.signal);
    }
  }
}
