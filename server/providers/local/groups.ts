/**
 * The local fleet's Auto Scaling group (server/fleet/group.ts) behind the provider port's
 * `ScalingGroups`, through the control API, so the replace strategy runs on real processes: a launch
 * starts a new instance process (i-local-6, i-local-7, …) on the launch version's release and registers
 * it with the group's balancers; a terminate deregisters, drains and stops one.
 *
 * The local group feeds every balancer its instances join; it reads like a Classic ELB attachment to
 * the readiness check. Launch versions are releases (e.g. 2.0.0), checked against the version rule.
 */
import type { AutoScalingGroupView, ReplaceSurveyResult } from "@/lib/rollout/replace-check";
import { VERSION_MESSAGE, isVersion } from "@/lib/validation/version";
import type { GroupView } from "@/server/fleet/protocol";
import { ProviderError, type ScalingGroupState, type ScalingGroups } from "@/server/providers/types";
import type { ControlClient } from "./control-client";

function checkVersion(version: string): void {
  if (!isVersion(version)) throw new ProviderError("INVALID_INPUT", `launch version ${JSON.stringify(version).slice(0, 140)} is not a release: ${VERSION_MESSAGE}`);
}

function stateOf(g: GroupView): ScalingGroupState {
  return {
    name: g.name,
    min: g.minSize,
    desired: g.desiredCapacity,
    max: g.maxSize,
    launchVersion: g.launchVersion,
    loadBalancers: [...g.loadBalancers],
    instances: g.instances.map((i) => ({ id: i.id, lifecycleState: i.lifecycleState, launchVersion: i.launchVersion, zone: i.zone })),
    activities: g.activities.map((a) => ({
      id: String(a.id),
      status: a.status,
      description: `${a.kind === "launch" ? "Launching" : "Terminating"} ${a.instanceId}: ${a.cause}${a.statusMessage ? ` (${a.statusMessage})` : ""}`,
      startedAt: a.startedAt,
      endedAt: a.endedAt,
    })),
  };
}

function checkView(g: GroupView): AutoScalingGroupView {
  return {
    name: g.name,
    min: g.minSize,
    desired: g.desiredCapacity,
    max: g.maxSize,
    source: { kind: "launch-template", id: g.name, name: `${g.name} releases`, version: g.launchVersion },
    instances: g.instances.map((i) => ({ id: i.id, zone: i.zone, lifecycleState: i.lifecycleState, healthStatus: "Healthy", protectedFromScaleIn: false, launchTemplateVersion: i.launchVersion })),
    suspended: [],
    loadBalancerNames: [...g.loadBalancers],
    targetGroupArns: [],
    lifecycleHooks: [],
  };
}

export function localGroups(client: ControlClient, timeoutMs: number | undefined): ScalingGroups {
  async function group(name: string): Promise<GroupView> {
    const g = await client.group({ timeoutMs });
    if (g.name !== name) throw new ProviderError("NOT_FOUND", `the local fleet has no Auto Scaling group "${name}"; its group is "${g.name}"`);
    return g;
  }
  return {
    async survey(lb: string, target: string): Promise<ReplaceSurveyResult> {
      const [g, behind] = await Promise.all([client.group({ timeoutMs }), client.instances(lb, { timeoutMs })]);
      const members = new Set(g.instances.map((i) => i.id));
      const lbInstanceIds = behind.filter((i) => i.state === "in-service" || i.state === "registering").map((i) => i.id);
      return {
        check: {
          lb: { kind: "classic", rotorName: lb, name: lb },
          lbInstanceIds,
          groupOf: Object.fromEntries(lbInstanceIds.map((id) => [id, members.has(id) ? g.name : null])),
          group: checkView(g),
          target: isVersion(target) ? { kind: "release", version: target } : { kind: "missing", message: `${JSON.stringify(target).slice(0, 140)} is not a release: ${VERSION_MESSAGE}` },
        },
        fromLaunch: g.launchVersion,
        toLaunch: isVersion(target) ? target : null,
      };
    },
    async prepareTarget(_lb: string, target: string): Promise<string> {
      checkVersion(target);
      return target;
    },
    async describe(name: string): Promise<ScalingGroupState> {
      return stateOf(await group(name));
    },
    async setLaunchVersion(name: string, version: string): Promise<void> {
      checkVersion(version);
      const g = await group(name);
      if (g.launchVersion !== version) await client.setLaunchVersion(version, { timeoutMs });
    },
    async setDesiredCapacity(name: string, desired: number): Promise<void> {
      const g = await group(name);
      if (g.desiredCapacity !== desired) await client.setDesiredCapacity(desired, { timeoutMs });
    },
    async terminate(name: string, id: string, decrementDesired: boolean): Promise<void> {
      // Idempotent: an instance already terminating, or gone, is left alone (and decrements nothing).
      const g = await group(name);
      const member = g.instances.find((i) => i.id === id);
      if (!member || member.lifecycleState === "Terminating") return;
      await client.terminateInGroup(id, decrementDesired, { timeoutMs });
    },
  };
}
