/** Fault injection on the real local fleet: each successful injection and clearing is in the audit trail, with actor and target. */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditRows } from "@/server/auth/audit";
import { ensureAuthSchema } from "@/server/auth/db";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { RotorStore } from "@/server/store";
import { clearFaults, injectFault, type FaultDeps } from "../faults";

let fleet: LocalFleetHandle;
let store: RotorStore;
let dir: string;
let deps: FaultDeps;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "rotor-faults-"));
  fleet = await startLocalFleet({ instances: 2, dataDir: dir });
  store = new RotorStore(path.join(dir, "rotor.db"));
  const faults = fleet.provider.faults;
  if (!faults) throw new Error("the local provider lost its fault injection");
  deps = { faults, db: ensureAuthSchema(store.db) };
});

afterAll(async () => {
  store?.close();
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const accessRows = (type: string) => auditRows(deps.db, { kind: "access", type });

describe("fault injection audit", () => {
  it("records who armed which fault on which instance, once the fleet accepted it", async () => {
    const faults = await injectFault("alice", { kind: "deploy-fails", instanceId: "i-local-2" }, deps);
    expect(faults).toContainEqual(expect.objectContaining({ kind: "deploy-fails", instanceId: "i-local-2" }));
    const [row, ...rest] = accessRows("fault-injected");
    expect(rest).toEqual([]);
    expect(row).toMatchObject({ actor: "alice", outcome: "applied", details: { lb: "local", instanceId: "i-local-2", kind: "deploy-fails" } });
  });

  it("records nothing for a fault the fleet refused", async () => {
    await expect(injectFault("alice", { kind: "start-fails", instanceId: "i-local-9" }, deps)).rejects.toThrow();
    expect(accessRows("fault-injected")).toHaveLength(1);
  });

  it("records who cleared the faults, and which were armed", async () => {
    await injectFault("bob", { kind: "backend-500", instanceId: "i-local-1" }, deps);
    expect(await clearFaults("carol", deps)).toEqual([]);
    expect(await fleet.control.faults()).toEqual([]);
    const [row] = accessRows("faults-cleared");
    expect(row).toMatchObject({ actor: "carol", outcome: "applied", details: { lb: "local" } });
    expect(row?.details?.cleared).toEqual(
      expect.arrayContaining([
        { instanceId: "i-local-2", kind: "deploy-fails" },
        { instanceId: "i-local-1", kind: "backend-500" },
      ]),
    );
  });
});
