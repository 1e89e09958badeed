/**
 * The SDK clients, built once per provider from configuration. Region and credentials come from
 * the SDK's standard chain unless given; `endpoint` (AWS_ENDPOINT_URL) points every client at e.g. moto.
 *
 * Retries: the SDK's own, in its adaptive mode by default (`retryMode`, `maxAttempts` in config.ts):
 * it backs off throttled and failed requests and, once AWS throttles, slows every later request of
 * the client down. It is the only retry loop below the engine's (server/engine/retry.ts).
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { AwsConfig } from "@/server/providers/aws/config";

export interface AwsClients {
  elb: ElasticLoadBalancingClient;
  elbv2: ElasticLoadBalancingV2Client;
  ec2: EC2Client;
  ssm: SSMClient;
  autoscaling: AutoScalingClient;
  /** Alarms and load balancer metrics, read for batch analysis (cloudwatch.ts). */
  cloudwatch: CloudWatchClient;
}

export interface ClientOptions {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Called once per HTTP attempt (retries included): how benchmarks count API calls. */
  onRequest?: (service: string, operation: string) => void;
}

interface Stack {
  middlewareStack: {
    add(
      mw: (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => (args: unknown) => Promise<unknown>,
      options: { step: "deserialize" | "finalizeRequest"; name: string; priority?: "low" },
    ): void;
  };
}

function count(client: Stack, service: string, onRequest: NonNullable<ClientOptions["onRequest"]>) {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      onRequest(service, (context.commandName ?? "unknown").replace(/Command$/, ""));
      return next(args);
    },
    // deserialize runs inside the retry loop (finalizeRequest), so every attempt is counted.
    { step: "deserialize", name: "rotorCountRequests" },
  );
}

/** The SDK's attempt number, from the header its retry loop sets on each attempt ("attempt=2; max=3"). */
function attemptOf(args: unknown): number {
  const headers = (args as { request?: { headers?: Record<string, string> } }).request?.headers ?? {};
  return Number(/attempt=(\d+)/.exec(headers["amz-sdk-request"] ?? "")?.[1] ?? 1);
}

/**
 * Tells `onThrottled` of each HTTP attempt AWS throttled, including those the SDK then retried with
 * success (they are warnings worth showing, not failures).
 */
export function watchThrottling(clients: AwsClients, isThrottling: (err: unknown) => boolean, onThrottled: (operation: string, attempt: number) => void): void {
  for (const client of Object.values(clients) as Stack[]) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          if (isThrottling(err)) onThrottled((context.commandName ?? "unknown").replace(/Command$/, ""), attemptOf(args));
          throw err;
        }
      },
      // finalizeRequest at low priority runs inside the SDK's retry loop (high priority, same step)
      // and outside deserialization, so it sees each attempt's parsed error.
      { step: "finalizeRequest", priority: "low", name: "rotorWatchThrottling" },
    );
  }
}

export function createClients(config: AwsConfig, options: ClientOptions = {}): AwsClients {
  const common = {
    ...(config.region ? { region: config.region } : {}),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    retryMode: config.retryMode,
    maxAttempts: config.maxAttempts,
  };
  const clients: AwsClients = {
    elb: new ElasticLoadBalancingClient(common),
    elbv2: new ElasticLoadBalancingV2Client(common),
    ec2: new EC2Client(common),
    ssm: new SSMClient(common),
    autoscaling: new AutoScalingClient(common),
    cloudwatch: new CloudWatchClient(common),
  };
  const onRequest = options.onRequest;
  if (onRequest) {
    count(clients.elb as unknown as Stack, "elb", onRequest);
    count(clients.elbv2 as unknown as Stack, "elbv2", onRequest);
    count(clients.ec2 as unknown as Stack, "ec2", onRequest);
    count(clients.ssm as unknown as Stack, "ssm", onRequest);
    count(clients.autoscaling as unknown as Stack, "autoscaling", onRequest);
    count(clients.cloudwatch as unknown as Stack, "cloudwatch", onRequest);
  }
  return clients;
}

export function destroyClients(clients: AwsClients): void {
  clients.elb.destroy();
  clients.elbv2.destroy();
  clients.ec2.destroy();
  clients.ssm.destroy();
  clients.autoscaling.destroy();
  clients.cloudwatch.destroy();
}
