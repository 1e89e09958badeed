/** The second balancer's settings: which instances it fronts, on which port, and what is refused. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config";

const balancers = (env: Record<string, string>) => loadConfig({ ROTOR_DATA_DIR: "/tmp/rotor-config-test", ...env }).balancers.map((b) => [b.name, b.port, b.instanceIds.join(",")]);

describe("local fleet balancers", () => {
  it("by default: local in front of every instance, local-internal in front of the first 3, on LB port + 2", () => {
    expect(balancers({ ROTOR_LB_PORT: "9000" })).toEqual([
      ["local", 9000, "i-local-1,i-local-2,i-local-3,i-local-4,i-local-5"],
      ["local-internal", 9002, "i-local-1,i-local-2,i-local-3"],
    ]);
    expect(balancers({ ROTOR_INSTANCES: "2" })[1]).toEqual(["local-internal", 8082, "i-local-1,i-local-2"]);
  });

  it("takes a count and a port; 0 means one balancer", () => {
    expect(balancers({ ROTOR_INTERNAL_INSTANCES: "1", ROTOR_INTERNAL_LB_PORT: "9500" })[1]).toEqual(["local-internal", 9500, "i-local-1"]);
    expect(balancers({ ROTOR_INTERNAL_INSTANCES: "0" }).map(([name]) => name)).toEqual(["local"]);
  });

  it("gives the Auto Scaling group min 1 and room for a surge of two by default", () => {
    expect(loadConfig({ ROTOR_DATA_DIR: "/tmp/rotor-config-test" }).group).toEqual({ min: 1, max: 7 });
    expect(loadConfig({ ROTOR_DATA_DIR: "/tmp/rotor-config-test", ROTOR_GROUP_MIN: "4", ROTOR_GROUP_MAX: "10" }).group).toEqual({ min: 4, max: 10 });
  });

  it.each([
    [{ ROTOR_GROUP_MIN: "6" }, "ROTOR_GROUP_MIN must be at most ROTOR_INSTANCES (5)"],
    [{ ROTOR_GROUP_MAX: "4" }, "ROTOR_GROUP_MAX must be at least ROTOR_INSTANCES (5)"],
    [{ ROTOR_GROUP_MAX: "51" }, "ROTOR_GROUP_MAX must be at most 50"],
    [{ ROTOR_INTERNAL_INSTANCES: "6" }, "at most ROTOR_INSTANCES"],
    [{ ROTOR_INTERNAL_INSTANCES: "two" }, "must be a number"],
    [{ ROTOR_INTERNAL_LB_PORT: "8081" }, "must differ from ROTOR_LB_PORT"],
    [{ ROTOR_INTERNAL_LB_PORT: "0" }, "must be a port number"],
    [{ ROTOR_TRAFFIC_INTERNAL_SHARE: "1.5" }, "between 0 and 1"],
  ])("refuses %j", (env, message) => {
    let err: unknown;
    try {
      loadConfig({ ROTOR_DATA_DIR: "/tmp/rotor-config-test", ...env });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe("the local fleet's configuration is invalid");
    expect(String((err as Error).cause)).toContain(message);
  });
});
