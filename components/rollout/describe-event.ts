import type { StoredEvent } from "@/lib/views";

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** Engine observations: frequent, useful when digging, noise otherwise. */
export const OBSERVATIONS: ReadonlySet<string> = new Set(["drain-observed", "health-observed", "wait-progress", "tick"]);

const STEP_OF: Record<string, string> = { deregister: "deregister", waitDrain: "drain", register: "register", waitInService: "wait in service", awaitApproval: "approval", sleep: "bake", terminate: "terminate", analyze: "analysis" };

/** Replace: the two group steps of a batch (the scaleGroup effect's `step`). */
const GROUP_STEP: Record<string, string> = { launch: "launch", replace: "wait for replacements" };

const fromTo = (v: unknown): { from: unknown; to: unknown } | undefined => (v && typeof v === "object" && "to" in v ? (v as { from: unknown; to: unknown }) : undefined);

/** A change Rotor made to the Auto Scaling group, in one line. */
function groupChanged(p: Record<string, unknown>): string {
  const group = str(p.group) ?? "the group";
  const launch = fromTo(p.launchVersion);
  if (launch) return `pointed ${group} at launch version ${String(launch.to)} (was ${String(launch.from)})`;
  const desired = fromTo(p.desired);
  if (desired) return `set ${group}'s desired capacity ${String(desired.from)} → ${String(desired.to)}`;
  const terminated = str(p.terminated);
  if (terminated) return p.decrementDesired ? `terminated ${terminated} in ${group}, decrementing its desired capacity` : `terminated ${terminated} in ${group} without decrementing: the group launches a replacement`;
  return `changed ${group}`;
}

/** "batch 2 drain on i-3, i-4" for each effect id, from the step-started events that carry the effect. */
export function effectNames(events: readonly StoredEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.type !== "step-started") continue;
    const eff = e.details?.effect as Record<string, unknown> | undefined;
    const id = str(e.payload.effectId);
    if (!eff || !id) continue;
    const type = str(eff.type) ?? "";
    const what = type === "runHook" ? (str(eff.hook) ?? "hook") : type === "scaleGroup" ? (GROUP_STEP[str(eff.step) ?? ""] ?? "scale the group") : (STEP_OF[type] ?? type);
    const batch = num(eff.batch);
    const dir = id.startsWith("r") ? "rollback batch" : "batch";
    const ids = list(type === "analyze" ? eff.fresh : eff.ids);
    out.set(id, `${batch !== undefined ? `${dir} ${batch + 1} ` : ""}${what}${ids.length ? ` on ${ids.join(", ")}` : ""}`);
  }
  return out;
}

function counts(rec: unknown): string {
  if (!rec || typeof rec !== "object") return "";
  return Object.entries(rec as Record<string, unknown>)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(", ");
}

/** One line, in the operator's words, for an event of the timeline. */
export function describeEvent(e: StoredEvent, effects: ReadonlyMap<string, string> = new Map()): string {
  const p = e.payload;
  const message = str(p.message) ?? str(e.details?.message);
  const step = effects.get(str(p.effectId) ?? "") ?? "step";
  const took = num(e.details?.durationMs);
  switch (e.type) {
    case "start":
      return "started the rollout";
    case "approve":
      return typeof p.batch === "number" ? `approved batch ${p.batch + 1}` : "approved the next batch";
    case "pause":
      return "paused";
    case "resume":
      return "resumed";
    case "abort":
      return "aborted";
    case "rollback":
      return "asked for a rollback";
    case "retry-step":
      return "retried the failed step";
    case "skip-instance":
      return `skipped instance ${str(p.instanceId) ?? ""}`;
    case "continue-now":
      return "skipped the rest of the bake time";
    case "group-changed":
      return groupChanged(p);
    case "group-activity":
      return `${str(p.group) ?? "the group"}: ${str(p.description) ?? "scaling activity"}${str(p.status) && p.status !== "Successful" ? ` (${str(p.status)})` : ""}`;
    case "step-started":
      return `${step} started`;
    case "step-succeeded":
      return `${step} succeeded${took !== undefined ? ` in ${took} ms` : ""}`;
    case "step-failed":
      return `${step} failed${message ? `: ${message}` : ""}`;
    case "step-timed-out":
      return `${step} timed out${message ? `: ${message}` : ""}`;
    case "drain-observed":
      return `in flight: ${counts(p.inFlight)}`;
    case "health-observed":
      return `load balancer states: ${counts(p.states)}`;
    case "wait-progress":
      return `${str(p.wait) ?? "wait"}: ${str(p.instance) ?? ""} ${str(p.state) ?? ""}${num(p.inFlight) !== undefined ? `, ${p.inFlight} in flight` : ""}${p.description ? ` (${String(p.description)})` : ""}`;
    case "analysis-finished": {
      const a = (p.analysis ?? {}) as { verdict?: unknown; reasons?: unknown };
      const verdict = a.verdict === "pass" ? "passed" : a.verdict === "fail" ? "failed" : "was inconclusive";
      const reasons = list(a.reasons);
      return `${step} ${verdict}${reasons.length ? `: ${reasons.join(" ")}` : ""}`;
    }
    case "rollout-finished":
      return `rollout finished: ${str(p.phase) ?? ""}`;
    case "engine-started": {
      const owner = str(p.owner);
      const from = str(p.tookOverFrom);
      const who = owner ? `engine ${owner}` : "engine";
      if (from) return `${who} took over from ${from} (its lease expired) and resumed the rollout`;
      return p.resumed ? `${who} took over and resumed the rollout` : `${who} took charge`;
    }
    case "engine-fenced-out":
      return `engine ${str(p.owner) ?? "?"} stopped driving: its ${str(p.refused) ?? "write"} was refused (lease token ${String(p.token ?? "?")} no longer current)`;
    default:
      return message ?? e.type.replace(/-/g, " ");
  }
}
