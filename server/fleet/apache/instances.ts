/**
 * Local fleet instances as real Apache httpd 2.4 servers (prefork MPM, mod_perl), `ROTOR_FLEET_SERVER=apache`.
 *
 * Each instance lives in `${fleetDir}/apache/<id>/`: its own `httpd.conf` (Listen 127.0.0.1:PORT only),
 * `httpd.pid`, `logs/error.log`, a `releases` link to the fleet's release folders and a `current` link to
 * the release it serves. The demo app (Demo.pm, copied into every release) is loaded by `PerlModule` when
 * Apache starts, so new code serves only after a restart. Nothing is written to /etc/apache2.
 *
 * The lifecycle hooks are the shared hook script (server/providers/hook-script.ts), the one the SSM
 * document carries, run by the local executor; this file adds only what SSM's side has no part in:
 * injected faults, creating the release folder (the "download"), and the supervisor's bookkeeping.
 */
import { access, chmod, copyFile, mkdir, readFile, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { apacheHookScript, type ScriptHook } from "@/server/providers/hook-script";
import { beginDeploy, deployFailed, type HookContext, type HookOutcome, type InstanceRecord } from "../hooks";
import type { Tail } from "../output";
import { ensureRelease, writeDeployed } from "../releases";
import { runHookScript } from "./executor";

const DEMO_MODULE = path.join(__dirname, "Demo.pm");
export const INSTALL_HINT = "apt-get install apache2 libapache2-mod-perl2";

export interface ApacheSettings {
  bin: string;
  modulesDir: string;
  /** GracefulShutdownTimeout, seconds: the longest a stop waits for in-flight requests. */
  gracefulTimeoutS: number;
  /** Prefork children, a fixed pool forked at start (one per open connection, idle keep-alive ones included). */
  workers: number;
}

/** Children the balancer's connections never take, so health checks and the hook script's curls get one. */
export const APACHE_RESERVED_WORKERS = 4;

/**
 * The most connections the balancer may hold to one Apache instance: fewer than its children. A
 * connection no child is free for waits in the listen backlog — or for a child to be forked, slow
 * under load — and the balancer's health checks (a fresh connection each) wait there too, time out,
 * and take a busy instance out of service; its load moves to the others, which fail theirs, until none
 * is left (503 "no backend") while requests sit in the backlogs. Capped, extra requests wait in the
 * balancer instead, and a child is always free for a check.
 */
export function apacheConnectionCap(s: ApacheSettings): number {
  return s.workers - APACHE_RESERVED_WORKERS;
}

const workersSchema = z.coerce
  .number({ error: "ROTOR_APACHE_WORKERS must be a number" })
  .int("ROTOR_APACHE_WORKERS must be a whole number")
  .min(APACHE_RESERVED_WORKERS + 4, `ROTOR_APACHE_WORKERS must be at least ${APACHE_RESERVED_WORKERS + 4}`)
  .max(1024, "ROTOR_APACHE_WORKERS must be at most 1024");

export function apacheSettings(env: Record<string, string | undefined>, stopTimeoutMs: number): ApacheSettings {
  return {
    bin: env.ROTOR_APACHE_BIN ?? "/usr/sbin/apache2",
    modulesDir: env.ROTOR_APACHE_MODULES ?? "/usr/lib/apache2/modules",
    gracefulTimeoutS: Math.max(1, Math.ceil(stopTimeoutMs / 1000)),
    workers: workersSchema.parse(env.ROTOR_APACHE_WORKERS ?? 48),
  };
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** Throws one sentence saying what to install when Apache, prefork or mod_perl is missing. */
export async function checkApacheInstalled(s: ApacheSettings): Promise<void> {
  const needed = [s.bin, path.join(s.modulesDir, "mod_mpm_prefork.so"), path.join(s.modulesDir, "mod_perl.so")];
  const missing: string[] = [];
  for (const p of needed) if (!(await exists(p))) missing.push(p);
  if (missing.length) throw new Error(`ROTOR_FLEET_SERVER=apache needs Apache httpd 2.4 with mod_perl (missing ${missing.join(", ")}): ${INSTALL_HINT}`);
}

export function instanceDir(fleetDir: string, id: string): string {
  return path.join(fleetDir, "apache", id);
}

function confFile(fleetDir: string, id: string) {
  return path.join(instanceDir(fleetDir, id), "httpd.conf");
}

export function pidFile(fleetDir: string, id: string): string {
  return path.join(instanceDir(fleetDir, id), "httpd.pid");
}

function apacheConf(s: ApacheSettings, dir: string, inst: { id: string; zone: string; port: number }): string {
  // Apache refuses to run as root: its children take www-data, and the directories they read get o+x.
  const user = process.getuid?.() === 0 ? ["User www-data", "Group www-data"] : [];
  return [
    `# Rotor local fleet: ${inst.id}. Generated at every fleet start; edits are overwritten.`,
    `ServerRoot "${dir}"`,
    `PidFile "${dir}/httpd.pid"`,
    `DefaultRuntimeDir "${dir}/run"`,
    `Listen 127.0.0.1:${inst.port}`,
    "ServerName 127.0.0.1",
    `LoadModule mpm_prefork_module ${s.modulesDir}/mod_mpm_prefork.so`,
    `LoadModule authz_core_module ${s.modulesDir}/mod_authz_core.so`,
    `LoadModule perl_module ${s.modulesDir}/mod_perl.so`,
    ...user,
    `ErrorLog "${dir}/logs/error.log"`,
    "LogLevel warn",
    // Longer than the balancer's 4 s idle-socket timeout, so it never reuses a socket Apache is closing.
    "KeepAlive On",
    "KeepAliveTimeout 10",
    "MaxKeepAliveRequests 0",
    "Timeout 60",
    // Prefork: one child per connection, idle keep-alive ones included. A fixed pool, all forked at start:
    // forking mod_perl children on demand under a burst is slow on a loaded machine, and connections
    // (health checks included) wait in the backlog meanwhile. The balancer keeps fewer connections than
    // this (apacheConnectionCap), so there is always a child free for a health check.
    `StartServers ${s.workers}`,
    "MinSpareServers 1",
    `MaxSpareServers ${s.workers}`,
    `ServerLimit ${s.workers}`,
    `MaxRequestWorkers ${s.workers}`,
    `GracefulShutdownTimeout ${s.gracefulTimeoutS}`,
    // The start-fails fault reaches the app as an environment variable of that one start.
    "PerlPassEnv ROTOR_FAIL_START",
    `PerlSwitches -I${dir}/current/lib`,
    "PerlModule Rotor::Demo",
    "<Location />",
    "  SetHandler modperl",
    "  PerlResponseHandler Rotor::Demo",
    `  PerlSetVar RotorInstance ${inst.id}`,
    `  PerlSetVar RotorZone ${inst.zone}`,
    `  PerlSetVar RotorStateDir ${dir}`,
    "  Require all granted",
    "</Location>",
    "",
  ].join("\n");
}

/** Adds the demo module to a release folder (created by ensureRelease) when it has none. */
async function ensureModule(releaseDir: string): Promise<void> {
  const target = path.join(releaseDir, "lib", "Rotor", "Demo.pm");
  if (await exists(target)) return;
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await copyFile(DEMO_MODULE, tmp);
  await rename(tmp, target);
}

export async function ensureApacheRelease(fleetDir: string, version: string): Promise<{ dir: string; created: boolean }> {
  const r = await ensureRelease(fleetDir, version);
  await ensureModule(r.dir);
  return r;
}

export function readPid(fleetDir: string, id: string): Promise<number | null> {
  return readFile(pidFile(fleetDir, id), "utf8").then(
    (t) => {
      const pid = Number(t.trim());
      if (!Number.isInteger(pid) || pid <= 0) return null;
      try {
        process.kill(pid, 0);
        return pid;
      } catch {
        return null;
      }
    },
    () => null,
  );
}

/** Writes the instance's config and links; stops an Apache left running by an earlier supervisor. */
export async function prepareInstance(s: ApacheSettings, fleetDir: string, inst: { id: string; zone: string; port: number; deployedVersion: string }): Promise<void> {
  const dir = instanceDir(fleetDir, inst.id);
  await mkdir(path.join(dir, "logs"), { recursive: true });
  await mkdir(path.join(dir, "run"), { recursive: true });
  if (process.getuid?.() === 0) {
    // www-data must reach the instance folder (the backend-500 flag): traverse, not list.
    for (const d of [path.dirname(fleetDir), fleetDir, path.join(fleetDir, "apache"), dir]) await chmod(d, 0o711);
  }
  const leftover = await readPid(fleetDir, inst.id);
  if (leftover) {
    process.kill(leftover, "SIGTERM");
    for (let i = 0; i < 100 && (await readPid(fleetDir, inst.id)) === leftover; i++) await new Promise((r) => setTimeout(r, 50));
  }
  await rm(path.join(dir, "backend-500"), { force: true });
  await writeFile(confFile(fleetDir, inst.id), apacheConf(s, dir, inst));
  await rm(path.join(dir, "releases"), { force: true });
  await symlink(path.join("..", "..", "releases"), path.join(dir, "releases"));
  await ensureApacheRelease(fleetDir, inst.deployedVersion);
  if (!(await exists(path.join(dir, "current")))) await symlink(path.join("releases", inst.deployedVersion), path.join(dir, "current"));
}

/** The environment the shared script gets on this instance (what an instance's settings would be). */
export function scriptEnv(s: ApacheSettings, fleetDir: string, inst: { id: string; port: number }): Record<string, string> {
  return {
    ROTOR_APACHE_BIN: s.bin,
    ROTOR_APACHE_CONF: confFile(fleetDir, inst.id),
    ROTOR_APACHE_PIDFILE: pidFile(fleetDir, inst.id),
    ROTOR_PORT: String(inst.port),
    ROTOR_GRACEFUL_TIMEOUT: String(s.gracefulTimeoutS),
    ROTOR_APP_DIR: instanceDir(fleetDir, inst.id),
  };
}

export interface ApacheContext extends HookContext {
  apache: ApacheSettings;
}

const SCRIPT = apacheHookScript();

async function run(ctx: ApacheContext, inst: InstanceRecord, hook: ScriptHook, version: string, timeoutMs: number, out: Tail, extra: Record<string, string> = {}) {
  return runHookScript({ script: SCRIPT, hook, version, env: { ...scriptEnv(ctx.apache, ctx.fleetDir, inst), ...extra }, timeoutMs, out });
}

async function currentVersion(fleetDir: string, id: string): Promise<string | null> {
  return readlink(path.join(instanceDir(fleetDir, id), "current")).then(
    (t) => path.basename(t),
    () => null,
  );
}

export async function apacheStop(ctx: ApacheContext, inst: InstanceRecord, timeoutMs: number, out: Tail): Promise<HookOutcome> {
  const r = await run(ctx, inst, "stop", "none", timeoutMs, out);
  inst.pid = await readPid(ctx.fleetDir, inst.id);
  if (inst.pid === null) inst.runningVersion = null;
  return { exitCode: r.exitCode };
}

export async function apacheDeploy(ctx: ApacheContext, inst: InstanceRecord, version: string, timeoutMs: number, out: Tail): Promise<HookOutcome> {
  try {
    await beginDeploy(ctx, inst, version, out);
    // The release arrives first (a download on a real server), then the script switches `current`.
    await ensureApacheRelease(ctx.fleetDir, version);
  } catch (err) {
    return deployFailed(err, out);
  }
  const r = await run(ctx, inst, "deploy", version, timeoutMs, out);
  if (r.exitCode === 0) {
    await writeDeployed(ctx.fleetDir, inst.id, version);
    inst.deployedVersion = version;
  }
  return { exitCode: r.exitCode };
}

export async function apacheStart(ctx: ApacheContext, inst: InstanceRecord, timeoutMs: number, out: Tail): Promise<HookOutcome> {
  const failStart = ctx.takeFault("start-fails", inst.id);
  const r = await run(ctx, inst, "start", "none", timeoutMs, out, { ROTOR_FAIL_START: failStart ? "1" : "0", ROTOR_START_TIMEOUT: String(Math.max(1, Math.floor(timeoutMs / 1000) - 1)) });
  inst.pid = await readPid(ctx.fleetDir, inst.id);
  if (r.exitCode !== 0) {
    const log = await readFile(path.join(instanceDir(ctx.fleetDir, inst.id), "logs", "error.log"), "utf8").catch(() => "");
    const lastLines = log.trimEnd().split("\n").slice(-3).join("\n");
    if (lastLines) out.push(`--- error.log ---\n${lastLines}\n`);
    return { exitCode: r.exitCode };
  }
  inst.runningVersion = (await currentVersion(ctx.fleetDir, inst.id)) ?? inst.deployedVersion;
  await ctx.onStarted(inst);
  return { exitCode: 0 };
}

export async function apacheVerify(ctx: ApacheContext, inst: InstanceRecord, version: string, timeoutMs: number, out: Tail, warmupS?: number): Promise<HookOutcome> {
  const warmup = warmupS ?? Math.max(1, Math.min(30, Math.floor(timeoutMs / 1000) - 1));
  const r = await run(ctx, inst, "verify", version, timeoutMs, out, { ROTOR_VERIFY_WARMUP: String(warmup) });
  const m = /rotor-version=(\S*)/.exec(r.stdout);
  return m?.[1] !== undefined ? { exitCode: r.exitCode, observedVersion: m[1] } : { exitCode: r.exitCode };
}

/** Fault `backend-500`: the app answers 500 (not /health) while this flag file exists. */
export async function setBackend500(fleetDir: string, id: string, on: boolean): Promise<void> {
  const flag = path.join(instanceDir(fleetDir, id), "backend-500");
  if (on) await writeFile(flag, "injected fault\n");
  else await rm(flag, { force: true });
}

/** Hard stop (the supervisor is shutting down): TERM to the parent, wait up to 3 s, then KILL. */
export async function killApache(fleetDir: string, inst: { id: string }): Promise<void> {
  const pid = await readPid(fleetDir, inst.id);
  if (!pid) return;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 60; i++) {
    if ((await readPid(fleetDir, inst.id)) !== pid) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}
