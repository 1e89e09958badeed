/**
 * Release folders of the local fleet: `${dataDir}/fleet/releases/<version>/` holds `release.json`
 * and the demo page; `${dataDir}/fleet/instances/<id>.json` says which release an instance serves
 * on its next start. The version arrives as data and is checked before it names a folder.
 */
import { mkdir, readFile, rename, writeFile, access } from "node:fs/promises";
import path from "node:path";
import { HOOK_REFUSED_EXIT } from "@/lib/rollout/types";
import { VERSION_MESSAGE, isVersion } from "@/lib/validation/version";

export class DeployError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** lib's version rule (it also keeps "." and ".." out of folder names); exit code 2 like a refusing script. */
export function checkVersion(version: string): void {
  if (!isVersion(version)) throw new DeployError(`invalid version ${JSON.stringify(version).slice(0, 140)}: ${VERSION_MESSAGE}`, HOOK_REFUSED_EXIT);
}

/** A demo release is "broken" when its name says so: deploying it fails cleanly. */
export function isBroken(version: string): boolean {
  return /broken/i.test(version);
}

export function releaseDir(fleetDir: string, version: string): string {
  checkVersion(version);
  return path.join(fleetDir, "releases", version);
}

function escapeHtml(s: string) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function exists(p: string) {
  return access(p).then(
    () => true,
    () => false,
  );
}

async function writeAtomic(file: string, content: string) {
  // Unique per call: two instances deploying the same new release at once write the same files.
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, file);
}

/** Creates the release folder if needed; answers whether it was created (false: selected). */
export async function ensureRelease(fleetDir: string, version: string): Promise<{ dir: string; created: boolean }> {
  const dir = releaseDir(fleetDir, version);
  if (await exists(path.join(dir, "release.json"))) return { dir, created: false };
  await mkdir(dir, { recursive: true });
  const v = escapeHtml(version);
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Rotor demo ${v}</title></head><body><h1>Rotor demo app</h1><p>Version <strong>${v}</strong></p></body></html>\n`;
  await writeAtomic(path.join(dir, "index.html"), page);
  await writeAtomic(path.join(dir, "release.json"), JSON.stringify({ version, createdAt: new Date().toISOString() }) + "\n");
  return { dir, created: true };
}

function stateFile(fleetDir: string, id: string) {
  return path.join(fleetDir, "instances", `${id}.json`);
}

export async function readDeployed(fleetDir: string, id: string): Promise<string | null> {
  try {
    const v = (JSON.parse(await readFile(stateFile(fleetDir, id), "utf8")) as { version?: unknown }).version;
    return isVersion(v) ? v : null;
  } catch {
    return null;
  }
}

export async function writeDeployed(fleetDir: string, id: string, version: string): Promise<void> {
  await mkdir(path.join(fleetDir, "instances"), { recursive: true });
  await writeAtomic(stateFile(fleetDir, id), JSON.stringify({ version, at: new Date().toISOString() }) + "\n");
}
