/**
 * Every AWS call goes through `AwsCaller.call`, once: SDK errors become ProviderErrors with a code the
 * engine can act on, and throttling is recorded as a warning. Nothing above this file sees an SDK error.
 *
 * No retry loop here. The SDK retries each request in its adaptive mode (bounded by `maxAttempts`,
 * see clients.ts); what still fails transiently goes up as a transient ProviderError, and the engine's
 * one retry loop (server/engine/retry.ts) decides whether to run the effect again.
 */
import { ProviderError, type ProviderErrorCode, type ProviderWarning } from "@/server/providers/types";

export interface CallerDeps {
  now?: () => number;
}

/** What a watched client reports of each HTTP attempt that AWS throttled (the SDK may still retry it). */
export interface ThrottledAttempt {
  operation: string;
  /** 1-based attempt of the SDK's retry loop. */
  attempt: number;
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
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function asSdkError(err: unknown): SdkErrorLike {
  return typeof err === "object" && err !== null ? (err as SdkErrorLike) : { message: String(err) };
}

export function isThrottling(err: unknown): boolean {
  const e = asSdkError(err);
  return THROTTLE_NAMES.has(e.name ?? "") || /rate exceeded/i.test(e.message ?? "") || e.$metadata?.httpStatusCode === 429;
}

const NOT_FOUND = new Set(["ResourceNotFound", "AccessPointNotFoundException", "LoadBalancerNotFound", "TargetGroupNotFoundException", "LoadBalancerNotFoundException", "InvalidDocument"]);
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
  "RequestExpired",
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

const EXPIRED = new Set(["ExpiredToken", "ExpiredTokenException", "RequestExpired"]);
const UNKNOWN_KEY = new Set(["InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"]);
const EC2_CALLS = new Set(["DescribeInstances", "CreateTags", "DescribeImages", "DescribeLaunchTemplateVersions", "CreateLaunchTemplateVersion"]);
const AUTOSCALING_CALL = /^(?:DescribeAutoScalingInstances|DescribeAutoScalingGroups|DescribeLifecycleHooks|DescribeScalingActivities|UpdateAutoScalingGroup|SetDesiredCapacity|TerminateInstanceInAutoScalingGroup)$/;
const CLOUDWATCH_CALL = /^(?:DescribeAlarms|GetMetricData)$/;
const SSM_CALL = /^(?:SendCommand|GetCommandInvocation|ListCommandInvocations|CancelCommand|GetDocument|CreateDocument|UpdateDocument|UpdateDocumentDefaultVersion)$/;

/**
 * The IAM action a call needs, e.g. "ssm:SendCommand": AWS names it in its refusal ("… is not
 * authorized to perform: ssm:SendCommand …"); otherwise from the call's name (`what` starts with the
 * operation). Classic ELB and ELBv2 share the `elasticloadbalancing:` prefix.
 */
export function permissionFor(what: string, message: string): string {
  const named = /perform:?\s+([a-z0-9-]+:[A-Za-z0-9]+)/.exec(message)?.[1];
  if (named) return named;
  const operation = what.split(/\s/, 1)[0] ?? what;
  const service = EC2_CALLS.has(operation)
    ? "ec2"
    : SSM_CALL.test(operation)
      ? "ssm"
      : AUTOSCALING_CALL.test(operation)
        ? "autoscaling"
        : CLOUDWATCH_CALL.test(operation)
          ? "cloudwatch"
          : "elasticloadbalancing";
  return `${service}:${operation}`;
}

/** The problem as an operator can act on it: what is wrong, which variable or permission, what to do. */
function hint(code: ProviderErrorCode, err: unknown, what: string): string {
  const e = asSdkError(err);
  const message = e.message ?? String(err);
  const name = e.name ?? "";
  switch (code) {
    case "AUTH":
      if (/could not load credentials/i.test(message) || name === "CredentialsProviderError") {
        return "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run Rotor with an instance role)";
      }
      if (EXPIRED.has(name)) {
        return "the AWS credentials have expired: renew them (a new AWS_SESSION_TOKEN, or `aws sso login` for the AWS_PROFILE) and Rotor picks them up on its next call";
      }
      if (UNKNOWN_KEY.has(name)) {
        return `AWS does not recognise the credentials (${name}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS_PROFILE), and that AWS_REGION is one the account uses`;
      }
      return `AWS refused permission ${permissionFor(what, message)} (${name || "AccessDenied"}): allow it in the IAM policy of the role or user Rotor runs as`;
    case "CONFIG":
      return /region is missing/i.test(message) ? "no AWS region configured (set AWS_REGION, or a region in the AWS_PROFILE's config)" : message;
    default:
      return message;
  }
}

const MAX_WARNINGS = 50;

export class AwsCaller {
  private readonly recent: ProviderWarning[] = [];
  private readonly now: () => number;

  constructor(deps: CallerDeps = {}) {
    this.now = deps.now ?? Date.now;
  }

  warn(warning: Omit<ProviderWarning, "at">): void {
    this.recent.push({ at: this.now(), ...warning });
    if (this.recent.length > MAX_WARNINGS) this.recent.splice(0, this.recent.length - MAX_WARNINGS);
  }

  warnings(since = 0): ProviderWarning[] {
    return this.recent.filter((w) => w.at >= since);
  }

  /** A throttled HTTP attempt inside the SDK's retry loop (clients.ts reports them): a warning, not a failure. */
  throttled(t: ThrottledAttempt): void {
    this.warn({ code: "THROTTLED", message: `${t.operation}: AWS throttled attempt ${t.attempt} (rate exceeded); the SDK backs off and retries` });
  }

  /** `what` names the call for messages, e.g. "DescribeTargetHealth tg_web". */
  async call<T>(what: string, fn: () => Promise<T>, lb?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      const code = errorCode(err);
      if (code === "THROTTLED") {
        const attempts = asSdkError(err).$metadata?.attempts ?? 1;
        this.warn({ code: "THROTTLED", message: `${what}: still throttled after ${attempts} attempts`, lb });
        throw new ProviderError("THROTTLED", `${what}: AWS kept throttling after ${attempts} attempts`, { cause: err });
      }
      throw new ProviderError(code, `${what} failed: ${hint(code, err, what)}`, { cause: err });
    }
  }
}
