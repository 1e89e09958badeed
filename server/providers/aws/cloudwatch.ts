/**
 * Batch analysis on AWS, from CloudWatch: alarms by name (any in ALARM fails the batch) and the load
 * balancer's own metrics over a window. Both are read-only.
 *
 * Metrics are for the whole target group (or Classic ELB): ALB and Classic ELB publish RequestCount,
 * 5xx and response time per load balancer and target group, never per instance, so they cannot
 * compare a batch's new instances with the old ones; they show the fleet as a whole. They arrive in
 * one-minute periods, a minute or two late: a window shorter than a few minutes may read nothing yet.
 *
 *   target group tg_web   AWS/ApplicationELB  TargetGroup=targetgroup/web/…, LoadBalancer=app/…/… (each ALB it is attached to)
 *                         RequestCount Sum, HTTPCode_Target_5XX_Count Sum, TargetResponseTime p95 (s)
 *   Classic ELB web       AWS/ELB             LoadBalancerName=web
 *                         RequestCount Sum, HTTPCode_Backend_5XX Sum, Latency p95 (s)
 * A target group behind a Network Load Balancer has no HTTP metrics: null.
 */
import { DescribeAlarmsCommand, GetMetricDataCommand, type DescribeAlarmsCommandOutput, type GetMetricDataCommandOutput, type MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { DescribeTargetGroupsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { z } from "zod";
import type { AlarmState, LbWindowMetrics } from "@/lib/analysis";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";
import { parseLbName } from "@/server/providers/aws/reshape";
import { ProviderError } from "@/server/providers/types";

/** DescribeAlarms takes at most 100 names a call. */
const ALARM_NAMES_PER_CALL = 100;
const PERIOD_S = 60;

const alarmNames = z
  .array(z.string().min(1, { error: "an alarm name cannot be empty" }).max(255, { error: "an alarm name has at most 255 characters" }))
  .max(500, { error: "at most 500 alarm names" });

interface MetricSet {
  namespace: string;
  /** One dimension set per load balancer the figures come from (summed; p95: the highest). */
  dimensions: { Name: string; Value: string }[][];
  requests: string;
  errors: string;
  latency: string;
  source: string;
}

const toAlarmState = (v: string | undefined): AlarmState["state"] => (v === "ALARM" || v === "OK" ? v : "INSUFFICIENT_DATA");

export class CloudWatchAnalysis {
  constructor(
    private readonly clients: AwsClients,
    private readonly caller: AwsCaller,
  ) {}

  /** The named alarms (metric or composite) now, in the order asked; a name CloudWatch does not have throws NOT_FOUND. */
  async alarms(names: readonly string[]): Promise<AlarmState[]> {
    const parsed = alarmNames.safeParse([...names]);
    if (!parsed.success) throw new ProviderError("INVALID_INPUT", `invalid alarm names: ${parsed.error.issues[0]?.message ?? "?"}`);
    const wanted = [...new Set(parsed.data)];
    const found = new Map<string, AlarmState>();
    for (let i = 0; i < wanted.length; i += ALARM_NAMES_PER_CALL) {
      const chunk = wanted.slice(i, i + ALARM_NAMES_PER_CALL);
      let token: string | undefined;
      do {
        const page: DescribeAlarmsCommandOutput = await this.caller.call(`DescribeAlarms ${chunk.join(", ")}`, () =>
          this.clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: chunk, AlarmTypes: ["MetricAlarm", "CompositeAlarm"], NextToken: token })),
        );
        for (const a of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
          if (!a.AlarmName) continue;
          const state: AlarmState = { name: a.AlarmName, state: toAlarmState(a.StateValue) };
          if (a.StateReason) state.reason = a.StateReason;
          if (a.StateUpdatedTimestamp) state.updatedAt = a.StateUpdatedTimestamp.getTime();
          found.set(a.AlarmName, state);
        }
        token = page.NextToken;
      } while (token);
    }
    const missing = wanted.filter((n) => !found.has(n));
    if (missing.length > 0) throw new ProviderError("NOT_FOUND", `CloudWatch has no alarm named ${missing.map((n) => JSON.stringify(n)).join(", ")}: correct the name or create the alarm`);
    return wanted.map((n) => found.get(n)!);
  }

  /** The load balancer's requests, 5xx from its instances and p95 response time over [from, to]; null when it publishes none. */
  async lbMetrics(lb: string, from: number, to: number): Promise<LbWindowMetrics | null> {
    if (!(Number.isFinite(from) && Number.isFinite(to) && to > from)) throw new ProviderError("INVALID_INPUT", `metrics window: ${from}..${to} is not a window (to must be after from)`);
    const set = await this.metricSet(lb);
    if (!set) return null;
    // Whole periods covering the window (CloudWatch aligns one-minute periods on the minute).
    const start = Math.floor(from / 60_000) * 60_000;
    const end = Math.max(start + 60_000, Math.ceil(to / 60_000) * 60_000);
    const q = (id: string, metric: string, stat: string) =>
      set.dimensions.map((dims, i): MetricDataQuery => ({ Id: `${id}${i}`, MetricStat: { Metric: { Namespace: set.namespace, MetricName: metric, Dimensions: dims }, Period: PERIOD_S, Stat: stat }, ReturnData: true }));
    const counts = await this.metricData(lb, set, [...q("requests", set.requests, "Sum"), ...q("errors", set.errors, "Sum")], start, end);
    const sum = (prefix: string) => set.dimensions.reduce((n, _d, i) => n + (counts.get(`${prefix}${i}`) ?? []).reduce((a, b) => a + b, 0), 0);
    // A call of its own: a service that cannot compute a percentile (an emulator) costs the p95, not the counts.
    let p95Ms: number | null = null;
    try {
      const latency = await this.metricData(lb, set, q("latency", set.latency, "p95"), start, end);
      // A p95 of p95s is not a p95; the highest period's is the honest upper bound.
      const p95s = [...latency.values()].flat();
      if (p95s.length > 0) p95Ms = Math.max(...p95s) * 1000;
    } catch (err) {
      this.caller.warn({ code: err instanceof ProviderError ? err.code : "INTERNAL", message: `p95 ${set.latency} of ${lb} not read: ${err instanceof Error ? err.message : String(err)}`, lb });
    }
    return { lb, from: start, to: end, requests: Math.round(sum("requests")), backend5xx: Math.round(sum("errors")), p95Ms, source: set.source };
  }

  /** Every datapoint of each query over [start, end), by query id. */
  private async metricData(lb: string, set: MetricSet, queries: MetricDataQuery[], start: number, end: number): Promise<Map<string, number[]>> {
    const values = new Map<string, number[]>();
    let token: string | undefined;
    do {
      const page: GetMetricDataCommandOutput = await this.caller.call(
        `GetMetricData ${set.namespace} ${lb}`,
        () => this.clients.cloudwatch.send(new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: new Date(start), EndTime: new Date(end), NextToken: token })),
        lb,
      );
      for (const r of page.MetricDataResults ?? []) if (r.Id) values.set(r.Id, [...(values.get(r.Id) ?? []), ...(r.Values ?? []).filter((v) => Number.isFinite(v))]);
      token = page.NextToken;
    } while (token);
    return values;
  }

  private async metricSet(lb: string): Promise<MetricSet | null> {
    const ref = parseLbName(lb);
    if (ref.kind === "classic") {
      return {
        namespace: "AWS/ELB",
        dimensions: [[{ Name: "LoadBalancerName", Value: ref.awsName }]],
        requests: "RequestCount",
        errors: "HTTPCode_Backend_5XX",
        latency: "Latency",
        source: `CloudWatch AWS/ELB LoadBalancerName=${ref.awsName} (the whole load balancer: Classic ELB metrics have no per-instance split)`,
      };
    }
    const out = await this.caller.call(`DescribeTargetGroups ${ref.awsName}`, () => this.clients.elbv2.send(new DescribeTargetGroupsCommand({ Names: [ref.awsName] })), lb);
    const tg = out.TargetGroups?.[0];
    if (!tg?.TargetGroupArn) throw new ProviderError("NOT_FOUND", `target group ${ref.awsName} not found`);
    const tgDim = tg.TargetGroupArn.slice(tg.TargetGroupArn.indexOf("targetgroup/"));
    // ALB dimension values are the ARNs' last parts: targetgroup/name/id and app/name/id.
    const albs = (tg.LoadBalancerArns ?? []).map((arn) => arn.slice(arn.indexOf(":loadbalancer/") + ":loadbalancer/".length)).filter((d) => d.startsWith("app/"));
    if (albs.length === 0) return null;
    return {
      namespace: "AWS/ApplicationELB",
      dimensions: albs.map((alb) => [
        { Name: "TargetGroup", Value: tgDim },
        { Name: "LoadBalancer", Value: alb },
      ]),
      requests: "RequestCount",
      errors: "HTTPCode_Target_5XX_Count",
      latency: "TargetResponseTime",
      source: `CloudWatch AWS/ApplicationELB TargetGroup=${tgDim} (the whole target group: ALB metrics have no per-instance split)`,
    };
  }
}
