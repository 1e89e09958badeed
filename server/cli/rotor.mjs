#!/usr/bin/env node
/**
 * `rotor` (package.json "bin"): runs the TypeScript command line (server/cli/rotor.ts) with tsx, as
 * `npm start` runs server/cli/start.ts, and exits with its exit code. The repository's tsconfig is
 * named explicitly so its "@/" paths resolve from any working directory.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = fileURLToPath(import.meta.resolve("tsx/cli"));
const child = spawn(process.execPath, [tsx, path.join(here, "rotor.ts"), ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, TSX_TSCONFIG_PATH: path.join(here, "..", "..", "tsconfig.json") },
});
// Ctrl-C reaches the child through the terminal's process group; a SIGTERM sent to this process is passed on.
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("exit", (code, signal) => {
  process.exitCode = code ?? (signal === "SIGINT" ? 130 : 1);
});
