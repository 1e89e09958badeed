/**
 * Every operator action in one table: the verb the machine's refusals use ("Cannot approve: …"),
 * whether the UI asks for a confirmation and what it says, and what the operator reads once it is
 * accepted. The machine, the derived view, the controls and the command pipeline all read this table.
 */
import type { OperatorEventType } from "./types";

export interface ActionMeta {
  /** "Cannot <verb>: <why>". */
  verb: string;
  /** Needs a confirmation in the UI; `consequence` is what the dialog says. */
  destructive: boolean;
  consequence?: string;
  /** The status line once the action was accepted. */
  done: string;
}

export const ACTIONS: Readonly<Record<OperatorEventType, ActionMeta>> = {
  start: { verb: "start", destructive: false, done: "Started" },
  approve: { verb: "approve", destructive: false, done: "Approved: the next batch starts now" },
  pause: { verb: "pause", destructive: false, done: "Pause requested: it takes effect at the next step boundary" },
  resume: { verb: "resume", destructive: false, done: "Resumed" },
  abort: {
    verb: "abort",
    destructive: true,
    consequence:
      "The step in progress finishes, instances whose server is as it was go back into rotation (stopped ones are started first), and the rollout stops. Instances already updated keep the new version; any in an unknown state stay out and are listed.",
    done: "Abort requested: the step in progress finishes, then the instances Rotor took out return to rotation",
  },
  rollback: {
    verb: "roll back",
    destructive: true,
    consequence: "Every instance this rollout touched goes back to its previous version, newest first, with the same drain-and-verify procedure.",
    done: "Rollback requested: touched instances return to their previous version",
  },
  "retry-step": { verb: "retry the step", destructive: false, done: "Retrying the failed step" },
  "skip-instance": {
    verb: "skip an instance",
    destructive: true,
    consequence: "The instance stays out of rotation on its current version and the rollout continues without it.",
    done: "Instance skipped: it stays out of rotation",
  },
  "continue-now": { verb: "continue now", destructive: false, done: "Bake time skipped: continuing now" },
};
