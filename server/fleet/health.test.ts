/** ELB-like state derivation: thresholds and Classic ELB's descriptions, as a table of named cases. */
import { describe, expect, it } from "vitest";
import { deriveState, freshHealth, recordCheck, ELB_DESCRIPTIONS, DEFAULT_HEALTH_CHECK } from "./health";

const s = { ...DEFAULT_HEALTH_CHECK, healthyThreshold: 2, unhealthyThreshold: 3 };

function after(results: boolean[]) {
  const h = freshHealth();
  results.forEach((ok, i) => recordCheck(h, ok, ok ? "HTTP 200" : "connection refused", i, s));
  return h;
}

describe("deriveState", () => {
  const cases: [string, boolean, boolean, boolean[], string, string, string][] = [
    ["just registered", true, false, [], "registering", "ELB", ELB_DESCRIPTIONS.registering],
    ["one pass is not enough", true, false, [true], "registering", "ELB", ELB_DESCRIPTIONS.registering],
    ["healthy threshold reached", true, false, [true, true], "in-service", "N/A", "N/A"],
    ["two fails of three: still no verdict", true, false, [false, false], "registering", "ELB", ELB_DESCRIPTIONS.registering],
    ["unhealthy threshold reached", true, false, [false, false, false], "out-of-service", "Instance", ELB_DESCRIPTIONS.failedUnhealthy],
    ["recovering, one pass", true, false, [false, false, false, true], "out-of-service", "Instance", ELB_DESCRIPTIONS.notPassedHealthy],
    ["recovered", true, false, [false, false, false, true, true], "in-service", "N/A", "N/A"],
    ["in service survives fewer fails than the threshold", true, false, [true, true, false, false], "in-service", "N/A", "N/A"],
    ["deregistered, draining", false, true, [true, true], "draining", "ELB", ELB_DESCRIPTIONS.deregistering],
    ["deregistered, drained", false, false, [true, true], "out-of-service", "ELB", ELB_DESCRIPTIONS.notRegistered],
  ];
  it.each(cases)("%s", (_name, registered, draining, results, state, reason, description) => {
    const v = deriveState(registered, draining, after(results));
    expect(v.state).toBe(state);
    expect(v.reasonCode).toBe(reason);
    expect(v.description).toBe(description);
  });

  it("a draining instance reads InService in ELB terms (read the description, not only the state)", () => {
    expect(deriveState(false, true, after([true, true])).elbState).toBe("InService");
  });
});
