/**
 * The rollout core: plan a rollout, run it as a pure state machine, and derive what the UI shows.
 * Everything here is pure (no I/O, time passed in); the engine in server/ performs the effects.
 * Start reading at README.md beside this file.
 */
export * from "./types";
export * from "./state";
export { ACTIONS, type ActionMeta } from "./actions";
export { planRollout, resolveQuantity, resolveBatchSize, resolveMinHealthy, spreadAcrossZones, listIds } from "./plan";
export { createRollout, transition, replay, operatorRejection, DEFAULT_HOOK_TIMEOUT_MS, DEFAULT_IN_SERVICE_TIMEOUT_MS } from "./machine";
export type { CreateRolloutInput, TransitionResult } from "./machine";
export { assertNever } from "./cursor";
export { planRollback, returnable } from "./endings";
export { derivePhase, deriveMessage, deriveProgress, deriveActions, estimateRemainingMs } from "./derive";
export type { DerivedView, NextAction } from "./derive";
