/**
 * Lifecycle hooks through SSM Run Command. The hook commands live in one custom document
 * (`Rotor-RunHook`, schema 2.2) built from configuration; the version reaches the instance only as
 * the typed `Version` parameter (allowedPattern = VERSION_PATTERN, `interpolationType: ENV_VAR`, so
 * the script reads `$SSM_Version` and no value is ever pasted into shell text). Rotor checks the
 * version against VERSION_PATTERN before any AWS call as well, and the script itself refuses (exit 2)
 * a version outside the rule before any hook runs.
 *
 * Exactly once. A hook's command is sent once and then only polled:
 * - `onSent` hears of every CommandId right after SendCommand returns, before any wait, so the engine
 *   records it; given those commands back as `resume` (after a restart), Rotor polls them and sends
 *   only for instances they do not cover.
 * - Polling errors (throttling, 5xx, dropped connections, timeouts) retry the poll with backoff until
 *   the hook's own timeout, never the command. On that timeout or on abort, Rotor sends CancelCommand;
 *   an engine that stops (shutdown, lease lost) detaches instead (HookDetached): the command runs on
 *   and the next engine polls it.
 * - A resumed command that ended without the hook's verdict (Cancelled, TimedOut, Undeliverable, …:
 *   e.g. cancelled by someone on the instance's side) is sent again, only for its instances, only
 *   once it has ended, and the result says so. A resumed command that ran and failed stands.
 * - SendCommand is sent without the SDK's retries (SSM has no idempotency token). When it fails in a
 *   way that leaves open whether SSM accepted it (5xx, a dropped answer), Rotor looks for it by its
 *   Comment, which carries a random token (ListCommands), before sending again; a throttled or refused
 *   connection was certainly not accepted. If SSM cannot be asked, Rotor sends nothing more and fails.
 *
 * Polling is batched: one ListCommandInvocations (Details: true) per command (≤ 50 instances) per
 * poll. Its plugin Output is cut at 2,500 characters; only then is GetCommandInvocation read for the
 * instance's full output.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  CancelCommandCommand,
  CreateDocumentCommand,
  GetCommandInvocationCommand,
  GetDocumentCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  UpdateDocumentCommand,
  UpdateDocumentDefaultVersionCommand,
  type CommandInvocation,
} from "@aws-sdk/client-ssm";
import { backoffDelay } from "@/server/backoff";
import { VERSION_PATTERN, type HookName } from "@/lib/rollout/types";
import { type AwsConfig, DEFAULT_HEALTH_URL, DEFAULT_VERSION_URL } from "@/server/providers/aws/config";
import { apacheHookScript, hookFunction, type ScriptHook } from "@/server/providers/hook-script";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";
import { parseObservedVersion, tail } from "@/server/providers/aws/reshape";
import { isHookDetached, ProviderError, type HookResult, type SentCommand } from "@/server/providers/types";

export type RunnableHook = HookName | "probe" | "version";
export const SEND_COMMAND_MAX_IDS = 50;
const TERMINAL = new Set(["Success", "Failed", "Cancelled", "TimedOut", "Undeliverable", "Terminated", "InvalidPlatform", "AccessDenied", "DeliveryTimedOut", "ExecutionTimedOut"]);
/** Ended without the hook's own verdict: the script did not run to its end. */
const INTERRUPTED = new Set(["Cancelled", "TimedOut", "Undeliverable", "Terminated", "DeliveryTimedOut", "ExecutionTimedOut"]);
/** ListCommandInvocations cuts each plugin's Output at this many characters. */
const LIST_OUTPUT_LIMIT = 2_500;
/** How the agent separates stderr from stdout in a plugin's Output. */
const STDERR_MARK = "----------ERROR-------";
/** Backoff of a poll (or a send) after a transient error; the hook's timeout bounds it. */
const TRANSIENT_BACKOFF = { baseMs: 250, maxMs: 5_000 };
/** SendCommand attempts in all when it fails transiently and SSM certainly did not take it. */
const SEND_ATTEMPTS = 5;
/** Placeholder for hooks that need no version (probe); matches VERSION_PATTERN. */
const NO_VERSION = "none";

/** Configuration as shell text: single-quoted, so a value is never expanded. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** The configured hooks as the script embeds them (probe: the in-flight command). */
function configuredHooks(config: AwsConfig): Partial<Record<ScriptHook, string | undefined>> {
  return { stop: config.hooks.stop, deploy: config.hooks.deploy, start: config.hooks.start, verify: config.hooks.verify, probe: config.inFlightCommand, version: config.hooks.version };
}

/** The assembled script of the document: the shared hook script with the configured hooks and URLs. */
export function hookScript(config: AwsConfig): string {
  const settings: Record<string, string> = {};
  // Only URLs that differ from the script's own defaults, so the instance's environment can still set them.
  if (config.healthUrl !== DEFAULT_HEALTH_URL) settings.ROTOR_HEALTH_URL = config.healthUrl;
  if (config.versionUrl !== DEFAULT_VERSION_URL) settings.ROTOR_VERSION_URL = config.versionUrl;
  return apacheHookScript({ hooks: configuredHooks(config), settings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, shellQuote(v)])) });
}

const HOOK_SETTING: Record<string, string> = {
  stop: "ROTOR_AWS_HOOK_STOP",
  deploy: "ROTOR_AWS_HOOK_DEPLOY",
  start: "ROTOR_AWS_HOOK_START",
  verify: "ROTOR_AWS_HOOK_VERIFY",
  probe: "ROTOR_AWS_INFLIGHT_COMMAND",
  version: "ROTOR_AWS_HOOK_VERSION",
};

/** `sh -n` (parse only, runs nothing) on a script given on stdin: null when it parses, else the shell's message. */
function shellParseError(script: string): string | null {
  try {
    execFileSync("sh", ["-n"], { input: script, stdio: ["pipe", "ignore", "pipe"], timeout: 10_000 });
    return null;
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === "ENOENT") return null; // no sh here to check with (the instances have one)
    const said = e.stderr?.toString("utf8").trim();
    return said || (err instanceof Error ? err.message : String(err));
  }
}

/**
 * At start-up: each configured hook, embedded exactly as the script embeds it, then the whole
 * assembled script, must parse (`sh -n`). The text is configuration (admin input), passed on stdin,
 * never run. A broken hook stops start-up here, naming it, instead of breaking every hook of the
 * document once a batch is out of rotation.
 */
export function checkHookScript(config: AwsConfig): void {
  for (const [hook, command] of Object.entries(configuredHooks(config))) {
    if (command === undefined) continue;
    const problem = shellParseError(hookFunction(hook, command));
    if (problem) throw new ProviderError("CONFIG", `hook ${hook} (${HOOK_SETTING[hook] ?? `hooks.${hook}`}) does not parse: ${problem}`);
  }
  const problem = shellParseError(hookScript(config));
  if (problem) throw new ProviderError("CONFIG", `the generated SSM document's script does not parse: ${problem}`);
}

/**
 * The document Rotor runs: the shared hook script, with the commands and URLs set in configuration.
 * Its content depends only on configuration, never on operator input.
 */
export function hookDocument(config: AwsConfig): Record<string, unknown> {
  const script = hookScript(config).replace(/\n$/, "").split("\n");
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
  /** Hears of each command right after SendCommand returned, before any wait on it. */
  onSent?: (command: SentCommand) => void;
  /** Commands sent earlier for this same hook: polled, never sent again while they may run. */
  resume?: SentCommand[];
}

export interface SsmDeps {
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** `rotor <hook> <lb> <token>: <ids>`; the token finds the command again if SendCommand's answer is lost. */
function comment(hook: RunnableHook, lb: string, token: string, ids: string[]): string {
  const text = `rotor ${hook} ${lb} ${token}: ${ids.join(" ")}`;
  return text.length <= 100 ? text : `${text.slice(0, 97)}...`;
}

/** A command Rotor follows: sent now, or resumed from an earlier engine. */
interface Tracked {
  commandId: string;
  ids: string[];
  resumed: boolean;
  /** Said in front of each result's output (e.g. that this command re-runs an interrupted one). */
  preface?: string;
}

interface Ended {
  result: HookResult;
  status: string;
}

function sdkName(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { name?: string } | undefined) : undefined;
  return cause?.name ?? "";
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** SendCommand certainly did not reach SSM (throttled, or the connection was refused): safe to send again. */
function certainlyNotSent(err: ProviderError): boolean {
  if (err.code === "THROTTLED") return true;
  const cause = err.cause as { code?: string; message?: string } | undefined;
  return /ECONNREFUSED/.test(`${cause?.code ?? ""} ${cause?.message ?? ""}`);
}

/** SendCommand without the SDK's own retries: a retried request could start the hook twice. */
function sendOnce(command: SendCommandCommand): SendCommandCommand {
  command.middlewareStack.add((next) => (args) => next(args), { name: "retryMiddleware", step: "finalizeRequest", priority: "high", tags: ["RETRY"], override: true });
  return command;
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
    // At start-up, before any document is made: a hook that does not parse stops Rotor here, by name.
    checkHookScript(config);
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
    const wanted = new Set(ids);
    const commands: Tracked[] = [];
    const covered = new Set<string>();
    for (const c of options.resume ?? []) {
      const mine = c.ids.filter((id) => wanted.has(id) && !covered.has(id));
      if (mine.length === 0) continue;
      for (const id of mine) covered.add(id);
      commands.push({ commandId: c.commandId, ids: mine, resumed: true });
    }
    const fresh = ids.filter((id) => !covered.has(id));
    for (let i = 0; i < fresh.length; i += SEND_COMMAND_MAX_IDS) {
      const sent = await this.send(fresh.slice(i, i + SEND_COMMAND_MAX_IDS), hook, version, options, results, deadline);
      if (sent) commands.push(sent);
    }
    await Promise.all(commands.map((c) => this.follow(c, hook, version, options, started, deadline, results)));
    return ids.map((id) => results.get(id) ?? { id, ok: false, exitCode: null, durationMs: 0, outputTail: "rotor: no result" });
  }

  /** Polls a command to its end; a resumed one that was interrupted is sent again, once it has ended. */
  private async follow(c: Tracked, hook: RunnableHook, version: string, options: RunOptions, started: number, deadline: number, results: Map<string, HookResult>): Promise<void> {
    const ended = await this.poll(c, hook, options, started, deadline);
    const again: string[] = [];
    for (const [id, e] of ended) {
      if (c.resumed && INTERRUPTED.has(e.status) && !options.signal?.aborted && this.now() < deadline) again.push(id);
      else results.set(id, c.preface ? { ...e.result, outputTail: tail(`${c.preface}\n${e.result.outputTail}`) } : e.result);
    }
    if (again.length === 0) return;
    const why = `rotor: command ${c.commandId} (sent before a restart) ended ${ended.get(again[0] ?? "")?.status ?? "?"}; sent again`;
    const resent = await this.send(again, hook, version, options, results, deadline);
    if (resent) await this.follow({ ...resent, preface: why }, hook, version, options, started, deadline, results);
  }

  /**
   * Sends one command (≤ 50 ids) and reports it through `onSent`. Null when SSM refused the instances
   * (their results are set). Retries only what SSM certainly did not take; see the file's comment.
   */
  private async send(chunk: string[], hook: RunnableHook, version: string, options: RunOptions, results: Map<string, HookResult>, deadline: number): Promise<Tracked | null> {
    const Comment = comment(hook, options.lb, randomUUID().slice(0, 8), chunk);
    const what = `SendCommand ${hook} (${chunk.length} instances)`;
    const since = new Date(this.now() - 60_000);
    for (let attempt = 1; ; attempt++) {
      let commandId: string | undefined;
      try {
        const out = await this.caller.call(
          what,
          () =>
            this.clients.ssm.send(
              sendOnce(
                new SendCommandCommand({
                  DocumentName: this.config.documentName,
                  InstanceIds: chunk,
                  Parameters: { Hook: [hook], Version: [version] },
                  Comment,
                  MaxConcurrency: this.config.ssm.maxConcurrency,
                  MaxErrors: this.config.ssm.maxErrors,
                  // Delivery timeout (how long an instance may take to pick the command up); SSM's minimum is 30 s.
                  TimeoutSeconds: Math.max(30, Math.ceil((deadline - this.now()) / 1000)),
                }),
              ),
            ),
          options.lb,
        );
        commandId = out.Command?.CommandId;
        if (!commandId) throw new ProviderError("INTERNAL", "SendCommand returned no CommandId");
      } catch (err) {
        // Not managed by SSM, or not running: a per-instance failure the operator can act on, not an outage.
        if (err instanceof ProviderError && err.code === "INVALID_INPUT") {
          for (const id of chunk) results.set(id, { id, ok: false, exitCode: null, durationMs: 0, outputTail: `SSM refused the command: ${err.message}` });
          return null;
        }
        if (!(err instanceof ProviderError) || !err.transient) throw err;
        if (!certainlyNotSent(err)) commandId = await this.findSent(Comment, since, options, deadline, err);
        if (!commandId) {
          if (attempt >= SEND_ATTEMPTS || options.signal?.aborted || this.now() >= deadline) throw err;
          await this.pause(backoffDelay(attempt, TRANSIENT_BACKOFF), deadline, options.signal);
          continue;
        }
        this.caller.warn({ code: err.code, message: `${what}: the answer was lost, but SSM had accepted it as ${commandId}; not sending again`, lb: options.lb });
      }
      const sent = { commandId, ids: chunk };
      options.onSent?.(sent);
      return { ...sent, resumed: false };
    }
  }

  /**
   * After a SendCommand whose answer was lost: the command SSM accepted with this Comment, if any.
   * Throws (not transient: nothing may be sent again) when SSM cannot be asked before the deadline.
   */
  private async findSent(Comment: string, since: Date, options: RunOptions, deadline: number, sendError: ProviderError): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        let NextToken: string | undefined;
        do {
          const page = await this.caller.call(
            "ListCommands (after a lost SendCommand answer)",
            () =>
              this.clients.ssm.send(
                new ListCommandsCommand({
                  Filters: [
                    { key: "DocumentName", value: this.config.documentName },
                    { key: "InvokedAfter", value: since.toISOString() },
                  ],
                  MaxResults: 50,
                  NextToken,
                }),
              ),
            options.lb,
          );
          const hit = page.Commands?.find((c) => c.Comment === Comment);
          if (hit?.CommandId) return hit.CommandId;
          NextToken = page.NextToken;
        } while (NextToken);
        return undefined;
      } catch (err) {
        if (!(err instanceof ProviderError) || !err.transient || options.signal?.aborted || this.now() >= deadline) {
          throw new ProviderError(
            "INTERNAL",
            `${sendError.message}; SSM may have accepted it (comment "${Comment}") and could not be asked (${message(err)}), so Rotor does not send it again`,
            { cause: sendError },
          );
        }
        await this.pause(backoffDelay(attempt, TRANSIENT_BACKOFF), deadline, options.signal);
      }
    }
  }

  /** Waits `ms`, cut short by the deadline or an abort. */
  private async pause(ms: number, deadline: number, signal?: AbortSignal): Promise<void> {
    const wait = Math.max(0, Math.min(ms, deadline - this.now()));
    if (!signal) return this.sleep(wait);
    if (signal.aborted) return;
    let onAbort: () => void = () => undefined;
    await Promise.race([this.sleep(wait), new Promise<void>((r) => signal.addEventListener("abort", (onAbort = () => r()), { once: true }))]);
    signal.removeEventListener("abort", onAbort);
  }

  /** Every invocation of a command, one ListCommandInvocations page (≤ 50) at a time. */
  private async list(commandId: string, lb: string): Promise<CommandInvocation[]> {
    const out: CommandInvocation[] = [];
    let NextToken: string | undefined;
    do {
      const page = await this.caller.call(
        `ListCommandInvocations ${commandId}`,
        () => this.clients.ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true, MaxResults: 50, NextToken })),
        lb,
      );
      out.push(...(page.CommandInvocations ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return out;
  }

  /**
   * Polls until every instance of the command has ended, the deadline passes or the signal aborts
   * (then CancelCommand for those still running). A transient error only delays the next poll.
   */
  private async poll(c: Tracked, hook: RunnableHook, options: RunOptions, started: number, deadline: number): Promise<Map<string, Ended>> {
    const pending = new Set(c.ids);
    const ended = new Map<string, Ended>();
    let polls = 0;
    let failures = 0;
    let missing = 0;
    for (;;) {
      if (options.signal?.aborted && isHookDetached(options.signal.reason)) {
        // The engine is stopping: leave the command running; the next engine polls it (hook-sent).
        for (const id of pending) {
          ended.set(id, { status: "Detached", result: { id, ok: false, exitCode: null, durationMs: this.now() - started, outputTail: `rotor: stopped waiting; command ${c.commandId} left running for the next engine`, commandId: c.commandId } });
        }
        return ended;
      }
      if (options.signal?.aborted || this.now() > deadline) {
        const ids = [...pending];
        const cancelled = await this.cancel(c.commandId, ids, options.lb);
        const why = options.signal?.aborted ? "aborted" : `timed out after ${options.timeoutMs} ms`;
        const outcome = cancelled ? `command ${c.commandId} cancelled` : `CancelCommand ${c.commandId} failed (see the warnings)`;
        for (const id of ids) {
          ended.set(id, { status: "Cancelled", result: { id, ok: false, exitCode: null, durationMs: this.now() - started, outputTail: `rotor: hook ${why}; ${outcome}`, commandId: c.commandId } });
        }
        return ended;
      }
      let invocations: CommandInvocation[] | null = null;
      try {
        invocations = await this.list(c.commandId, options.lb);
        failures = 0;
      } catch (err) {
        if (err instanceof ProviderError && err.transient) {
          // The command runs on regardless: look again later, never send it again.
          if (failures++ === 0) this.caller.warn({ code: err.code, message: `${hook} command ${c.commandId}: ${err.message}; polling again (the command is not sent again)`, lb: options.lb });
        } else if (sdkName(err) === "InvalidCommandId" && ++missing <= 20) {
          // Right after SendCommand the command may not be readable yet.
        } else {
          await this.cancel(c.commandId, [...pending], options.lb);
          throw new ProviderError(err instanceof ProviderError ? err.code : "INTERNAL", `polling ${hook} command ${c.commandId} failed: ${message(err)}`, { cause: err });
        }
      }
      for (const inv of invocations ?? []) {
        const id = inv.InstanceId ?? "";
        if (!pending.has(id) || !TERMINAL.has(inv.Status ?? "")) continue;
        pending.delete(id);
        ended.set(id, { status: inv.Status ?? "", result: await this.result(c.commandId, id, inv, started, options.lb) });
      }
      if (pending.size === 0) return ended;
      // Long hooks must not eat SSM's API rate: poll less often as a hook runs on; back off after errors.
      const interval = Math.min(this.config.ssm.pollIntervalMs * 1.5 ** polls++, this.config.ssm.pollIntervalMs * 5);
      const wait = failures > 0 ? backoffDelay(failures, TRANSIENT_BACKOFF) : invocations ? interval : Math.min(250 * missing, 2_000);
      await this.pause(wait, deadline, options.signal);
    }
  }

  private async result(commandId: string, id: string, inv: CommandInvocation, started: number, lb: string): Promise<HookResult> {
    const wall = this.now() - started;
    const plugin = inv.CommandPlugins?.[0];
    const from = plugin?.ResponseStartDateTime?.getTime() ?? NaN;
    const to = plugin?.ResponseFinishDateTime?.getTime() ?? NaN;
    const reported = Number.isFinite(from) && Number.isFinite(to) && to >= from ? to - from : NaN;
    const output = plugin?.Output ?? "";
    let [stdout, stderr] = splitOutput(output);
    if (output.length >= LIST_OUTPUT_LIMIT) {
      // Cut by ListCommandInvocations: the instance's own (longer) output, for its tail.
      try {
        const full = await this.caller.call(`GetCommandInvocation ${id}`, () => this.clients.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id })), lb);
        stdout = full.StandardOutputContent ?? stdout;
        stderr = full.StandardErrorContent ?? stderr;
      } catch (err) {
        this.caller.warn({ code: err instanceof ProviderError ? err.code : "INTERNAL", message: `full output of ${id} (command ${commandId}) not read, showing the first ${LIST_OUTPUT_LIMIT} characters: ${message(err)}`, lb });
      }
    }
    const status = inv.Status ?? "";
    const text = [stdout, stderr ? `--- stderr ---\n${stderr}` : "", status === "Success" ? "" : `--- ${status}: ${inv.StatusDetails ?? ""} ---`].filter(Boolean).join("\n");
    const code = plugin?.ResponseCode;
    const exitCode = typeof code === "number" && code >= 0 ? code : null;
    return {
      id,
      ok: status === "Success" && (exitCode === null || exitCode === 0),
      exitCode,
      // Prefer the agent's own timing; fall back to what Rotor saw when it is implausible.
      durationMs: Number.isFinite(reported) && reported <= wall ? reported : wall,
      outputTail: tail(text),
      observedVersion: parseObservedVersion(stdout),
      commandId,
    };
  }

  /** One CancelCommand for the command's instances still running; true once SSM took it. */
  private async cancel(commandId: string, ids: string[], lb: string): Promise<boolean> {
    if (ids.length === 0) return true;
    try {
      await this.caller.call(`CancelCommand ${commandId}`, () => this.clients.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: ids })), lb);
      return true;
    } catch (err) {
      this.caller.warn({ code: "INTERNAL", message: `could not cancel SSM command ${commandId} on ${ids.join(", ")}: ${message(err)}`, lb });
      return false;
    }
  }
}

/** A plugin's Output is stdout, then the agent's error mark and stderr. */
function splitOutput(output: string): [string, string] {
  const at = output.indexOf(STDERR_MARK);
  if (at < 0) return [output, ""];
  return [output.slice(0, at).replace(/\n$/, ""), output.slice(at + STDERR_MARK.length).replace(/^\n/, "")];
}
