/**
 * The outbox across restarts and processes, on a real database and a real receiver: a delivery that
 * failed before a restart is sent after it under the same id and not again; two notifiers on the same
 * data dir (two processes) turn each event into one delivery and send it once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRollout } from "@/lib/rollout/machine";
import { fleetOf, inputFor } from "@/lib/rollout/__tests__/helpers";
import { ensureAuthSchema } from "@/server/auth/db";
import { secretsKey } from "@/server/auth/secrets";
import { RotorStore } from "@/server/store";
import { STORE_KINDS, testStoreLocation, type TestStoreLocation } from "@/server/testing/stores";
import { Notifier } from "../notifier";
import { addTarget, deliveryLog } from "../targets";
import { startReceiver, type Receiver } from "../testing";

const SECRET = "whsec_outbox-secret-of-enough-length";
let receiver: Receiver;
let healthy = false;
const fast = { pollMs: 60_000, retry: { baseMs: 1, maxMs: 2, giveUpAfterMs: 60_000 }, env: { ROTOR_PUBLIC_URL: "https://rotor.example" } };

/** A rollout on its own load balancer and instances, created with its applied `start`. */
function startRollout(store: RotorStore, id: string, lb: string) {
  const fleet = fleetOf(2).map((i) => ({ ...i, id: `${id}-${i.id}` }));
  const input = { ...inputFor(fleet), id, lb };
  const state = createRollout(input);
  store.insertRollout(
    { id, lb, provider: "local", createdBy: "olga", createdAt: 1_000, input: {}, createInput: input, targetVersion: "v2", fromVersions: { v1: 2 }, phase: state.phase },
    [{ at: Date.now(), actor: "olga", type: "start", payload: { type: "start" }, outcome: "applied" }],
  );
}

beforeAll(async () => {
  receiver = await startReceiver(SECRET, () => (healthy ? 200 : 503));
});

afterAll(async () => {
  await receiver?.close();
});

describe.each(STORE_KINDS)("notification outbox on %s", (kind) => {
  let where: TestStoreLocation;
  let dir: string;
  beforeAll(async () => {
    where = await testStoreLocation(kind);
    dir = where.dir;
    receiver.received.length = 0;
    healthy = false;
  });
  afterAll(() => where.cleanup());

  it("a delivery that failed before a restart is sent after it, under the same id, once", async () => {
    const store = new RotorStore(where.location);
    const key = secretsKey(dir);
    const r = addTarget(ensureAuthSchema(store.db), key, { name: "ada", role: "admin" }, { name: "rx", format: "json", url: receiver.url, secret: SECRET });
    if (!r.ok) throw new Error(r.message);
    startRollout(store, "r-a", "lb-a");

    const before = new Notifier(store, key, null, fast);
    await before.pass();
    await before.stop();
    expect(receiver.received).toHaveLength(1);
    expect(deliveryLog(store.db, r.data.id)).toMatchObject([{ kind: "started", status: "pending", attempts: 1, lastStatus: 503 }]);
    store.close();

    // "Restart": a new connection and a new notifier with nothing in memory.
    healthy = true;
    const reopened = new RotorStore(where.location);
    const after = new Notifier(reopened, secretsKey(dir), null, fast);
    const later = () => Date.now() + 10; // past the 1–2 ms backoff
    await after.pass(later);
    await after.pass(later);
    expect(receiver.received.map((x) => [x.body.event, x.verified])).toEqual([
      ["started", true],
      ["started", true],
    ]);
    expect(receiver.received[1]!.delivery).toBe(receiver.received[0]!.delivery);
    expect(deliveryLog(reopened.db, r.data.id)).toMatchObject([{ status: "delivered", attempts: 2, lastStatus: 200 }]);
    await after.stop();
    reopened.close();
  });

  it("two notifiers on one data dir (two processes) derive and send each notification once", async () => {
    receiver.received.length = 0;
    const a = new RotorStore(where.location);
    const b = new RotorStore(where.location);
    for (const n of [1, 2, 3, 4, 5]) startRollout(a, `r-m${n}`, `lb-m${n}`);
    const na = new Notifier(a, secretsKey(dir), null, fast);
    const nb = new Notifier(b, secretsKey(dir), null, fast);
    await Promise.all([na.pass(), nb.pass(), na.pass(), nb.pass()]);
    await Promise.all([na.pass(), nb.pass()]);
    const ids = receiver.received.map((x) => x.delivery);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
    expect(receiver.received.map((x) => (x.body.rollout as { rolloutId: string }).rolloutId)).toEqual(["r-m1", "r-m2", "r-m3", "r-m4", "r-m5"]);
    await Promise.all([na.stop(), nb.stop()]);
    a.close();
    b.close();
  });
});
