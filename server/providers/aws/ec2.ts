/**
 * EC2 facts per instance (name tag, zone, private address, state, version tag), read with
 * DescribeInstances in batches of up to 1,000 ids and cached for `ec2TtlMs`: one refresh of a
 * 1,000-instance fleet costs at most one EC2 call, and usually none.
 */
import { CreateTagsCommand, DescribeInstancesCommand, type DescribeInstancesCommandOutput } from "@aws-sdk/client-ec2";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";
import { reshapeEc2, type Ec2Info } from "@/server/providers/aws/reshape";

const BATCH = 1_000;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Ids named in EC2's "InvalidInstanceID.NotFound" message ("The instance IDs 'i-1, i-2' do not exist"). */
function missingIds(err: unknown): string[] {
  const cause = err instanceof Error ? (err.cause as { name?: string; message?: string } | undefined) : undefined;
  if (!cause || !/InvalidInstanceID\.(NotFound|Malformed)/.test(cause.name ?? "")) return [];
  return (cause.message ?? "").match(/i-[0-9a-f]+/g) ?? [];
}

export class Ec2Directory {
  private readonly cache = new Map<string, { info: Ec2Info | null; at: number }>();

  constructor(
    private readonly clients: AwsClients,
    private readonly caller: AwsCaller,
    private readonly options: { ttlMs: number; versionTag: string; now?: () => number },
  ) {}

  private now() {
    return (this.options.now ?? Date.now)();
  }

  invalidate(ids: readonly string[]): void {
    for (const id of ids) this.cache.delete(id);
  }

  /** EC2 facts for these ids; unknown ids (terminated long ago) are absent from the map. */
  async lookup(ids: readonly string[]): Promise<Map<string, Ec2Info>> {
    const now = this.now();
    const stale = [...new Set(ids)].filter((id) => {
      const hit = this.cache.get(id);
      return !hit || now - hit.at > this.options.ttlMs;
    });
    for (const batch of chunks(stale, BATCH)) await this.fetch(batch, now);
    const out = new Map<string, Ec2Info>();
    for (const id of ids) {
      const info = this.cache.get(id)?.info;
      if (info) out.set(id, info);
    }
    return out;
  }

  private async fetch(batch: string[], now: number): Promise<void> {
    let ids = batch;
    for (let tries = 0; tries < 2 && ids.length > 0; tries++) {
      try {
        await this.fetchPages(ids, now);
        return;
      } catch (err) {
        const missing = missingIds(err);
        if (missing.length === 0 || tries > 0) throw err;
        for (const id of missing) this.cache.set(id, { info: null, at: now });
        ids = ids.filter((id) => !missing.includes(id));
      }
    }
  }

  private async fetchPages(ids: string[], now: number): Promise<void> {
    const seen = new Set<string>();
    let token: string | undefined;
    do {
      const page: DescribeInstancesCommandOutput = await this.caller.call(`DescribeInstances (${ids.length} ids)`, () =>
        this.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids, NextToken: token })),
      );
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          const info = reshapeEc2(instance, this.options.versionTag);
          if (!info) continue;
          seen.add(info.id);
          this.cache.set(info.id, { info, at: now });
        }
      }
      token = page.NextToken;
    } while (token);
    for (const id of ids) if (!seen.has(id)) this.cache.set(id, { info: null, at: now });
  }

  /** Records the version the instances now serve in the version tag (one CreateTags call per 1,000). */
  async tagVersion(ids: readonly string[], version: string): Promise<void> {
    if (!this.options.versionTag || ids.length === 0) return;
    for (const batch of chunks(ids, BATCH)) {
      await this.caller.call(`CreateTags ${this.options.versionTag}=${version}`, () =>
        this.clients.ec2.send(new CreateTagsCommand({ Resources: batch, Tags: [{ Key: this.options.versionTag, Value: version }] })),
      );
    }
    this.invalidate(ids);
  }
}
