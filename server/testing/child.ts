/** Ending a child process a test started, by its pid: cleanly (SIGTERM, SIGKILL after a grace period) or as a crash (SIGKILL). */
import type { ChildProcess } from "node:child_process";

export interface ChildEnd {
  exited(): boolean;
  /** SIGTERM and wait for the exit; SIGKILL after `graceMs`. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit (a crash). */
  kill(): Promise<void>;
}

export function childEnd(child: ChildProcess, graceMs = 10_000): ChildEnd {
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const waitExit = () => (exited() ? Promise.resolve() : new Promise<void>((r) => child.once("exit", () => r())));
  return {
    exited,
    stop: async () => {
      if (exited()) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await waitExit();
      clearTimeout(t);
    },
    kill: async () => {
      if (exited()) return;
      child.kill("SIGKILL");
      await waitExit();
    },
  };
}
