import { describe, expect, it } from "vitest";
import { DEFAULT_TIMEOUT_MS, parseDuration, parseEvent, parseStart, parseWait } from "./args";
import { EXIT, exitForStatus, judge, plainLine, progressBar, progressLine, refusalSentence, sameFrame } from "./outcome";

describe("parseDuration", () => {
  it.each([
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["45", 45_000],
    ["1.5s", 1500],
    [" 2M ", 120_000],
  ])("%s is %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "soon", "m", "30m1h", "1m1m", "-5s", "5 s", "1h 2m"])("refuses %j", (text) => expect(parseDuration(text)).toBeNull());
});

describe("parseStart", () => {
  it("turns flags into the API's body", () => {
    const r = parseStart({ lb: "local", version: "2.0.0", batch: "25%", minHealthy: "3", auto: "2m", wait: true, timeout: "10m" });
    expect(r).toEqual({
      ok: true,
      value: {
        body: {
          lb: "local",
          version: "2.0.0",
          batchSize: { unit: "percent", value: 25 },
          minHealthy: { unit: "count", value: 3 },
          approval: { mode: "auto", bakeSec: 120 },
          strategy: "in-place",
          canary: false,
          includeOutOfService: false,
          analysisOnFail: "pause",
        },
        wait: true,
        timeoutMs: 600_000,
      },
    });
  });

  it("defaults to one instance per batch, manual approval, no wait, 30 minutes", () => {
    const r = parseStart({ lb: "local", version: "v2" });
    expect(r.ok && r.value.body.batchSize).toEqual({ unit: "count", value: 1 });
    expect(r.ok && r.value.body.approval).toEqual({ mode: "manual" });
    expect(r.ok && [r.value.wait, r.value.timeoutMs]).toEqual([false, DEFAULT_TIMEOUT_MS]);
  });

  it("passes the replace strategy's surge and launch target", () => {
    const r = parseStart({ lb: "web", version: "v3", strategy: "replace", surge: "2", launchTarget: "$Latest" });
    expect(r.ok && r.value.body).toMatchObject({ strategy: "replace", surge: 2, launchTarget: "$Latest" });
  });

  it("takes the batch analysis: window, policy and alarms", () => {
    const r = parseStart({ lb: "web", version: "v2", analysis: "2m", onAnalysisFail: "rollback", alarms: "web-5xx, web-p95" });
    expect(r.ok && r.value.body).toMatchObject({ analysisWindowSec: 120, analysisOnFail: "rollback", analysisAlarms: ["web-5xx", "web-p95"] });
    expect(parseStart({ lb: "web", version: "v2", analysis: "0s" })).toMatchObject({ ok: true, value: { body: { analysisWindowSec: 0 } } });
  });

  it.each([
    [{ batch: "x" }, '--batch takes a count (3) or a percentage (25%); got "x".'],
    [{ batch: "-1" }, '--batch takes a count (3) or a percentage (25%); got "-1".'],
    [{ auto: "later" }, '--auto takes a duration like 90s, 30m or 1h (0s–24h); got "later".'],
    [{ auto: "1500ms" }, "--auto takes whole seconds (e.g. 30s or 2m)."],
    [{ strategy: "blue-green" }, "--strategy is in-place or replace."],
    [{ surge: "1" }, "--surge and --launch-target apply to --strategy replace only; add --strategy replace or drop them."],
    [{ timeout: "5m" }, "--timeout applies with --wait only; add --wait or drop it."],
    [{ analysis: "soon" }, '--analysis takes a duration like 90s, 30m or 1h (0s–1h); got "soon".'],
    [{ analysis: "1500ms" }, "--analysis takes whole seconds (e.g. 60s, 2m, or 0s for none)."],
    [{ onAnalysisFail: "ignore" }, "--on-analysis-fail is pause or rollback."],
    [{ version: "1.0;touch /tmp/x" }, "VERSION: Version must start with a letter or digit, then letters, digits and . _ - + (1–128 characters)."],
    [{ lb: " " }, "Name the load balancer (rotor start LB VERSION)."],
  ])("refuses %j with one sentence", (flags, message) => {
    expect(parseStart({ lb: "local", version: "v2", ...flags })).toEqual({ ok: false, message });
  });
});

describe("parseEvent", () => {
  it("maps each command to its event", () => {
    expect(parseEvent("retry", "r-1", undefined)).toEqual({ ok: true, value: { id: "r-1", body: { type: "retry-step" } } });
    expect(parseEvent("approve", " r-1 ", undefined)).toEqual({ ok: true, value: { id: "r-1", body: { type: "approve" } } });
    expect(parseEvent("skip", "r-1", "i-3")).toEqual({ ok: true, value: { id: "r-1", body: { type: "skip-instance", instanceId: "i-3" } } });
  });

  it("refuses a missing id, a skip without instance and an extra argument", () => {
    expect(parseEvent("pause", undefined, undefined)).toEqual({ ok: false, message: "Name the rollout (its id, e.g. r-1a2b3c)." });
    expect(parseEvent("skip", "r-1", undefined)).toEqual({ ok: false, message: "Name the instance to skip (rotor skip ID INSTANCE)." });
    expect(parseEvent("abort", "r-1", "i-3")).toEqual({ ok: false, message: 'rotor abort takes only the rollout id; "i-3" is one argument too many.' });
  });
});

describe("parseWait", () => {
  it("takes until and a timeout", () => {
    expect(parseWait({ id: "r-1", until: "awaiting-approval", timeout: "90s" })).toEqual({ ok: true, value: { id: "r-1", until: "awaiting-approval", timeoutMs: 90_000 } });
    expect(parseWait({ id: "r-1", until: "finished" })).toEqual({ ok: true, value: { id: "r-1", until: "finished", timeoutMs: DEFAULT_TIMEOUT_MS } });
  });
  it("refuses an unknown until and a zero timeout", () => {
    expect(parseWait({ id: "r-1", until: "done" })).toEqual({ ok: false, message: "--until is awaiting-approval or finished." });
    expect(parseWait({ id: "r-1", until: "finished", timeout: "0s" })).toEqual({ ok: false, message: '--timeout takes a duration like 90s, 30m or 1h (1s–168h); got "0s".' });
  });
});

describe("judge", () => {
  it.each([
    ["awaiting-approval", "awaiting-approval", { code: EXIT.OK, reached: true }],
    ["awaiting-approval", "running", null],
    ["awaiting-approval", "succeeded", { code: EXIT.FAILED, reached: false }],
    ["finished", "awaiting-approval", null],
    ["finished", "paused", null],
    ["finished", "baking", null],
    ["finished", "succeeded", { code: EXIT.OK, reached: true }],
    ["finished", "rolled-back", { code: EXIT.FAILED, reached: false }],
    ["finished", "aborted", { code: EXIT.FAILED, reached: false }],
    ["finished", "failed-awaiting-operator", { code: EXIT.FAILED, reached: false }],
    ["awaiting-approval", "failed-awaiting-operator", { code: EXIT.FAILED, reached: false }],
  ] as const)("until %s at %s → %j", (until, phase, want) => expect(judge(until, phase)).toEqual(want));
});

describe("exit codes and refusals", () => {
  it("maps HTTP statuses", () => {
    expect([200, 201, 400, 401, 403, 404, 409, 422, 500, 503, 0].map(exitForStatus)).toEqual([0, 0, 3, 3, 3, 3, 3, 3, 4, 4, 4]);
  });
  it("says what to do about a refused token, in one sentence", () => {
    const s = refusalSentence(401, { code: "UNAUTHENTICATED", message: "The API token is unknown, revoked or expired." }, "list load balancers");
    expect(s).toBe("ROTOR_TOKEN was refused (401: the API token is unknown, revoked or expired); create a token on the dashboard's Tokens page (/settings/tokens) and export ROTOR_TOKEN.");
    expect(s.match(/\.(\s|$)/g)).toHaveLength(1);
  });
  it("names the first invalid field instead of the form's summary", () => {
    expect(refusalSentence(400, { code: "INVALID_INPUT", message: "Nothing started: check the highlighted fields", fieldErrors: { "batchSize.value": "Batch size must be a number" } }, "start a rollout")).toBe(
      "The dashboard refused to start a rollout (400 INVALID_INPUT): batchSize.value: Batch size must be a number.",
    );
  });
  it("keeps the dashboard's reason for other refusals", () => {
    expect(refusalSentence(409, { code: "ROLLOUT_ACTIVE", message: "local already has an active rollout" }, "start a rollout")).toBe(
      "The dashboard refused to start a rollout (409 ROLLOUT_ACTIVE): local already has an active rollout.",
    );
    expect(refusalSentence(0, { message: "connect ECONNREFUSED 127.0.0.1:1" }, "list load balancers")).toBe(
      "Could not list load balancers: the dashboard did not answer (connect ECONNREFUSED 127.0.0.1:1); check ROTOR_URL and that the dashboard is running.",
    );
  });
});

describe("progress", () => {
  const frame = { id: "r-1", phase: "running" as const, progress: 40, message: "Batch 2 of 3: draining i-local-3 (2 requests in flight)" };
  it("draws a bar", () => {
    expect(progressBar(0, 10)).toBe("[----------]   0%");
    expect(progressBar(40, 10)).toBe("[####------]  40%");
    expect(progressBar(140, 10)).toBe("[##########] 100%");
  });
  it("fits the status line to the terminal", () => {
    expect(progressLine(frame)).toBe("[##########--------------]  40% running  Batch 2 of 3: draining i-local-3 (2 requests in flight)");
    expect(progressLine(frame, 40)).toHaveLength(40);
    expect(progressLine(frame, 40).endsWith("…")).toBe(true);
  });
  it("writes plain lines for logs, and only on change", () => {
    expect(plainLine(frame, Date.UTC(2026, 0, 2, 3, 4, 5))).toBe("2026-01-02T03:04:05.000Z r-1 running 40% Batch 2 of 3: draining i-local-3 (2 requests in flight)");
    expect(sameFrame(null, frame)).toBe(false);
    expect(sameFrame(frame, { ...frame })).toBe(true);
    expect(sameFrame(frame, { ...frame, progress: 41 })).toBe(false);
  });
});
