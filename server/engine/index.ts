/**
 * Starting and stopping the process's engine. One per process (kept on globalThis so Next's dev
 * reloads and repeated `instrumentation.ts` calls do not start a second), and one per data dir across
 * processes (the lease in the store: a second process stands by until the first is gone).
 */
import type { LoadBalancerProvider } from "@/server/providers/types";
import { getProvider } from "@/server/providers";
import { getFleetMonitor } from "@/server/monitor";
import { getStore, resolveDataDir } from "@/server/store";
import { componentLog } from "@/server/log";
import { Engine } from "./core";

export { Engine } from "./core";

export interface StartEngineOptions {
  dataDir?: string;
  provider?: LoadBalancerProvider;
  /** Auto mode: pause a batch when traffic failures rise by this many (default ROTOR_AUTO_PAUSE_FAILURES, else 5; 0 = off). */
  autoPauseFailures?: number;
}

const g = globalThis as unknown as { __rotorEngine?: { engine: Engine; dataDir: string } };

/** Starts the engine once; later calls return the running one (whatever their options). */
export function startEngine(options: StartEngineOptions = {}): Engine {
  if (g.__rotorEngine) return g.__rotorEngine.engine;
  const dataDir = resolveDataDir(options.dataDir);
  const provider = options.provider ?? getProvider();
  const engine = new Engine({
    store: getStore(dataDir),
    provider,
    monitor: getFleetMonitor(provider),
    autoPauseFailures: options.autoPauseFailures ?? Number(process.env.ROTOR_AUTO_PAUSE_FAILURES ?? 5),
  });
  g.__rotorEngine = { engine, dataDir };
  engine.start();
  process.once("exit", () => engine.recordExit());
  componentLog("engine").info({ dataDir, provider: provider.name }, "engine started");
  return engine;
}

/** The running engine, if any. */
export function currentEngine(): Engine | null {
  return g.__rotorEngine?.engine ?? null;
}

export async function stopEngine(): Promise<void> {
  const current = g.__rotorEngine;
  g.__rotorEngine = undefined;
  await current?.engine.stop();
}
