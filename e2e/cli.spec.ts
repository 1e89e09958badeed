/**
 * The `rotor` command line against the running dashboard, as a pipeline runs it: `node server/cli/rotor.mjs`
 * in a child process with ROTOR_URL and ROTOR_TOKEN (an operator's API token made on the Tokens page),
 * judged by its exit code and what it prints. The dashboard's own API is the ground truth.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { LB, expect, settledFleet, test, uniqueVersion } from "./fixtures";
import { stateFile } from "./users";
import { createTokenOnPage } from "./api-tokens";

const root = path.resolve(__dirname, "..");
let token = "";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `rotor …` to its end (or `timeoutMs`, then kills it); never throws on a non-zero exit. */
function rotor(baseURL: string | undefined, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "server/cli/rotor.mjs"), ...args], {
      cwd: root,
      env: { ...process.env, ROTOR_URL: baseURL, ROTOR_TOKEN: token, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: Run) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** Exactly one sentence: one line, one full stop at its end (none inside but in numbers and names). */
function expectOneSentence(text: string) {
  const line = text.trim();
  expect(line.split("\n")).toHaveLength(1);
  expect(line).toMatch(/\.$/);
  expect(line.match(/[.!?](\s|$)/g)).toHaveLength(1);
}

test.beforeAll(async ({ browser }) => {
  // An admin makes an operator token on the Tokens page, as a team sets up its pipeline.
  const amy = await browser.newContext({ storageState: stateFile("amy") });
  try {
    token = await createTokenOnPage(await amy.newPage(), `cli-${Date.now() % 1_000_000}`, "operator");
  } finally {
    await amy.close();
  }
});

test.beforeEach(async ({ page, fleet, api }) => {
  await settledFleet(page, fleet, api);
});

test("start --wait on automatic approval ends 0 once every instance runs the version", async ({ baseURL, api, fleet }) => {
  const version = uniqueVersion("cli-auto");
  const r = await rotor(baseURL, ["start", LB, version, "--batch", "2", "--auto", "0s", "--wait", "--timeout", "5m"]);
  expect(r.code, show(r)).toBe(0);
  // stdout is a pipe: plain progress lines, then the outcome.
  const id = /Started rollout (\S+): /.exec(r.stdout)?.[1] ?? "";
  expect(id, show(r)).toMatch(/^r-/);
  expect(r.stdout).toMatch(new RegExp(`^\\S+Z ${id} running \\d+% Batch 1 of 3`, "m"));
  expect(r.stdout.trim().split("\n").at(-1)).toBe(`Rollout ${id} succeeded.`);
  expect(r.stderr).toBe("");
  expect((await api.rollout(id)).summary.phase).toBe("succeeded");
  const instances = await fleet.instances(LB);
  expect(instances.filter((i) => i.version !== version).map((i) => i.id)).toEqual([]);
});

test("wait --until awaiting-approval returns when the batch waits; abort, then wait --until finished exits 1", async ({ baseURL, api }) => {
  const started = await rotor(baseURL, ["start", LB, uniqueVersion("cli-manual"), "--batch", "2"]);
  expect(started.code, show(started)).toBe(0);
  const id = /Started rollout (\S+): /.exec(started.stdout)?.[1] ?? "";
  expect(id, show(started)).toMatch(/^r-/);

  const waited = await rotor(baseURL, ["wait", id, "--until", "awaiting-approval", "--timeout", "2m"]);
  expect(waited.code, show(waited)).toBe(0);
  expect(waited.stdout.trim().split("\n").at(-1)).toMatch(new RegExp(`^Rollout ${id} is waiting for approval \\(Waiting for approval of batch \\d+ of \\d+\\)\\.$`));
  // It returned because the rollout waits, not for any other reason: the dashboard says so too.
  expect((await api.rollout(id)).summary.phase).toBe("awaiting-approval");

  const aborted = await rotor(baseURL, ["abort", id]);
  expect(aborted.code, show(aborted)).toBe(0);
  expect(aborted.stdout).toContain(`Aborting ${id}: now `);
  const finished = await rotor(baseURL, ["wait", id, "--until", "finished", "--timeout", "2m"]);
  expect(finished.code, show(finished)).toBe(1);
  expect(finished.stderr.trim()).toMatch(new RegExp(`^Rollout ${id} ended aborted without reaching finished \\(.*\\); open the rollout's page to see why\\.$`));
  expect((await api.rollout(id)).summary.phase).toBe("aborted");
});

test("--json output parses: one document per command, one line per update while watching", async ({ baseURL, api }) => {
  const lbs = await rotor(baseURL, ["--json", "lbs"]);
  expect(lbs.code, show(lbs)).toBe(0);
  expect((JSON.parse(lbs.stdout) as { name: string }[]).map((l) => l.name)).toContain(LB);

  const instances = await rotor(baseURL, ["--json", "instances", LB]);
  expect(instances.code, show(instances)).toBe(0);
  const fleetView = JSON.parse(instances.stdout) as { lb: { name: string }; instances: { id: string; state: string }[] };
  expect(fleetView.lb.name).toBe(LB);
  expect(fleetView.instances.length).toBeGreaterThan(1);
  expect(fleetView.instances.every((i) => i.state === "in-service")).toBe(true);

  const version = uniqueVersion("cli-json");
  const started = await rotor(baseURL, ["--json", "start", LB, version, "--batch", "2", "--auto", "0s"]);
  expect(started.code, show(started)).toBe(0);
  const doc = JSON.parse(started.stdout) as { id: string; lb: string; version: string };
  expect(doc).toEqual({ id: expect.stringMatching(/^r-/), lb: LB, version });

  // Watching: every line is a JSON document; the last one is the end, and the exit code says it succeeded.
  const watched = await rotor(baseURL, ["status", doc.id, "--watch", "--json"]);
  expect(watched.code, show(watched)).toBe(0);
  const updates = watched.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string; phase: string; progress: number; message: string; at: number });
  expect(updates.length).toBeGreaterThan(1);
  expect(updates.every((u) => u.id === doc.id)).toBe(true);
  expect(updates.at(-1)).toMatchObject({ phase: "succeeded", progress: 100 });
  expect(updates.map((u) => u.progress)).toEqual([...updates.map((u) => u.progress)].sort((a, b) => a - b));

  const status = await rotor(baseURL, ["--json", "status", doc.id]);
  expect(status.code, show(status)).toBe(0);
  const detail = JSON.parse(status.stdout) as { summary: { id: string; phase: string }; batches: unknown[] };
  expect(detail.summary).toMatchObject({ id: doc.id, phase: "succeeded" });
  expect(detail.batches).toHaveLength(3);
  expect(detail.batches).toEqual((await api.rollout(doc.id)).batches);

  const waited = await rotor(baseURL, ["--json", "wait", doc.id, "--until", "finished"]);
  expect(waited.code, show(waited)).toBe(0);
  expect(JSON.parse(waited.stdout)).toMatchObject({ id: doc.id, until: "finished", reached: true, phase: "succeeded", exitCode: 0 });

  // A refusal under --json is a document too.
  const refused = await rotor(baseURL, ["--json", "approve", doc.id]);
  expect(refused.code, show(refused)).toBe(3);
  expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, code: "NOT_ALLOWED_IN_PHASE", exitCode: 3 });
});

test("a bad token gives exit 3 and one sentence, and nothing starts", async ({ baseURL, api }) => {
  const before = await api.rollouts();
  const bad = await rotor(baseURL, ["start", LB, uniqueVersion("cli-bad"), "--batch", "2"], { ROTOR_TOKEN: "rotor_not-a-real-token" });
  expect(bad.code, show(bad)).toBe(3);
  expect(bad.stdout).toBe("");
  expectOneSentence(bad.stderr);
  expect(bad.stderr).toMatch(/^ROTOR_TOKEN was refused \(401: the API token is unknown, revoked or expired\); create a token on the dashboard's Tokens page \(\/settings\/tokens\) and export ROTOR_TOKEN\.\n$/);

  const none = await rotor(baseURL, ["lbs"], { ROTOR_TOKEN: "" });
  expect(none.code, show(none)).toBe(3);
  expectOneSentence(none.stderr);
  expect(none.stderr).toContain("ROTOR_TOKEN is not set");
  expect(await api.rollouts()).toEqual(before);
});
