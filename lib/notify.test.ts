import { describe, expect, it } from "vitest";
import type { RolloutPhase } from "./rollout/types";
import { deriveNotifications, headline, jsonBody, rolloutLink, SLACK_ACTIONS, slackActionOf, slackBody, type NotifyEvent, type NotifyState } from "./notify";

const state = (phase: RolloutPhase, outstanding: NotifyState["outstanding"] = []): NotifyState => ({
  id: "r-1",
  lb: "web",
  createdBy: "alice",
  phase,
  plan: { targetVersion: "2.0.0" },
  batches: [{}, {}, {}],
  outstanding,
});
const ev = (type: string, extra: Partial<NotifyEvent> = {}): NotifyEvent => ({ seq: 7, at: 1000, actor: "engine", type, outcome: "applied", payload: { type }, ...extra });
const kinds = (e: NotifyEvent, b: NotifyState, a: NotifyState) => deriveNotifications(e, b, a).map((n) => n.kind);

describe("deriveNotifications", () => {
  it("start → started", () => {
    expect(kinds(ev("start", { actor: "alice" }), state("planned"), state("running"))).toEqual(["started"]);
  });

  it("entering awaiting-approval names the batch the gate waits on; staying there says nothing", () => {
    const waiting = state("awaiting-approval", [{ type: "awaitApproval", batch: 1 }]);
    const [n] = deriveNotifications(ev("step-succeeded"), state("running"), waiting);
    expect(n).toMatchObject({ kind: "awaiting-approval", batch: 1, batches: 3, rolloutId: "r-1", lb: "web", version: "2.0.0", startedBy: "alice" });
    expect(headline(n!)).toBe("Rollout r-1 of 2.0.0 on web: batch 2 of 3 waits for approval");
    expect(kinds(ev("tick"), waiting, waiting)).toEqual([]);
  });

  it("a failed or timed-out step carries the machine's message", () => {
    const [n] = deriveNotifications(ev("step-failed", { payload: { message: "deploy of i-2 failed" } }), state("running"), state("failed-awaiting-operator"));
    expect(n).toMatchObject({ kind: "step-failed", message: "deploy of i-2 failed" });
    expect(kinds(ev("step-timed-out", { payload: { message: "drain" } }), state("running"), state("failed-awaiting-operator"))).toEqual(["step-failed"]);
  });

  it("paused names who paused", () => {
    const [n] = deriveNotifications(ev("step-succeeded", { actor: "engine" }), state("running"), state("paused"));
    expect(n?.kind).toBe("paused");
    expect(headline(deriveNotifications(ev("pause", { actor: "bob" }), state("baking"), state("paused"))[0]!)).toContain("paused by bob");
  });

  it("finished once, with the outcome", () => {
    for (const p of ["succeeded", "rolled-back", "aborted"] as const) {
      const ns = deriveNotifications(ev("step-succeeded"), state(p === "succeeded" ? "running" : p === "aborted" ? "aborting" : "rolling-back"), state(p));
      expect(ns.map((n) => [n.kind, n.outcome])).toEqual([["finished", p]]);
    }
    expect(kinds(ev("tick"), state("succeeded"), state("succeeded"))).toEqual([]);
  });

  it("rejected and info events notify nobody", () => {
    expect(kinds(ev("approve", { outcome: "rejected" }), state("running"), state("paused"))).toEqual([]);
    expect(kinds(ev("rollout-finished", { outcome: "info" }), state("running"), state("succeeded"))).toEqual([]);
  });
});

describe("bodies", () => {
  const [n] = deriveNotifications(ev("step-succeeded"), state("running"), state("awaiting-approval", [{ type: "awaitApproval", batch: 0 }]));
  const link = rolloutLink("https://rotor.example/", "r-1");

  it("links to the rollout page", () => {
    expect(link).toBe("https://rotor.example/rollouts/r-1");
    expect(jsonBody(n!, link, "d-1")).toMatchObject({ id: "d-1", event: "awaiting-approval", link, rollout: { rolloutId: "r-1", batch: 0 } });
  });

  it("an awaiting-approval Slack message carries Approve / Pause / Roll back with the rollout and batch", () => {
    const body = slackBody(n!, link);
    const actions = body.blocks.find((b) => b.type === "actions") as { elements: { action_id: string; value: string }[] };
    expect(actions.elements.map((e) => slackActionOf(e.action_id))).toEqual(["approve", "pause", "rollback"]);
    expect(actions.elements.map((e) => JSON.parse(e.value) as unknown)).toEqual(Array(3).fill({ rolloutId: "r-1", batch: 0 }));
    expect(JSON.stringify(body.blocks[0])).toContain(`<${link}|Open the rollout>`);
    expect(slackActionOf("rotor.other")).toBeNull();
    expect(SLACK_ACTIONS.approve).toBe("rotor.approve");
  });

  it("other Slack messages have no buttons, and escape mrkdwn", () => {
    const [f] = deriveNotifications(ev("step-failed", { payload: { message: "<!channel> & co" } }), state("running"), state("failed-awaiting-operator"));
    const body = slackBody(f!, link);
    expect(body.blocks.some((b) => b.type === "actions")).toBe(false);
    expect(JSON.stringify(body.blocks)).toContain("&lt;!channel&gt; &amp; co");
  });
});

describe("analysis notifications", () => {
  const judged = (verdict: string) => ev("analysis-finished", { payload: { effectId: "f1:analysis#1", analysis: { verdict, reasons: ["Error rate 9.00% on the new instances vs 0.00% on the old (limit 1.00%): over the limit."] } } });
  const analysing = state("running", [{ type: "analyze", batch: 1, effectId: "f1:analysis#1" }]);

  it("a failed verdict says which batch, why, and what Rotor did (rolled back, or paused alongside the pause)", () => {
    const [n] = deriveNotifications(judged("fail"), analysing, state("rolling-back"));
    expect(n).toMatchObject({ kind: "analysis-failed", batch: 1 });
    expect(headline(n!)).toBe("Rollout r-1 of 2.0.0 on web: batch 2 of 3 failed its analysis: Error rate 9.00% on the new instances vs 0.00% on the old (limit 1.00%): over the limit. — rolling back automatically");
    expect(kinds(judged("fail"), analysing, state("paused"))).toEqual(["paused", "analysis-failed"]);
  });

  it("a Slack message for an analysis that paused the rollout offers Resume and Roll back; one that rolled back offers nothing", () => {
    const [paused] = deriveNotifications(judged("fail"), analysing, state("paused")).filter((n) => n.kind === "analysis-failed");
    const actions = slackBody(paused!, "https://rotor.example/rollouts/r-1").blocks.find((b) => b.type === "actions") as { elements: { action_id: string }[] } | undefined;
    expect(actions?.elements.map((e) => slackActionOf(e.action_id))).toEqual(["resume", "rollback"]);
    const [rolled] = deriveNotifications(judged("fail"), analysing, state("rolling-back"));
    expect(slackBody(rolled!, "https://rotor.example/rollouts/r-1").blocks.some((b) => b.type === "actions")).toBe(false);
  });

  it("an inconclusive verdict is its own kind; a pass says nothing", () => {
    expect(kinds(judged("inconclusive"), analysing, state("paused"))).toEqual(["paused", "analysis-inconclusive"]);
    expect(kinds(judged("pass"), analysing, state("awaiting-approval", [{ type: "awaitApproval", batch: 2 }]))).toEqual(["awaiting-approval"]);
  });
});
