/**
 * `rotor`: the dashboard's REST API from a terminal or a CI pipeline (ROTOR_URL, ROTOR_TOKEN).
 *
 *   rotor lbs | instances LB | start LB VERSION [--batch N|N%] [--auto 30s] [--wait] | status [ID] [--watch]
 *   rotor approve|pause|resume|abort|rollback|retry ID | skip ID INSTANCE
 *   rotor wait ID --until awaiting-approval|finished [--timeout 30m]
 *   rotor migrate   (the one command that opens the store itself: ROTOR_DATABASE_URL, else ROTOR_DATA_DIR)
 *
 * Exit codes (lib/cli/outcome.ts): 0 succeeded or reached, 1 failed / rolled back / aborted,
 * 2 timed out, 3 refused (bad token, bad input, forbidden, not possible now), 4 dashboard unavailable.
 * `--json`: one JSON document on stdout per command (for `status --watch`, one line per update).
 *
 * Arguments are parsed with commander (subcommands, generated --help, and parse errors we can turn
 * into exit 3) and then checked with zod (lib/cli/args.ts) before any request is made.
 */
import { Command, CommanderError } from "commander";
import type { FleetView, LoadBalancerRow, RolloutDetailView, RolloutSummary } from "@/lib/views";
import { EVENT_COMMANDS, parseEvent, parseLbName, parseRolloutId, parseStart, parseWait, type EventCommand, type Parsed, type StartFlags, type WaitUntil } from "@/lib/cli/args";
import { EXIT, judge, plainLine, progressLine, sameFrame, type ExitCode, type ProgressFrame } from "@/lib/cli/outcome";
import { isFinal } from "@/lib/rollout/state";
import { CliError, configFromEnv, follow, RotorClient } from "./client";

interface Io {
  env: Readonly<Record<string, string | undefined>>;
  stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): unknown };
}

interface Globals {
  json?: boolean;
  url?: string;
}

function valid<T>(p: Parsed<T>): T {
  if (!p.ok) throw new CliError(p.message, EXIT.REFUSED, "INVALID_INPUT");
  return p.value;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ")).join("\n") + "\n";
}

function frameOf(d: RolloutDetailView): ProgressFrame {
  return { id: d.summary.id, phase: d.view.phase, progress: d.view.progress, message: d.view.message };
}

/**
 * Draws a rollout's progress as it changes: a bar redrawn in place on a terminal, plain lines in a log,
 * one JSON line per update with `jsonLines`, nothing with `quiet` (a --json command that prints once).
 */
function progressPrinter(io: Io, mode: "tty" | "lines" | "json-lines" | "quiet") {
  let last: ProgressFrame | null = null;
  return {
    show(d: RolloutDetailView) {
      const f = frameOf(d);
      if (sameFrame(last, f)) return;
      last = f;
      if (mode === "tty") io.stdout.write(`\r\x1b[2K${progressLine(f, (io.stdout.columns ?? 100) - 1)}`);
      else if (mode === "lines") io.stdout.write(`${plainLine(f, d.now)}\n`);
      else if (mode === "json-lines") io.stdout.write(`${JSON.stringify({ ...f, at: d.now })}\n`);
    },
    end() {
      if (mode === "tty" && last) io.stdout.write("\n");
    },
  };
}

/**
 * Follows a rollout until `until` is reached or ruled out, or `timeoutMs` passes; returns the last
 * detail and the exit code (EXIT.TIMEOUT when time ran out).
 */
async function waitFor(client: RotorClient, id: string, until: WaitUntil, timeoutMs: number, show: (d: RolloutDetailView) => void) {
  let last: RolloutDetailView | null = null;
  let verdict: { code: ExitCode; reached: boolean } | null = null;
  const timeout = AbortSignal.timeout(timeoutMs);
  await follow(
    client,
    id,
    (d) => {
      last = d;
      show(d);
      verdict = judge(until, d.view.phase);
      return verdict !== null;
    },
    timeout,
  );
  const detail = last as RolloutDetailView | null;
  const v = verdict as { code: ExitCode; reached: boolean } | null;
  return { detail, code: v?.code ?? EXIT.TIMEOUT, reached: v?.reached ?? false };
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}

/** The sentence a finished wait ends with (stderr when it did not reach its point). */
function waitSentence(id: string, until: WaitUntil, code: ExitCode, d: RolloutDetailView | null, timeoutMs: number): string {
  const now = d ? `${d.view.phase}: ${d.view.message}` : "not read yet";
  if (code === EXIT.TIMEOUT) return `Rollout ${id} did not reach ${until} within ${minutes(timeoutMs)} (now ${now}); raise --timeout or open the rollout's page.`;
  if (code === EXIT.OK) return until === "finished" ? `Rollout ${id} succeeded.` : `Rollout ${id} is waiting for approval (${d?.view.message ?? ""}).`;
  return `Rollout ${id} ended ${d?.view.phase ?? "unknown"} without reaching ${until} (${d?.view.message ?? ""}); open the rollout's page to see why.`;
}

export function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command("rotor");
  const globals = (): Globals => program.opts<Globals>();
  const client = () => new RotorClient(configFromEnv(io.env, globals().url));
  const json = () => globals().json === true;
  const print = (doc: unknown, text: string) => io.stdout.write(json() ? `${JSON.stringify(doc, null, 2)}\n` : text);
  const liveMode = (): "tty" | "lines" => (io.stdout.isTTY ? "tty" : "lines");

  program
    .description("Supervised batch-by-batch rollouts from the command line, over the Rotor dashboard's API.")
    .option("--json", "print one JSON document per command (status --watch: one JSON line per update)")
    .option("--url <url>", "the dashboard's address (default: $ROTOR_URL, else http://127.0.0.1:3000)")
    .addHelpText(
      "after",
      "\nEnvironment: ROTOR_URL (the dashboard), ROTOR_TOKEN (an API token from the Tokens page).\n" +
        "Exit codes: 0 succeeded or reached, 1 failed / rolled back / aborted, 2 timed out, 3 refused, 4 dashboard unavailable.",
    )
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => {} });

  program
    .command("migrate")
    .description("apply the store's schema migrations (ROTOR_DATABASE_URL, else the SQLite file in ROTOR_DATA_DIR); every start does the same")
    .action(async () => {
      const { resolveDataDir, storeLocation } = await import("@/server/store/db");
      const { migrateStore } = await import("./migrate");
      const r = migrateStore(storeLocation(io.env, resolveDataDir(io.env.ROTOR_DATA_DIR)));
      const said = r.applied.length > 0 ? `applied ${r.applied.join(", ")}` : "nothing to apply";
      print(r, `${r.where}: ${said}; schema version ${r.schemaVersion}.\n`);
    });

  program
    .command("lbs")
    .description("list the load balancers, their instances, versions and active rollout")
    .action(async () => {
      const rows = await client().request<LoadBalancerRow[]>("list load balancers", "GET", "/api/load-balancers");
      const text = table([
        ["NAME", "KIND", "INSTANCES", "VERSIONS", "ROLLOUT"],
        ...rows.map((r) => [
          r.name,
          r.kind,
          String(r.total),
          r.versions.map((v) => `${v.version ?? "unknown"}×${v.count}`).join(" ") || "-",
          r.error ? `error: ${r.error}` : r.activeRollout ? `${r.activeRollout.id} ${r.activeRollout.phase} ${r.activeRollout.progress}%` : "-",
        ]),
      ]);
      print(rows, text);
    });

  program
    .command("instances")
    .argument("[LB]", "the load balancer")
    .description("list a load balancer's instances, with the active rollout's step on each")
    .action(async (lb: string | undefined) => {
      const name = valid(parseLbName(lb));
      const view = await client().request<FleetView>(`list instances of ${name}`, "GET", `/api/load-balancers/${encodeURIComponent(name)}/instances`);
      const text = table([
        ["ID", "STATE", "VERSION", "IN-FLIGHT", "ROLLOUT"],
        ...view.instances.map((i) => [i.id, i.state, i.version ?? "unknown", i.inFlight === null ? "-" : String(i.inFlight), i.rollout ? `batch ${i.rollout.batch + 1} ${i.rollout.step} ${i.rollout.status}` : "-"]),
      ]);
      print(view, text + (view.error ? `error: ${view.error}\n` : ""));
    });

  program
    .command("start")
    .argument("[LB]", "the load balancer")
    .argument("[VERSION]", "the version to deploy")
    .description("start a rollout (manual approval of each batch unless --auto)")
    .option("--batch <n|n%>", "instances per batch, a count or a percentage", "1")
    .option("--min-healthy <n|n%>", "instances that must stay in service (default: the planner's)")
    .option("--auto <bake>", "approve each batch automatically after a bake time (e.g. 30s, 0s)")
    .option("--canary", "a first batch of one instance")
    .option("--drain-timeout <duration>", "how long to drain each batch (default: the load balancer's)")
    .option("--analysis <window>", "watch each batch this long and judge it against the old instances (e.g. 60s; 0s: off; default: the server's)")
    .option("--on-analysis-fail <policy>", "a batch that fails its analysis: pause (default) or rollback")
    .option("--alarms <names>", "CloudWatch alarms read during each analysis window, comma-separated (AWS)")
    .option("--strategy <strategy>", "in-place (deploy on the instances) or replace (new instances from the group)", "in-place")
    .option("--surge <n>", "replace: new instances launched before each batch")
    .option("--launch-target <target>", "replace: launch template version or AMI (local fleet: a release)")
    .option("--wait", "wait until the rollout finishes; the exit code says how")
    .option("--timeout <duration>", "with --wait: give up after this long (default 30m)")
    .action(async (lb: string | undefined, version: string | undefined, flags: StartFlags) => {
      const req = valid(parseStart({ ...flags, lb, version }));
      const c = client();
      const started = await c.request<{ data: { id: string } }>("start a rollout", "POST", "/api/rollouts", req.body);
      const id = started.data.id;
      const base = { id, lb: req.body.lb, version: req.body.version };
      if (!req.wait) {
        print(base, `Started rollout ${id}: ${req.body.version} on ${req.body.lb}. Follow it with: rotor status ${id} --watch\n`);
        return;
      }
      if (!json()) io.stdout.write(`Started rollout ${id}: ${req.body.version} on ${req.body.lb}.\n`);
      const printer = progressPrinter(io, json() ? "quiet" : liveMode());
      const r = await waitFor(c, id, "finished", req.timeoutMs, printer.show).finally(() => printer.end());
      finishWait(id, "finished", r, req.timeoutMs, base);
    });

  function finishWait(id: string, until: WaitUntil, r: Awaited<ReturnType<typeof waitFor>>, timeoutMs: number, base: Record<string, unknown> = { id }) {
    const sentence = waitSentence(id, until, r.code, r.detail, timeoutMs);
    if (json()) {
      io.stdout.write(`${JSON.stringify({ ...base, until, reached: r.reached, phase: r.detail?.view.phase ?? null, progress: r.detail?.view.progress ?? null, message: sentence, exitCode: r.code }, null, 2)}\n`);
    } else {
      (r.code === EXIT.OK ? io.stdout : io.stderr).write(`${sentence}\n`);
    }
    setExit(r.code);
  }

  program
    .command("status")
    .argument("[ID]", "a rollout id (none: the list of rollouts)")
    .description("show the rollouts, or one rollout; --watch follows it live until it ends")
    .option("--watch", "follow the rollout live until it ends")
    .action(async (id: string | undefined, flags: { watch?: boolean }) => {
      if (id === undefined) {
        if (flags.watch) throw new CliError("status --watch follows one rollout; name it: rotor status ID --watch.", EXIT.REFUSED, "INVALID_INPUT");
        const rows = await client().request<RolloutSummary[]>("list rollouts", "GET", "/api/rollouts");
        const text = table([
          ["ID", "LB", "VERSION", "PHASE", "BY", "STARTED"],
          ...rows.slice(0, 20).map((r) => [r.id, r.lb, r.targetVersion, r.phase, r.createdBy, new Date(r.createdAt).toISOString()]),
        ]);
        print(rows, rows.length === 0 ? "No rollouts yet.\n" : text);
        return;
      }
      const rid = valid(parseRolloutId(id));
      const c = client();
      if (!flags.watch) {
        const d = await c.rollout(rid);
        print(d, describe(d));
        return;
      }
      const printer = progressPrinter(io, json() ? "json-lines" : liveMode());
      let final: RolloutDetailView | null = null;
      await follow(
        c,
        rid,
        (d) => {
          printer.show(d);
          if (!isFinal(d.view.phase)) return false;
          final = d;
          return true;
        },
        new AbortController().signal,
      ).finally(() => printer.end());
      const phase = (final as RolloutDetailView | null)?.view.phase;
      setExit(phase === "succeeded" ? EXIT.OK : EXIT.FAILED);
    });

  for (const command of Object.keys(EVENT_COMMANDS) as EventCommand[]) {
    const cmd = program.command(command).argument("[ID]", "the rollout id");
    if (command === "skip") cmd.argument("[INSTANCE]", "the instance to skip");
    // Extra arguments reach parseEvent, whose refusal names the one too many.
    cmd
      .allowExcessArguments()
      .description(eventDescription[command])
      .action(async (...args: unknown[]) => {
        const [id, instance] = (args.at(-1) as Command).args;
        const e = valid(parseEvent(command, id, instance));
        const c = client();
        await c.request(`${command} rollout ${e.id}`, "POST", `/api/rollouts/${encodeURIComponent(e.id)}/events`, e.body);
        // The engine acts on the event at once: read the rollout back so the answer shows where it is.
        const d = await c.rollout(e.id);
        print({ id: e.id, event: e.body, phase: d.view.phase, message: d.view.message }, `${eventDone[command]} ${e.id}: now ${d.view.phase} — ${d.view.message}\n`);
      });
  }

  program
    .command("wait")
    .argument("[ID]", "the rollout id")
    .description("wait until a rollout waits for approval or finishes; the exit code says how it went")
    .option("--until <point>", "awaiting-approval or finished")
    .option("--timeout <duration>", "give up after this long (exit 2)", "30m")
    .action(async (id: string | undefined, flags: { until?: string; timeout?: string }) => {
      const w = valid(parseWait({ id, until: flags.until, timeout: flags.timeout }));
      const printer = progressPrinter(io, json() ? "quiet" : liveMode());
      const r = await waitFor(client(), w.id, w.until, w.timeoutMs, printer.show).finally(() => printer.end());
      finishWait(w.id, w.until, r, w.timeoutMs);
    });

  return program;
}

const eventDescription: Record<EventCommand, string> = {
  approve: "approve the batch that waits for approval",
  pause: "pause the rollout after the step in progress",
  resume: "resume a paused rollout",
  abort: "stop the rollout where it is (instances already updated stay updated)",
  rollback: "put every updated instance back on its previous version",
  retry: "retry the failed step",
  skip: "skip an instance whose step failed",
};

const eventDone: Record<EventCommand, string> = {
  approve: "Approved",
  pause: "Paused",
  resume: "Resumed",
  abort: "Aborting",
  rollback: "Rolling back",
  retry: "Retrying the step of",
  skip: "Skipped the instance in",
};

function describe(d: RolloutDetailView): string {
  const s = d.summary;
  const lines = [
    `${s.id}  ${s.targetVersion} on ${s.lb}  started by ${s.createdBy} at ${new Date(s.createdAt).toISOString()}`,
    `${progressLine(frameOf(d), 200)}`,
    ...d.batches.map((b) => `  ${b.direction === "rollback" ? "rollback " : ""}batch ${b.index + 1}: ${b.status.padEnd(7)} ${b.instances.map((i) => i.id).join(", ")}`),
    ...d.notes.map((n) => `note: ${n}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** Runs the command line; resolves with the exit code (never exits the process itself). */
export async function main(argv: string[], io: Io): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  const program = buildProgram(io, (c) => (code = c));
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors.
      if (err.exitCode === 0) return EXIT.OK;
      const message = `${err.message.replace(/^error:\s*/, "").replace(/\.?$/, "")}; see rotor --help.`;
      return refuse(io, json, { code: "INVALID_INPUT", message, exitCode: EXIT.REFUSED });
    }
    if (err instanceof CliError) return refuse(io, json, { code: err.code, message: err.message, exitCode: err.exitCode });
    const message = `rotor failed unexpectedly: ${err instanceof Error ? err.message : String(err)}.`;
    return refuse(io, json, { code: "INTERNAL", message, exitCode: EXIT.UNAVAILABLE });
  }
}

function refuse(io: Io, json: boolean, e: { code: string; message: string; exitCode: ExitCode }): ExitCode {
  if (json) io.stdout.write(`${JSON.stringify({ ok: false, ...e })}\n`);
  io.stderr.write(`${e.message}\n`);
  return e.exitCode;
}
