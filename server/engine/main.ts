/**
 * The engine without the dashboard: `tsx server/engine/main.ts [--data-dir DIR]`.
 * Provider from the environment (ROTOR_PROVIDER, ROTOR_CONTROL_URL for the local fleet).
 * Prints `{"type":"ready","pid":…}` on stdout once it runs; stops cleanly on SIGTERM/SIGINT.
 */
import { createRuntime } from "@/server/runtime";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const rt = createRuntime({ dataDir: arg("--data-dir") });
const engine = rt.startEngine();
process.stdout.write(`${JSON.stringify({ type: "ready", pid: process.pid, owner: engine.owner })}\n`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  try {
    await rt.close();
  } finally {
    process.stderr.write(`engine: stopped on ${signal}\n`);
    process.exit(0);
  }
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
