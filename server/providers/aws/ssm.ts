/**
 * Lifecycle hooks through SSM Run Command. The hook commands live in one custom document
 * (`Rotor-RunHook`, schema 2.2) built from configuration; the version reaches the instance only as
 * the typed `Version` parameter (allowedPattern = VERSION_PATTERN, `interpolationType: ENV_VAR`, so
 * the script reads `$SSM_Version` and no value is ever pasted into shell text). Rotor checks the
 * version against VERSION_PATTERN before any AWS call as well, and the script itself refuses (exit 2)
 * a version outside the rule before any hook runs.
 */
import {
  CancelCommandCommand,
  CreateDocumentCommand,
  GetCommandInvocationCommand,
  GetDocumentCommand,
  SendCommandCommand,
  UpdateDocumentCommand,
  UpdateDocumentDefaultVersionCommand,
  type GetCommandInvocationCommandOutput,
} from "@aws-sdk/client-ssm";
import { VERSION_PATTERN, type HookName } from "@/lib/rollout/types";
import { type AwsConfig, DEFAULT_HEALTH_URL, DEFAULT_VERSION_URL } from "@/server/providers/aws/config";
import { apacheHookScript } from "@/server/providers/hook-script";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";
import { parseObservedVersion, tail } from "@/server/providers/aws/reshape";
import { ProviderError, type HookResult } from "@/server/providers/types";

export type RunnableHook = HookName | "probe" | "version";
export const SEND_COMMAND_MAX_IDS = 50;
const TERMINAL = new Set(["Success", "Failed", "Cancelled", "TimedOut", "Undeliverable", "Terminated", "InvalidPlatform", "AccessDenied", "DeliveryTimedOut", "ExecutionTimedOut"]);
/** Placeholder for hooks that need no version (probe); matches VERSION_PATTERN. */
const NO_VERSION = "none";

/** Configuration as shell text: single-quoted, so a value is never expanded. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * The document Rotor runs: the shared hook script, with the commands and URLs set in configuration.
 * Its content depends only on configuration, never on operator input.
 */
export function hookDocument(config: AwsConfig): Record<string, unknown> {
  const settings: Record<string, string> = {};
  // Only URLs that differ from the script's own defaults, so the instance's environment can still set them.
  if (config.healthUrl !== DEFAULT_HEALTH_URL) settings.ROTOR_HEALTH_URL = config.healthUrl;
  if (config.versionUrl !== DEFAULT_VERSION_URL) settings.ROTOR_VERSION_URL = config.versionUrl;
  const text = apacheHookScript({
    hooks: { stop: config.hooks.stop, deploy: config.hooks.deploy, start: config.hooks.start, verify: config.hooks.verify, probe: config.inFlightCommand, version: config.hooks.version },
    settings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, shellQuote(v)])),
  });
  const script = text.replace(/\n$/, "").split("\n");
  return {
    schemaVersion: "2.2",
    description: "Rotor lifecycle hook (stop, deploy, start, verify, probe, version). Managed by Rotor from its configuration.",
    parameters: {
      Hook: { type: "String", description: "Which lifecycle hook to run", allowedValues: ["stop", "deploy", "start", "verify", "probe", "version"] },
      Version: { type: "String", description: "Release to deploy or verify (data, never shell text)", allowedPattern: VERSION_PATTERN.source, default: NO_VERSION },
    },
    mainSteps: [
      {
        action: "aws:runShellScript",
        name: "rotorHook",
        precondition: { StringEquals: ["platformType", "Linux"] },
        inputs: { interpolationType: "ENV_VAR", runCommand: script, timeoutSeconds: "3600" },
      },
    ],
  };
}

export interface RunOptions {
  lb: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SsmDeps {
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

function comment(hook: RunnableHook, lb: string, ids: string[]): string {
  const text = `rotor ${hook} ${lb}: ${ids.join(" ")}`;
  return text.length <= 100 ? text : `${text.slice(0, 97)}...`;
}

export class SsmHooks {
  private documentReady: Promise<void> | null = null;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly clients: AwsClients,
    private readonly caller: AwsCaller,
    private readonly config: AwsConfig,
    deps: SsmDeps = {},
  ) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = deps.now ?? Date.now;
  }

  /** Creates the document, or updates it (and its default version) when the configuration changed. */
  ensureDocument(): Promise<void> {
    if (!this.config.manageDocument) return Promise.resolve();
    this.documentReady ??= this.syncDocument().catch((err: unknown) => {
      this.documentReady = null;
      throw err;
    });
    return this.documentReady;
  }

  private async syncDocument(): Promise<void> {
    const Name = this.config.documentName;
    const Content = JSON.stringify(hookDocument(this.config), null, 2);
    const current = await this.caller.call(`GetDocument ${Name}`, () => this.clients.ssm.send(new GetDocumentCommand({ Name }))).catch((err: unknown) => {
      if (err instanceof ProviderError && err.code === "NOT_FOUND") return null;
      throw err;
    });
    if (!current) {
      await this.caller.call(`CreateDocument ${Name}`, () =>
        this.clients.ssm.send(new CreateDocumentCommand({ Name, Content, DocumentType: "Command", DocumentFormat: "JSON", Tags: [{ Key: "rotor:managed", Value: "true" }] })),
      );
      return;
    }
    if (current.Content === Content) return;
    const updated = await this.caller.call(`UpdateDocument ${Name}`, () =>
      this.clients.ssm.send(new UpdateDocumentCommand({ Name, Content, DocumentVersion: "$LATEST", DocumentFormat: "JSON" })),
    );
    const version = updated.DocumentDescription?.DocumentVersion;
    if (version) {
      await this.caller.call(`UpdateDocumentDefaultVersion ${Name}`, () => this.clients.ssm.send(new UpdateDocumentDefaultVersionCommand({ Name, DocumentVersion: version })));
    }
  }

  /** One result per id, in the order given. A hook that fails is `ok: false`; only AWS trouble throws. */
  async run(ids: string[], hook: RunnableHook, version: string, options: RunOptions): Promise<HookResult[]> {
    if (!VERSION_PATTERN.test(version)) {
      throw new ProviderError("INVALID_INPUT", `version ${JSON.stringify(version)} is not allowed (letters, digits and ._+- only)`);
    }
    if (ids.length === 0) return [];
    await this.ensureDocument();
    const started = this.now();
    const deadline = started + options.timeoutMs;
    const results = new Map<string, HookResult>();
    const pending: { commandId: string; id: string }[] = [];
    for (let i = 0; i < ids.length; i += SEND_COMMAND_MAX_IDS) {
      const chunk = ids.slice(i, i + SEND_COMMAND_MAX_IDS);
      const commandId = await this.send(chunk, hook, version, options, results);
      if (commandId) for (const id of chunk) pending.push({ commandId, id });
    }
    await Promise.all(pending.map((p) => this.await(p.commandId, p.id, started, deadline, options).then((r) => results.set(p.id, r))));
    return ids.map((id) => results.get(id) ?? { id, ok: false, exitCode: null, durationMs: 0, outputTail: "rotor: no result" });
  }

  private async send(chunk: string[], hook: RunnableHook, version: string, options: RunOptions, results: Map<string, HookResult>): Promise<string | null> {
    try {
      const out = await this.caller.call(
        `SendCommand ${hook} (${chunk.length} instances)`,
        () =>
          this.clients.ssm.send(
            new SendCommandCommand({
              DocumentName: this.config.documentName,
              InstanceIds: chunk,
              Parameters: { Hook: [hook], Version: [version] },
              Comment: comment(hook, options.lb, chunk),
              MaxConcurrency: this.config.ssm.maxConcurrency,
              MaxErrors: this.config.ssm.maxErrors,
              // Delivery timeout (how long an instance may take to pick the command up); SSM's minimum is 30 s.
              TimeoutSeconds: Math.max(30, Math.ceil(options.timeoutMs / 1000)),
            }),
          ),
        options.lb,
      );
      const id = out.Command?.CommandId;
      if (!id) throw new ProviderError("INTERNAL", "SendCommand returned no CommandId");
      return id;
    } catch (err) {
      // Not managed by SSM, or not running: a per-instance failure the operator can act on, not an outage.
      if (err instanceof ProviderError && err.code === "INVALID_INPUT") {
        for (const id of chunk) results.set(id, { id, ok: false, exitCode: null, durationMs: 0, outputTail: `SSM refused the command: ${err.message}` });
        return null;
      }
      throw err;
    }
  }

  private async await(commandId: string, id: string, started: number, deadline: number, options: RunOptions): Promise<HookResult> {
    let missing = 0;
    let polls = 0;
    for (;;) {
      if (options.signal?.aborted || this.now() > deadline) {
        await this.cancel(commandId, id, options.lb);
        const why = options.signal?.aborted ? "aborted" : `timed out after ${options.timeoutMs} ms`;
        return { id, ok: false, exitCode: null, durationMs: this.now() - started, outputTail: `rotor: hook ${why}; command ${commandId} cancelled` };
      }
      let inv: GetCommandInvocationCommandOutput | null = null;
      let throttled = false;
      try {
        inv = await this.caller.call(`GetCommandInvocation ${id}`, () => this.clients.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id })), options.lb);
      } catch (err) {
        // A poll still throttled after the SDK's attempts is a missed look, not a failed hook: the
        // command runs on regardless, and the next poll (further apart) reads it.
        throttled = err instanceof ProviderError && err.transient;
        // Right after SendCommand the invocation may not exist yet (boto3 #2701): retry that one briefly.
        const name = (err instanceof Error && (err.cause as { name?: string } | undefined)?.name) || "";
        if (!throttled && (name !== "InvocationDoesNotExist" || ++missing > 20)) throw err;
      }
      const status = inv?.Status ?? "";
      if (inv && TERMINAL.has(status)) return this.result(id, inv, started);
      // Long hooks on many instances must not eat SSM's API rate: poll less often as a hook runs on.
      const interval = Math.min(this.config.ssm.pollIntervalMs * 1.5 ** polls++, this.config.ssm.pollIntervalMs * 5);
      const wait = inv || throttled ? interval : Math.min(250 * missing, 2_000);
      await this.sleep(Math.max(0, Math.min(wait, deadline - this.now())));
    }
  }

  private result(id: string, inv: GetCommandInvocationCommandOutput, started: number): HookResult {
    const wall = this.now() - started;
    const from = Date.parse(inv.ExecutionStartDateTime ?? "");
    const to = Date.parse(inv.ExecutionEndDateTime ?? "");
    const reported = Number.isFinite(from) && Number.isFinite(to) && to >= from ? to - from : NaN;
    const stdout = inv.StandardOutputContent ?? "";
    const stderr = inv.StandardErrorContent ?? "";
    const output = [stdout, stderr ? `--- stderr ---\n${stderr}` : "", inv.Status === "Success" ? "" : `--- ${inv.Status}: ${inv.StatusDetails ?? ""} ---`].filter(Boolean).join("\n");
    const exitCode = typeof inv.ResponseCode === "number" && inv.ResponseCode >= 0 ? inv.ResponseCode : null;
    return {
      id,
      ok: inv.Status === "Success" && (exitCode === null || exitCode === 0),
      exitCode,
      // Prefer the agent's own timing; fall back to what Rotor saw when it is implausible.
      durationMs: Number.isFinite(reported) && reported <= wall ? reported : wall,
      outputTail: tail(output),
      observedVersion: parseObservedVersion(stdout),
    };
  }

  private async cancel(commandId: string, id: string, lb: string): Promise<void> {
    try {
      await this.caller.call(`CancelCommand ${commandId}`, () => this.clients.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [id] })), lb);
    } catch (err) {
      this.caller.warn({ code: "INTERNAL", message: `could not cancel SSM command ${commandId} on ${id}: ${err instanceof Error ? err.message : String(err)}`, lb });
    }
  }
}
