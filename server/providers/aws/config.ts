/**
 * AWS provider configuration: environment variables, optionally on top of a JSON file named by
 * `ROTOR_AWS_CONFIG` (same keys as `AwsConfig`, camelCase). Environment wins over the file.
 * Region and credentials are not read here: the SDK's standard chain resolves them.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ProviderError } from "@/server/providers/types";

/** Classic ELB names and target group names: letters, digits and hyphens, at most 32 characters. */
const AWS_LB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;
/** Rotor's name for a target group: `tg_` + its name (URL-safe, and no Classic ELB name has `_`). */
export const TARGET_GROUP_PREFIX = "tg_";
const ROTOR_LB_NAME = new RegExp(`^(?:${TARGET_GROUP_PREFIX})?${AWS_LB_NAME.source.slice(1, -1)}$`);

export const DEFAULT_HEALTH_URL = "http://127.0.0.1/health";
export const DEFAULT_VERSION_URL = "http://127.0.0.1/version";

const shellCommand = z.string().trim().min(1).max(4_000);
const positiveMs = z.coerce.number().int().min(0).max(3_600_000);

/**
 * Unset: the built-in Apache hooks of the shared hook script (server/providers/hook-script.ts), the very
 * script the local Apache fleet runs. A command set here replaces that one hook.
 */
const hooksSchema = z.object({
  stop: shellCommand.optional(),
  /** Must install the release named by `$SSM_Version` (always quote it: it is data). */
  deploy: shellCommand.optional(),
  start: shellCommand.optional(),
  verify: shellCommand.optional(),
  /** Prints the version the instance serves (e.g. `cat /srv/app/VERSION`); default: reads ROTOR_VERSION_URL. */
  version: shellCommand.optional(),
});

export const awsConfigSchema = z.object({
  /** Rotor names (`my-elb`, `tg_my-tg`) to show; null shows every Classic ELB and instance target group. */
  loadBalancers: z.array(z.string().regex(ROTOR_LB_NAME, "a Classic ELB name, or tg_ + a target group name")).min(1).nullable().default(null),
  region: z.string().regex(/^[a-z]{2}(-[a-z0-9]+)+-\d+$/, "an AWS region such as eu-west-1").optional(),
  endpoint: z.url().optional(),
  /**
   * The SDK's retry mode. Adaptive: besides backing off a throttled or failed request, the client
   * slows its later requests down once AWS throttles. The engine retries a failed effect on top.
   */
  retryMode: z.enum(["standard", "adaptive"]).default("adaptive"),
  /** SDK attempts per request (first try included); an effect's call makes at most engine attempts × this many. */
  maxAttempts: z.coerce.number().int().min(1).max(10).default(3),
  hooks: hooksSchema.prefault({}),
  healthUrl: z.url().default(DEFAULT_HEALTH_URL),
  versionUrl: z.url().default(DEFAULT_VERSION_URL),
  /** A command printing the number of requests in flight on the instance (last integer of stdout). */
  inFlightCommand: shellCommand.optional(),
  documentName: z.string().regex(/^[A-Za-z0-9_.-]{3,128}$/).default("Rotor-RunHook"),
  /** Create or update the SSM document from this configuration (needs ssm:CreateDocument/UpdateDocument). */
  manageDocument: z.boolean().default(true),
  ssm: z
    .object({
      maxConcurrency: z.string().regex(/^(?:[1-9]\d{0,3}|[1-9]\d?%|100%)$/).default("50"),
      maxErrors: z.string().regex(/^(?:\d{1,4}|\d{1,2}%|100%)$/).default("0"),
      pollIntervalMs: positiveMs.default(1_000),
    })
    .prefault({}),
  /** EC2 tag holding the version an instance serves; Rotor writes it after a verify. "" disables. */
  versionTag: z.string().max(128).default("rotor:version"),
  /**
   * Where an instance has no version tag, ask it (the `version` hook through SSM, in the background,
   * at most one command of up to 50 instances at a time), so its previous version is known for a rollback.
   */
  versionHook: z.boolean().default(true),
  cache: z
    .object({
      /** Name, zone, address and tags change rarely: re-read EC2 at most this often. */
      ec2TtlMs: positiveMs.default(15_000),
      /** Drain timeout attributes. */
      attributesTtlMs: positiveMs.default(60_000),
      /** Concurrent viewers share one refresh; a refresh younger than this is reused. */
      minRefreshMs: positiveMs.default(1_000),
    })
    .prefault({}),
});

export type AwsConfig = z.infer<typeof awsConfigSchema>;
export type AwsConfigInput = z.input<typeof awsConfigSchema>;

type Env = Record<string, string | undefined>;

function list(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === "" || value.trim() === "*") return undefined;
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

function bool(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new ProviderError("CONFIG", `${name} must be true or false, got "${value}"`);
}

function prune<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== "")) as Partial<T>;
}

function fromEnv(env: Env): Record<string, unknown> {
  return prune({
    loadBalancers: list(env.ROTOR_AWS_LOAD_BALANCERS),
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
    retryMode: env.ROTOR_AWS_RETRY_MODE ?? env.AWS_RETRY_MODE,
    maxAttempts: env.ROTOR_AWS_MAX_ATTEMPTS ?? env.AWS_MAX_ATTEMPTS,
    hooks: prune({ stop: env.ROTOR_AWS_HOOK_STOP, deploy: env.ROTOR_AWS_HOOK_DEPLOY, start: env.ROTOR_AWS_HOOK_START, verify: env.ROTOR_AWS_HOOK_VERIFY, version: env.ROTOR_AWS_HOOK_VERSION }),
    healthUrl: env.ROTOR_AWS_HEALTH_URL,
    versionUrl: env.ROTOR_AWS_VERSION_URL,
    inFlightCommand: env.ROTOR_AWS_INFLIGHT_COMMAND,
    documentName: env.ROTOR_AWS_SSM_DOCUMENT,
    manageDocument: bool("ROTOR_AWS_MANAGE_DOCUMENT", env.ROTOR_AWS_MANAGE_DOCUMENT),
    ssm: prune({ maxConcurrency: env.ROTOR_AWS_SSM_MAX_CONCURRENCY, maxErrors: env.ROTOR_AWS_SSM_MAX_ERRORS, pollIntervalMs: env.ROTOR_AWS_SSM_POLL_MS }),
    versionTag: env.ROTOR_AWS_VERSION_TAG,
    versionHook: bool("ROTOR_AWS_VERSION_HOOK", env.ROTOR_AWS_VERSION_HOOK),
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? merge(b, v) : v;
  }
  return out;
}

function readFile(path: string): Record<string, unknown> {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ProviderError("CONFIG", `ROTOR_AWS_CONFIG: cannot read ${path}`, { cause });
  }
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!isObject(parsed)) throw new Error("not a JSON object");
    return parsed;
  } catch (cause) {
    throw new ProviderError("CONFIG", `ROTOR_AWS_CONFIG: ${path} is not a JSON object`, { cause });
  }
}

/** The environment variable behind each setting, so a problem names what the operator sets. */
const VARIABLES: Record<string, string> = {
  loadBalancers: "ROTOR_AWS_LOAD_BALANCERS",
  region: "AWS_REGION",
  endpoint: "AWS_ENDPOINT_URL",
  retryMode: "ROTOR_AWS_RETRY_MODE",
  maxAttempts: "ROTOR_AWS_MAX_ATTEMPTS",
  "hooks.stop": "ROTOR_AWS_HOOK_STOP",
  "hooks.deploy": "ROTOR_AWS_HOOK_DEPLOY",
  "hooks.start": "ROTOR_AWS_HOOK_START",
  "hooks.verify": "ROTOR_AWS_HOOK_VERIFY",
  "hooks.version": "ROTOR_AWS_HOOK_VERSION",
  healthUrl: "ROTOR_AWS_HEALTH_URL",
  versionUrl: "ROTOR_AWS_VERSION_URL",
  inFlightCommand: "ROTOR_AWS_INFLIGHT_COMMAND",
  documentName: "ROTOR_AWS_SSM_DOCUMENT",
  manageDocument: "ROTOR_AWS_MANAGE_DOCUMENT",
  "ssm.maxConcurrency": "ROTOR_AWS_SSM_MAX_CONCURRENCY",
  "ssm.maxErrors": "ROTOR_AWS_SSM_MAX_ERRORS",
  "ssm.pollIntervalMs": "ROTOR_AWS_SSM_POLL_MS",
  versionTag: "ROTOR_AWS_VERSION_TAG",
  versionHook: "ROTOR_AWS_VERSION_HOOK",
};

/** Parses and validates; throws ProviderError("CONFIG") naming every bad setting and its variable. */
export function parseAwsConfig(input: unknown): AwsConfig {
  const result = awsConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const key = i.path.filter((p) => typeof p === "string").join(".");
    const variable = VARIABLES[key];
    return `${variable ? `${variable} (${key})` : key || "config"}: ${i.message}`;
  });
  throw new ProviderError("CONFIG", `Invalid AWS provider configuration: ${problems.join("; ")}. Correct it (environment, or the ROTOR_AWS_CONFIG file) and restart Rotor.`);
}

export function loadAwsConfig(env: Env = process.env): AwsConfig {
  const file = env.ROTOR_AWS_CONFIG ? readFile(env.ROTOR_AWS_CONFIG) : {};
  return parseAwsConfig(merge(file, fromEnv(env)));
}
