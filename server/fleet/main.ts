/**
 * The local fleet supervisor: `node --import tsx server/fleet/main.ts` (npm start runs it for you).
 * Starts the balancer and the instances as its own children, hosts the control API, runs the traffic
 * generator. Stops every child on SIGTERM/SIGINT, and also when the process that started it disappears
 * (its IPC channel closes), so a crashed parent never leaves orphans. See config.ts for the settings.
 */
import { loadConfig } from "./config";
import { createControlServer } from "./control-api";
import { controlSecretPath, createControlSecret } from "./control-secret";
import { Fleet } from "./fleet";

async function main() {
  const cfg = loadConfig();
  const fleet = new Fleet(cfg);
  process.on("SIGTERM", () => void fleet.shutdown(0));
  process.on("SIGINT", () => void fleet.shutdown(0));
  if (process.send) process.on("disconnect", () => void fleet.shutdown(0));

  // A new secret at each start, before the control API listens: nothing answers without it.
  const control = createControlServer(fleet, { secret: createControlSecret(controlSecretPath(process.env)) });
  await new Promise<void>((resolve, reject) => {
    control.once("error", (err) => reject(new Error(`cannot listen on 127.0.0.1:${cfg.controlPort} for the control API`, { cause: err })));
    control.listen(cfg.controlPort, "127.0.0.1", () => resolve());
  });
  try {
    await fleet.boot();
  } catch (err) {
    process.stderr.write(`rotor-fleet: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    await fleet.shutdown(1);
  }
  const traffic = cfg.traffic.enabled && cfg.traffic.rps > 0 ? `traffic ${cfg.traffic.rps} req/s` : "traffic off";
  const balancers = cfg.balancers.map((b) => `${b.name} http://127.0.0.1:${b.port} (${b.instanceIds.length} instances)`).join(", ");
  process.stdout.write(`rotor-fleet: balancers ${balancers}, control API http://127.0.0.1:${cfg.controlPort}/v1, ${cfg.instances} instances (group local: min ${cfg.group.min}, max ${cfg.group.max}), ${traffic}, data ${cfg.fleetDir}\n`);
  process.send?.({ type: "ready", lbPort: cfg.lbPort, controlPort: cfg.controlPort });
}

main().catch((err: unknown) => {
  process.stderr.write(`rotor-fleet: ${err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ""}` : String(err)}\n`);
  process.exit(1);
});
