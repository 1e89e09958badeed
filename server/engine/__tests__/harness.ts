/**
 * Test harness for the engine: a headless engine as a real child process on a data dir, a store
 * connection of the test's own, polling helpers, and readers of the event log.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { childEnd } from "@/server/testing/child";
import path from "node:path";
import type { OperatorEvent } from "@/lib/rollout/types";
import type { StoredEvent } from "@/lib/views";
import { FleetMonitor } from "@/server/monitor";
import type { LoadBalancerProvider } from "@/server/providers/types";
import { RotorStore } from "@/server/store";
import { databasePath, type StoreLocation } from "@/server/store/db";
import { ChangeBus } from "@/server/bus";
import { Journals } from "@/server/store/journal";
import { heldOutOfRotation } from "@/server/store/held";
import { launchRollout, operate, type LaunchInput } from "@/server/commands/launch";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const MAIN = path.join(ROOT, "server", "engine", "main.ts");

export interface HeadlessEngine {
  pid: number;
  output(): string;
  /** SIGTERM and wait for exit (clean stop). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (a crash). */
  kill(): Promise<void>;
  exited(): boolean;
}

export async function startHeadlessEngine(opts: { dataDir: string; controlUrl: string; env?: Record<string, string> }): Promise<HeadlessEngine> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", MAIN, "--data-dir", opts.dataDir], {
    cwd: ROOT,
    env: { ...process.env, ROTOR_PROVIDER: "local", ROTOR_CONTROL_URL: opts.controlUrl, ROTOR_LOG_LEVEL: "info", VITEST: "", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const collect = (c: Buffer) => {
    out = (out + c.toString("utf8")).slice(-64_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  await waitFor(() => out.includes('"type":"ready"') || exited(), { timeoutMs: 30_000, what: "the headless engine to start" });
  if (exited()) throw new Error(`the headless engine exited at start-up:\n${out}`);
  return { pid: child.pid ?? -1, output: () => out, ...childEnd(child) };
}

/** Thrown inside a waitFor condition: stop waiting, fail now. */
export class FailFast extends Error {}

export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      if (err instanceof FailFast) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? "a condition"}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/** The test's own view of a data dir (or of a PostgreSQL store): its store connection, monitor, and shortcuts. */
export class TestControl {
  readonly store: RotorStore;
  readonly monitor: FleetMonitor;
  readonly bus = new ChangeBus();
  readonly journals: Journals;

  constructor(where: string | StoreLocation, provider: LoadBalancerProvider) {
    this.store = new RotorStore(typeof where === "string" ? databasePath(where) : where);
    this.journals = new Journals(this.store, this.bus);
    // As the dashboard's runtime builds it: instances held out of rotation come from the store.
    this.monitor = new FleetMonitor(provider, {}, null, heldOutOfRotation(this.store, this.journals));
  }

  async launch(input: Partial<LaunchInput> & { version: string }, actor = "tester"): Promise<string> {
    const r = await launchRollout(
      { store: this.store, monitor: this.monitor, bus: this.bus },
      { lb: "local", plan: { version: input.version, batchSize: { unit: "count", value: 2 } }, mode: { kind: "manual" }, ...input },
      actor,
    );
    if (!r.ok) throw new Error(`launch refused: ${r.code}: ${r.message}`);
    return r.data.id;
  }

  operate(id: string, event: OperatorEvent, actor = "tester") {
    return operate(this.journals, id, event, actor);
  }

  state(id: string) {
    const j = this.journals.get(id);
    if (!j) throw new Error(`no rollout ${id}`);
    return j.state;
  }

  events(id: string): StoredEvent[] {
    return this.store.events(id);
  }

  /** Waits for a phase; fails fast on an unexpected failure phase. */
  async waitPhase(id: string, phase: string | string[], timeoutMs = 60_000) {
    const want = Array.isArray(phase) ? phase : [phase];
    return waitFor(
      () => {
        const s = this.state(id);
        if (want.includes(s.phase)) return s;
        if (s.phase === "failed-awaiting-operator" && !want.includes(s.phase)) throw new FailFast(`rollout failed: ${s.failure?.message}`);
        return null;
      },
      { timeoutMs, what: `rollout ${id} to reach ${want.join("|")} (now ${this.state(id).phase})` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast events:\n${this.events(id).slice(-12).map((e) => `${e.seq} ${e.actor} ${e.type} ${e.outcome} ${JSON.stringify(e.payload).slice(0, 200)}`).join("\n")}`);
    });
  }

  /** Approves each batch as it comes until the rollout ends. */
  async approveUntilDone(id: string, timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.waitPhase(id, ["awaiting-approval", "succeeded", "aborted", "rolled-back"], Math.max(1_000, deadline - Date.now()));
      if (s.phase !== "awaiting-approval") return s.phase;
      const r = this.operate(id, { type: "approve" });
      if (!r.ok) throw new Error(`approve refused: ${r.message}`);
    }
  }

  close() {
    this.monitor.stop();
    this.store.close();
  }
}
