/**
 * Fault injection, as the dashboard's actions run it, through the provider port's optional
 * capability (the local fleet has it, AWS does not): each successful injection and clearing goes
 * into the audit trail (who, which fault, which instance), so a demo fault is never mistaken
 * afterwards for a real failure of the fleet.
 */
import type { FaultView } from "@/lib/views";
import { recordAccess } from "@/server/auth/access-log";
import { authDb } from "@/server/auth/db";
import { LOCAL_LB_NAME, type FaultBody } from "@/server/fleet/protocol";
import type { FaultInjection } from "@/server/providers/types";
import { runtime } from "@/server/runtime";
import type { Db } from "@/server/store/db";

export interface FaultDeps {
  faults: FaultInjection;
  db: Db;
}

/** The runtime's provider's fault injection, or null when the provider has none. */
export function faultInjection(): FaultInjection | null {
  return runtime().provider.faults ?? null;
}

function defaults(): FaultDeps {
  const faults = faultInjection();
  if (!faults) throw new Error("fault injection exists only for the local fleet");
  return { faults, db: authDb() };
}

/** Arms one fault; recorded once the fleet accepted it. */
export async function injectFault(actor: string, body: FaultBody, deps: FaultDeps = defaults()): Promise<FaultView[]> {
  const faults = await deps.faults.inject(body);
  recordAccess(deps.db, {
    actor,
    type: "fault-injected",
    outcome: "applied",
    details: { lb: LOCAL_LB_NAME, instanceId: body.instanceId, kind: body.kind, ...(body.holdMs === undefined ? {} : { holdMs: body.holdMs }) },
  });
  return faults;
}

/** Clears every fault; the record names the faults that were armed just before. */
export async function clearFaults(actor: string, deps: FaultDeps = defaults()): Promise<FaultView[]> {
  const armed = await deps.faults.list();
  const left = await deps.faults.clear();
  recordAccess(deps.db, {
    actor,
    type: "faults-cleared",
    outcome: "applied",
    details: { lb: LOCAL_LB_NAME, cleared: armed.map((f) => ({ instanceId: f.instanceId, kind: f.kind })) },
  });
  return left;
}
