/**
 * Rotor replicas for failover tests and benchmarks, each as a real process under a hostname of its own
 * (server/testing/other-host.ts: each replica named by a host of its own, as on two machines):
 *
 *   const a = await startDashboardReplica({ host: "replica-a", port, env });  // `next start`, ready on /api/health
 *   const e = await startEngineReplica({ host: "engine-a", dataDir, env });     // server/engine/main.ts
 *   await a.kill();   // SIGKILL, waits for the exit
 *   await e.stop();   // SIGTERM (SIGKILL after 10 s)
 *
 * Every process is ended by its own pid; none outlives the process that started it (an exit hook
 * SIGKILLs what is still running).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { childEnd } from "./child";
import { onOtherHost } from "./other-host";

const ROOT = path.resolve(__dirname, "..", "..");

export interface ReplicaProcess {
  /** The replica's hostname (its engine's lease owner starts with `${host}:${pid}:`). */
  host: string;
  pid: number;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

function launch(host: string, command: string, args: string[], env: NodeJS.ProcessEnv): ReplicaProcess {
  const wrapped = onOtherHost(host, command, args);
  const child: ChildProcess = spawn(wrapped.command, wrapped.args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const collect = (c: Buffer) => {
    out = (out + c.toString("utf8")).slice(-64_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command} as ${host}`);
  const end = childEnd(child);
  const onExit = () => {
    if (!end.exited()) child.kill("SIGKILL");
  };
  process.once("exit", onExit);
  child.once("exit", () => process.removeListener("exit", onExit));
  return { host, pid, output: () => out, ...end };
}

async function until(what: string, p: ReplicaProcess, ready: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.exited()) throw new Error(`${what} exited at start-up:\n${p.output()}`);
    if (await ready()) return;
    if (Date.now() > deadline) {
      await p.stop();
      throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${p.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `next start` on 127.0.0.1:port (the build must exist), ready once GET /api/health answers 200. */
export async function startDashboardReplica(o: { host: string; port: number; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ReplicaProcess> {
  const next = path.join(ROOT, "node_modules", "next", "dist", "bin", "next");
  const env = { ...o.env, ROTOR_PORT: String(o.port), NEXT_TELEMETRY_DISABLED: "1" };
  const p = launch(o.host, process.execPath, [next, "start", "-H", "127.0.0.1", "-p", String(o.port), "--keepAliveTimeout", "65000"], env);
  const health = async () => {
    try {
      return (await fetch(`http://127.0.0.1:${o.port}/api/health`, { signal: AbortSignal.timeout(2_000) })).ok;
    } catch {
      return false;
    }
  };
  await until(`dashboard replica ${o.host} on port ${o.port}`, p, health, o.timeoutMs ?? 60_000);
  return p;
}

/** The headless engine (server/engine/main.ts) on a data dir, ready once it prints its ready line. */
export async function startEngineReplica(o: { host: string; dataDir: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ReplicaProcess> {
  const main = path.join(ROOT, "server", "engine", "main.ts");
  const p = launch(o.host, process.execPath, ["--import", "tsx", main, "--data-dir", o.dataDir], o.env);
  await until(`headless engine ${o.host}`, p, () => p.output().includes('"type":"ready"'), o.timeoutMs ?? 30_000);
  return p;
}
