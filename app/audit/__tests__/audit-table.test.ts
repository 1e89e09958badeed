/**
 * The audit page end to end below the browser: rows the server reads (server/auth/audit.ts) rendered
 * by the page's table (components/audit). It lives in app/ because only app/ may import both rooms.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import type { RolloutEvent } from "@/lib/rollout/types";
import { AuditTable } from "@/components/audit/audit-table";
import { auditRows } from "@/server/auth/audit";
import { authDb } from "@/server/auth/db";
import { driveToApproval, seedRollout, tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";
import { Journals } from "@/server/store/journal";

let env: TempEnv;
let id: string;
beforeEach(async () => {
  env = await tempEnv();
  id = seedRollout(env.store, { createdBy: "alice" });
  driveToApproval(env.store, id);
  new Journals(env.store).get(id)!.append({ type: "skip-instance", instanceId: "i-9", at: Date.now(), actor: "bob" } as RolloutEvent);
});
afterEach(() => env.cleanup());

describe("audit page table", () => {
  it("shows actor, rollout link, batch (1-based) and outcome", () => {
    const rows = auditRows(authDb(), { rollout: id, type: "skip-instance" });
    const html = renderToStaticMarkup(createElement(AuditTable, { rows }));
    expect(html).toContain(">bob<");
    expect(html).toContain(`href="/rollouts/${id}"`);
    expect(html).toContain("skipped instance i-9");
    expect(html).toContain(">rejected<");
    const step = renderToStaticMarkup(createElement(AuditTable, { rows: auditRows(authDb(), { rollout: id, type: "step-succeeded" }, { limit: 1 }) }));
    expect(step).toMatch(/<td class="[^"]*">1<\/td>/);
    expect(renderToStaticMarkup(createElement(AuditTable, { rows: [] }))).toContain("No events match");
  });
});
