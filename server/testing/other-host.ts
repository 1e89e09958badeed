/**
 * Runs a command as if on another machine: in a UTS namespace of its own with its own hostname
 * (`unshare -u`, then `hostname NAME`, then exec — the returned pid is the command's own).
 *
 * Why: replicas of a real deployment run on machines of their own, and an engine's lease owner is
 * `host:pid:…`. Giving each test replica a host of its own makes the timeline name the replicas
 * (replica-a, replica-b) and keeps the test honest should anything ever judge an owner by its host
 * and pid (on PostgreSQL nothing does: server/store/leases.ts takes a lease over only once it
 * expired, so these tests measure the lease's expiry, as a deployment on two machines sees it).
 *
 * Root (CI) unshares directly; any other user asks for a user namespace too (`-r`), which needs
 * unprivileged user namespaces enabled. Either way a refusal fails the caller, naming the cause.
 */
import { spawnSync } from "node:child_process";

export interface HostCommand {
  command: string;
  args: string[];
}

/** `command args…` wrapped to run with `hostname` as its machine's name. */
export function onOtherHost(hostname: string, command: string, args: string[]): HostCommand {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(hostname)) throw new Error(`host name ${JSON.stringify(hostname)}: lowercase letters, digits, -`);
  const flags = process.getuid?.() === 0 ? ["-u"] : ["-r", "-u"];
  return { command: "unshare", args: [...flags, "sh", "-c", 'hostname "$0" && exec "$@"', hostname, command, ...args] };
}

/** Throws, saying why, when this machine cannot give a process a hostname of its own. */
export function assertOtherHostWorks(): void {
  const probe = onOtherHost("rotor-probe", "hostname", []);
  const r = spawnSync(probe.command, probe.args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0 || r.stdout.trim() !== "rotor-probe") {
    const why = r.error ? String(r.error) : (r.stderr || r.stdout || `exit ${r.status}`).trim();
    throw new Error(`cannot run a process under a hostname of its own (unshare -u; util-linux, root or unprivileged user namespaces): ${why}`);
  }
}
