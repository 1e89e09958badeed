/**
 * Launch template reads for the `replace` strategy: which version a name ($Latest, $Default, 3)
 * means now, and whether an AMI exists. One DescribeLaunchTemplateVersions or DescribeImages each,
 * never cached: a plan must see the template as it is.
 */
import { CreateLaunchTemplateVersionCommand, DescribeImagesCommand, DescribeLaunchTemplateVersionsCommand, type DescribeLaunchTemplateVersionsCommandOutput } from "@aws-sdk/client-ec2";
import type { LaunchTarget, TargetSpec } from "@/lib/rollout/replace-check";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";

export interface LaunchTemplateVersion {
  launchTemplateId: string;
  launchTemplateName?: string;
  version: number;
  imageId?: string;
  isDefault: boolean;
}

/** The SDK error's name under a ProviderError (AwsCaller keeps it as the cause). */
function causeName(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { name?: string } | undefined) : undefined;
  return cause?.name ?? "";
}

const LT_MISSING = /^InvalidLaunchTemplate(?:Id|Name)\.(?:NotFound|NotFoundException|Malformed)$/;
const VERSION_MISSING = /^InvalidLaunchTemplateId\.VersionNotFound$/;
const AMI_MISSING = /^InvalidAMIID\.(?:NotFound|Malformed|Unavailable)$/;

/**
 * The description Rotor gives a launch template version it makes from an AMI: it names the source
 * version and the image, so a second prepare (a retried launch) finds and reuses it.
 */
export function imageVersionDescription(baseVersion: number, imageId: string): string {
  return `Rotor replace: version ${baseVersion} with ${imageId}`;
}

/** Pages of versions read while looking for one Rotor made (200 each, AWS's maximum). */
const MAX_VERSION_PAGES = 10;

export class LaunchTemplates {
  constructor(
    private readonly clients: AwsClients,
    private readonly caller: AwsCaller,
  ) {}

  /**
   * One version of a launch template (by id), or null when the template or the version does not
   * exist. `version` is a number, "$Latest" or "$Default".
   */
  async version(launchTemplateId: string, version: number | string): Promise<LaunchTemplateVersion | null> {
    try {
      const out = await this.caller.call(`DescribeLaunchTemplateVersions ${launchTemplateId} ${version}`, () =>
        this.clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Versions: [String(version)] })),
      );
      const v = out.LaunchTemplateVersions?.[0];
      if (!v || v.VersionNumber === undefined) return null;
      return {
        launchTemplateId: v.LaunchTemplateId ?? launchTemplateId,
        launchTemplateName: v.LaunchTemplateName,
        version: v.VersionNumber,
        imageId: v.LaunchTemplateData?.ImageId,
        isDefault: v.DefaultVersion ?? false,
      };
    } catch (err) {
      const name = causeName(err);
      if (LT_MISSING.test(name) || VERSION_MISSING.test(name)) return null;
      throw err;
    }
  }

  /** True when the AMI exists and this account may launch it. */
  async imageExists(imageId: string): Promise<boolean> {
    try {
      const out = await this.caller.call(`DescribeImages ${imageId}`, () => this.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })));
      return (out.Images ?? []).some((i) => i.ImageId === imageId && (i.State === undefined || i.State === "available"));
    } catch (err) {
      if (AMI_MISSING.test(causeName(err))) return false;
      throw err;
    }
  }

  /**
   * The operator's target for a group launching from `launchTemplateId` at `currentVersion`: a
   * version that exists, or an AMI that exists (a later step makes the new version from the
   * current one), else "missing" with the reason.
   */
  async resolveTarget(launchTemplateId: string, currentVersion: number | undefined, spec: TargetSpec): Promise<LaunchTarget> {
    if ("version" in spec) {
      const v = await this.version(launchTemplateId, spec.version);
      if (!v) {
        const template = await this.version(launchTemplateId, "$Default");
        return template
          ? { kind: "missing", message: `launch template ${template.launchTemplateName ?? launchTemplateId} has no version ${spec.version}: choose an existing version, or give an AMI id for Rotor to make one` }
          : { kind: "missing", message: `launch template ${launchTemplateId} does not exist` };
      }
      return { kind: "version", launchTemplateId: v.launchTemplateId, version: v.version, ...(v.imageId ? { imageId: v.imageId } : {}) };
    }
    const [base, image] = await Promise.all([this.version(launchTemplateId, currentVersion ?? "$Default"), this.imageExists(spec.imageId)]);
    if (!base) return { kind: "missing", message: `launch template ${launchTemplateId}${currentVersion !== undefined ? ` version ${currentVersion}` : ""} does not exist, so no new version can be made from it` };
    if (!image) return { kind: "missing", message: `AMI ${spec.imageId} does not exist (or is not available to this account): build or share it first, or check the id` };
    return { kind: "image", launchTemplateId: base.launchTemplateId, imageId: spec.imageId, baseVersion: base.version };
  }

  /**
   * The launch template version that is `baseVersion` with `imageId`, made if Rotor has not made it
   * already: a version with Rotor's description for this source and image is reused (its newest), so
   * a retried prepare creates nothing. The create also carries a client token derived from the same
   * three values, so AWS itself answers a repeated request with the version it made the first time.
   */
  async versionWithImage(launchTemplateId: string, baseVersion: number, imageId: string): Promise<number> {
    const description = imageVersionDescription(baseVersion, imageId);
    let token: string | undefined;
    let found: number | undefined;
    for (let page = 0; page < MAX_VERSION_PAGES; page++) {
      const out: DescribeLaunchTemplateVersionsCommandOutput = await this.caller.call(`DescribeLaunchTemplateVersions ${launchTemplateId} image-id ${imageId}`, () =>
        this.clients.ec2.send(
          new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Filters: [{ Name: "image-id", Values: [imageId] }], MaxResults: 200, NextToken: token }),
        ),
      );
      // Checked here too: the filter narrows the answer, the description and image decide.
      for (const v of out.LaunchTemplateVersions ?? []) {
        if (v.VersionNumber !== undefined && v.VersionDescription === description && v.LaunchTemplateData?.ImageId === imageId) found = Math.max(found ?? 0, v.VersionNumber);
      }
      token = out.NextToken;
      if (!token) break;
    }
    if (found !== undefined) return found;
    const created = await this.caller.call(`CreateLaunchTemplateVersion ${launchTemplateId} from version ${baseVersion} with ${imageId}`, () =>
      this.clients.ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: launchTemplateId,
          SourceVersion: String(baseVersion),
          VersionDescription: description,
          LaunchTemplateData: { ImageId: imageId },
          ClientToken: `rotor-${launchTemplateId}-${baseVersion}-${imageId}`,
        }),
      ),
    );
    const number = created.LaunchTemplateVersion?.VersionNumber;
    if (number === undefined) throw new Error(`CreateLaunchTemplateVersion ${launchTemplateId} answered no version number`);
    return number;
  }
}
