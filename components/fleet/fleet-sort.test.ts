import { describe, expect, it } from "vitest";
import { filterAndSort } from "@/components/fleet/fleet-sort";
import type { FleetRow } from "@/lib/views";
import type { LbState } from "@/lib/rollout/types";

const STATES: LbState[] = ["in-service", "draining", "registering", "out-of-service", "unknown"];

function fleet(n: number): FleetRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `i-${i + 1}`,
    zone: `zone-${i % 3}`,
    state: STATES[i % 7 === 0 ? 1 : i % 11 === 0 ? 3 : 0] as LbState,
    description: "",
    inFlight: i % 5,
    version: i % 4 === 0 ? "2.0.0" : "1.0.0",
  }));
}

const none = { states: new Set<LbState>(), version: "all", text: "" };

describe("fleet table sort and filter", () => {
  it("orders ids naturally: i-2 before i-10", () => {
    const ids = filterAndSort(fleet(12), none, { key: "id", dir: "asc" }).map((r) => r.id);
    expect(ids.slice(0, 3)).toEqual(["i-1", "i-2", "i-3"]);
    expect(ids.at(-1)).toBe("i-12");
  });

  it("sorts descending, ties broken by id", () => {
    const rows = filterAndSort(fleet(20), none, { key: "inFlight", dir: "desc" });
    expect(rows[0]?.inFlight).toBe(4);
    expect(rows.map((r) => r.inFlight)).toEqual([...rows.map((r) => r.inFlight)].sort((a, b) => (b ?? 0) - (a ?? 0)));
    expect(rows.filter((r) => r.inFlight === 4).map((r) => r.id)).toEqual(["i-5", "i-10", "i-15", "i-20"]);
  });

  it("puts instances out of rotation first when sorting by state", () => {
    const rows = filterAndSort(fleet(30), none, { key: "state", dir: "asc" });
    expect(rows[0]?.state).toBe("out-of-service");
    expect(rows.at(-1)?.state).toBe("in-service");
  });

  it("filters by state, version and text together", () => {
    const rows = filterAndSort(fleet(100), { states: new Set<LbState>(["draining"]), version: "2.0.0", text: "zone-0" }, { key: "id", dir: "asc" });
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.state).toBe("draining");
      expect(r.version).toBe("2.0.0");
      expect(r.zone).toBe("zone-0");
    }
  });

  it("handles 1,000 rows and leaves its input untouched", () => {
    const input = fleet(1000);
    const copy = input.map((r) => r.id);
    const rows = filterAndSort(input, { ...none, version: "1.0.0" }, { key: "version", dir: "asc" });
    expect(rows).toHaveLength(750);
    expect(input.map((r) => r.id)).toEqual(copy);
  });
});
