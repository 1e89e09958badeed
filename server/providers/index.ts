/**
 * Choosing the provider from the environment: `ROTOR_PROVIDER=local|aws` (default `local`). The
 * runtime (server/runtime.ts) builds the one a process uses.
 */
import { createAwsProvider, loadAwsConfig } from "@/server/providers/aws";
import { createLocalProvider } from "@/server/providers/local";
import { ProviderError, type LoadBalancerProvider, type ProviderName } from "@/server/providers/types";

export { ProviderError } from "@/server/providers/types";
export type { LoadBalancerProvider, ProviderName } from "@/server/providers/types";

type Env = Record<string, string | undefined>;

/** `ROTOR_PROVIDER`, validated; throws ProviderError("CONFIG") for anything but local or aws. */
export function providerName(env: Env = process.env): ProviderName {
  const raw = (env.ROTOR_PROVIDER ?? "").trim().toLowerCase();
  if (raw === "" || raw === "local") return "local";
  if (raw === "aws") return "aws";
  throw new ProviderError("CONFIG", `ROTOR_PROVIDER must be "local" or "aws", got "${env.ROTOR_PROVIDER}"`);
}

/** Builds a provider from the environment without remembering it. */
export function createProvider(env: Env = process.env): LoadBalancerProvider {
  return providerName(env) === "aws" ? createAwsProvider(loadAwsConfig(env)) : createLocalProvider();
}

/**
 * The configuration problem, as a sentence for the dashboard, or null when the configuration parses.
 * Problems only AWS can reveal (no credentials, no region, an unknown load balancer) surface as
 * ProviderError("AUTH" | "CONFIG") from the provider's first call, with messages just as readable.
 */
export function providerConfigError(env: Env = process.env): string | null {
  try {
    if (providerName(env) === "aws") loadAwsConfig(env);
    return null;
  } catch (err) {
    if (err instanceof ProviderError) return err.message;
    return `Provider configuration could not be read: ${err instanceof Error ? err.message : String(err)}`;
  }
}
