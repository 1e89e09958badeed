/**
 * The local fleet's Auto Scaling group: min/desired/max capacity, a launch version (the launch template's
 * version: the release a new instance starts from), and one reconciler that compares the desired capacity
 * with the live instances and launches or terminates to close the gap.
 *
 * - Every decision is taken synchronously on this object's state (a new instance is Pending in `members`
 *   before the first await), so two requests arriving together cannot launch twice: the second one
 *   already counts the first one's Pending instances.
 * - Ids continue the fleet's sequence (i-local-6, i-local-7, …) and are never reused while the fleet
 *   process lives; the dashboard restarting changes nothing here.
 * - Terminating mirrors TerminateInstanceInAutoScalingGroup: the instance leaves every balancer it is
 *   registered in, the drain runs to its end, then the process stops. Without `decrementDesired` the live
 *   count falls below the desired capacity as soon as the instance is Terminating, so the replacement
 *   launches while the old instance drains, as in AWS.
 *
 * The process work (start, register, drain, stop) belongs to the fleet (GroupHost); this file decides.
 */
import { instanceId } from "./config";
import type { GroupActivity, GroupInstance, GroupLifecycleState, GroupView } from "./protocol";

/** A refused group request: the control API answers `status` with `code`; nothing changed. */
export class GroupRefusal extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the group asks of the fleet. Both calls throw an Error with context when they fail. */
export interface GroupHost {
  /** Starts `id` on `version`, registers it in `balancers`, resolves once it is in service at each. */
  launch(id: string, index: number, version: string, balancers: string[]): Promise<void>;
  /** Deregisters `id` from every balancer, waits for the drains, stops it and forgets it. Idempotent. */
  retire(id: string): Promise<void>;
  /** What the instance's process serves now, where it listens. */
  describe(id: string): { zone: string; port: number; runningVersion: string | null } | undefined;
}

export interface GroupOptions {
  name: string;
  min: number;
  max: number;
  /** The ids the group starts with (in service at boot), in sequence order, with the release each serves. */
  initial: { id: string; version: string }[];
  launchVersion: string;
  /** The balancers new instances join. */
  loadBalancers: string[];
  /** Wait before launching again after a failed launch (a broken release must not spin). */
  retryAfterMs?: number;
  log?: (line: string) => void;
}

interface Member {
  id: string;
  index: number;
  state: GroupLifecycleState;
  launchVersion: string;
  launchedAt: number;
}

const MAX_ACTIVITIES = 100;

function sequenceOf(id: string): number {
  return Number(/^i-local-(\d+)$/.exec(id)?.[1] ?? 0);
}

export class LocalGroup {
  private readonly members = new Map<string, Member>();
  /** Ids that left the group, with when: a second terminate is a conflict, not an unknown id. */
  private readonly terminated = new Map<string, number>();
  private readonly activities: GroupActivity[] = [];
  private desired: number;
  private launchVersion: string;
  private nextIndex: number;
  private nextActivity = 1;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly log: (line: string) => void;

  constructor(
    private readonly host: GroupHost,
    private readonly o: GroupOptions,
  ) {
    const now = Date.now();
    for (const { id, version } of o.initial) this.members.set(id, { id, index: sequenceOf(id) - 1, state: "InService", launchVersion: version, launchedAt: now });
    this.desired = o.initial.length;
    this.launchVersion = o.launchVersion;
    this.nextIndex = Math.max(0, ...o.initial.map((i) => sequenceOf(i.id)));
    this.log = o.log ?? ((line) => process.stdout.write(`${line}\n`));
  }

  view(): GroupView {
    const instances: GroupInstance[] = [...this.members.values()]
      .sort((a, b) => a.index - b.index)
      .map((m) => {
        const live = this.host.describe(m.id);
        return { id: m.id, lifecycleState: m.state, zone: live?.zone ?? "", port: live?.port ?? 0, launchVersion: m.launchVersion, version: live?.runningVersion ?? null, launchedAt: m.launchedAt };
      });
    return {
      name: this.o.name,
      minSize: this.o.min,
      desiredCapacity: this.desired,
      maxSize: this.o.max,
      launchVersion: this.launchVersion,
      loadBalancers: [...this.o.loadBalancers],
      instances,
      activities: this.activities.map((a) => ({ ...a })).reverse(),
    };
  }

  /** The version is checked by the caller (lib's rule); instances already running keep theirs. */
  setLaunchVersion(version: string): void {
    if (version !== this.launchVersion) this.log(`rotor-fleet: group ${this.o.name}: launch version ${this.launchVersion} → ${version}`);
    this.launchVersion = version;
  }

  setDesiredCapacity(desired: number): void {
    if (desired < this.o.min || desired > this.o.max) {
      throw new GroupRefusal(400, "CAPACITY_OUT_OF_RANGE", `desired capacity ${desired} is outside the group's bounds: min ${this.o.min}, max ${this.o.max}`);
    }
    this.desired = desired;
    this.reconcile(`a user request set the desired capacity to ${desired}`);
  }

  /** Like TerminateInstanceInAutoScalingGroup; answers the activity it started. */
  terminate(id: string, decrementDesired: boolean): GroupActivity {
    const m = this.members.get(id);
    if (!m) {
      const at = this.terminated.get(id);
      if (at !== undefined) throw new GroupRefusal(409, "ALREADY_TERMINATED", `${id} was terminated at ${new Date(at).toISOString()}`);
      throw new GroupRefusal(404, "UNKNOWN_INSTANCE", `${id} is not in the group ${this.o.name}; it has ${[...this.members.keys()].join(", ") || "no instance"}`);
    }
    if (m.state === "Terminating") throw new GroupRefusal(409, "ALREADY_TERMINATING", `${id} is already terminating`);
    if (m.state === "Pending") throw new GroupRefusal(409, "PENDING", `${id} is still Pending; terminate it once it is InService`);
    if (decrementDesired && this.desired - 1 < this.o.min) {
      throw new GroupRefusal(400, "CAPACITY_OUT_OF_RANGE", `terminating ${id} and decrementing the desired capacity would take the group below its min size (${this.o.min})`);
    }
    if (decrementDesired) this.desired--;
    const cause = decrementDesired
      ? `an instance was taken out of service in response to a user request, shrinking the desired capacity to ${this.desired}`
      : `an instance was taken out of service in response to a user request; the desired capacity stays ${this.desired}, so a replacement launches from ${this.launchVersion}`;
    const activity = this.startTerminate(m, cause);
    this.reconcile(`${id} was terminated without decrementing the desired capacity`);
    return { ...activity };
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /** Closes the gap between desired and live (Pending + InService) capacity. Synchronous on purpose. */
  private reconcile(why: string): void {
    if (this.closed) return;
    const live = [...this.members.values()].filter((m) => m.state !== "Terminating");
    const gap = this.desired - live.length;
    if (gap > 0) {
      if (this.retryTimer) return; // a failed launch waits before the next try
      const cause = `${why}: an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${live.length} to ${this.desired}`;
      for (let i = 0; i < gap; i++) this.startLaunch(cause);
    } else if (gap < 0) {
      // Instances on an older launch version go first, then the oldest: AWS's default termination order, minus AZ balance.
      const victims = live
        .filter((m) => m.state === "InService")
        .sort((a, b) => Number(a.launchVersion === this.launchVersion) - Number(b.launchVersion === this.launchVersion) || a.index - b.index)
        .slice(0, -gap);
      const cause = `${why}: an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from ${live.length} to ${this.desired}`;
      for (const m of victims) this.startTerminate(m, cause);
    }
  }

  private activity(kind: GroupActivity["kind"], instanceId: string, cause: string): GroupActivity {
    const a: GroupActivity = { id: this.nextActivity++, kind, instanceId, cause, status: "InProgress", startedAt: Date.now(), endedAt: null };
    this.activities.push(a);
    if (this.activities.length > MAX_ACTIVITIES) this.activities.shift();
    this.log(`rotor-fleet: group ${this.o.name}: ${kind} ${instanceId}: ${cause}`);
    return a;
  }

  private end(a: GroupActivity, err?: unknown): void {
    a.endedAt = Date.now();
    a.status = err === undefined ? "Successful" : "Failed";
    if (err !== undefined) {
      a.statusMessage = err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ""}` : String(err);
      this.log(`rotor-fleet: group ${this.o.name}: ${a.kind} ${a.instanceId} failed: ${a.statusMessage}`);
    }
  }

  private startLaunch(cause: string): void {
    const index = this.nextIndex++;
    const id = instanceId(index);
    const version = this.launchVersion;
    const m: Member = { id, index, state: "Pending", launchVersion: version, launchedAt: Date.now() };
    this.members.set(id, m);
    const a = this.activity("launch", id, `${cause} (launch version ${version})`);
    void this.host.launch(id, index, version, this.o.loadBalancers).then(
      () => {
        this.end(a);
        if (this.members.get(id) === m) m.state = "InService";
        this.reconcile("a launch completed");
      },
      async (err: unknown) => {
        this.end(a, err);
        this.members.delete(id);
        this.terminated.set(id, Date.now());
        await this.host.retire(id).catch((e: unknown) => this.log(`rotor-fleet: group ${this.o.name}: cleaning up ${id} after its failed launch: ${String(e)}`));
        this.retryLater();
      },
    );
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.reconcile("retrying after a failed launch");
    }, this.o.retryAfterMs ?? 2_000);
    this.retryTimer.unref();
  }

  private startTerminate(m: Member, cause: string): GroupActivity {
    m.state = "Terminating";
    const a = this.activity("terminate", m.id, cause);
    void this.host.retire(m.id).then(
      () => {
        this.end(a);
        this.members.delete(m.id);
        this.terminated.set(m.id, Date.now());
        this.reconcile("a termination completed");
      },
      (err: unknown) => {
        // Still Terminating: the instance may be half-stopped; a later terminate request is refused as a conflict.
        this.end(a, err);
      },
    );
    return a;
  }
}
