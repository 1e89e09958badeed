/**
 * Every AWS call goes through `AwsCaller.call`: throttling is backed off with jitter (bounded, then
 * ProviderError("THROTTLED")), each back-off is recorded as a warning, and SDK errors become
 * ProviderErrors with a code the engine can act on. Nothing above this file sees an SDK error.
 */
import { ProviderError, type ProviderErrorCode, type ProviderWarning } from "@/server/providers/types";

export interface ThrottlePolicy {
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface CallerDeps {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

const THROTTLE_NAMES = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
]);

interface SdkErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

function asSdkError(err: unknown): SdkErrorLike {
  return typeof err === "object" && err !== null ? (err as SdkErrorLike) : { message: String(err) };
}

export function isThrottling(err: unknown): boolean {
  const e = asSdkError(err);
  return THROTTLE_NAMES.has(e.name ?? "") || /rate exceeded/i.test(e.message ?? "") || e.$metadata?.httpStatusCode === 429;
}

const NOT_FOUND = new Set(["AccessPointNotFoundException", "LoadBalancerNotFound", "TargetGroupNotFoundException", "LoadBalancerNotFoundException", "InvalidDocument"]);
const AUTH = new Set([
  "CredentialsProviderError",
  "AccessDenied",
  "AccessDeniedException",
  "UnauthorizedOperation",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "ExpiredToken",
  "ExpiredTokenException",
  "SignatureDoesNotMatch",
  "AuthFailure",
]);
const INVALID = new Set(["InvalidInstance", "InvalidTargetException", "ValidationError", "ValidationException", "InvalidParameterValue", "InvalidInstanceId", "InvalidParameterValueException"]);
const TIMEOUT = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException"]);
const NETWORK = /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|socket hang up/;

export function errorCode(err: unknown): ProviderErrorCode {
  if (err instanceof ProviderError) return err.code;
  const e = asSdkError(err);
  const name = e.name ?? "";
  const message = e.message ?? "";
  if (isThrottling(err)) return "THROTTLED";
  if (NOT_FOUND.has(name)) return "NOT_FOUND";
  if (AUTH.has(name) || /could not load credentials/i.test(message)) return "AUTH";
  if (/region is missing/i.test(message)) return "CONFIG";
  if (INVALID.has(name)) return "INVALID_INPUT";
  if (TIMEOUT.has(name)) return "TIMEOUT";
  const status = e.$metadata?.httpStatusCode ?? 0;
  if (status >= 500 || name === "ServiceUnavailable" || NETWORK.test(`${e.code ?? ""} ${message}`)) return "UNAVAILABLE";
  return "INTERNAL";
}

function hint(code: ProviderErrorCode, err: unknown): string {
  const message = asSdkError(err).message ?? String(err);
  switch (code) {
    case "AUTH":
      return /could not load credentials/i.test(message) || asSdkError(err).name === "CredentialsProviderError"
        ? "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an instance role)"
        : `AWS refused the credentials or the permission: ${message}`;
    case "CONFIG":
      return /region is missing/i.test(message) ? "no AWS region configured (set AWS_REGION, or a region in the AWS_PROFILE's config)" : message;
    default:
      return message;
  }
}

/** Full jitter: a random delay in [0, min(max, base·2^attempt)]. */
export function backoffDelay(attempt: number, policy: ThrottlePolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(random() * ceiling);
}

const MAX_WARNINGS = 50;

export class AwsCaller {
  private readonly recent: ProviderWarning[] = [];
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(
    private readonly policy: ThrottlePolicy,
    deps: CallerDeps = {},
  ) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
  }

  warn(warning: Omit<ProviderWarning, "at">): void {
    this.recent.push({ at: this.now(), ...warning });
    if (this.recent.length > MAX_WARNINGS) this.recent.splice(0, this.recent.length - MAX_WARNINGS);
  }

  warnings(since = 0): ProviderWarning[] {
    return this.recent.filter((w) => w.at >= since);
  }

  /** `what` names the call for messages, e.g. "DescribeTargetHealth tg_web". */
  async call<T>(what: string, fn: () => Promise<T>, lb?: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const code = errorCode(err);
        if (code === "THROTTLED" && attempt < this.policy.retries) {
          const delay = backoffDelay(attempt, this.policy, this.random);
          this.warn({ code: "THROTTLED", message: `${what}: AWS throttled the call (rate exceeded); retrying in ${delay} ms`, lb });
          await this.sleep(delay);
          continue;
        }
        if (code === "THROTTLED") {
          this.warn({ code: "THROTTLED", message: `${what}: still throttled after ${attempt + 1} attempts`, lb });
          throw new ProviderError("THROTTLED", `${what}: AWS kept throttling after ${attempt + 1} attempts`, { cause: err });
        }
        if (err instanceof ProviderError) throw err;
        throw new ProviderError(code, `${what} failed: ${hint(code, err)}`, { cause: err });
      }
    }
  }
}
