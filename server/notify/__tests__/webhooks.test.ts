/**
 * Webhooks from a real rollout on the real local fleet, with the engine and the notifier in this
 * process: a receiver on loopback gets the rollout's notifications in order, each signed; a receiver
 * that answers 500 once gets the same delivery again; a receiver that is down is retried, then marked
 * failed, while the rollout goes on and succeeds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureAuthSchema } from "@/server/auth/db";
import { TestControl, waitFor } from "@/server/engine/__tests__/harness";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { createRuntime, type Runtime } from "@/server/runtime";
import { startReceiver, type Receiver } from "../testing";
import { addTarget, deliveryLog } from "../targets";

let dir: string;
let fleet: LocalFleetHandle;
let rt: Runtime;
let t: TestControl;
let up: Receiver;
let flaky: Receiver;
let downUrl: string;
const SECRET = "whsec_test-secret-of-enough-length";
const admin = { name: "ada", role: "admin" as const };

/** A loopback port nothing listens on: taken, then let go. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-webhooks-"));
  fleet = await startLocalFleet({ instances: 2, dataDir: path.join(dir, "fleet"), trafficRps: 10, slowFraction: 0 });
  up = await startReceiver(SECRET);
  flaky = await startReceiver(SECRET, (n) => (n === 0 ? 500 : 200));
  downUrl = `http://127.0.0.1:${await deadPort()}/hook`;
  rt = createRuntime({
    dataDir: path.join(dir, "engine"),
    provider: fleet.provider,
    env: { ROTOR_PUBLIC_URL: "https://rotor.example" },
    notify: { pollMs: 50, retry: { baseMs: 50, maxMs: 200, giveUpAfterMs: 1_500 } },
  });
  const db = ensureAuthSchema(rt.store.db);
  for (const [name, url] of [["up", up.url], ["flaky", flaky.url], ["down", downUrl]] as const) {
    const r = addTarget(db, rt.secretsKey, admin, { name, format: "json", url, secret: SECRET });
    if (!r.ok) throw new Error(r.message);
  }
  t = new TestControl(path.join(dir, "engine"), fleet.provider);
  rt.startEngine();
}, 90_000);

afterAll(async () => {
  await rt?.close();
  t?.close();
  await Promise.all([up?.close(), flaky?.close()]);
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const targetId = (name: string) => rt.store.db.prepare<[string], { id: string }>("SELECT id FROM notify_targets WHERE name = ?").get(name)!.id;

describe("webhook notifications of a real rollout", () => {
  it("deliver started, awaiting approval, paused and finished in order, signed, with a link; a dead receiver fails without touching the rollout", async () => {
    const id = await t.launch({ version: "2.0.0", plan: { version: "2.0.0", batchSize: { unit: "count", value: 1 } }, mode: { kind: "manual" } }, "olga");
    await t.waitPhase(id, "awaiting-approval");
    expect(t.operate(id, { type: "pause" }, "olga").ok).toBe(true);
    await t.waitPhase(id, "paused");
    expect(t.operate(id, { type: "resume" }, "olga").ok).toBe(true);
    expect(await t.approveUntilDone(id)).toBe("succeeded");

    const want = [
      ["started", undefined],
      ["awaiting-approval", 1],
      ["paused", undefined],
      ["awaiting-approval", 1],
      ["finished", undefined],
    ];
    const got = await waitFor(() => (up.received.length >= want.length ? up.received : null), { timeoutMs: 10_000, what: "five deliveries" });
    expect(got.map((r) => [r.body.event, (r.body.rollout as { batch?: number }).batch])).toEqual(want);
    expect(got.every((r) => r.verified)).toBe(true);
    expect(got.map((r) => r.body.link)).toEqual(Array(5).fill(`https://rotor.example/rollouts/${id}`));
    expect((got.at(-1)!.body.rollout as { outcome: string }).outcome).toBe("succeeded");
    expect((got[2]!.body.rollout as { actor: string }).actor).toBe("olga");
    expect(new Set(got.map((r) => r.delivery)).size).toBe(5);
    expect(got.map((r) => r.body.id)).toEqual(got.map((r) => r.delivery));

    // The receiver that answered 500 once got that delivery again, under the same id, then the rest.
    await waitFor(() => flaky.received.length >= 6, { timeoutMs: 10_000, what: "the flaky receiver's deliveries" });
    expect(flaky.received[0]!.delivery).toBe(flaky.received[1]!.delivery);
    expect(flaky.received.slice(1).map((r) => r.body.event)).toEqual(want.map((w) => w[0]));
    // The receiver has answered; the notifier records each answer right after: wait for the log to say so.
    const flakyLog = await waitFor(
      () => {
        const log = deliveryLog(rt.store.db, targetId("flaky"));
        return log.length > 0 && log.every((d) => d.status === "delivered") ? log : null;
      },
      { timeoutMs: 10_000, what: "every delivery to the flaky receiver recorded as delivered" },
    );
    expect(flakyLog.at(-1)).toMatchObject({ kind: "started", attempts: 2, lastStatus: 200, lastError: null });

    // The dead receiver: retried with backoff, then failed once the bound passed; the rollout succeeded regardless.
    const down = await waitFor(
      () => {
        const log = deliveryLog(rt.store.db, targetId("down"));
        return log.length === 5 && log.every((d) => d.status === "failed") ? log : null;
      },
      { timeoutMs: 15_000, what: "the dead receiver's deliveries to be marked failed" },
    );
    // Each was tried; the first (the head of the line) again and again until its bound passed. Those
    // queued behind it had aged past the bound by then: one attempt each, so an outage never builds a backlog.
    for (const d of down) {
      expect(d.attempts).toBeGreaterThanOrEqual(1);
      expect(d.lastError).toMatch(/could not connect: ECONNREFUSED/);
    }
    expect(down.at(-1)).toMatchObject({ kind: "started" });
    expect(down.at(-1)!.attempts).toBeGreaterThan(3);
    expect(t.state(id).phase).toBe("succeeded");
    expect(t.events(id).filter((e) => e.outcome === "rejected")).toEqual([]);
  }, 120_000);
});
