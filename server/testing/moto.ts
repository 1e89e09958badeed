/**
 * Starts moto's AWS emulator (`python3 -m moto.server`) on a free loopback port for integration
 * tests, benchmarks and e2e runs, and stops it by pid afterwards; seeds a small AWS estate in it. moto keeps all state in memory, so every
 * server starts empty; `reset()` empties it again without a restart. Calls go through the SSM shim
 * (server/testing/ssm-shim.ts), which answers the Run Command calls moto lacks and passes the rest on,
 * then the group shim (server/testing/group-shim.ts), which fixes what moto's Auto Scaling gets wrong.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { AutoScalingClient, CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { CreateLaunchTemplateCommand, CreateLaunchTemplateVersionCommand, CreateTagsCommand, DescribeSubnetsCommand, EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { CreateLoadBalancerCommand, ElasticLoadBalancingClient, ModifyLoadBalancerAttributesCommand, RegisterInstancesWithLoadBalancerCommand } from "@aws-sdk/client-elastic-load-balancing";
import { CreateTargetGroupCommand, ElasticLoadBalancingV2Client, ModifyTargetGroupAttributesCommand, RegisterTargetsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetDocumentCommand, ListCommandsCommand, SSMClient, type Command } from "@aws-sdk/client-ssm";
import { freePort } from "@/server/testing/ports";
import { startGroupShim, type GroupShim } from "@/server/testing/group-shim";
import { startSsmShim, type SsmShim } from "@/server/testing/ssm-shim";

export interface MotoServer {
  /** Where to send AWS calls: the SSM shim in front of moto (server/testing/ssm-shim.ts says what it emulates). */
  endpoint: string;
  /** moto itself, without the shim. */
  motoEndpoint: string;
  /** The shim's controls: simulated hook runs, outages, requests counted per operation. */
  ssm: SsmShim;
  /** The Auto Scaling fix-ups between the SSM shim and moto (server/testing/group-shim.ts says what they are). */
  groups: GroupShim;
  port: number;
  pid: number;
  /** Credentials moto accepts (any); pass them to SDK clients so the real credential chain is not consulted. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** True when `python3 -m moto.server` can run here (`.ci/run` installs it on a fresh machine). */
export function motoAvailable(): boolean {
  const probe = spawnSync("python3", ["-c", "import moto.server"], { stdio: "ignore", timeout: 20_000 });
  return probe.status === 0;
}

async function waitUntilUp(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto.server exited with ${child.exitCode} before it was up`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
      lastError = new Error(`status ${res.status}`);
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`moto.server did not answer at ${endpoint} within ${timeoutMs} ms`, { cause: lastError });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const kill = setTimeout(() => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      clearTimeout(kill);
      resolve();
    }
  });
}

export async function startMoto(options: { timeoutMs?: number } = {}): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  let stderrTail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString("utf8")).slice(-4_000);
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (err) => reject(new Error("could not start python3 -m moto.server", { cause: err })));
  });
  try {
    await spawned;
    await waitUntilUp(endpoint, child, options.timeoutMs ?? 30_000);
  } catch (err) {
    await stopChild(child);
    throw new Error(`moto.server failed to start: ${stderrTail.slice(-800)}`, { cause: err });
  }
  // Last resort if the caller forgets stop() or dies of an uncaught error: never leave moto behind.
  const reap = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.once("exit", reap);
  child.once("exit", () => process.off("exit", reap));
  const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };
  const region = "us-east-1";
  // moto 5.2.1 gets a group instance's launch version, a terminated one's target groups and a Classic ELB
  // deregistration of group instances wrong: the group shim right in front of moto fills those in.
  const groups = await startGroupShim(endpoint, credentials, region).catch(async (err: unknown) => {
    await stopChild(child);
    throw err;
  });
  // moto 5.2.1 has no ListCommandInvocations nor CancelCommand: the shim answers those (and nothing else of its own).
  const shim = await startSsmShim(groups.endpoint).catch(async (err: unknown) => {
    await groups.close();
    await stopChild(child);
    throw err;
  });
  return {
    endpoint: shim.endpoint,
    motoEndpoint: endpoint,
    ssm: shim,
    groups,
    port: Number(new URL(shim.endpoint).port),
    pid: child.pid ?? -1,
    credentials,
    region,
    async reset() {
      shim.reset();
      groups.reset();
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
      if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
    },
    stop: async () => {
      await shim.close();
      await groups.close();
      await stopChild(child);
    },
  };
}

// ---- A small AWS estate in moto: a Classic ELB with connection draining and an instance target group,
// ---- both holding the same EC2 instances spread over two zones.

export const ZONES = ["us-east-1a", "us-east-1b"] as const;
/** Two AMIs moto ships with: the estate's instances run the first; a group's launch template version 2 names the second. */
export const AMIS = ["ami-03cf127a", "ami-12c6146b"] as const;
const AMI = AMIS[0];

/** The Auto Scaling group of an estate seeded with `group`. */
export interface SeededGroup {
  name: string;
  arn: string;
  launchTemplateId: string;
  launchTemplateName: string;
  /** The group launches from version 1 (AMIS[0]); version 2 (AMIS[1]) is there for a rollout to move to. */
  versions: { 1: string; 2: string };
  min: number;
  max: number;
  targetGroupArn: string;
}

export interface Estate {
  classic: string;
  targetGroup: string;
  ids: string[];
  zoneOf: Record<string, string>;
  group?: SeededGroup;
}

export interface GroupSeed {
  name?: string;
  launchTemplate?: string;
  /** Default: instances − 2 (at least 1). */
  min?: number;
  /** Default: instances + 2. */
  max?: number;
}

/** Where a moto server answers: a started MotoServer, or one started elsewhere. */
export type MotoTarget = Pick<MotoServer, "endpoint" | "region" | "credentials">;

function clientConfig(moto: MotoTarget) {
  return { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials };
}

export async function seedEstate(
  moto: MotoTarget,
  options: {
    instances?: number;
    classic?: string;
    targetGroup?: string;
    /** How many of the instances (the first ones) the target group also holds; default all. */
    targetGroupInstances?: number;
    version?: string;
    drainSeconds?: number;
    delaySeconds?: number;
    /**
     * Launch the instances through an Auto Scaling group instead: a launch template with 2 versions,
     * and a group of `instances` attached to the Classic ELB and the target group (the group
     * registers its instances in both; `targetGroupInstances` does not apply).
     */
    group?: GroupSeed | true;
  } = {},
): Promise<Estate> {
  const count = options.instances ?? 6;
  const classic = options.classic ?? "web";
  const targetGroup = options.targetGroup ?? "web-tg";
  const cfg = clientConfig(moto);
  const ec2 = new EC2Client(cfg);
  const elb = new ElasticLoadBalancingClient(cfg);
  const elbv2 = new ElasticLoadBalancingV2Client(cfg);
  try {
    const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
    const zoneSubnets = ZONES.map((zone) => {
      const subnet = subnets.find((s) => s.AvailabilityZone === zone);
      if (!subnet?.SubnetId) throw new Error(`moto has no default subnet in ${zone}`);
      return { zone, id: subnet.SubnetId, vpcId: subnet.VpcId };
    });
    const vpcId = zoneSubnets[0]?.vpcId;
    await elb.send(new CreateLoadBalancerCommand({ LoadBalancerName: classic, Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 80 }], AvailabilityZones: [...ZONES] }));
    await elb.send(
      new ModifyLoadBalancerAttributesCommand({ LoadBalancerName: classic, LoadBalancerAttributes: { ConnectionDraining: { Enabled: true, Timeout: options.drainSeconds ?? 45 } } }),
    );
    const tg = await elbv2.send(new CreateTargetGroupCommand({ Name: targetGroup, Protocol: "HTTP", Port: 80, VpcId: vpcId, TargetType: "instance" }));
    const arn = tg.TargetGroups?.[0]?.TargetGroupArn;
    if (!arn) throw new Error("moto created no target group");
    await elbv2.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes: [{ Key: "deregistration_delay.timeout_seconds", Value: String(options.delaySeconds ?? 30) }] }));

    const ids: string[] = [];
    const zoneOf: Record<string, string> = {};
    let group: SeededGroup | undefined;
    if (options.group) {
      const seed = options.group === true ? {} : options.group;
      group = await seedGroup(cfg, { ...seed, count, classic, targetGroupArn: arn, subnetIds: zoneSubnets.map((z) => z.id) }, ids, zoneOf);
    } else {
      for (const [z, { zone, id: subnetId }] of zoneSubnets.entries()) {
        const n = Math.floor(count / ZONES.length) + (z < count % ZONES.length ? 1 : 0);
        if (n === 0) continue;
        const run = await ec2.send(
          new RunInstancesCommand({
            ImageId: AMI,
            MinCount: n,
            MaxCount: n,
            SubnetId: subnetId,
            TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "rotor:fleet", Value: classic }] }],
          }),
        );
        for (const i of run.Instances ?? []) {
          if (!i.InstanceId) continue;
          ids.push(i.InstanceId);
          zoneOf[i.InstanceId] = zone;
        }
      }
    }
    // Names and the served version, as an operator (or a previous rollout) would have tagged them.
    for (const [n, id] of ids.entries()) {
      await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: "Name", Value: `web-${n + 1}` }] }));
    }
    if (options.version) {
      for (let i = 0; i < ids.length; i += 500) {
        await ec2.send(new CreateTagsCommand({ Resources: ids.slice(i, i + 500), Tags: [{ Key: "rotor:version", Value: options.version }] }));
      }
    }
    if (!group) {
      await elb.send(new RegisterInstancesWithLoadBalancerCommand({ LoadBalancerName: classic, Instances: ids.map((InstanceId) => ({ InstanceId })) }));
      const targets = ids.slice(0, options.targetGroupInstances ?? ids.length);
      if (targets.length > 0) await elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: targets.map((Id) => ({ Id })) }));
    }
    return { classic, targetGroup: `tg_${targetGroup}`, ids, zoneOf, ...(group ? { group } : {}) };
  } finally {
    ec2.destroy();
    elb.destroy();
    elbv2.destroy();
  }
}

/**
 * A launch template with two versions (1: AMIS[0], 2: AMIS[1]) and a group of `count` instances
 * from version 1, attached to the Classic ELB and the target group over both zones' subnets.
 * moto launches the instances at once, InService and Healthy, and registers them in both.
 */
async function seedGroup(
  cfg: ReturnType<typeof clientConfig>,
  seed: GroupSeed & { count: number; classic: string; targetGroupArn: string; subnetIds: string[] },
  ids: string[],
  zoneOf: Record<string, string>,
): Promise<SeededGroup> {
  const ec2 = new EC2Client(cfg);
  const autoscaling = new AutoScalingClient(cfg);
  try {
    const name = seed.name ?? `${seed.classic}-asg`;
    const launchTemplateName = seed.launchTemplate ?? `${seed.classic}-lt`;
    const lt = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: launchTemplateName, LaunchTemplateData: { ImageId: AMIS[0], InstanceType: "t3.micro" } }));
    const launchTemplateId = lt.LaunchTemplate?.LaunchTemplateId;
    if (!launchTemplateId) throw new Error("moto created no launch template");
    await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: launchTemplateId, SourceVersion: "1", LaunchTemplateData: { ImageId: AMIS[1] } }));
    const min = seed.min ?? Math.max(1, seed.count - 2);
    const max = seed.max ?? seed.count + 2;
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: name,
        LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: "1" },
        MinSize: min,
        MaxSize: max,
        DesiredCapacity: seed.count,
        VPCZoneIdentifier: seed.subnetIds.join(","),
        LoadBalancerNames: [seed.classic],
        TargetGroupARNs: [seed.targetGroupArn],
        Tags: [{ Key: "rotor:fleet", Value: seed.classic, PropagateAtLaunch: true }],
      }),
    );
    const described = (await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups?.[0];
    for (const i of described?.Instances ?? []) {
      if (!i.InstanceId) continue;
      ids.push(i.InstanceId);
      if (i.AvailabilityZone) zoneOf[i.InstanceId] = i.AvailabilityZone;
    }
    if (!described?.AutoScalingGroupARN || ids.length !== seed.count) throw new Error(`moto's group ${name} has ${ids.length} instances, not ${seed.count}`);
    return { name, arn: described.AutoScalingGroupARN, launchTemplateId, launchTemplateName, versions: { 1: AMIS[0], 2: AMIS[1] }, min, max, targetGroupArn: seed.targetGroupArn };
  } finally {
    ec2.destroy();
    autoscaling.destroy();
  }
}

/** Every command moto recorded, oldest first. */
export async function listCommands(moto: MotoTarget): Promise<Command[]> {
  const ssm = new SSMClient(clientConfig(moto));
  try {
    const out: Command[] = [];
    let token: string | undefined;
    do {
      const page = await ssm.send(new ListCommandsCommand({ NextToken: token }));
      out.push(...(page.Commands ?? []));
      token = page.NextToken;
    } while (token);
    return out.sort((a, b) => (a.RequestedDateTime?.getTime() ?? 0) - (b.RequestedDateTime?.getTime() ?? 0));
  } finally {
    ssm.destroy();
  }
}

/** The default version's content of an SSM document, as moto stores it. */
export async function getDocument(moto: MotoTarget, name: string): Promise<string | undefined> {
  const ssm = new SSMClient(clientConfig(moto));
  try {
    return (await ssm.send(new GetDocumentCommand({ Name: name }))).Content;
  } finally {
    ssm.destroy();
  }
}

/** The environment that points Rotor (`npm start`, `next dev`, Playwright's webServer) at this moto. */
export function rotorEnvFor(moto: MotoTarget, estate?: Pick<Estate, "classic" | "targetGroup">): Record<string, string> {
  return {
    ROTOR_PROVIDER: "aws",
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: moto.region,
    AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
    ...(estate ? { ROTOR_AWS_LOAD_BALANCERS: `${estate.classic},${estate.targetGroup}` } : {}),
  };
}

/**
 * `npx tsx server/testing/moto.ts [instances] [--group] [-- command …]`: starts moto, seeds the estate
 * (default 6 instances; with --group launched by an Auto Scaling group), prints the environment for
 * Rotor as shell exports and then one JSON line. With a
 * command after `--` (e.g. `-- npm start`), runs it with that environment and stops moto when it
 * exits; otherwise runs until Ctrl-C or SIGTERM, then stops moto.
 */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf("--");
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const group = own.includes("--group");
  const instances = Number(own.filter((a) => a !== "--group")[0] ?? 6);
  if (!Number.isInteger(instances) || instances < 1 || instances > 2_000) throw new Error("usage: tsx server/testing/moto.ts [instances 1..2000] [--group] [-- command …]");
  const moto = await startMoto();
  let child: ChildProcess | null = null;
  const stop = (code: number) => void moto.stop().then(() => process.exit(code));
  const onSignal = (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null) child.kill(signal);
    else stop(0);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const estate = await seedEstate(moto, { instances, version: "1.0.0", ...(group ? { group: true } : {}) });
    const env = rotorEnvFor(moto, estate);
    for (const [k, v] of Object.entries(env)) console.log(`export ${k}=${v}`);
    console.log(JSON.stringify({ pid: moto.pid, endpoint: moto.endpoint, env, ...estate }));
    const [cmd, ...args] = command;
    if (cmd) {
      child = spawn(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } });
      child.once("exit", (code, signal) => stop(code ?? (signal ? 1 : 0)));
      child.once("error", (err) => {
        console.error(`could not run ${cmd}:`, err.message);
        stop(1);
      });
    }
  } catch (err) {
    await moto.stop();
    throw err;
  }
}

if (process.argv[1]?.replace(/\\/g, "/").endsWith("server/testing/moto.ts")) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
