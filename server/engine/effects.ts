/**
 * Performing one effect through the provider port and saying how it ended, as the engine event
 * that reports it. Every effect here is safe to perform again after a crash, and the engine does
 * exactly that for an effect the log shows started but not reported (recording first, in
 * `engine-resumed`, what the provider reports for its instances):
 * - deregister / register: idempotent at the port (deregistering a deregistered instance succeeds),
 *   at every load balancer the instances served when the rollout was planned (`alsoIn`).
 * - waitDrain / waitInService: observations on the shared monitor, at each of those load balancers
 *   at once; a resumed wait keeps its original deadline (with at least 5 s to decide on a fresh look).
 * - hooks run exactly once while their command may still run: a provider that has commands (SSM)
 *   reports each one through `onSent`, recorded as `hook-sent` before it is waited on; a resumed
 *   hook hands them back (`resume`), so the provider polls them instead of sending again, and a
 *   transient error after a command was sent is never retried here (the provider itself rides out
 *   polling errors until the hook's timeout). Beyond that, hooks are idempotent by contract, so a
 *   hook whose command has ended, or that has no command, is run again:
 *   stop: stopping a stopped server succeeds ("already stopped");
 *   deploy: deploying the release the instance already points to selects it again;
 *   start: starting a running server succeeds ("already running");
 *   verify: reads only (health and version), and decides the step on what it reads now.
 *   The local fleet runs one hook at a time per instance, so a re-run waits for an abandoned run
 *   still in progress; SSM hook documents must keep the same contract.
 * Transient provider errors are retried with backoff (each retry noted); the rest become failures.
 */
import type { Logger } from "pino";
import { HOOK_REFUSED_EXIT, type Effect, type InstanceStepResult } from "@/lib/rollout/types";
import type { InfoEventType } from "@/lib/views";
import type { InstanceView, LoadBalancerProvider, ScalingGroupState, SentCommand } from "@/server/providers/types";
import { ProviderError } from "@/server/providers/types";
import { WaitTimeoutError, type FleetMonitor, type FleetSnapshot } from "@/server/monitor";
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from "./retry";

export type PerformableEffect = Extract<Effect, { type: "deregister" | "waitDrain" | "runHook" | "register" | "waitInService" }>;

export interface EffectContext {
  lb: string;
  provider: LoadBalancerProvider;
  monitor: FleetMonitor;
  signal: AbortSignal;
  log: Logger;
  /** When the effect was first started: a resumed wait keeps its original deadline. */
  startedAt: number;
  /** Started by an earlier engine (this one resumes it after a restart). */
  resumed: boolean;
  /** Records an engine fact (a retry, progress of a wait) in the rollout's log. */
  note(type: InfoEventType, payload: Record<string, unknown>): void;
  /** Hook commands the log shows were sent for this effect (its `hook-sent` notes), oldest first. */
  sentCommands?: SentCommand[];
  retry?: RetryPolicy;
  /**
   * The other load balancers an instance was registered in when the rollout started (its plan):
   * deregister, drain, register and in-service cover every one of them, not only `lb`.
   */
  alsoIn?(id: string): readonly string[];
  /** Replace: a fresh read of the rollout's Auto Scaling group, whose new activities go on the timeline. */
  groupSeen?(group: ScalingGroupState): void;
  /** False once this engine may no longer act for the rollout (its lease is gone): no call is made then. */
  mayAct?(): boolean;
}

/** The engine lost the rollout's lease: the call was not made. */
export class LeaseLost extends Error {
  constructor(what: string) {
    super(`${what} not performed: this engine no longer holds the rollout's lease`);
    this.name = "LeaseLost";
  }
}

/** The instances of an effect grouped by load balancer: the rollout's own first, then the others by name. */
export function byLoadBalancer(ids: readonly string[], ctx: Pick<EffectContext, "lb" | "alsoIn">): Map<string, string[]> {
  const groups = new Map<string, string[]>([[ctx.lb, [...ids]]]);
  const others = new Map<string, string[]>();
  for (const id of ids) {
    for (const other of ctx.alsoIn?.(id) ?? []) {
      if (other === ctx.lb) continue;
      const list = others.get(other) ?? [];
      list.push(id);
      others.set(other, list);
    }
  }
  for (const name of [...others.keys()].sort()) groups.set(name, others.get(name)!);
  return groups;
}

export type EffectOutcome =
  | { type: "step-succeeded"; results?: InstanceStepResult[]; details?: Record<string, unknown> }
  | { type: "step-failed"; results: InstanceStepResult[]; message: string; details?: Record<string, unknown> }
  | { type: "step-timed-out"; ids: string[]; message: string; details?: Record<string, unknown> };

export const DEFAULT_HOOK_TIMEOUT_MS: Record<string, number> = { stop: 120_000, deploy: 300_000, start: 120_000, verify: 60_000 };
/** A resumed wait gets at least this long, so it decides on a fresh look at the fleet. */
const MIN_RESUMED_WAIT_MS = 5_000;
/** The balancer ends a drain at its own timeout; allow it this long past that to report it. */
const DRAIN_REPORT_GRACE_MS = 3_000;

function describe(i: InstanceView | undefined, id: string): string {
  if (!i) return `${id} not listed by the load balancer`;
  const inFlight = i.inFlight === null ? "" : `, ${i.inFlight} in flight`;
  return `${id} ${i.state} (${i.description})${inFlight}`;
}

function byId(s: FleetSnapshot): Map<string, InstanceView> {
  return new Map(s.instances.map((i) => [i.id, i]));
}

/** Drained: no longer registered nor draining (absent counts: deregistered targets may not be listed), nothing in flight where known. */
export function isDrained(i: InstanceView | undefined): boolean {
  if (!i) return true;
  return i.state === "out-of-service" && (i.inFlight === null || i.inFlight === 0);
}

function failure(ids: string[], message: string): EffectOutcome {
  return { type: "step-failed", results: ids.map((id) => ({ id, ok: false, message })), message };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A transient error after a hook's command was sent: not for `retrying` (it would send the hook again). */
class AfterSend extends Error {
  constructor(readonly original: unknown) {
    super(errorMessage(original), { cause: original });
  }
}

/** Runs `fn` with retries of transient errors; a final transient failure says how many attempts were made. */
export async function retrying<T>(what: string, ctx: EffectContext, fn: () => Promise<T>): Promise<T> {
  let attempts = 0;
  try {
    return await withRetry(
      () => {
        if (ctx.mayAct && !ctx.mayAct()) throw new LeaseLost(what);
        attempts++;
        return fn();
      },
      {
        policy: ctx.retry ?? DEFAULT_RETRY,
        signal: ctx.signal,
        onRetry: (n) => {
          ctx.log.warn({ retry: n }, `${what}: transient provider error, retrying`);
          ctx.note("step-retry", { what, attempt: n.attempt, of: n.of, delayMs: n.delayMs, code: n.code, message: n.message });
        },
      },
    );
  } catch (err) {
    if (err instanceof ProviderError && err.transient && attempts > 1) {
      throw new ProviderError(err.code, `gave up after ${attempts} attempts: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** Waits on the shared monitor until `done` holds for every id, noting state changes as progress. */
async function waitFleet(
  lb: string,
  ids: readonly string[],
  effect: Extract<Effect, { type: "waitDrain" | "waitInService" }>,
  ctx: EffectContext,
  done: (i: InstanceView | undefined) => boolean,
  timeoutMs: number,
  graceMs = 0,
): Promise<EffectOutcome> {
  const what = effect.type === "waitDrain" ? "drain" : "in-service";
  const at = lb === ctx.lb ? "" : ` at ${lb}`;
  const deadline = ctx.startedAt + timeoutMs + graceMs;
  const remaining = ctx.resumed ? Math.max(MIN_RESUMED_WAIT_MS, deadline - Date.now()) : Math.max(0, deadline - Date.now());
  const seen = new Map<string, string>();
  const firstInFlight = new Map<string, number | null>();
  const onSnapshot = (s: FleetSnapshot) => {
    if (s.at === null) return;
    const map = byId(s);
    for (const id of ids) {
      const i = map.get(id);
      if (!firstInFlight.has(id)) firstInFlight.set(id, i?.inFlight ?? null);
      const line = i ? `${i.state}: ${i.description}` : "not listed";
      if (seen.get(id) !== line) {
        if (seen.has(id)) ctx.note("wait-progress", { wait: what, lb, instance: id, state: i?.state ?? null, description: i?.description ?? null, inFlight: i?.inFlight ?? null });
        seen.set(id, line);
      }
    }
  };
  try {
    const s = await ctx.monitor.waitFor(lb, (snap) => ids.every((id) => done(byId(snap).get(id))), {
      timeoutMs: remaining,
      signal: ctx.signal,
      onSnapshot,
    });
    const map = byId(s);
    return {
      type: "step-succeeded",
      results: ids.map((id) => ({ id, ok: true, durationMs: Date.now() - ctx.startedAt, message: `${describe(map.get(id), id)}${at}` })),
      details: { inFlightAtStart: Object.fromEntries(firstInFlight) },
    };
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    const map = byId(err.last);
    const pending = ids.filter((id) => !done(map.get(id)));
    const why = pending.map((id) => describe(map.get(id), id)).join("; ");
    const monitorError = err.last.lastError ? ` (last refresh failed: ${err.last.lastError.message})` : "";
    const grace = graceMs > 0 ? ` (+${graceMs} ms for the load balancer to report)` : "";
    return { type: "step-timed-out", ids: pending, message: `${what}${at} not finished within ${timeoutMs} ms${grace}: ${why}${monitorError}` };
  }
}

/**
 * Waits at every load balancer the effect's instances serve, at once. Each keeps its own drain
 * timeout where it is longer than the rollout's; the step succeeds when every one is done and
 * otherwise reports every instance still pending, with the load balancer it is pending at.
 */
async function waitEverywhere(
  effect: Extract<Effect, { type: "waitDrain" | "waitInService" }>,
  ctx: EffectContext,
  done: (i: InstanceView | undefined) => boolean,
  graceMs = 0,
): Promise<EffectOutcome> {
  const groups = [...byLoadBalancer(effect.ids, ctx)];
  const outcomes = await Promise.all(
    groups.map(async ([lb, ids]) => {
      let timeoutMs = effect.timeoutMs;
      if (lb !== ctx.lb && effect.type === "waitDrain") {
        timeoutMs = Math.max(timeoutMs, await ctx.provider.drainTimeoutMs(lb).catch(() => timeoutMs));
      }
      return waitFleet(lb, ids, effect, ctx, done, timeoutMs, graceMs);
    }),
  );
  if (outcomes.length === 1) return outcomes[0]!;
  const timedOut = outcomes.filter((o): o is Extract<EffectOutcome, { type: "step-timed-out" }> => o.type === "step-timed-out");
  if (timedOut.length > 0) {
    return { type: "step-timed-out", ids: [...new Set(timedOut.flatMap((o) => o.ids))], message: timedOut.map((o) => o.message).join(" | ") };
  }
  // Per instance: the last load balancer to report it done (the one it waited on longest).
  const results = new Map<string, InstanceStepResult>();
  const inFlightAtStart: Record<string, unknown> = {};
  groups.forEach(([lb], n) => {
    const o = outcomes[n]!;
    if (o.type !== "step-succeeded") return;
    for (const r of o.results ?? []) results.set(r.id, { ...r, message: results.has(r.id) ? `${results.get(r.id)!.message}; ${r.message}` : r.message });
    const seen = (o.details?.inFlightAtStart ?? {}) as Record<string, unknown>;
    for (const [id, v] of Object.entries(seen)) if (lb === ctx.lb || !(id in inFlightAtStart)) inFlightAtStart[id] = v;
  });
  return { type: "step-succeeded", results: effect.ids.map((id) => results.get(id)!), details: { inFlightAtStart, loadBalancers: groups.map(([lb]) => lb) } };
}

export async function performEffect(effect: PerformableEffect, ctx: EffectContext): Promise<EffectOutcome> {
  const { lb, provider } = ctx;
  switch (effect.type) {

    case "deregister":
    case "register": {
      // Every load balancer the instances serve: an instance left registered anywhere would get
      // requests while its server is stopped. Idempotent, so all of them again after a failure.
      const groups = [...byLoadBalancer(effect.ids, ctx)];
      const settled = await Promise.allSettled(
        groups.map(([name, ids]) => {
          const what = `${effect.type} ${ids.join(", ")}${name === lb ? "" : ` at ${name}`}`;
          return retrying(what, ctx, () => (effect.type === "deregister" ? provider.deregister(name, ids) : provider.register(name, ids))).catch((err: unknown) => {
            throw new Error(`${what} failed: ${errorMessage(err)}`, { cause: err });
          });
        }),
      );
      if (ctx.signal.aborted) throw new Error(`${effect.type} cancelled`);
      const failed = settled.flatMap((r) => (r.status === "rejected" ? [errorMessage(r.reason)] : []));
      // The next wait decides on a fresh read anyway; refreshing now also updates every viewer.
      for (const [name] of groups) void ctx.monitor.freshSnapshot(name).catch(() => undefined);
      if (failed.length > 0) return failure(effect.ids, failed.join("; "));
      if (groups.length === 1) return { type: "step-succeeded", results: effect.ids.map((id) => ({ id, ok: true })) };
      const at = (id: string) => groups.filter(([, ids]) => ids.includes(id)).map(([name]) => name);
      return { type: "step-succeeded", results: effect.ids.map((id) => ({ id, ok: true, message: `${effect.type}ed at ${at(id).join(", ")}` })) };
    }
    case "waitDrain":
      return waitEverywhere(effect, ctx, isDrained, DRAIN_REPORT_GRACE_MS);
    case "waitInService":
      return waitEverywhere(effect, ctx, (i) => i?.state === "in-service");
    case "runHook": {
      const timeoutMs = effect.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS[effect.hook] ?? 120_000;
      const what = `${effect.hook} hook on ${effect.ids.join(", ")}`;
      // Commands sent for this hook, by an earlier engine (from the log) or by this one: never sent again while they may run.
      const sent: SentCommand[] = [...(ctx.sentCommands ?? [])];
      const onSent = (command: SentCommand) => {
        sent.push(command);
        ctx.note("hook-sent", { hook: effect.hook, commandId: command.commandId, ids: command.ids });
      };
      let results;
      try {
        results = await retrying(what, ctx, async () => {
          const before = sent.length;
          try {
            return await provider.runHook(lb, effect.ids, effect.hook, effect.params, { timeoutMs, signal: ctx.signal, onSent, resume: sent.length > 0 ? [...sent] : undefined });
          } catch (err) {
            // Nothing was sent by this attempt (and earlier commands are resumed, not re-sent): safe to retry.
            if (sent.length > before) throw new AfterSend(err);
            throw err;
          }
        }).catch((err: unknown) => {
          throw err instanceof AfterSend ? err.original : err;
        });
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        if (err instanceof ProviderError && err.code === "TIMEOUT") {
          return { type: "step-timed-out", ids: effect.ids, message: `${what} did not finish within ${timeoutMs} ms: ${err.message}` };
        }
        // Refused before anything was sent (a version outside the rule): nothing changed on the instances.
        const unchanged = err instanceof ProviderError && err.code === "INVALID_INPUT";
        const message = `${what} failed: ${errorMessage(err)}`;
        return { type: "step-failed", results: effect.ids.map((id) => ({ id, ok: false, message, ...(unchanged ? { changed: false } : {}) })), message };
      }
      const stepResults: InstanceStepResult[] = results.map((r) => {
        let ok = r.ok;
        let message: string | undefined;
        if (ok && effect.hook === "verify" && r.observedVersion !== undefined && r.observedVersion !== effect.params.version) {
          ok = false;
          message = `answers version ${r.observedVersion}, expected ${effect.params.version}`;
        } else if (!ok) {
          message = `${effect.hook} exited with ${r.exitCode ?? "no exit status"}`;
        }
        const out: InstanceStepResult = { id: r.id, ok, exitCode: r.exitCode, durationMs: r.durationMs, outputTail: r.outputTail };
        if (message) out.message = message;
        // The hook refused its input before changing anything (hook scripts exit 64 for that).
        if (!r.ok && r.exitCode === HOOK_REFUSED_EXIT) out.changed = false;
        return out;
      });
      const failed = stepResults.filter((r) => !r.ok);
      if (failed.length === 0) return { type: "step-succeeded", results: stepResults };
      const message = `${effect.hook} failed on ${failed.map((r) => `${r.id} (${r.message})`).join(", ")}`;
      return { type: "step-failed", results: stepResults, message };
    }
  }
}
