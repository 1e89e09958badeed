/**
 * The local fleet's settings, from the environment (the same names README.md and server/fleet/README.md
 * document: keep them stable).
 *
 * | variable | default |
 * | --- | --- |
 * | ROTOR_LB_PORT | 8080 (balancer, 127.0.0.1) |
 * | ROTOR_CONTROL_PORT | LB port + 1 (control API, 127.0.0.1) |
 * | ROTOR_INSTANCES | 5 (`i-local-1`…, zones local-a/b/c) |
 * | ROTOR_INSTANCE_BASE_PORT | LB port + 11 (instance n on base + n − 1); `auto`: free ports |
 * | ROTOR_DATA_DIR | .rotor (releases under `fleet/`) |
 * | ROTOR_INITIAL_VERSION | 1.0.0 |
 * | ROTOR_DRAIN_TIMEOUT_MS | 30000 |
 * | ROTOR_HEALTH_CHECK | JSON `{intervalMs,timeoutMs,healthyThreshold,unhealthyThreshold}`, default 1000/800/2/2 |
 * | ROTOR_STOP_TIMEOUT_MS | 30000 (graceful stop before SIGKILL, when the hook gives no timeout) |
 * | ROTOR_DEPLOY_DELAY_MS | 200 (a deploy's pretend work) |
 * | ROTOR_TRAFFIC | on (`off` disables the generator) |
 * | ROTOR_TRAFFIC_RPS | 20 |
 * | ROTOR_FLEET_SERVER | node; `apache`: each instance a real Apache httpd + mod_perl (apache/instances.ts) |
 * | ROTOR_APACHE_WORKERS | 48 prefork children per Apache instance, all forked at start; the balancer keeps 4 fewer connections |
 */
import path from "node:path";
import { z } from "zod";
import { versionSchema } from "./protocol";
import { DEFAULT_HEALTH_CHECK, type HealthCheckSettings } from "./health";

export const FLEET_SERVERS = ["node", "apache"] as const;
export type FleetServer = (typeof FLEET_SERVERS)[number];

export interface FleetConfig {
  server: FleetServer;
  lbPort: number;
  controlPort: number;
  instances: number;
  /** null: pick free ports. */
  instanceBasePort: number | null;
  dataDir: string;
  fleetDir: string;
  initialVersion: string;
  drainTimeoutMs: number;
  healthCheck: HealthCheckSettings;
  stopTimeoutMs: number;
  deployDelayMs: number;
  traffic: { enabled: boolean; rps: number; slowFraction: number };
}

const port = z.coerce.number().int().min(0).max(65_535);
const healthSchema = z
  .object({
    intervalMs: z.number().int().min(50).optional(),
    timeoutMs: z.number().int().min(20).optional(),
    healthyThreshold: z.number().int().min(1).max(10).optional(),
    unhealthyThreshold: z.number().int().min(1).max(10).optional(),
  })
  .strict();

export function zoneOf(index: number, count: number): string {
  const zones = count >= 3 ? ["local-a", "local-b", "local-c"] : ["local-a", "local-b"];
  return zones[index % zones.length] ?? "local-a";
}

export function instanceId(index: number): string {
  return `i-local-${index + 1}`;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): FleetConfig {
  try {
    const lbPort = port.parse(env.ROTOR_LB_PORT ?? 8080);
    const controlPort = port.parse(env.ROTOR_CONTROL_PORT ?? lbPort + 1);
    const instances = z.coerce.number().int().min(1).max(50).parse(env.ROTOR_INSTANCES ?? 5);
    const base = env.ROTOR_INSTANCE_BASE_PORT ?? String(lbPort + 11);
    const instanceBasePort = base === "auto" || base === "0" ? null : port.parse(base);
    const dataDir = path.resolve(env.ROTOR_DATA_DIR ?? ".rotor");
    const health = env.ROTOR_HEALTH_CHECK ? healthSchema.parse(JSON.parse(env.ROTOR_HEALTH_CHECK)) : {};
    const rps = z.coerce.number().min(0).max(5_000).parse(env.ROTOR_TRAFFIC_RPS ?? 20);
    return {
      server: z.enum(FLEET_SERVERS, { error: "ROTOR_FLEET_SERVER must be node or apache" }).parse(env.ROTOR_FLEET_SERVER ?? "node"),
      lbPort,
      controlPort,
      instances,
      instanceBasePort,
      dataDir,
      fleetDir: path.join(dataDir, "fleet"),
      initialVersion: versionSchema.parse(env.ROTOR_INITIAL_VERSION ?? "1.0.0"),
      drainTimeoutMs: z.coerce.number().int().min(0).max(3_600_000).parse(env.ROTOR_DRAIN_TIMEOUT_MS ?? 30_000),
      healthCheck: { ...DEFAULT_HEALTH_CHECK, ...health },
      stopTimeoutMs: z.coerce.number().int().min(100).parse(env.ROTOR_STOP_TIMEOUT_MS ?? 30_000),
      deployDelayMs: z.coerce.number().int().min(0).max(60_000).parse(env.ROTOR_DEPLOY_DELAY_MS ?? 200),
      traffic: { enabled: (env.ROTOR_TRAFFIC ?? "on") !== "off", rps, slowFraction: z.coerce.number().min(0).max(1).parse(env.ROTOR_TRAFFIC_SLOW_FRACTION ?? 0.25) },
    };
  } catch (cause) {
    throw new Error("the local fleet's configuration is invalid", { cause });
  }
}
