/**
 * The local fleet's settings, from the environment (the same names README.md and server/fleet/README.md
 * document: keep them stable).
 *
 * | variable | default |
 * | --- | --- |
 * | ROTOR_LB_PORT | 8080 (balancer, 127.0.0.1) |
 * | ROTOR_CONTROL_PORT | LB port + 1 (control API, 127.0.0.1) |
 * | ROTOR_INTERNAL_INSTANCES | 3: the first N instances are also behind the second balancer `local-internal`; 0: no second balancer |
 * | ROTOR_INTERNAL_LB_PORT | LB port + 2 (the `local-internal` balancer, 127.0.0.1) |
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
 * | ROTOR_TRAFFIC_INTERNAL_SHARE | 0.25 (share of the demo traffic sent through `local-internal`) |
 * | ROTOR_FLEET_SERVER | node; `apache`: each instance a real Apache httpd + mod_perl (apache/instances.ts) |
 * | ROTOR_APACHE_WORKERS | 48 prefork children per Apache instance, all forked at start; the balancers in front of it keep 4 fewer connections between them |
 * | ROTOR_GROUP_MIN | 1 (the local Auto Scaling group's minimum capacity; its desired capacity starts at ROTOR_INSTANCES) |
 * | ROTOR_GROUP_MAX | ROTOR_INSTANCES + 2 (room for a surge of two; at most 50) |
 */
import path from "node:path";
import { z } from "zod";
import { LOCAL_INTERNAL_LB_NAME, LOCAL_LB_NAME, versionSchema } from "./protocol";
import { DEFAULT_HEALTH_CHECK, type HealthCheckSettings } from "./health";

export const FLEET_SERVERS = ["node", "apache"] as const;
export type FleetServer = (typeof FLEET_SERVERS)[number];

/** One balancer of the local fleet: its name (`/lb/{name}`), its port, and which instances are behind it. */
export interface BalancerConfig {
  name: string;
  port: number;
  instanceIds: string[];
}

export interface FleetConfig {
  server: FleetServer;
  lbPort: number;
  controlPort: number;
  /** The default balancer (`local`, every instance) first, then `local-internal` when it has instances. */
  balancers: BalancerConfig[];
  instances: number;
  /** null: pick free ports. */
  instanceBasePort: number | null;
  dataDir: string;
  fleetDir: string;
  initialVersion: string;
  drainTimeoutMs: number;
  healthCheck: HealthCheckSettings;
  stopTimeoutMs: number;
  /** How long `start` waits for a new instance process to listen, whatever the hook's own timeout. */
  startTimeoutMs: number;
  deployDelayMs: number;
  /** The local Auto Scaling group's capacity bounds (its desired capacity starts at `instances`). */
  group: { min: number; max: number };
  /** `internalShare`: the part of the requests sent through `local-internal` (when there is one). */
  traffic: { enabled: boolean; rps: number; slowFraction: number; internalShare: number };
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

/**
 * Every instance is behind `local`; the first `internal` of them are also behind `local-internal`, so a
 * rollout on either balancer touches instances the other one still sends requests to.
 */
function balancersOf(env: Record<string, string | undefined>, lbPort: number, controlPort: number, instances: number): BalancerConfig[] {
  const all = Array.from({ length: instances }, (_, i) => instanceId(i));
  const local: BalancerConfig = { name: LOCAL_LB_NAME, port: lbPort, instanceIds: all };
  const raw = env.ROTOR_INTERNAL_INSTANCES;
  const internal = raw === undefined ? Math.min(3, instances) : z.coerce.number({ error: "ROTOR_INTERNAL_INSTANCES must be a number" }).int().min(0).max(instances, { error: `ROTOR_INTERNAL_INSTANCES must be at most ROTOR_INSTANCES (${instances})` }).parse(raw);
  if (internal === 0) return [local];
  // A fixed port: the traffic generator and the dashboard's description need it before the balancer listens.
  const internalPort = port.min(1, { error: "ROTOR_INTERNAL_LB_PORT must be a port number (1-65535)" }).parse(env.ROTOR_INTERNAL_LB_PORT ?? lbPort + 2);
  if (internalPort === lbPort || internalPort === controlPort) {
    throw new Error(`ROTOR_INTERNAL_LB_PORT (${internalPort}) must differ from ROTOR_LB_PORT (${lbPort}) and ROTOR_CONTROL_PORT (${controlPort})`);
  }
  return [local, { name: LOCAL_INTERNAL_LB_NAME, port: internalPort, instanceIds: all.slice(0, internal) }];
}

/** min ≤ ROTOR_INSTANCES ≤ max, so the group starts within its own bounds. */
function groupOf(env: Record<string, string | undefined>, instances: number): FleetConfig["group"] {
  const min = z.coerce.number({ error: "ROTOR_GROUP_MIN must be a number" }).int().min(0).max(instances, { error: `ROTOR_GROUP_MIN must be at most ROTOR_INSTANCES (${instances})` }).parse(env.ROTOR_GROUP_MIN ?? Math.min(1, instances));
  const max = z.coerce.number({ error: "ROTOR_GROUP_MAX must be a number" }).int().min(instances, { error: `ROTOR_GROUP_MAX must be at least ROTOR_INSTANCES (${instances})` }).max(50, { error: "ROTOR_GROUP_MAX must be at most 50" }).parse(env.ROTOR_GROUP_MAX ?? Math.min(50, instances + 2));
  return { min, max };
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
      balancers: balancersOf(env, lbPort, controlPort, instances),
      instances,
      instanceBasePort,
      dataDir,
      fleetDir: path.join(dataDir, "fleet"),
      initialVersion: versionSchema.parse(env.ROTOR_INITIAL_VERSION ?? "1.0.0"),
      drainTimeoutMs: z.coerce.number().int().min(0).max(3_600_000).parse(env.ROTOR_DRAIN_TIMEOUT_MS ?? 30_000),
      healthCheck: { ...DEFAULT_HEALTH_CHECK, ...health },
      group: groupOf(env, instances),
      stopTimeoutMs: z.coerce.number().int().min(100).parse(env.ROTOR_STOP_TIMEOUT_MS ?? 30_000),
      startTimeoutMs: z.coerce.number().int().min(1_000).max(600_000).parse(env.ROTOR_START_TIMEOUT_MS ?? 60_000),
      deployDelayMs: z.coerce.number().int().min(0).max(60_000).parse(env.ROTOR_DEPLOY_DELAY_MS ?? 200),
      traffic: {
        enabled: (env.ROTOR_TRAFFIC ?? "on") !== "off",
        rps,
        slowFraction: z.coerce.number().min(0).max(1).parse(env.ROTOR_TRAFFIC_SLOW_FRACTION ?? 0.25),
        internalShare: z.coerce
          .number()
          .min(0, { error: "ROTOR_TRAFFIC_INTERNAL_SHARE must be between 0 and 1" })
          .max(1, { error: "ROTOR_TRAFFIC_INTERNAL_SHARE must be between 0 and 1" })
          .parse(env.ROTOR_TRAFFIC_INTERNAL_SHARE ?? 0.25),
      },
    };
  } catch (cause) {
    throw new Error("the local fleet's configuration is invalid", { cause });
  }
}
