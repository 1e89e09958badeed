/**
 * One `runHook` effect performed the way the engine's runner performs it (server/engine/effects.ts
 * `performEffect`), with the real AWS provider against moto and the SSM shim: the engine notes it
 * makes (`hook-sent`, `step-retry`) are collected, and a restart is a new provider and context with
 * `resumed` and the recorded commands.
 */
import type { HookName } from "@/lib/rollout/types";
import { performEffect, type EffectOutcome } from "@/server/engine/effects";
import { componentLog } from "@/server/log";
import type { FleetMonitor } from "@/server/monitor";
import type { LoadBalancerProvider, SentCommand } from "@/server/providers/types";

export interface Note {
  type: string;
  payload: Record<string, unknown>;
}

export interface HookEffectRun {
  outcome: Promise<EffectOutcome>;
  notes: Note[];
  /** The commands noted as `hook-sent`, as the runner hands them to a resumed engine. */
  sent(): SentCommand[];
}

export function runHookEffect(
  provider: LoadBalancerProvider,
  effect: { lb: string; hook: HookName; ids: string[]; version: string; timeoutMs: number },
  options: { signal?: AbortSignal; resumed?: boolean; sentCommands?: SentCommand[]; retry?: { attempts: number; baseMs: number; maxMs: number } } = {},
): HookEffectRun {
  const notes: Note[] = [];
  const outcome = performEffect(
    { type: "runHook", effectId: "b0-hook", batch: 0, ids: effect.ids, hook: effect.hook, params: { version: effect.version }, timeoutMs: effect.timeoutMs },
    {
      lb: effect.lb,
      provider,
      // A hook never reads the fleet monitor.
      monitor: {} as FleetMonitor,
      signal: options.signal ?? new AbortController().signal,
      log: componentLog("test-hook-effect"),
      startedAt: Date.now(),
      resumed: options.resumed ?? false,
      sentCommands: options.sentCommands,
      retry: options.retry ?? { attempts: 5, baseMs: 200, maxMs: 5_000 },
      note: (type, payload) => notes.push({ type, payload }),
    },
  );
  return {
    outcome,
    notes,
    sent: () => notes.filter((n) => n.type === "hook-sent").map((n) => ({ commandId: String(n.payload.commandId), ids: (n.payload.ids as string[]).map(String) })),
  };
}
