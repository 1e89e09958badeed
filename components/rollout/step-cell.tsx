import { formatDuration } from "@/components/ui/format";
import type { StepView } from "@/lib/views";

const STEP_LABEL: Record<string, string> = {
  deregister: "deregister",
  drain: "drain",
  stop: "stop",
  deploy: "deploy",
  start: "start",
  verify: "verify",
  register: "register",
  "wait-in-service": "in service",
  launch: "launch",
  terminate: "terminate",
  replace: "replacement",
};

export const stepLabel = (name: string) => STEP_LABEL[name] ?? name;

/** One step of one instance: a glyph, and the time it took (or has taken so far). */
export function StepCell({ step, now }: { step: StepView; now: number }) {
  const { status } = step;
  const elapsed = status === "running" ? (step.startedAt != null && now > 0 ? Math.max(0, now - step.startedAt) : null) : step.durationMs;
  const attempts = step.attempts > 1 ? ` · attempt ${step.attempts}` : "";
  const text =
    status === "pending"
      ? "pending"
      : status === "running"
        ? `running ${formatDuration(elapsed)}`
        : status === "succeeded"
          ? `done in ${formatDuration(elapsed)}`
          : status === "skipped"
            ? "skipped"
            : `${status}${elapsed != null ? ` after ${formatDuration(elapsed)}` : ""}`;
  const cls =
    status === "running"
      ? "text-sky-700 dark:text-sky-300 font-medium"
      : status === "succeeded"
        ? "text-emerald-700 dark:text-emerald-400"
        : status === "failed" || status === "timed-out"
          ? "text-red-700 dark:text-red-400 font-semibold"
          : "text-zinc-400 dark:text-zinc-500";
  const glyph = status === "running" ? "●" : status === "succeeded" ? "✓" : status === "failed" || status === "timed-out" ? "✗" : status === "skipped" ? "–" : "○";
  return (
    <td className={`px-1.5 py-1 text-xs whitespace-nowrap ${cls}`} title={`${stepLabel(step.name)}: ${text}${attempts}${step.message ? ` — ${step.message}` : ""}`}>
      <span aria-hidden className={status === "running" ? "motion-safe:animate-pulse" : ""}>
        {glyph}
      </span>{" "}
      <span className="sr-only">
        {stepLabel(step.name)}: {text}
      </span>
      <span aria-hidden className="font-mono tabular-nums">
        {status === "pending" || status === "skipped" ? "" : formatDuration(elapsed)}
      </span>
    </td>
  );
}
