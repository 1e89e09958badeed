/**
 * `npm start`: build the dashboard if its sources changed, then run it on loopback.
 * Later parts add the local fleet; everything started here is stopped on Ctrl-C.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(__dirname, "..", "..");
const port = Number(process.env.ROTOR_PORT ?? 3000);
const host = process.env.ROTOR_HOST ?? "127.0.0.1";
const nextBin = path.join(root, "node_modules", "next", "dist", "bin", "next");

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function needsBuild(): boolean {
  const buildId = path.join(root, ".next", "BUILD_ID");
  if (!existsSync(buildId)) return true;
  const built = statSync(buildId).mtimeMs;
  const sources = ["app", "components", "lib", "server", "public"].map((d) => newestMtime(path.join(root, d)));
  const configs = ["next.config.ts", "package-lock.json", "postcss.config.mjs"].map((f) => (existsSync(path.join(root, f)) ? statSync(path.join(root, f)).mtimeMs : 0));
  return Math.max(...sources, ...configs) > built;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: "inherit" });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(args[0] ?? cmd)} ${args.slice(1).join(" ")} exited with ${code}`))));
  });
}

const children: ChildProcess[] = [];
let stopping = false;

function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 5_000).unref();
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => process.exit(code));
}

async function main() {
  if (needsBuild()) {
    console.log("rotor: building the dashboard (first run or sources changed)…");
    await run(process.execPath, [nextBin, "build"]);
  }
  const dashboard = spawn(process.execPath, [nextBin, "start", "-H", host, "-p", String(port)], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ROTOR_PORT: String(port) },
  });
  children.push(dashboard);
  dashboard.on("exit", (code) => {
    if (!stopping) {
      console.error(`rotor: dashboard exited (${code}); stopping`);
      stopAll(code ?? 1);
    }
  });
  console.log(`rotor: dashboard on http://${host}:${port}`);
}

process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));
main().catch((err: unknown) => {
  console.error("rotor: could not start:", err instanceof Error ? err.message : err);
  stopAll(1);
});
