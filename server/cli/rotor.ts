/**
 * The `rotor` command line's entry (server/cli/rotor.mjs runs it through tsx): the command is in
 * program.ts; this file only hands it the process's arguments and streams and sets the exit code.
 */
import { main } from "./program";

void main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then((code) => {
  // Set, not exit(): stdout (a pipe in CI) drains first; nothing else keeps the process alive.
  process.exitCode = code;
});
