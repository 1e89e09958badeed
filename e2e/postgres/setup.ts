/**
 * Global setup of the replicas spec: a throwaway PostgreSQL cluster, the local fleet on its own
 * (4 instances, 200 req/s of keep-alive traffic), and two dashboard replicas — `next start` processes,
 * each under a hostname of its own as on two machines — on that one database, with the same operators
 * and the same secrets key. Builds the dashboard first when the build is missing or stale, so this
 * config also runs alone. What the spec needs is handed over in the environment (workers inherit it);
 * the returned teardown stops every process by its pid.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { hashPasswordSync } from "@/server/auth/password";
import { needsBuild } from "@/server/cli/build-check";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { assertOtherHostWorks } from "@/server/testing/other-host";
import { startPostgres, type TestPostgres } from "@/server/testing/postgres";
import { startDashboardReplica, type ReplicaProcess } from "@/server/testing/replicas";
import { E2E_USERS } from "../users";
import { REPLICA_HOSTS, replicaSettings } from "./settings";

const root = path.resolve(__dirname, "..", "..");

export default async function globalSetup(): Promise<() => Promise<void>> {
  const { ports, dataDir } = replicaSettings();
  assertOtherHostWorks();
  if (needsBuild(root)) {
    console.log("postgres e2e: building the dashboard (no build, or sources changed since)…");
    const r = spawnSync(process.execPath, [path.join(root, "node_modules", "next", "dist", "bin", "next"), "build"], { cwd: root, stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" }, timeout: 600_000 });
    if (r.status !== 0) throw new Error(`next build failed (${r.error ? String(r.error) : `exit ${r.status ?? r.signal}`})`);
  }
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  let pg: TestPostgres | null = null;
  let fleet: LocalFleetHandle | null = null;
  const replicas: ReplicaProcess[] = [];
  const teardown = async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await fleet?.stop();
    await pg?.stop();
  };
  try {
    pg = await startPostgres();
    const databaseUrl = await pg.createDatabase("rotor_replicas");
    fleet = await startLocalFleet({ instances: 4, dataDir: path.join(dataDir, "fleet"), trafficRps: 200, readyTimeoutMs: 60_000 });
    const operators = Object.entries(E2E_USERS).map(([name, u]) => ({ name, role: u.role, passwordHash: hashPasswordSync(u.password, { N: 2 ** 14, r: 8, p: 1 }) }));
    const shared: NodeJS.ProcessEnv = {
      ...process.env,
      ROTOR_DATABASE_URL: databaseUrl,
      ROTOR_PROVIDER: "local",
      ROTOR_CONTROL_URL: fleet.controlUrl,
      ROTOR_CONTROL_SECRET_FILE: fleet.secretFile,
      ROTOR_OPERATORS: JSON.stringify(operators),
      // One key for both: a webhook sealed on one replica is opened by the other.
      ROTOR_SECRETS_KEY: randomBytes(32).toString("base64"),
      // Batch analysis only where a spec asks for a window: the default 60 s would add a minute to every batch.
      ROTOR_ANALYSIS_WINDOW_SEC: "0",
      ROTOR_LOG_LEVEL: process.env.ROTOR_LOG_LEVEL ?? "warn",
      // Default lease settings (6 s, renewed every 2 s): the spec measures the takeover they give.
      ROTOR_LEASE_MS: "",
      ROTOR_LEASE_RENEW_MS: "",
    };
    // One at a time: both run the migrations at open (safe together, but a cold start of two Next
    // servers at once on a loaded 2-core machine only slows both).
    for (const [i, host] of REPLICA_HOSTS.entries()) {
      const port = ports[i] as number;
      replicas.push(await startDashboardReplica({ host, port, env: { ...shared, ROTOR_DATA_DIR: path.join(dataDir, host) } }));
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  const [a, b] = replicas as [ReplicaProcess, ReplicaProcess];
  process.env.ROTOR_PG_E2E_STATE = JSON.stringify({ pids: [a.pid, b.pid], controlUrl: fleet.controlUrl, secretFile: fleet.secretFile });
  return teardown;
}
