/**
 * Creating a rollout: plan against the fleet as the monitor sees it now, refuse an impossible plan,
 * and create the rollout with its `start` event in one transaction that also enforces one active
 * rollout per load balancer. The engine picks it up from the log within one poll.
 */
import { randomBytes } from "node:crypto";
import { planRollout, resolveBatchSize } from "@/lib/rollout/plan";
import type { ApprovalMode, FleetInstance, OperatorEvent, PlanField, PlanOptions, PlanResult, RolloutEvent } from "@/lib/rollout/types";
import { answerReplacePreview, minHealthyCount, replaceBatches } from "@/lib/rollout/replace-preview";
import type { AnalysisRequest, ReplaceRequest } from "@/lib/validation";
import { resolveAnalysis, type ResolvedAnalysis } from "./analysis";
import type { AnalysisDefaults } from "@/server/analysis-settings";
import type { FleetMonitor } from "@/server/monitor";
import { toFleetInstance } from "@/lib/fleet";
import type { TrafficStats } from "@/server/providers/types";
import { createRollout, transition, type CreateRolloutInput } from "@/lib/rollout/machine";
import type { ChangeBus } from "@/server/bus";
import { ActiveRolloutExistsError, FrozenError, InstanceLockedError, type RotorStore } from "@/server/store";
import { activeFreeze, describeFreeze } from "@/server/store/freezes";
import type { Journals } from "@/server/store/journal";
import { ensureAuthSchema } from "@/server/auth/db";
import { needsFirstApproval, twoPersonLbs } from "@/server/auth/two-person";

export interface LaunchInput {
  lb: string;
  plan: PlanOptions;
  mode: ApprovalMode;
  /** Default: the load balancer's own drain timeout. */
  drainTimeoutMs?: number;
  inServiceTimeoutMs?: number;
  hookTimeoutMs?: number;
  /** The replace strategy (absent: in-place). */
  replace?: ReplaceRequest;
  /** Batch analysis as asked for (absent: off), and the server's defaults it is completed with. */
  analysis?: { request: AnalysisRequest; defaults: AnalysisDefaults };
}

export type LaunchResult =
  | { ok: true; data: { id: string } }
  | { ok: false; code: string; message: string; fieldErrors?: Partial<Record<PlanField | "lb" | "surge" | "launchTarget" | "analysisWindowSec" | "analysisAlarms", string>> };

export function newRolloutId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return `r-${stamp}-${randomBytes(3).toString("hex")}`;
}

export function versionCounts(fleet: readonly FleetInstance[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const i of fleet) {
    const v = i.version ?? "unknown";
    counts[v] = (counts[v] ?? 0) + 1;
  }
  return counts;
}

export async function launchRollout(
  deps: { store: RotorStore; monitor: FleetMonitor; bus: ChangeBus },
  input: LaunchInput,
  actor: string,
  raw: unknown = input,
): Promise<LaunchResult> {
  const { store, monitor } = deps;
  // A freeze first: nothing is read or planned on a frozen load balancer (the insert below checks again).
  const frozen = activeFreeze(store.db, input.lb);
  if (frozen) return { ok: false, code: "FROZEN", message: describeFreeze(frozen), fieldErrors: { lb: describeFreeze(frozen) } };
  const running = store.activeRolloutFor(input.lb);
  if (running) {
    return { ok: false, code: "ROLLOUT_ACTIVE", message: new ActiveRolloutExistsError({ ...running, targetVersion: running.targetVersion }).message };
  }
  let drainTimeoutMs = input.drainTimeoutMs;
  let fleet: FleetInstance[];
  let traffic: TrafficStats | null = null;
  try {
    const snap = await monitor.freshSnapshot(input.lb, 0);
    if (snap.consecutiveErrors > 0 && snap.lastError) throw new Error(snap.lastError.message);
    traffic = snap.traffic;
    fleet = snap.instances.map(toFleetInstance);
    if (drainTimeoutMs === undefined) {
      const lbs = await monitor.listLoadBalancers();
      drainTimeoutMs = lbs.find((l) => l.name === input.lb)?.drainTimeoutMs ?? (await monitor.provider.drainTimeoutMs(input.lb));
    }
  } catch (err) {
    return { ok: false, code: "PROVIDER_ERROR", message: `Cannot read load balancer ${input.lb}: ${err instanceof Error ? err.message : String(err)}` };
  }
  // Every load balancer each instance serves, read fresh: the rollout takes it out of all of them.
  // Not knowing is a refusal, never a guess: a stopped server left in another balancer drops requests.
  try {
    const memberships = await monitor.provider.memberships(fleet.map((i) => i.id));
    fleet = fleet.map((i) => {
      const alsoIn = (memberships[i.id] ?? []).filter((name) => name !== input.lb).sort();
      const { alsoIn: _cached, ...rest } = i;
      return alsoIn.length > 0 ? { ...rest, alsoIn } : rest;
    });
  } catch (err) {
    return {
      ok: false,
      code: "MEMBERSHIP_UNKNOWN",
      message: `Cannot tell which other load balancers the instances of ${input.lb} serve, so the rollout was not started: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const planned = input.replace ? await planReplace(monitor, input.lb, fleet, input.plan, input.replace) : planRollout(fleet, input.plan);
  if (!planned.ok) {
    if ("refused" in planned) return planned.refused;
    return { ok: false, code: planned.error.code, message: planned.error.message, fieldErrors: { [planned.error.field]: planned.error.message } };
  }
  const analysis: ResolvedAnalysis = input.analysis ? await resolveAnalysis(monitor.provider, input.lb, input.analysis.request, input.analysis.defaults) : { ok: true };
  if (!analysis.ok) return { ok: false, code: analysis.code, message: analysis.message, fieldErrors: { [analysis.field]: analysis.message } };
  const now = Date.now();
  const id = newRolloutId(new Date(now));
  const createInput: CreateRolloutInput = {
    id,
    lb: input.lb,
    plan: planned.plan,
    mode: input.mode,
    drainTimeoutMs,
    createdAt: now,
    createdBy: actor,
    ...(input.inServiceTimeoutMs !== undefined ? { inServiceTimeoutMs: input.inServiceTimeoutMs } : {}),
    ...(input.hookTimeoutMs !== undefined ? { hookTimeoutMs: input.hookTimeoutMs } : {}),
    ...(analysis.settings ? { analysis: analysis.settings } : {}),
    // Two-person rule: automatic approval, or one batch holding the whole plan, would let the
    // starter finish alone; a second person then approves batch 1 before anything is deregistered.
    ...(needsFirstApproval(input.lb, input.mode, planned.plan.batches.length, twoPersonLbs(ensureAuthSchema(store.db))) ? { approveFirstBatch: true } : {}),
  };
  const started = transition(createRollout(createInput), { type: "start", at: now, actor });
  if (!started.ok) return { ok: false, code: started.rejection.code, message: started.rejection.message };
  try {
    store.insertRollout(
      {
        id,
        lb: input.lb,
        provider: monitor.provider.name,
        createdBy: actor,
        createdAt: now,
        input: raw,
        createInput,
        targetVersion: planned.plan.targetVersion,
        fromVersions: versionCounts(fleet),
        phase: started.state.phase,
      },
      [{ at: now, actor, type: "start", payload: { type: "start" }, outcome: "applied", details: { traffic, fleet } }],
    );
  } catch (err) {
    if (err instanceof FrozenError) return { ok: false, code: "FROZEN", message: err.message, fieldErrors: { lb: err.message } };
    if (err instanceof ActiveRolloutExistsError) return { ok: false, code: "ROLLOUT_ACTIVE", message: err.message, fieldErrors: { lb: err.message } };
    // An instance of the plan belongs to another active rollout (maybe on another load balancer sharing it).
    if (err instanceof InstanceLockedError) return { ok: false, code: "INSTANCE_LOCKED", message: err.message, fieldErrors: { lb: err.message } };
    throw new Error(`could not create rollout ${id} on ${input.lb}`, { cause: err });
  }
  deps.bus.emit({ rolloutId: id, lb: input.lb, kind: "event" });
  return { ok: true, data: { id } };
}

type ReplacePlanned = PlanResult | { ok: false; refused: Extract<LaunchResult, { ok: false }> };

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The replace strategy's plan: the group's readiness check (lib/rollout/replace-check.ts) on a fresh
 * survey, every refusal at once, then the batches of the instances to replace and the capacity floor
 * the surge allows. The new launch version is made to exist (an AMI becomes a launch template version)
 * only once every check passed.
 */
async function planReplace(monitor: FleetMonitor, lb: string, fleet: FleetInstance[], options: PlanOptions, replace: ReplaceRequest): Promise<ReplacePlanned> {
  const refuse = (code: string, message: string, field?: "surge" | "launchTarget"): ReplacePlanned => ({ ok: false, refused: { ok: false, code, message, ...(field ? { fieldErrors: { [field]: message } } : {}) } });
  const groups = monitor.provider.groups;
  if (!groups) return refuse("STRATEGY_UNSUPPORTED", `The ${monitor.provider.name} provider cannot replace instances through an Auto Scaling group: use the in-place strategy`);
  const batchSize = resolveBatchSize(options.batchSize, fleet.length);
  // A batch size the planner would refuse: its refusal says why, at its field.
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > fleet.length) return planRollout(fleet, options);
  let survey;
  try {
    survey = await groups.survey(lb, replace.target);
  } catch (err) {
    return refuse("PROVIDER_ERROR", `Cannot read the Auto Scaling group behind ${lb}, so nothing was started: ${errorText(err)}`);
  }
  // The same judgement the form's preview shows (lib/rollout/replace-preview.ts): the two cannot drift apart.
  const answer = answerReplacePreview(survey, { target: replace.target, batchSize: options.batchSize, surge: replace.surge, ...(options.minHealthy ? { minHealthy: options.minHealthy } : {}) });
  if (!answer.ok || !answer.preview) {
    const first = answer.refusals[0];
    const field = first?.code === "INVALID_INPUT" || first?.code === "SURGE_ABOVE_MAX" ? "surge" : first?.code === "TARGET_MISSING" || first?.code === "TARGET_IS_CURRENT" ? "launchTarget" : undefined;
    return refuse(first?.code === "INVALID_INPUT" ? "INVALID_INPUT" : "REPLACE_REFUSED", `Nothing was started: ${answer.refusals.map((r) => r.message).join("; ")}`, field);
  }
  const { preview } = answer;
  const planned = replaceBatches(fleet, preview, options);
  if (!planned.ok) return planned;
  const desired = preview.desired;
  const minHealthy = minHealthyCount(options, desired);
  let toLaunch = survey.toLaunch;
  try {
    toLaunch ??= await groups.prepareTarget(lb, replace.target);
  } catch (err) {
    return refuse("PROVIDER_ERROR", `Cannot prepare launch version ${replace.target} for ${preview.group}, so nothing was started: ${errorText(err)}`, "launchTarget");
  }
  const lowest = Math.min(desired, ...preview.steps.map((st) => st.lowestInService));
  return {
    ok: true,
    plan: {
      ...planned.plan,
      fleetSize: fleet.length,
      minHealthy: minHealthy ?? lowest,
      strategy: "replace",
      replace: {
        group: preview.group,
        min: preview.min,
        desired: preview.desired,
        max: preview.max,
        fromLaunch: survey.fromLaunch,
        toLaunch,
        surge: replace.surge,
        fromLabel: preview.from,
        toLabel: preview.to,
        notes: preview.notes,
      },
    },
  };
}

export type OperateResult = { ok: true; data: { seq: number } } | { ok: false; code: string; message: string };

/**
 * Appends an operator event if the machine accepts it against the rollout's current state (checked
 * and appended in one transaction); a refused event is recorded as rejected and its reason returned.
 */
export function operate(journals: Journals, rolloutId: string, event: OperatorEvent, actor: string): OperateResult {
  const journal = journals.get(rolloutId);
  if (!journal) return { ok: false, code: "NOT_FOUND", message: `No rollout ${rolloutId}` };
  const r = journal.append({ ...event, at: Date.now(), actor } as RolloutEvent);
  return r.ok ? { ok: true, data: { seq: r.seq } } : { ok: false, code: r.code, message: r.message };
}
