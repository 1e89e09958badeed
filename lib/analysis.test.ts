import { describe, expect, it } from "vitest";
import {
  LATENCY_BOUNDS_MS,
  bucketCount,
  bucketIndex,
  diffSnapshots,
  emptyStats,
  errorRate,
  judge,
  parseThresholds,
  quantileMs,
  sumStats,
  type BackendCumulative,
  type BackendStatsSnapshot,
  type RequestStats,
} from "./analysis";

/** `n` requests, `failed` of them 5xx, every response taking `latencyMs`. */
function stats(n: number, failed: number, latencyMs: number): RequestStats {
  const s = emptyStats();
  s.requests = n;
  s.backend5xx = failed;
  s.latency[bucketIndex(latencyMs)] = n;
  return s;
}

function cumulative(s: RequestStats, since = 1, lb5xx = 0): BackendCumulative {
  return { ...s, latency: [...s.latency], since, lb5xx };
}

function snap(at: number, backends: Record<string, BackendCumulative>): BackendStatsSnapshot {
  return { lb: "local", at, boundsMs: [...LATENCY_BOUNDS_MS], backends };
}

describe("latency buckets", () => {
  it("puts a latency in the first bucket whose bound is at least it, and past 30 s in the overflow", () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(1)).toBe(0);
    expect(bucketIndex(1.01)).toBe(1);
    expect(bucketIndex(100)).toBe(LATENCY_BOUNDS_MS.indexOf(100));
    expect(bucketIndex(30_000)).toBe(LATENCY_BOUNDS_MS.length - 1);
    expect(bucketIndex(45_000)).toBe(LATENCY_BOUNDS_MS.length);
    expect(bucketCount()).toBe(LATENCY_BOUNDS_MS.length + 1);
  });

  it("reads a quantile by interpolating inside its bucket", () => {
    const h = emptyStats().latency;
    // 100 samples in (50, 70]: p95 is 95 % of the way from 50 to 70.
    h[bucketIndex(60)] = 100;
    expect(quantileMs(h, 0.95)).toBeCloseTo(69, 5);
    expect(quantileMs(h, 0.5)).toBeCloseTo(60, 5);
    // 90 fast (≤ 1 ms) and 10 slow in (700, 1000]: p95 falls halfway into the slow bucket.
    const mixed = emptyStats().latency;
    mixed[0] = 90;
    mixed[bucketIndex(800)] = 10;
    expect(quantileMs(mixed, 0.95)).toBeCloseTo(850, 5);
    expect(quantileMs(mixed, 0.9)).toBeCloseTo(1, 5);
  });

  it("has no quantile without samples, the last bound in the overflow, and refuses a bad q", () => {
    expect(quantileMs(emptyStats().latency, 0.95)).toBeNull();
    const h = emptyStats().latency;
    h[LATENCY_BOUNDS_MS.length] = 5;
    expect(quantileMs(h, 0.95)).toBe(30_000);
    expect(() => quantileMs(h, 0)).toThrow(/quantile/);
    expect(() => quantileMs(h, 1.5)).toThrow(/quantile/);
  });
});

describe("windows from cumulative snapshots", () => {
  it("subtracts counters and histograms bucket by bucket", () => {
    const a0 = cumulative(stats(100, 1, 5));
    const a1 = cumulative(sumStats([stats(100, 1, 5), stats(50, 4, 300)]));
    const w = diffSnapshots(snap(1_000, { a: a0 }), snap(61_000, { a: a1 }));
    expect(w.from).toBe(1_000);
    expect(w.to).toBe(61_000);
    expect(w.backends.a).toMatchObject({ requests: 50, backend5xx: 4, errors: 0, restarted: false });
    expect(w.backends.a?.latency[bucketIndex(300)]).toBe(50);
    expect(w.backends.a?.latency[bucketIndex(5)]).toBe(0);
  });

  it("counts a backend whose counters restarted (reset, or new) from its restart", () => {
    const before = snap(1_000, { a: cumulative(stats(500, 0, 5), 1), gone: cumulative(stats(9, 0, 5)) });
    const after = snap(2_000, { a: cumulative(stats(20, 2, 5), 1_500), fresh: cumulative(stats(7, 0, 5), 1_800) });
    const w = diffSnapshots(before, after);
    expect(w.backends.a).toMatchObject({ requests: 20, backend5xx: 2, restarted: true });
    expect(w.backends.fresh).toMatchObject({ requests: 7, restarted: false });
    expect(w.backends.gone).toBeUndefined();
  });

  it("refuses snapshots that cannot be subtracted, saying why", () => {
    const s = snap(1_000, {});
    expect(() => diffSnapshots(s, { ...s, lb: "other" })).toThrow(/different load balancers/);
    expect(() => diffSnapshots(snap(2_000, {}), s)).toThrow(/older/);
    expect(() => diffSnapshots(s, { ...s, boundsMs: [1, 10] })).toThrow(/different latency buckets/);
  });

  it("sums backends and computes the error rate from 5xx and transport failures", () => {
    const a = stats(100, 2, 5);
    const b = { ...stats(100, 0, 5), errors: 3 };
    const s = sumStats([a, b, undefined]);
    expect(s.requests).toBe(200);
    expect(errorRate(s)).toBeCloseTo(5 / 200, 10);
    expect(errorRate(emptyStats())).toBeNull();
  });
});

describe("the verdict", () => {
  it("passes a batch that is as good as the old instances, with the numbers side by side", () => {
    const r = judge({ fresh: stats(200, 1, 40), old: stats(600, 3, 40) });
    expect(r.verdict).toBe("pass");
    expect(r.reasons).toHaveLength(2);
    expect(r.reasons.join(" ")).toMatch(/Error rate 0\.50% on the new instances vs 0\.50% on the old \(limit 1\.50%\): within the limit/);
    expect(r.reasons.join(" ")).toMatch(/p95 latency 49 ms on the new instances vs 49 ms on the old \(limit 124 ms\)/);
    expect(r.fresh).toMatchObject({ requests: 200, failed: 1 });
    expect(r.thresholds).toEqual({ maxErrorRateIncreasePoints: 1, latencyFactor: 1.5, latencyMarginMs: 50, minRequests: 50 });
  });

  it("fails on an error rate more than one point over the old one", () => {
    const r = judge({ fresh: stats(100, 5, 10), old: stats(100, 1, 10) });
    expect(r.verdict).toBe("fail");
    expect(r.reasons[0]).toBe("Error rate 5.00% on the new instances vs 1.00% on the old (limit 2.00%): over the limit.");
    expect(r.checks.find((c) => c.check === "error-rate")).toMatchObject({ outcome: "fail", fresh: 0.05, old: 0.01 });
    // Exactly at the limit passes.
    expect(judge({ fresh: stats(100, 2, 10), old: stats(100, 1, 10) }).verdict).toBe("pass");
  });

  it("fails on a p95 over 1.5 × the old one + 50 ms", () => {
    const r = judge({ fresh: stats(100, 0, 400), old: stats(100, 0, 100) });
    expect(r.verdict).toBe("fail");
    expect(r.reasons[0]).toMatch(/^p95 latency 490 ms on the new instances vs 99 ms on the old \(limit 198 ms\): over the limit\.$/);
  });

  it("is inconclusive with fewer than the minimum requests on either side", () => {
    const r = judge({ fresh: stats(49, 0, 10), old: stats(1_000, 0, 10) });
    expect(r.verdict).toBe("inconclusive");
    expect(r.reasons).toEqual(["Too few requests to compare: 49 on the new instances, 1000 on the old (at least 50 on each side)."]);
    expect(judge({ fresh: stats(0, 0, 10), old: stats(0, 0, 10) }).verdict).toBe("inconclusive");
    expect(judge({ fresh: stats(10, 0, 10), old: stats(10, 0, 10), thresholds: { minRequests: 10 } }).verdict).toBe("pass");
  });

  it("fails when an alarm is in ALARM, whatever the figures, and passes on alarms alone when there are no figures", () => {
    const alarm = { name: "web-5xx", state: "ALARM" as const, reason: "Threshold Crossed" };
    const r = judge({ fresh: stats(5, 0, 10), old: stats(5, 0, 10), alarms: [alarm, { name: "web-latency", state: "OK" }] });
    expect(r.verdict).toBe("fail");
    expect(r.reasons[0]).toBe("Alarm web-5xx is in ALARM: Threshold Crossed.");
    const ok = judge({ fresh: null, old: null, alarms: [{ name: "web-5xx", state: "OK" }, { name: "web-latency", state: "INSUFFICIENT_DATA" }] });
    expect(ok.verdict).toBe("pass");
    expect(ok.reasons).toEqual(["No alarm in ALARM (web-5xx: OK, web-latency: INSUFFICIENT_DATA)."]);
    expect(judge({ fresh: null, old: null }).verdict).toBe("inconclusive");
  });

  it("cannot compare latency when nothing came back from one side", () => {
    const allFailed = { ...emptyStats(), requests: 100, errors: 100 };
    const r = judge({ fresh: allFailed, old: stats(100, 0, 10) });
    expect(r.verdict).toBe("fail");
    expect(r.reasons).toContain("p95 latency not compared: no response came back from the new instances.");
  });

  it("takes thresholds through a schema with clear errors", () => {
    expect(parseThresholds({ latencyFactor: 2 })).toMatchObject({ latencyFactor: 2, latencyMarginMs: 50 });
    expect(() => parseThresholds({ minRequests: 0 })).toThrow("invalid analysis thresholds: minRequests: minRequests (on each side) must be at least 1");
    expect(() => parseThresholds({ minRequests: 2.5 })).toThrow(/minRequests must be a whole number/);
    expect(() => parseThresholds({ latencyFactor: "x" })).toThrow(/latencyFactor \(times the old p95\) must be a number/);
    expect(() => parseThresholds({ maxErrorRate: 1 })).toThrow(/invalid analysis thresholds: .*maxErrorRate/);
    expect(() => judge({ fresh: null, old: null, thresholds: { latencyMarginMs: -1 } })).toThrow(/latencyMarginMs/);
  });
});
