/**
 * An HTTP proxy between the SSM shim and moto that fills in what moto 5.2.1's Auto Scaling and Classic
 * ELB get wrong for the `replace` strategy, so a rollout through a real Auto Scaling group can be
 * tested end to end with the real SDK over real HTTP. Every other request, and every request's effect
 * on moto, goes through untouched: the proxy only edits answers and, after a group changed, makes the
 * load balancer calls AWS itself would have made.
 *
 * What this proxy emulates:
 * - The launch template version each instance was launched from. moto reports every group instance's
 *   LaunchTemplate.Version as the template's default version, whatever the group launched it from. The
 *   proxy records, per group, the LaunchTemplate.Version of the CreateAutoScalingGroup and
 *   UpdateAutoScalingGroup requests it forwarded (and moto accepted); the first time it sees an
 *   instance in a group (right after each call that can launch one, or in a describe answer), the
 *   instance is recorded as launched from the group's version at that moment. In the answers of
 *   DescribeAutoScalingGroups and DescribeAutoScalingInstances, each instance's LaunchTemplate.Version
 *   is replaced by the recorded one. A group whose version is not a number ($Latest, $Default) is left
 *   as moto says.
 * - Target groups after the group changed. AWS registers the instances a group launches in the
 *   group's target groups and deregisters those it terminates; moto registers new ones (when it
 *   re-syncs the group) but never deregisters a terminated instance, which stays listed `healthy`.
 *   After moto answers CreateAutoScalingGroup, UpdateAutoScalingGroup, SetDesiredCapacity or
 *   TerminateInstanceInAutoScalingGroup, the proxy reads the group and each of its target groups from
 *   moto and, before answering, registers (RegisterTargets) every group instance a target group does
 *   not list and deregisters (DeregisterTargets) every instance that was once in the group and no
 *   longer is. Targets that never were group members are not touched.
 * - Classic ELB deregistration of group instances. moto keeps the instances a group registered in a
 *   list of their own that DeregisterInstancesFromLoadBalancer does not touch, so they stay InService.
 *   The proxy records each instance deregistered from a Classic ELB (until it is registered again) and
 *   answers as moto does for an instance that is not registered: left out of DescribeInstanceHealth
 *   and DescribeLoadBalancers' instance lists, and `Unknown` when DescribeInstanceHealth names it.
 *
 * Test controls: `launchedFrom` (instance id → the version the proxy recorded), `fixes` (what the
 * proxy did on its own: registrations and deregistrations, per call) and `reset()`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DeregisterTargetsCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, RegisterTargetsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { awsRequestServer } from "@/server/testing/throttling-proxy";

export interface GroupFix {
  /** The call after which the proxy acted, e.g. `SetDesiredCapacity web-asg`. */
  after: string;
  action: "RegisterTargets" | "DeregisterTargets";
  targetGroupArn: string;
  ids: string[];
}

export interface GroupShim {
  endpoint: string;
  /** Instance id → the launch template version the proxy recorded it was launched from. */
  launchedFrom: Map<string, string>;
  /** Target group registrations the proxy made on moto on its own, oldest first. */
  fixes: GroupFix[];
  /** Classic ELB name → instances deregistered there that moto still lists (answered as not registered). */
  classicOut: Map<string, Set<string>>;
  reset(): void;
  close(): Promise<void>;
}

/** Operations after which a group may have launched or terminated instances. */
const GROUP_CHANGES = new Set(["CreateAutoScalingGroup", "UpdateAutoScalingGroup", "SetDesiredCapacity", "TerminateInstanceInAutoScalingGroup"]);

const NUMBERED = /^\d+$/;

/** The values of a query-protocol list parameter (`Instances.member.1.InstanceId`, …). */
function listParam(params: URLSearchParams, prefix: string, suffix = ""): string[] {
  const out: string[] = [];
  for (let n = 1; ; n++) {
    const v = params.get(`${prefix}.member.${n}${suffix}`);
    if (v === null) return out;
    out.push(v);
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export async function startGroupShim(motoEndpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }, region: string): Promise<GroupShim> {
  const upstream = new URL(motoEndpoint);
  const cfg = { endpoint: motoEndpoint, region, credentials };
  const autoscaling = new AutoScalingClient(cfg);
  const elbv2 = new ElasticLoadBalancingV2Client(cfg);
  /** Group name → the LaunchTemplate.Version it launches from now, as last asked. */
  const groupVersion = new Map<string, string>();
  /** Group name → every instance ever seen in it. */
  const everIn = new Map<string, Set<string>>();
  const launchedFrom = new Map<string, string>();
  const fixes: GroupFix[] = [];
  const classicOut = new Map<string, Set<string>>();

  const note = (group: string, ids: string[]) => {
    const seen = everIn.get(group) ?? new Set<string>();
    everIn.set(group, seen);
    const version = groupVersion.get(group);
    for (const id of ids) {
      if (!seen.has(id) && version !== undefined && NUMBERED.test(version) && !launchedFrom.has(id)) launchedFrom.set(id, version);
      seen.add(id);
    }
  };

  /** After a group changed: note its new instances, then bring its target groups in line with its members. */
  const sync = async (group: string, after: string) => {
    const g = (await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }))).AutoScalingGroups?.[0];
    if (!g) return;
    const members = (g.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
    note(group, members);
    const memberSet = new Set(members);
    const former = [...(everIn.get(group) ?? [])].filter((id) => !memberSet.has(id));
    for (const arn of g.TargetGroupARNs ?? []) {
      const listed = new Set(((await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))).TargetHealthDescriptions ?? []).flatMap((d) => (d.Target?.Id ? [d.Target.Id] : [])));
      const missing = members.filter((id) => !listed.has(id));
      const stale = former.filter((id) => listed.has(id));
      if (missing.length > 0) {
        await elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: missing.map((Id) => ({ Id })) }));
        fixes.push({ after, action: "RegisterTargets", targetGroupArn: arn, ids: missing });
      }
      if (stale.length > 0) {
        await elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: stale.map((Id) => ({ Id })) }));
        fixes.push({ after, action: "DeregisterTargets", targetGroupArn: arn, ids: stale });
      }
    }
  };

  /** Which group an instance is in (for TerminateInstanceInAutoScalingGroup, which names only the instance). */
  const groupOf = (id: string) => [...everIn].find(([, ids]) => ids.has(id))?.[0];

  /** Each instance's LaunchTemplate.Version in an Auto Scaling describe answer, as recorded. */
  const rewriteVersions = (xml: string): string =>
    xml.replace(/<member><InstanceId>(i-[0-9a-f]+)<\/InstanceId>([\s\S]*?)<\/member>/g, (whole, id: string, rest: string) => {
      const version = launchedFrom.get(id);
      if (version === undefined) return whole;
      return `<member><InstanceId>${id}</InstanceId>${rest.replace(/(<LaunchTemplate>[\s\S]*?<Version>)[^<]*(<\/Version>)/, `$1${version}$2`)}</member>`;
    });

  /** Group instances first seen in a describe answer: launched from the group's version now. */
  const noteDescribed = (xml: string) => {
    for (const m of xml.matchAll(/<member><AutoScalingGroupName>([^<]+)<\/AutoScalingGroupName>[\s\S]*?<Instances>([\s\S]*?)<\/Instances>/g)) {
      note(m[1] ?? "", [...(m[2] ?? "").matchAll(/<InstanceId>(i-[0-9a-f]+)<\/InstanceId>/g)].map((x) => x[1] ?? ""));
    }
    for (const m of xml.matchAll(/<member><InstanceId>(i-[0-9a-f]+)<\/InstanceId>[\s\S]*?<AutoScalingGroupName>([^<]+)<\/AutoScalingGroupName>/g)) note(m[2] ?? "", [m[1] ?? ""]);
  };

  /** Instances deregistered from a Classic ELB answered as moto answers for an unregistered one. */
  const hideDeregistered = (op: string, params: URLSearchParams, xml: string): string => {
    const name = params.get("LoadBalancerName");
    if (op === "DescribeInstanceHealth" && name) {
      const out = classicOut.get(name);
      if (!out || out.size === 0) return xml;
      const asked = listParam(params, "Instances", ".InstanceId").length > 0;
      return xml.replace(/<member>([\s\S]*?)<\/member>/g, (whole, inner: string) => {
        const id = /<InstanceId>([^<]+)<\/InstanceId>/.exec(inner)?.[1];
        if (!id || !out.has(id)) return whole;
        if (!asked) return "";
        return `<member>${inner.replace(/<State>[^<]*<\/State>/, "<State>Unknown</State>")}</member>`;
      });
    }
    if (op === "DescribeLoadBalancers") {
      let edited = xml;
      for (const [lb, out] of classicOut) {
        for (const id of out) {
          // Only inside that load balancer's description: from its name to the end of its Instances list.
          const within = "(?:(?!</Instances>)[\\s\\S])*?";
          edited = edited.replace(new RegExp(`(<LoadBalancerName>${escapeRe(lb)}</LoadBalancerName>${within}<Instances>${within})<member><InstanceId>${escapeRe(id)}</InstanceId></member>`), "$1");
        }
      }
      return edited;
    }
    return xml;
  };

  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, after?: (status: number, out: Buffer) => Promise<Buffer>) => {
    const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (c: Buffer) => chunks.push(c));
      answer.on("end", () => {
        const raw = Buffer.concat(chunks);
        const status = answer.statusCode ?? 502;
        void (after ? after(status, raw) : Promise.resolve(raw)).then(
          (out) => {
            const headers = { ...answer.headers };
            delete headers["transfer-encoding"];
            headers["content-length"] = String(out.length);
            res.writeHead(status, headers);
            res.end(out);
          },
          (err: unknown) => {
            res.writeHead(500, { "content-type": "text/plain" });
            res.end(`group shim: could not fix up the group after ${req.url ?? ""}: ${err instanceof Error ? err.message : String(err)}`);
          },
        );
      });
    });
    up.on("error", (err) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`group shim: moto did not answer: ${err.message}`);
    });
    up.end(body);
  };

  const server = awsRequestServer((req, res, body, op) => {
    if (op.json) return forward(req, body, res);
    const params = new URLSearchParams(body.toString("utf8"));
    const name = op.name;
    if (GROUP_CHANGES.has(name)) {
      const instance = params.get("InstanceId") ?? "";
      const group = params.get("AutoScalingGroupName") ?? groupOf(instance);
      const version = params.get("LaunchTemplate.Version");
      return forward(req, body, res, async (status, out) => {
        if (status !== 200 || !group) return out;
        if (version !== null) groupVersion.set(group, version);
        await sync(group, `${name} ${group}`);
        return out;
      });
    }
    if (name === "DescribeAutoScalingGroups" || name === "DescribeAutoScalingInstances") {
      return forward(req, body, res, async (status, out) => {
        if (status !== 200) return out;
        const xml = out.toString("utf8");
        noteDescribed(xml);
        return Buffer.from(rewriteVersions(xml), "utf8");
      });
    }
    if (name === "DeregisterInstancesFromLoadBalancer" || name === "RegisterInstancesWithLoadBalancer") {
      const lb = params.get("LoadBalancerName") ?? "";
      const ids = listParam(params, "Instances", ".InstanceId");
      return forward(req, body, res, async (status, out) => {
        if (status !== 200) return out;
        const set = classicOut.get(lb) ?? new Set<string>();
        classicOut.set(lb, set);
        for (const id of ids) {
          if (name === "DeregisterInstancesFromLoadBalancer") set.add(id);
          else set.delete(id);
        }
        // moto's answer lists the instances still registered: without the ones just deregistered, as AWS answers.
        const xml = out.toString("utf8").replace(/<member><InstanceId>([^<]+)<\/InstanceId><\/member>/g, (m, id: string) => (set.has(id) ? "" : m));
        return Buffer.from(xml, "utf8");
      });
    }
    if (name === "DescribeInstanceHealth" || name === "DescribeLoadBalancers") {
      return forward(req, body, res, async (status, out) => (status === 200 ? Buffer.from(hideDeregistered(name, params, out.toString("utf8")), "utf8") : out));
    }
    forward(req, body, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    launchedFrom,
    fixes,
    classicOut,
    reset() {
      groupVersion.clear();
      everIn.clear();
      launchedFrom.clear();
      fixes.length = 0;
      classicOut.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        autoscaling.destroy();
        elbv2.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
