/**
 * Fault injection on the local fleet, as the dashboard's actions run it: each successful injection
 * and clearing goes into the audit trail (who, which fault, which instance), so a demo fault is
 * never mistaken afterwards for a real failure of the fleet.
 */
import { recordAccess } from "@/server/auth/access-log";
import { authDb } from "@/server/auth/db";
import { LOCAL_LB_NAME, type Fault, type FaultBody } from "@/server/fleet/protocol";
import { createControlClient, type ControlClient } from "@/server/providers/local";
import type { Db } from "@/server/store/db";

export interface FaultDeps {
  client: Pick<ControlClient, "injectFault" | "clearFaults" | "faults">;
  db: Db;
}

const defaults = (): FaultDeps => ({ client: createControlClient(), db: authDb() });

/** Arms one fault; recorded once the fleet accepted it. */
export async function injectFault(actor: string, body: FaultBody, deps: FaultDeps = defaults()): Promise<Fault[]> {
  const faults = await deps.client.injectFault(body);
  recordAccess(deps.db, {
    actor,
    type: "fault-injected",
    outcome: "applied",
    details: { lb: LOCAL_LB_NAME, instanceId: body.instanceId, kind: body.kind, ...(body.holdMs === undefined ? {} : { holdMs: body.holdMs }) },
  });
  return faults;
}

/** Clears every fault; the record names the faults that were armed just before. */
export async function clearFaults(actor: string, deps: FaultDeps = defaults()): Promise<Fault[]> {
  const armed = await deps.client.faults();
  const left = await deps.client.clearFaults();
  recordAccess(deps.db, {
    actor,
    type: "faults-cleared",
    outcome: "applied",
    details: { lb: LOCAL_LB_NAME, cleared: armed.map((f) => ({ instanceId: f.instanceId, kind: f.kind })) },
  });
  return left;
}
