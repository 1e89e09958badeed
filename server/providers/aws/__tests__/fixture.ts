/** The AWS provider pointed at moto, for tests and the benchmark; the estate itself is seeded by server/testing/moto. */
import { createAwsProvider, parseAwsConfig, type AwsConfigInput, type AwsProvider } from "@/server/providers/aws";
import { createClients, type AwsClients } from "@/server/providers/aws/clients";
import type { MotoServer } from "@/server/testing/moto";
export { getDocument, listCommands, seedEstate as createEstate, ZONES, type Estate } from "@/server/testing/moto";

export interface CountedProvider {
  provider: AwsProvider;
  calls: string[];
}

/**
 * Fault and answer injection on top of moto (for what moto does not emulate): called before each
 * SDK call with its operation name; may throw (the call never reaches moto) or return a function
 * that edits moto's real answer.
 */
export type Inject = (operation: string, input: unknown) => void | ((output: Record<string, unknown>) => void);

interface Stack {
  middlewareStack: {
    add(
      mw: (next: (args: { input: unknown }) => Promise<{ output: Record<string, unknown> }>, context: { commandName?: string }) => (args: { input: unknown }) => Promise<{ output: Record<string, unknown> }>,
      options: { step: "initialize"; name: string },
    ): void;
  };
}

/** The provider pointed at moto, counting every HTTP attempt as `service:Operation`. */
export function motoProvider(moto: MotoServer, config: AwsConfigInput = {}, inject?: Inject): CountedProvider {
  const calls: string[] = [];
  const parsed = parseAwsConfig({
    endpoint: moto.endpoint,
    region: moto.region,
    cache: { minRefreshMs: 0, ec2TtlMs: 0 },
    ssm: { pollIntervalMs: 50 },
    ...config,
  });
  const clients = createClients(parsed, { credentials: moto.credentials, onRequest: (service, op) => calls.push(`${service}:${op}`) });
  if (inject) injectInto(clients, inject);
  return { provider: createAwsProvider(parsed, { clients }), calls };
}

/** Adds `inject` to every client (see Inject). */
export function injectInto(clients: AwsClients, inject: Inject): void {
  for (const client of Object.values(clients) as unknown as Stack[]) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const edit = inject((context.commandName ?? "").replace(/Command$/, ""), args.input);
        const result = await next(args);
        if (edit) edit(result.output);
        return result;
      },
      { step: "initialize", name: "rotorTestInject" },
    );
  }
}

