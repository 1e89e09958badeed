/**
 * The local fleet's control API: wire types and input schemas, shared by the fleet supervisor
 * (server/fleet/control-api.ts) and its clients (server/providers/local/control-client.ts).
 *
 * JSON over HTTP on loopback (`127.0.0.1:${ROTOR_CONTROL_PORT:-LB port + 1}`), never on the proxied port.
 * Every error answers `{ error: { code, message } }` with a 4xx/5xx status and changes nothing.
 */
import { z } from "zod";
import type { HookName } from "@/lib/rollout/types";
import { versionSchema } from "@/lib/validation/version";
import type { HookResult, InstanceView, LoadBalancerSummary, TrafficStats } from "@/server/providers/types";

/** The local fleet's default load balancer, in front of every instance (`/lb/local` in the dashboard). */
export const LOCAL_LB_NAME = "local";
/** The second balancer, in front of some of the same instances (ROTOR_INTERNAL_INSTANCES, LB port + 2). */
export const LOCAL_INTERNAL_LB_NAME = "local-internal";
/** Every name a local balancer can have (the second one exists only when configured). */
export const LOCAL_LB_NAMES: readonly string[] = [LOCAL_LB_NAME, LOCAL_INTERNAL_LB_NAME];

export const API_PREFIX = "/v1";

/** lib's one version rule (it also keeps "." and ".." out, since a version names a release folder). */
export { versionSchema } from "@/lib/validation/version";
export const instanceIdSchema = z.string().min(1).max(64);

export const idsBodySchema = z.object({ ids: z.array(instanceIdSchema).min(1).max(1000) }).strict();

/** `GET /v1/load-balancers/{lb}/backends/stats?ids=a,b`: the ids (comma-separated), or every backend without. */
export const backendStatsQuerySchema = z.object({ ids: z.array(instanceIdSchema).min(1).max(1000).optional() }).strict();

export const HOOK_NAMES = ["stop", "deploy", "start", "verify"] as const satisfies readonly HookName[];

export const hookBodySchema = z
  .object({
    ids: z.array(instanceIdSchema).min(1).max(1000),
    params: z.object({ version: versionSchema }).strict(),
    /** Whole-hook deadline; `stop` uses it as the graceful period before a forced stop. */
    timeoutMs: z.number().int().min(100).max(3_600_000).optional(),
  })
  .strict();

export const settingsBodySchema = z
  .object({
    drainTimeoutMs: z.number().int().min(0).max(3_600_000).optional(),
    healthCheck: z
      .object({
        intervalMs: z.number().int().min(50).max(300_000).optional(),
        timeoutMs: z.number().int().min(20).max(60_000).optional(),
        healthyThreshold: z.number().int().min(1).max(10).optional(),
        unhealthyThreshold: z.number().int().min(1).max(10).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const trafficBodySchema = z
  .object({
    enabled: z.boolean().optional(),
    rps: z.number().min(0).max(5_000).optional(),
    /** Share of requests that go to `/slow` (0.5–3 s). */
    slowFraction: z.number().min(0).max(1).optional(),
    /** The generator stops by itself after this long (a bounded load for a test or a demo). */
    forMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .strict();

export const FAULT_KINDS = ["deploy-fails", "start-fails", "health-fails-after-start", "slow-drain", "backend-500", "slow-responses"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults the instance's web server applies to its own answers (never to /health): they may be limited to a version. */
export const APP_FAULT_KINDS: readonly FaultKind[] = ["backend-500", "slow-responses"];

export const faultBodySchema = z
  .object({
    kind: z.enum(FAULT_KINDS),
    instanceId: instanceIdSchema,
    /** `slow-drain`: how long the held request lasts (default 8 s, at most the instance's /slow bound). */
    holdMs: z.number().int().min(1).max(10_000).optional(),
    /** `slow-responses`: added to every answer but /health (default 500 ms). */
    delayMs: z.number().int().min(1).max(10_000).optional(),
    /** `backend-500`: the share of answers that are 500s (default 1: all of them). */
    rate: z.number().gt(0, { error: "rate must be more than 0 (clear the fault instead)" }).max(1).optional(),
    /**
     * `backend-500`, `slow-responses`: only while the instance serves this version (armed on every
     * instance, the fault follows a rollout: the instances on the new version misbehave, the others not).
     */
    onVersion: versionSchema.optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    const only = (field: "holdMs" | "delayMs" | "rate" | "onVersion", kinds: readonly FaultKind[]) => {
      if (f[field] !== undefined && !kinds.includes(f.kind)) ctx.addIssue({ code: "custom", path: [field], message: `${field} applies only to ${kinds.join(" and ")}, not ${f.kind}` });
    };
    only("holdMs", ["slow-drain"]);
    only("delayMs", ["slow-responses"]);
    only("rate", ["backend-500"]);
    only("onVersion", APP_FAULT_KINDS);
  });

/** `POST /v1/group/launch-version`: the release new instances start from (the launch template's version). */
export const launchVersionBodySchema = z.object({ version: versionSchema }).strict();
/** `POST /v1/group/desired-capacity`: within the group's min..max (checked by the group, which knows them). */
export const desiredCapacityBodySchema = z.object({ desiredCapacity: z.number().int().min(0).max(50) }).strict();
/** `POST /v1/group/terminate-instance`, like TerminateInstanceInAutoScalingGroup: decrementDesired is required, as there. */
export const terminateBodySchema = z.object({ instanceId: instanceIdSchema, decrementDesired: z.boolean() }).strict();

export type HookBody = z.infer<typeof hookBodySchema>;
export type SettingsBody = z.infer<typeof settingsBodySchema>;
export type TrafficBody = z.infer<typeof trafficBodySchema>;
export type FaultBody = z.infer<typeof faultBodySchema>;

/** A fault as it stands: one-shot kinds (deploy, start, slow-drain) disappear once they fire. */
export interface Fault {
  kind: FaultKind;
  instanceId: string;
  holdMs?: number;
  delayMs?: number;
  rate?: number;
  onVersion?: string;
  since: number;
  /** For `health-fails-after-start`: true once the instance has started and the balancer fails its checks. */
  active?: boolean;
}

export interface BackendCounters {
  inFlight: number;
  requests: number;
  /** Responses that came from the backend with a 5xx status. */
  backend5xx: number;
  /** 5xx the balancer itself produced for requests sent to this backend (502 connection failure, 504 timeout/drain cut). */
  lb5xx: number;
  /** Failures talking to the backend (refused, reset, timeout), whether or not a retry rescued them. */
  errors: number;
  retries: number;
  /** Requests cut because the drain timeout expired while they were in flight. */
  drainCut: number;
  clientAborts: number;
}

export interface DrainRecord {
  startedAt: number;
  endedAt: number | null;
  /** `idle`: nothing in flight at deregistration; `in-flight-zero`: the last request finished; `timeout`: the drain timeout cut the rest; `registered`: re-registered while draining. */
  reason: "idle" | "in-flight-zero" | "timeout" | "registered" | null;
  inFlightAtStart: number;
  /** When the last in-flight request to the backend completed (null if it was cut). */
  lastRequestDoneAt: number | null;
  /** What happened to requests still in flight at the timeout. */
  cut: { count: number; fate: string[] };
}

/** One instance as the control API describes it: the port's InstanceView plus the fleet's own detail. */
export interface ControlInstance extends InstanceView {
  port: number;
  registered: boolean;
  /** Whether the instance's web server process is running now. */
  running: boolean;
  pid: number | null;
  /** The release the instance will serve on its next start (differs from `version` between deploy and start). */
  deployedVersion: string;
  counters: BackendCounters;
  lastDrain: DrainRecord | null;
}

export interface LbTotals {
  requests: number;
  inFlight: number;
  backend5xx: number;
  /** 5xx produced by the balancer itself: 502/504 to a backend plus 503 when no backend is in service. */
  lb5xx: number;
  noBackend503: number;
  errors: number;
  retries: number;
  clientAborts: number;
}

export interface ControlLoadBalancer extends LoadBalancerSummary {
  /** What each instance runs: the Node demo server, or Apache httpd + mod_perl. */
  server: "node" | "apache";
  address: string;
  healthCheck: { path: string; intervalMs: number; timeoutMs: number; healthyThreshold: number; unhealthyThreshold: number };
  totals: LbTotals;
}

export interface LocalTrafficStats extends TrafficStats {
  enabled: boolean;
  targetRps: number;
  slowFraction: number;
  inFlight: number;
  /** Versions seen in successful responses since the last reset. */
  versions: Record<string, number>;
  /** The last few failures, newest last. */
  recentFailures: { at: number; kind: string; detail: string }[];
  since: number;
}

/** The generator's counters over every balancer, and each balancer's own (by name). */
export interface FleetTrafficStats extends LocalTrafficStats {
  loadBalancers: Record<string, LocalTrafficStats>;
}

/** A hook's result on the wire is the port's HookResult as it is. */
export type HookResultWire = HookResult;

export interface FleetInfo {
  pid: number;
  /** The default balancer's URL; `lbUrls` has every balancer's, by name. */
  lbUrl: string;
  lbUrls: Record<string, string>;
  controlUrl: string;
  dataDir: string;
  initialVersion: string;
  /** Pids of every process the supervisor started (balancer, instances), for leak checks. */
  childPids: number[];
}

/** An instance's life in the group, as Auto Scaling names it (Terminated ones leave the list). */
export type GroupLifecycleState = "Pending" | "InService" | "Terminating";

export interface GroupInstance {
  id: string;
  lifecycleState: GroupLifecycleState;
  zone: string;
  port: number;
  /** The launch version it started from (the fleet's initial instances: the release they served at boot). */
  launchVersion: string;
  /** What its process serves now (null when stopped); an in-place deploy makes it differ from launchVersion. */
  version: string | null;
  launchedAt: number;
}

export interface GroupActivity {
  /** In order of start, never reused. */
  id: number;
  kind: "launch" | "terminate";
  instanceId: string;
  /** Why, in Auto Scaling's words ("an instance was taken out of service in response to a user request …"). */
  cause: string;
  status: "InProgress" | "Successful" | "Failed";
  /** What went wrong, for a Failed activity. */
  statusMessage?: string;
  startedAt: number;
  endedAt: number | null;
}

export interface GroupView {
  name: string;
  minSize: number;
  desiredCapacity: number;
  maxSize: number;
  launchVersion: string;
  /** The balancers that new instances join (every balancer an instance is in is left when it terminates). */
  loadBalancers: string[];
  instances: GroupInstance[];
  /** The most recent first (the last 100). */
  activities: GroupActivity[];
}

/** What the supervisor tells an instance's process of the faults on its own answers (IPC `{ type: "fault", … }`). */
export interface AppFaults {
  backend500: { rate: number; onVersion?: string } | null;
  slow: { delayMs: number; onVersion?: string } | null;
}

export interface ApiError {
  error: { code: string; message: string };
}
