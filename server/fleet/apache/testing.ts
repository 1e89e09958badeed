/**
 * Test helper: one real Apache instance, laid out as the local fleet lays one out, without the fleet
 * (for running a hook script against it). `settings.env` is what the script needs to find it.
 *
 *   const a = await apacheInstance({ dataDir, versions: ["1.0.0", "2.0.0"] });
 *   await runHookScript({ script, hook: "start", version: "none", env: a.env, timeoutMs: 30_000 });
 *   await a.stop();
 */
import { freePort } from "@/server/testing/ports";
import path from "node:path";
import { apacheSettings, checkApacheInstalled, ensureApacheRelease, killApache, prepareInstance, readPid, scriptEnv } from "./instances";

export interface ApacheInstanceHandle {
  id: string;
  port: number;
  fleetDir: string;
  env: Record<string, string>;
  pid(): Promise<number | null>;
  stop(): Promise<void>;
}

export async function apacheInstance(o: { dataDir: string; versions: string[]; id?: string; stopTimeoutMs?: number }): Promise<ApacheInstanceHandle> {
  const settings = apacheSettings(process.env, o.stopTimeoutMs ?? 10_000);
  // Under CI (and anywhere else) a missing Apache fails the test with what to install.
  await checkApacheInstalled(settings);
  const fleetDir = path.join(o.dataDir, "fleet");
  const id = o.id ?? "i-apache-1";
  const port = await freePort();
  const [first, ...rest] = o.versions;
  if (!first) throw new Error("apacheInstance needs at least one version");
  await prepareInstance(settings, fleetDir, { id, zone: "local-a", port, deployedVersion: first });
  for (const v of rest) await ensureApacheRelease(fleetDir, v);
  const record = { id, port };
  return {
    id,
    port,
    fleetDir,
    env: scriptEnv(settings, fleetDir, record),
    pid: () => readPid(fleetDir, id),
    stop: () => killApache(fleetDir, record),
  };
}
