/**
 * `npm start`: start the local fleet, build the dashboard if its sources changed, then run it on loopback.
 *
 * Process tree, and why: the fleet supervisor (server/fleet/main.ts) and the dashboard (next start) are
 * siblings, both children of this process. The supervisor runs in its own process group (`detached`),
 * so a crash of the dashboard, or a signal meant for the terminal's foreground group, never reaches the
 * fleet: it keeps serving, as a real fleet would. Ctrl-C (SIGINT) or SIGTERM here is forwarded as
 * SIGTERM to both; the supervisor stops its balancer and instances, then exits. If this process dies
 * without that (SIGKILL), the supervisor sees its IPC channel close and stops its children all the same,
 * and every instance and the balancer do the same when the supervisor disappears: no orphans.
 *
 * Operators first (server/auth/startup.ts): on loopback with no operator configured, a `demo` admin gets
 * a fresh password, printed once below with the dashboard's URL; on any other `ROTOR_HOST` with no
 * operator configured the start is refused (before anything is started), with what to configure.
 *
 * With `ROTOR_PROVIDER=aws` no fleet is started. When a fleet already answers on the control port
 * (e.g. one started by hand with `npx tsx server/fleet/main.ts`), it is used and left running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { needsBuild } from "./build-check";

const root = path.resolve(__dirname, "..", "..");
const port = Number(process.env.ROTOR_PORT ?? 3000);
const host = process.env.ROTOR_HOST ?? "127.0.0.1";
const nextBin = path.join(root, "node_modules", "next", "dist", "bin", "next");
// Rotor phones nowhere: Next's anonymous telemetry stays off unless the operator turns it on.
process.env.NEXT_TELEMETRY_DISABLED ??= "1";
const lbPort = Number(process.env.ROTOR_LB_PORT ?? 8080);
const controlPort = Number(process.env.ROTOR_CONTROL_PORT ?? lbPort + 1);
const controlUrl = `http://127.0.0.1:${controlPort}`;

const children: ChildProcess[] = [];
let stopping = false;

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: "inherit" });
    children.push(child);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(args[0] ?? cmd)} ${args.slice(1).join(" ")} exited with ${code}`))));
  });
}

function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  const live = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const child of live) child.kill("SIGTERM");
  // The fleet needs a moment to stop its instances; never wait forever.
  setTimeout(() => {
    for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    process.exit(code);
  }, 10_000).unref();
  Promise.all(live.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => process.exit(code));
}

async function fleetAnswers(): Promise<boolean> {
  try {
    const res = await fetch(`${controlUrl}/v1/health`, { signal: AbortSignal.timeout(1_000) });
    return res.ok;
  } catch {
    return false;
  }
}

async function startFleet(): Promise<void> {
  if ((process.env.ROTOR_PROVIDER ?? "local").trim().toLowerCase() === "aws") return;
  if (await fleetAnswers()) {
    console.log(`rotor: using the local fleet already running at ${controlUrl} (it is not stopped on exit)`);
    return;
  }
  const fleet = spawn(process.execPath, ["--import", "tsx", path.join(root, "server", "fleet", "main.ts")], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, ROTOR_LB_PORT: String(lbPort), ROTOR_CONTROL_PORT: String(controlPort) },
  });
  children.push(fleet);
  await new Promise<void>((resolve, reject) => {
    fleet.on("message", (m: { type?: string }) => m.type === "ready" && resolve());
    fleet.once("exit", (code) => reject(new Error(`the local fleet exited during start-up (${code}); is 127.0.0.1:${lbPort} or :${controlPort} in use?`)));
  });
  fleet.on("exit", (code, signal) => {
    if (!stopping) console.error(`rotor: the local fleet exited (${signal ?? code}); the dashboard keeps running and will show it as unreachable`);
  });
}

/** The sign-in facts for the terminal; the demo password (if any) framed so that it is not missed. */
function signInLines(auth: { lines: string[]; demo: { name: string; password: string } | null }, url: string): string[] {
  if (!auth.demo) return [...auth.lines, `rotor: sign in at ${url}/sign-in`];
  const rule = "rotor: " + "─".repeat(60);
  return [
    rule,
    `rotor: sign in at ${url}/sign-in`,
    `rotor:   operator: ${auth.demo.name}   (admin, demo: loopback only)`,
    `rotor:   password: ${auth.demo.password}`,
    ...auth.lines.slice(1),
    rule,
  ];
}

async function main() {
  // Before anything starts: refuses a non-loopback host with nobody to sign in as, or bad configuration.
  // Imported here (not at the top) so that the refusal goes through main().catch; ESM-only deps load fine.
  const { prepareOperators } = await import("@/server/auth/startup");
  const { runtime } = await import("@/server/runtime");
  const auth = await prepareOperators(host);
  // The dashboard opens the database itself; this process keeps no connection.
  await runtime().close();
  await startFleet();
  if (needsBuild(root)) {
    console.log("rotor: building the dashboard (first run or sources changed)…");
    await run(process.execPath, [nextBin, "build"]);
  }
  // Idle keep-alive sockets stay open longer than clients and proxies keep theirs (ALB's idle timeout is
  // 60 s): a server that closes first races a client reusing the socket, which then sees ECONNRESET.
  const keepAliveMs = process.env.ROTOR_KEEP_ALIVE_TIMEOUT_MS ?? "65000";
  const dashboard = spawn(process.execPath, [nextBin, "start", "-H", host, "-p", String(port), "--keepAliveTimeout", keepAliveMs], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ROTOR_PORT: String(port), ROTOR_LB_PORT: String(lbPort), ROTOR_CONTROL_PORT: String(controlPort) },
  });
  children.push(dashboard);
  dashboard.on("exit", (code, signal) => {
    // The fleet outlives a dashboard crash on purpose; Ctrl-C still stops it.
    if (!stopping) console.error(`rotor: dashboard exited (${signal ?? code}); the local fleet keeps serving on http://127.0.0.1:${lbPort}. Ctrl-C stops it.`);
  });
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  console.log(`rotor: dashboard on ${url}`);
  for (const line of signInLines(auth, url)) console.log(line);
}

process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));
main().catch((err: unknown) => {
  console.error("rotor: could not start:", err instanceof Error ? err.message : err);
  stopAll(1);
});
