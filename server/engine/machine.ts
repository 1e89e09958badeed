/**
 * The engine's narrow view of lib's state machine: create, apply one event, and which phases are final.
 */
import { createRollout, transition, type CreateRolloutInput } from "@/lib/rollout/machine";
import type { RolloutState } from "@/lib/rollout/state";
import type { RolloutEvent, RolloutPhase } from "@/lib/rollout/types";

export type CreateInput = CreateRolloutInput;

export type Applied = { ok: true; state: RolloutState } | { ok: false; code: string; message: string };

export const FINAL_PHASES: ReadonlySet<RolloutPhase> = new Set(["succeeded", "aborted", "rolled-back"]);

export function isFinal(phase: RolloutPhase): boolean {
  return FINAL_PHASES.has(phase);
}

export function initialState(input: CreateInput): RolloutState {
  return createRollout(input);
}

export function applyEvent(state: RolloutState, event: RolloutEvent): Applied {
  const r = transition(state, event);
  return r.ok ? { ok: true, state: r.state } : { ok: false, code: r.rejection.code, message: r.rejection.message };
}
