/** Ports, data dir and host names of the replicas spec (its config, global setup and spec share them). */
import path from "node:path";

/** Replica A starts the rollout and is killed; replica B approves and takes over. */
export const REPLICA_HOSTS = ["replica-a", "replica-b"] as const;

export function replicaSettings(env: Record<string, string | undefined> = process.env) {
  const a = Number(env.ROTOR_E2E_PORT ?? 3100);
  const b = Number(env.ROTOR_E2E_PORT_B ?? a + 1);
  const base = path.resolve(env.ROTOR_E2E_DATA_DIR ?? ".rotor/e2e");
  return { ports: [a, b] as const, urls: [`http://127.0.0.1:${a}`, `http://127.0.0.1:${b}`] as const, dataDir: path.join(base, "postgres") };
}

/** What global setup hands the spec (in ROTOR_PG_E2E_STATE). */
export interface ReplicasState {
  pids: [number, number];
  controlUrl: string;
  secretFile: string;
}

export function replicasState(): ReplicasState {
  const raw = process.env.ROTOR_PG_E2E_STATE;
  if (!raw) throw new Error("ROTOR_PG_E2E_STATE is not set: run this spec with -c e2e/postgres/playwright.config.ts (its global setup starts the replicas)");
  return JSON.parse(raw) as ReplicasState;
}
