/**
 * What the auth layer needs from the engine: start a rollout, submit an operator event — the
 * engine's own `server/engine/commands.ts`, passed in so tests can stand in for a fleet.
 */
import type { ActionResult } from "@/lib/result";
import type { OperatorEvent } from "@/lib/rollout/types";
import type { StartRolloutInput } from "@/lib/validation";
import { commandStore, startRollout, submitOperatorEvent } from "@/server/engine/commands";
import type { RotorStore } from "@/server/store";

export interface RolloutCommands {
  startRollout(input: StartRolloutInput, actor: string): Promise<ActionResult<{ id: string }>>;
  submitOperatorEvent(input: { rolloutId: string; event: OperatorEvent }, actor: string): Promise<ActionResult<unknown>>;
}

export interface RolloutApiDeps {
  store: RotorStore;
  commands: RolloutCommands;
}

export function defaultCommands(): RolloutCommands {
  return { startRollout, submitOperatorEvent };
}

export function defaultDeps(): RolloutApiDeps {
  return { store: commandStore(), commands: defaultCommands() };
}
