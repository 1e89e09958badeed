/**
 * Batch analysis on AWS against moto: CloudWatch alarms read by name (one set to ALARM with
 * SetAlarmState fails the verdict), an unknown name and a refused permission said plainly, and the
 * load balancer's own metrics over a window (Classic ELB, and a target group behind an ALB).
 */
import { CloudWatchClient, PutMetricAlarmCommand, PutMetricDataCommand, SetAlarmStateCommand, type Dimension } from "@aws-sdk/client-cloudwatch";
import { DescribeSubnetsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { CreateListenerCommand, CreateLoadBalancerCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { judge } from "@/lib/analysis";
import { createEstate, motoProvider } from "@/server/providers/aws/__tests__/fixture";
import { ProviderError } from "@/server/providers/types";
import { startMoto, type MotoServer } from "@/server/testing/moto";

let moto: MotoServer;
let cw: CloudWatchClient;
let albDimension: string;
let tgDimension: string;

const cfg = () => ({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });

async function alarm(name: string) {
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: "AWS/ApplicationELB",
      MetricName: "HTTPCode_Target_5XX_Count",
      Statistic: "Sum",
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 10,
      ComparisonOperator: "GreaterThanThreshold",
    }),
  );
}

async function put(namespace: string, dims: Dimension[], at: Date, metrics: Record<string, number[]>) {
  await cw.send(
    new PutMetricDataCommand({
      Namespace: namespace,
      MetricData: Object.entries(metrics).flatMap(([name, values]) => values.map((v) => ({ MetricName: name, Dimensions: dims, Timestamp: at, Value: v }))),
    }),
  );
}

beforeAll(async () => {
  moto = await startMoto();
  await createEstate(moto, { instances: 2, classic: "web", targetGroup: "api", version: "1.0.0" });
  cw = new CloudWatchClient(cfg());
  const elbv2 = new ElasticLoadBalancingV2Client(cfg());
  const subnets = (await new EC2Client(cfg()).send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const alb = (await elbv2.send(new CreateLoadBalancerCommand({ Name: "front", Subnets: subnets.slice(0, 2).map((s) => s.SubnetId!), Type: "application" }))).LoadBalancers?.[0];
  const tg = (await elbv2.send(new DescribeTargetGroupsCommand({ Names: ["api"] }))).TargetGroups?.[0];
  await elbv2.send(new CreateListenerCommand({ LoadBalancerArn: alb!.LoadBalancerArn!, Protocol: "HTTP", Port: 80, DefaultActions: [{ Type: "forward", TargetGroupArn: tg!.TargetGroupArn! }] }));
  albDimension = alb!.LoadBalancerArn!.split(":loadbalancer/")[1]!;
  tgDimension = tg!.TargetGroupArn!.slice(tg!.TargetGroupArn!.indexOf("targetgroup/"));
  await alarm("api-5xx");
  await alarm("api-latency");
}, 90_000);

afterAll(async () => {
  cw?.destroy();
  await moto?.stop();
}, 60_000);

describe("CloudWatch for batch analysis (moto)", () => {
  it("reads alarms by name, counted as cloudwatch calls; one in ALARM fails the verdict", async () => {
    const { provider, calls } = motoProvider(moto);
    try {
      const before = await provider.analysis.alarms!(["api-5xx", "api-latency"]);
      expect(before.map((a) => a.name)).toEqual(["api-5xx", "api-latency"]);
      expect(before.every((a) => a.state !== "ALARM")).toBe(true);
      expect(judge({ fresh: null, old: null, alarms: before }).verdict).toBe("pass");

      await cw.send(new SetAlarmStateCommand({ AlarmName: "api-5xx", StateValue: "ALARM", StateReason: "5xx over 10 in the batch window" }));
      const during = await provider.analysis.alarms!(["api-5xx", "api-latency"]);
      expect(during[0]).toMatchObject({ name: "api-5xx", state: "ALARM", reason: "5xx over 10 in the batch window" });
      const verdict = judge({ fresh: null, old: null, alarms: during });
      expect(verdict.verdict).toBe("fail");
      expect(verdict.reasons[0]).toBe("Alarm api-5xx is in ALARM: 5xx over 10 in the batch window.");
      expect(calls.filter((c) => c === "cloudwatch:DescribeAlarms")).toHaveLength(2);
    } finally {
      await cw.send(new SetAlarmStateCommand({ AlarmName: "api-5xx", StateValue: "OK", StateReason: "reset by the test" }));
      await provider.close();
    }
  });

  it("says which alarm does not exist, and which permission is missing", async () => {
    const { provider } = motoProvider(moto);
    const unknown = provider.analysis.alarms!(["api-5xx", "no-such-alarm"]);
    await expect(unknown).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(unknown).rejects.toThrow(/CloudWatch has no alarm named "no-such-alarm"/);
    await provider.close();

    const denied = motoProvider(moto, {}, (op) => {
      if (op === "DescribeAlarms") throw Object.assign(new Error("Access denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
    }).provider;
    const refused = denied.analysis.alarms!(["api-5xx"]);
    await expect(refused).rejects.toBeInstanceOf(ProviderError);
    await expect(refused).rejects.toThrow(/AWS refused permission cloudwatch:DescribeAlarms/);
    await denied.close();
  });

  it("reads a Classic ELB's and an ALB target group's metrics over a window, for the whole of it", async () => {
    const now = Date.now();
    const at = new Date(now - 20_000);
    await put("AWS/ELB", [{ Name: "LoadBalancerName", Value: "web" }], at, { RequestCount: [70, 50], HTTPCode_Backend_5XX: [6], Latency: [0.04, 0.06] });
    await put(
      "AWS/ApplicationELB",
      [
        { Name: "TargetGroup", Value: tgDimension },
        { Name: "LoadBalancer", Value: albDimension },
      ],
      at,
      { RequestCount: [300], HTTPCode_Target_5XX_Count: [9], TargetResponseTime: [0.1] },
    );
    const { provider, calls } = motoProvider(moto);
    try {
      const classic = await provider.analysis.lbMetrics!("web", now - 60_000, now);
      expect(classic).toMatchObject({ lb: "web", requests: 120, backend5xx: 6 });
      expect(classic?.source).toMatch(/AWS\/ELB LoadBalancerName=web .*no per-instance split/);
      const tg = await provider.analysis.lbMetrics!("tg_api", now - 60_000, now);
      expect(tg).toMatchObject({ lb: "tg_api", requests: 300, backend5xx: 9 });
      expect(tg?.source).toMatch(/AWS\/ApplicationELB TargetGroup=targetgroup\/api\/.*no per-instance split/);
      // moto computes no percentile statistic (it fails GetMetricData asked for p95; CloudWatch answers it):
      // the p95 stays unknown, never made up, the counts still stand, and the dashboard gets a warning.
      expect(tg?.p95Ms).toBeNull();
      expect(provider.warnings().map((w) => w.message).join("\n")).toMatch(/p95 TargetResponseTime of tg_api not read: GetMetricData AWS\/ApplicationELB tg_api failed/);
      expect(calls).toContain("cloudwatch:GetMetricData");
      // A window with nothing in it reads zero requests.
      expect(await provider.analysis.lbMetrics!("web", now - 3_600_000, now - 3_000_000)).toMatchObject({ requests: 0, backend5xx: 0, p95Ms: null });
      await expect(provider.analysis.lbMetrics!("web", now, now - 1)).rejects.toThrow(/not a window/);
    } finally {
      await provider.close();
    }
  });
});
