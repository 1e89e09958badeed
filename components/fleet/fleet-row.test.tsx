// eslint-disable-next-line no-restricted-imports -- React's own server renderer (to render a row in a test), not Rotor's server/
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { FleetRow } from "@/lib/views";
import { FleetRowView } from "./fleet-row";

const row = (extra: Partial<FleetRow>): FleetRow => ({ id: "i-1", zone: "a", state: "out-of-service", description: "taken out of rotation by rollout r-1 (batch 2)", inFlight: null, version: "5.0.0", ...extra });
const cell = (r: FleetRow) => renderToStaticMarkup(<table><tbody><FleetRowView r={r} /></tbody></table>);

describe("fleet row", () => {
  it("names the rollout holding the instance out of rotation, linking to it, and its load balancer when it is another's", () => {
    const other = cell(row({ heldBy: { rolloutId: "r-1", lb: "web" } }));
    expect(other).toContain('data-held-by="r-1"');
    expect(other).toContain('href="/rollouts/r-1"');
    expect(other.replace(/<[^>]+>/g, "")).toContain("held by r-1 on web");
    const own = cell(row({ heldBy: { rolloutId: "r-1", lb: "web" }, rollout: { batch: 1, step: "deploy", status: "failed", direction: "forward" } }));
    expect(own.replace(/<[^>]+>/g, "")).toMatch(/batch 2 · deploy \(failed\)held by r-1(?! on)/);
    expect(cell(row({})).replace(/<[^>]+>/g, "")).not.toContain("held by");
  });
});
