/**
 * Injected faults, for demos and tests. One-shot kinds fire once and disappear:
 * `deploy-fails` (next deploy), `start-fails` (next start), `slow-drain` (next deregistration holds a
 * request open for `holdMs`). Standing kinds last until cleared: `health-fails-after-start` (armed; from
 * the instance's next start the balancer's checks of it fail), `backend-500` (the app answers 500, not /health;
 * `rate` of its answers), `slow-responses` (the app answers `delayMs` late, /health excepted). Both app
 * faults can be limited to a version (`onVersion`): armed on every instance, they follow a rollout.
 */
import type { AppFaults, Fault, FaultBody, FaultKind } from "./protocol";

export const DEFAULT_HOLD_MS = 8_000;
export const DEFAULT_DELAY_MS = 500;

export class FaultStore {
  private faults: Fault[] = [];

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  add(body: FaultBody): Fault {
    // One fault of a kind per instance: injecting again replaces it.
    this.faults = this.faults.filter((f) => !(f.kind === body.kind && f.instanceId === body.instanceId));
    const fault: Fault = { kind: body.kind, instanceId: body.instanceId, since: Date.now() };
    if (body.kind === "slow-drain") fault.holdMs = body.holdMs ?? DEFAULT_HOLD_MS;
    if (body.kind === "health-fails-after-start") fault.active = false;
    if (body.kind === "slow-responses") fault.delayMs = body.delayMs ?? DEFAULT_DELAY_MS;
    if (body.kind === "backend-500") fault.rate = body.rate ?? 1;
    if (body.onVersion !== undefined) fault.onVersion = body.onVersion;
    this.faults.push(fault);
    return { ...fault };
  }

  has(kind: FaultKind, id: string): Fault | undefined {
    return this.faults.find((f) => f.kind === kind && f.instanceId === id);
  }

  /** Takes a one-shot fault: true (and gone) when it was set. */
  take(kind: FaultKind, id: string): Fault | undefined {
    const f = this.has(kind, id);
    if (f) this.faults = this.faults.filter((x) => x !== f);
    return f;
  }

  /** The faults an instance applies to its own answers, as its process is told them. */
  appFaults(id: string): AppFaults {
    const e = this.has("backend-500", id);
    const s = this.has("slow-responses", id);
    return {
      backend500: e ? { rate: e.rate ?? 1, ...(e.onVersion ? { onVersion: e.onVersion } : {}) } : null,
      slow: s ? { delayMs: s.delayMs ?? DEFAULT_DELAY_MS, ...(s.onVersion ? { onVersion: s.onVersion } : {}) } : null,
    };
  }

  clear(): Fault[] {
    const old = this.faults;
    this.faults = [];
    return old;
  }
}
