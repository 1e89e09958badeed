/**
 * The local provider: the embedded fleet (server/fleet) seen through its control API only,
 * as the AWS provider sees ELB and SSM through theirs. One HTTP call per refresh.
 *
 * The fleet has one or two balancers (`local`, and `local-internal` in front of some of the same
 * instances); each keeps its own registrations, so a deregistration from one leaves the other serving.
 * Hooks act on instances, whichever balancer named them.
 */
import { LATENCY_BOUNDS_MS } from "@/lib/analysis";
import type { HookName } from "@/lib/rollout/types";
import { VERSION_MESSAGE, isVersion } from "@/lib/validation/version";
import {
  ProviderError,
  type HookOptions,
  type HookParams,
  type HookResult,
  type InstanceView,
  type LoadBalancerProvider,
  type LoadBalancerSummary,
  type TrafficStats,
} from "@/server/providers/types";
import { LOCAL_LB_NAMES, faultBodySchema, type ControlInstance } from "@/server/fleet/protocol";
import { ControlClient, defaultControlUrl, type SecretSource } from "./control-client";
import { localGroups } from "./groups";

export { ControlClient, createControlClient, defaultControlUrl } from "./control-client";
export { LOCAL_INTERNAL_LB_NAME, LOCAL_LB_NAME } from "@/server/fleet/protocol";

export interface LocalProviderOptions {
  /** Default: `ROTOR_CONTROL_URL`, else `http://127.0.0.1:${ROTOR_CONTROL_PORT:-ROTOR_LB_PORT+1}`. */
  controlUrl?: string;
  /** The control API's secret; default: the file the fleet writes (see server/fleet/control-secret.ts). */
  controlSecret?: SecretSource;
  /** Per-call timeout for everything but hooks (hooks use their own timeout plus a margin). Default 5 s. */
  requestTimeoutMs?: number;
}

/** Hooks answer when done; allow the fleet this much beyond the hook's own timeout to report. */
const HOOK_MARGIN_MS = 5_000;

function toView(i: ControlInstance): InstanceView {
  const view: InstanceView = {
    id: i.id,
    zone: i.zone,
    state: i.state,
    description: i.description,
    inFlight: i.inFlight,
    version: i.version,
  };
  if (i.version !== null) view.versionSource = "instance";
  if (i.name !== undefined) view.name = i.name;
  if (i.reasonCode !== undefined) view.reasonCode = i.reasonCode;
  if (i.healthCheck !== undefined) view.healthCheck = i.healthCheck;
  if (i.address !== undefined) view.address = i.address;
  if (typeof i.pid === "number") view.pid = i.pid;
  if (i.alsoIn !== undefined) view.alsoIn = [...i.alsoIn];
  return view;
}

export function createLocalProvider(options: LocalProviderOptions = {}): LoadBalancerProvider {
  const client = options.controlSecret ? new ControlClient(options.controlUrl ?? defaultControlUrl(), options.controlSecret) : new ControlClient(options.controlUrl ?? defaultControlUrl());
  const timeoutMs = options.requestTimeoutMs;

  // A name no local balancer can have is refused without a call; a configured-away `local-internal`
  // is refused by the fleet (404 → NOT_FOUND).
  function check(lb: string) {
    if (!LOCAL_LB_NAMES.includes(lb)) throw new ProviderError("NOT_FOUND", `the local fleet has no load balancer "${lb}"; its balancers are named ${LOCAL_LB_NAMES.map((n) => `"${n}"`).join(" or ")}`);
  }

  return {
    name: "local",
    groups: localGroups(client, timeoutMs),
    async listLoadBalancers(): Promise<LoadBalancerSummary[]> {
      const lbs = await client.loadBalancers({ timeoutMs });
      return lbs
        .filter((lb) => LOCAL_LB_NAMES.includes(lb.name))
        .map((lb) => ({ name: lb.name, provider: "local", kind: "local", drainTimeoutMs: lb.drainTimeoutMs, description: lb.description, server: lb.server }));
    },
    async describeInstances(lb: string): Promise<InstanceView[]> {
      check(lb);
      return (await client.instances(lb, { timeoutMs })).map(toView);
    },
    async memberships(ids: string[]): Promise<Record<string, string[]>> {
      // One call answers for every balancer: the same moment for all of them.
      let all: Record<string, string[]>;
      try {
        all = await client.memberships({ timeoutMs });
      } catch (cause) {
        if (cause instanceof ProviderError) throw new ProviderError(cause.code, `cannot tell which load balancers ${ids.join(", ")} are registered in: ${cause.message}`, { cause });
        throw cause;
      }
      return Object.fromEntries(ids.map((id) => [id, [...(all[id] ?? [])]]));
    },
    async drainTimeoutMs(lb: string): Promise<number> {
      check(lb);
      return (await client.loadBalancer(lb, { timeoutMs })).drainTimeoutMs;
    },
    async deregister(lb: string, ids: string[]): Promise<void> {
      check(lb);
      if (ids.length === 0) return;
      await client.deregister(lb, ids, { timeoutMs });
    },
    async register(lb: string, ids: string[]): Promise<void> {
      check(lb);
      if (ids.length === 0) return;
      await client.register(lb, ids, { timeoutMs });
    },
    // `lb` only says which rollout asked: the fleet runs hooks on instances, whichever balancers they are behind.
    async runHook(lb: string, ids: string[], hook: HookName, params: HookParams, hookOptions: HookOptions): Promise<HookResult[]> {
      // onSent / resume are ignored: the local fleet has no command to poll, runs one hook at a time
      // per instance, and a re-run waits for an abandoned run still in progress, so running again is safe.
      check(lb);
      // At the port boundary, before anything is sent: the fleet checks again, but nothing relies on it.
      if (!isVersion(params.version)) throw new ProviderError("INVALID_INPUT", `version ${JSON.stringify(params.version).slice(0, 140)} is not allowed: ${VERSION_MESSAGE}`);
      if (ids.length === 0) return [];
      const results = await client.runHook(
        hook,
        { ids, params: { version: params.version }, timeoutMs: hookOptions.timeoutMs },
        { timeoutMs: hookOptions.timeoutMs + HOOK_MARGIN_MS, signal: hookOptions.signal },
      );
      return results.map((r) => {
        const result: HookResult = { id: r.id, ok: r.ok, exitCode: r.exitCode, durationMs: r.durationMs, outputTail: r.outputTail };
        if (r.observedVersion !== undefined) result.observedVersion = r.observedVersion;
        return result;
      });
    },
    async trafficStats(lb: string): Promise<TrafficStats | null> {
      check(lb);
      const t = await client.lbTraffic(lb, { timeoutMs });
      return { at: t.at, requests: t.requests, ok: t.ok, failed: t.failed, failuresByKind: t.failuresByKind, ratePerSec: t.ratePerSec };
    },
    analysis: {
      async snapshot(lb, ids) {
        check(lb);
        if (ids !== undefined && ids.length === 0) return { lb, at: Date.now(), boundsMs: [...LATENCY_BOUNDS_MS], backends: {} };
        return client.backendStats(lb, ids, { timeoutMs });
      },
    },
    faults: {
      list: () => client.faults({ timeoutMs }),
      inject: (fault) => client.injectFault(faultBodySchema.parse(fault), { timeoutMs }),
      clear: () => client.clearFaults({ timeoutMs }),
    },
    async close() {},
  };
}
