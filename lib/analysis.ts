/**
 * Batch analysis, the pure part: per-backend request statistics as cumulative counters (the local
 * balancer keeps them; see server/fleet/balancer.ts), the window between two snapshots, error rate
 * and p95 latency from a fixed histogram, and the verdict that compares a batch's new instances with
 * the instances still on the old version over the same window.
 *
 *   const before = await analysis.snapshot(lb, ids);   // at the start of the window
 *   const after = await analysis.snapshot(lb, ids);    // at its end
 *   const w = diffSnapshots(before, after);
 *   judge({ fresh: sumStats(newIds.map(id => w.backends[id])), old: sumStats(oldIds.map(…)), boundsMs: w.boundsMs, thresholds })
 *
 * Counters are cumulative so any caller can take its own window without resetting anything; a
 * histogram subtracts bucket by bucket. A backend whose counters restarted inside the window (reset,
 * or removed and added again: its `since` changed, or a counter went down) counts from its restart.
 */
import { z } from "zod";

/**
 * Upper bounds (ms) of the latency buckets, roughly log-spaced from 1 ms to 30 s (1-2-3-5-7 per
 * decade: interpolation inside a bucket is then off by at most ~40 %, and the balancer finds a
 * typical latency's bucket in a few comparisons). One more bucket counts everything above 30 s.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1_000, 1_500, 2_000, 3_000, 5_000, 7_000, 10_000, 15_000, 20_000, 30_000];

/** Number of buckets in a histogram over `bounds`: one per bound, plus the overflow. */
export function bucketCount(bounds: readonly number[] = LATENCY_BOUNDS_MS): number {
  return bounds.length + 1;
}

/** The bucket a latency falls in: the first whose bound is ≥ ms (the overflow bucket past the last). */
export function bucketIndex(ms: number, bounds: readonly number[] = LATENCY_BOUNDS_MS): number {
  let i = 0;
  while (i < bounds.length && ms > (bounds[i] as number)) i++;
  return i;
}

/** What one backend (or a group of them) served over a window, or since its counters started. */
export interface RequestStats {
  /** Requests sent to the backend (each attempt, a retry included). */
  requests: number;
  /** Responses from the backend with a 5xx status. */
  backend5xx: number;
  /** Transport failures talking to the backend: refused, reset, timed out (whether or not a retry rescued the request). */
  errors: number;
  /** Response-time histogram (request sent → response headers back), counts per bucket of `boundsMs`. */
  latency: number[];
}

/** One backend's cumulative counters, as the balancer reports them. */
export interface BackendCumulative extends RequestStats {
  /** When these counters started (epoch ms): the backend was added, or the counters were reset. */
  since: number;
  /** 5xx the balancer itself answered for this backend (502 connection failure, 504 timeout or drain cut). */
  lb5xx: number;
}

/** Cumulative per-backend counters at one moment. Two of them make a window. */
export interface BackendStatsSnapshot {
  lb: string;
  /** When it was taken (epoch ms, the balancer's clock). */
  at: number;
  boundsMs: number[];
  backends: Record<string, BackendCumulative>;
}

export interface StatsWindow {
  lb: string;
  from: number;
  to: number;
  boundsMs: number[];
  /** Every backend in the later snapshot. */
  backends: Record<string, RequestStats & { restarted: boolean }>;
}

export function emptyStats(bounds: readonly number[] = LATENCY_BOUNDS_MS): RequestStats {
  return { requests: 0, backend5xx: 0, errors: 0, latency: new Array<number>(bucketCount(bounds)).fill(0) };
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The window between two snapshots of the same balancer (`after` taken later). */
export function diffSnapshots(before: BackendStatsSnapshot, after: BackendStatsSnapshot): StatsWindow {
  if (before.lb !== after.lb) throw new Error(`cannot subtract snapshots of different load balancers (${before.lb} and ${after.lb})`);
  if (after.at < before.at) throw new Error(`snapshot order: the later one (${after.at}) is older than the earlier one (${before.at})`);
  if (!sameBounds(before.boundsMs, after.boundsMs)) throw new Error("cannot subtract snapshots with different latency buckets");
  const backends: StatsWindow["backends"] = {};
  for (const [id, a] of Object.entries(after.backends)) {
    const b = before.backends[id];
    const restarted = !b || b.since !== a.since || a.requests < b.requests || a.backend5xx < b.backend5xx || a.errors < b.errors || a.latency.some((n, i) => n < (b.latency[i] ?? 0));
    if (restarted) backends[id] = { requests: a.requests, backend5xx: a.backend5xx, errors: a.errors, latency: [...a.latency], restarted: b !== undefined };
    else backends[id] = { requests: a.requests - b.requests, backend5xx: a.backend5xx - b.backend5xx, errors: a.errors - b.errors, latency: a.latency.map((n, i) => n - (b.latency[i] ?? 0)), restarted: false };
  }
  return { lb: after.lb, from: before.at, to: after.at, boundsMs: [...after.boundsMs], backends };
}

/** Several backends' windows as one (e.g. all of a batch's new instances). Missing entries count as nothing. */
export function sumStats(list: readonly (RequestStats | undefined)[], bounds: readonly number[] = LATENCY_BOUNDS_MS): RequestStats {
  const out = emptyStats(bounds);
  for (const s of list) {
    if (!s) continue;
    out.requests += s.requests;
    out.backend5xx += s.backend5xx;
    out.errors += s.errors;
    s.latency.forEach((n, i) => {
      if (i < out.latency.length) out.latency[i] = (out.latency[i] ?? 0) + n;
    });
  }
  return out;
}

/** Failed requests: 5xx from the backend and transport failures (each attempt is one or the other, at most). */
export function failedRequests(s: RequestStats): number {
  return Math.min(s.requests, s.backend5xx + s.errors);
}

/** Failed ÷ requests (0..1); null with no requests. */
export function errorRate(s: RequestStats): number | null {
  return s.requests === 0 ? null : failedRequests(s) / s.requests;
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram in ms, interpolated linearly inside its bucket (from the
 * previous bound, 0 for the first); null with no samples. In the overflow bucket: the last bound
 * (the latency is at least that).
 */
export function quantileMs(latency: readonly number[], q: number, bounds: readonly number[] = LATENCY_BOUNDS_MS): number | null {
  if (!(q > 0 && q <= 1)) throw new Error(`quantile must be in (0, 1], got ${q}`);
  const total = latency.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < latency.length; i++) {
    const n = latency[i] ?? 0;
    if (n > 0 && below + n >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? 0;
      const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
      const upper = bounds[i] ?? lower;
      return lower + ((rank - below) / n) * (upper - lower);
    }
    below += n;
  }
  return bounds[bounds.length - 1] ?? 0;
}

/** What the verdict compares, per side. */
export interface SideSummary {
  requests: number;
  failed: number;
  /** 0..1; null with no requests. */
  errorRate: number | null;
  /** null when no response came back. */
  p95Ms: number | null;
}

export function summarize(s: RequestStats, bounds: readonly number[] = LATENCY_BOUNDS_MS): SideSummary {
  return { requests: s.requests, failed: failedRequests(s), errorRate: errorRate(s), p95Ms: quantileMs(s.latency, 0.95, bounds) };
}

const num = (what: string, min: number, max: number) =>
  z.number({ error: `${what} must be a number` }).min(min, { error: `${what} must be at least ${min}` }).max(max, { error: `${what} must be at most ${max}` });

/** The analysis thresholds (defaults: error rate ≤ old + 1 point, p95 ≤ 1.5 × old + 50 ms, 50 requests a side). */
export const analysisThresholdsSchema = z
  .object({
    /** The new instances' error rate may exceed the old ones' by this many percentage points. */
    maxErrorRateIncreasePoints: num("maxErrorRateIncreasePoints (percentage points over the old error rate)", 0, 100).default(1),
    /** p95 limit = latencyFactor × the old p95 + latencyMarginMs. */
    latencyFactor: num("latencyFactor (times the old p95)", 1, 100).default(1.5),
    latencyMarginMs: num("latencyMarginMs (added to the p95 limit)", 0, 600_000).default(50),
    /** Fewer requests than this on either side: inconclusive. */
    minRequests: num("minRequests (on each side)", 1, 10_000_000).int({ error: "minRequests must be a whole number" }).default(50),
  })
  .strict();

export type AnalysisThresholds = z.output<typeof analysisThresholdsSchema>;
export type AnalysisThresholdsInput = z.input<typeof analysisThresholdsSchema>;
export const DEFAULT_THRESHOLDS: AnalysisThresholds = analysisThresholdsSchema.parse({});

/** A CloudWatch-style alarm as the provider reads it. */
export interface AlarmState {
  name: string;
  state: "OK" | "ALARM" | "INSUFFICIENT_DATA";
  /** The alarm's own explanation of its state. */
  reason?: string;
  updatedAt?: number;
}

/**
 * A load balancer's own metrics over a window, for the whole of it (AWS: a target group's CloudWatch
 * metrics; ALB and Classic ELB publish no per-instance split, so these cannot compare new instances
 * with old ones: they show the fleet as a whole).
 */
export interface LbWindowMetrics {
  lb: string;
  from: number;
  to: number;
  requests: number;
  /** 5xx answered by the instances (not by the load balancer itself). */
  backend5xx: number;
  /** p95 of the response time; null when the service had no datapoint for it. */
  p95Ms: number | null;
  /** Where the figures come from, e.g. "CloudWatch AWS/ApplicationELB TargetGroup=targetgroup/web/…". */
  source: string;
}

export type Verdict = "pass" | "fail" | "inconclusive";

export interface AnalysisCheck {
  check: "alarms" | "sample" | "error-rate" | "p95";
  outcome: Verdict;
  /** One sentence with the numbers side by side. */
  sentence: string;
  fresh?: number | null;
  old?: number | null;
  limit?: number;
}

export interface AnalysisResult {
  verdict: Verdict;
  /** One sentence per check, failures first. */
  reasons: string[];
  checks: AnalysisCheck[];
  fresh: SideSummary | null;
  old: SideSummary | null;
  thresholds: AnalysisThresholds;
}

export interface JudgeInput {
  /** The batch's new instances over the window; null where the provider has no per-instance figures (AWS). */
  fresh: RequestStats | null;
  /** The instances still on the old version over the same window. */
  old: RequestStats | null;
  boundsMs?: readonly number[];
  /** Validated here: a bad threshold throws with the schema's message. */
  thresholds?: AnalysisThresholdsInput;
  /** Alarms read during the window: any in ALARM fails the batch. */
  alarms?: readonly AlarmState[];
}

const pct = (r: number) => `${(r * 100).toFixed(2)}%`;
const ms = (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;

/** Parses thresholds, throwing one readable sentence on bad input. */
export function parseThresholds(input: unknown = {}): AnalysisThresholds {
  const r = analysisThresholdsSchema.safeParse(input ?? {});
  if (!r.success) throw new Error(`invalid analysis thresholds: ${r.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ")}`);
  return r.data;
}

/**
 * The verdict: fail if any alarm is in ALARM or a figure is over its limit; otherwise inconclusive if
 * a side had too few requests (or nothing could be judged at all); otherwise pass.
 */
export function judge(input: JudgeInput): AnalysisResult {
  const t = parseThresholds(input.thresholds);
  const bounds = input.boundsMs ?? LATENCY_BOUNDS_MS;
  const checks: AnalysisCheck[] = [];

  for (const a of input.alarms ?? []) {
    if (a.state === "ALARM") checks.push({ check: "alarms", outcome: "fail", sentence: `Alarm ${a.name} is in ALARM${a.reason ? `: ${a.reason}` : ""}.` });
  }
  if (input.alarms && input.alarms.length > 0 && !checks.some((c) => c.check === "alarms")) {
    checks.push({ check: "alarms", outcome: "pass", sentence: `No alarm in ALARM (${input.alarms.map((a) => `${a.name}: ${a.state}`).join(", ")}).` });
  }

  const fresh = input.fresh ? summarize(input.fresh, bounds) : null;
  const old = input.old ? summarize(input.old, bounds) : null;
  if (fresh && old) {
    if (fresh.requests < t.minRequests || old.requests < t.minRequests) {
      checks.push({
        check: "sample",
        outcome: "inconclusive",
        sentence: `Too few requests to compare: ${fresh.requests} on the new instances, ${old.requests} on the old (at least ${t.minRequests} on each side).`,
        fresh: fresh.requests,
        old: old.requests,
        limit: t.minRequests,
      });
    } else {
      const oldRate = old.errorRate ?? 0;
      const newRate = fresh.errorRate ?? 0;
      const limit = oldRate + t.maxErrorRateIncreasePoints / 100;
      const over = newRate > limit + 1e-12;
      checks.push({
        check: "error-rate",
        outcome: over ? "fail" : "pass",
        sentence: `Error rate ${pct(newRate)} on the new instances vs ${pct(oldRate)} on the old (limit ${pct(limit)}): ${over ? "over the limit" : "within the limit"}.`,
        fresh: newRate,
        old: oldRate,
        limit,
      });
      if (fresh.p95Ms === null || old.p95Ms === null) {
        checks.push({
          check: "p95",
          outcome: "inconclusive",
          sentence: `p95 latency not compared: no response came back from the ${fresh.p95Ms === null ? "new" : "old"} instances.`,
          fresh: fresh.p95Ms,
          old: old.p95Ms,
        });
      } else {
        const pLimit = t.latencyFactor * old.p95Ms + t.latencyMarginMs;
        const slow = fresh.p95Ms > pLimit;
        checks.push({
          check: "p95",
          outcome: slow ? "fail" : "pass",
          sentence: `p95 latency ${ms(fresh.p95Ms)} on the new instances vs ${ms(old.p95Ms)} on the old (limit ${ms(pLimit)}): ${slow ? "over the limit" : "within the limit"}.`,
          fresh: fresh.p95Ms,
          old: old.p95Ms,
          limit: pLimit,
        });
      }
    }
  } else if (checks.length === 0) {
    checks.push({ check: "sample", outcome: "inconclusive", sentence: "Nothing to judge by: no per-instance figures for this load balancer and no alarms named." });
  }

  const rank: Record<Verdict, number> = { fail: 0, inconclusive: 1, pass: 2 };
  checks.sort((a, b) => rank[a.outcome] - rank[b.outcome]);
  const verdict: Verdict = checks.some((c) => c.outcome === "fail") ? "fail" : checks.some((c) => c.outcome === "inconclusive") ? "inconclusive" : "pass";
  return { verdict, reasons: checks.map((c) => c.sentence), checks, fresh, old, thresholds: t };
}
