import type { ReactNode } from "react";
import type { LbState, RolloutPhase } from "@/lib/rollout/types";

const base = "inline-flex items-center gap-1 rounded px-1.5 py-0.5 text-xs font-medium ring-1 ring-inset whitespace-nowrap";

const tone = {
  ok: "bg-emerald-50 text-emerald-800 ring-emerald-600/20 dark:bg-emerald-500/10 dark:text-emerald-300 dark:ring-emerald-400/30",
  warn: "bg-amber-50 text-amber-800 ring-amber-600/25 dark:bg-amber-500/10 dark:text-amber-300 dark:ring-amber-400/30",
  busy: "bg-sky-50 text-sky-800 ring-sky-600/20 dark:bg-sky-500/10 dark:text-sky-300 dark:ring-sky-400/30",
  wait: "bg-violet-50 text-violet-800 ring-violet-600/20 dark:bg-violet-500/10 dark:text-violet-300 dark:ring-violet-400/30",
  bad: "bg-red-50 text-red-800 ring-red-600/25 dark:bg-red-500/10 dark:text-red-300 dark:ring-red-400/30",
  idle: "bg-zinc-100 text-zinc-700 ring-zinc-500/20 dark:bg-zinc-500/10 dark:text-zinc-300 dark:ring-zinc-400/25",
} as const;

export type Tone = keyof typeof tone;

export function Badge({ t, children, title }: { t: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`${base} ${tone[t]}`} title={title}>
      {children}
    </span>
  );
}

const lbTone: Record<LbState, Tone> = {
  "in-service": "ok",
  draining: "warn",
  registering: "busy",
  "out-of-service": "bad",
  unknown: "idle",
};

export const LB_STATES: readonly LbState[] = ["in-service", "draining", "registering", "out-of-service", "unknown"];

export function LbStateBadge({ state, title, count }: { state: LbState; title?: string; count?: number }) {
  return (
    <Badge t={lbTone[state]} title={title}>
      {count != null && <span className="font-mono tabular-nums">{count}</span>}
      {state}
    </Badge>
  );
}

const phaseTone: Record<RolloutPhase, Tone> = {
  planned: "idle",
  running: "busy",
  "awaiting-approval": "wait",
  baking: "busy",
  paused: "warn",
  "failed-awaiting-operator": "bad",
  aborting: "warn",
  aborted: "idle",
  "rolling-back": "warn",
  "rolled-back": "idle",
  succeeded: "ok",
};

export const PHASE_LABEL: Record<RolloutPhase, string> = {
  planned: "planned",
  running: "running",
  "awaiting-approval": "awaiting approval",
  baking: "baking",
  paused: "paused",
  "failed-awaiting-operator": "failed: needs operator",
  aborting: "aborting",
  aborted: "aborted",
  "rolling-back": "rolling back",
  "rolled-back": "rolled back",
  succeeded: "succeeded",
};

export function PhaseBadge({ phase }: { phase: RolloutPhase }) {
  return <Badge t={phaseTone[phase]}>{PHASE_LABEL[phase]}</Badge>;
}

