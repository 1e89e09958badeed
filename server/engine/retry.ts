/**
 * Rotor's one retry loop: an effect whose provider call failed transiently (THROTTLED, UNAVAILABLE,
 * TIMEOUT) is tried again with exponential backoff and jitter, up to a bound. Anything else is not
 * retried: it is the caller's failure to report.
 *
 * The layers, and the bound they give: the AWS SDK retries each HTTP request in its adaptive mode
 * (`maxAttempts`, default 3, with client-side rate limiting once AWS throttles); the provider adds
 * no loop of its own; this loop runs the whole provider call again, `attempts` times (default 5).
 * So one AWS call of an effect makes at most attempts × maxAttempts HTTP requests (15 by default).
 */
import { backoffDelay, type Backoff } from "@/server/backoff";
import { ProviderError } from "@/server/providers/types";

export { backoffDelay };

export interface RetryPolicy extends Backoff {
  /** Attempts in all, the first included. */
  attempts: number;
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
