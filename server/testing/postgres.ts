/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a fresh temp dir, the server
 * on a free loopback port (its unix socket inside that dir too, so nothing outside it is touched),
 * stopped by its pid and the dir removed afterwards. Debian's server binaries are used directly
 * (`apt-get install postgresql`); Debian's own service is never involved.
 *
 *   const pg = await startPostgres();          // fails with what to install when PostgreSQL is missing
 *   const url = await pg.createDatabase("t1");  // postgres://rotor@127.0.0.1:PORT/t1
 *   await pg.stop();
 *
 * `initdb` refuses to run as root, so under root both it and the server run as the `postgres` system
 * user (spawned with its uid/gid); as any other user they run as that user.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "@/server/testing/ports";

export interface TestPostgres {
  /** A database created for the caller at start (`rotor_test`). */
  url: string;
  port: number;
  /** The postmaster's pid (stop() ends it by this pid). */
  pid: number;
  /** A new empty database on the same cluster; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown: connections are cut), waits `downMs`, starts it again on the same port and data. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Superuser the cluster is initialised with (trust auth on loopback only: a test cluster). */
const SUPERUSER = "rotor";
const INSTALL_HINT = "apt-get install postgresql (Debian's PostgreSQL 15 server binaries)";

/** The directory holding initdb and postgres: $ROTOR_PG_BIN, else the newest /usr/lib/postgresql/N/bin. */
export function findPostgresBin(env: Record<string, string | undefined> = process.env): string | null {
  const has = (dir: string) => ["initdb", "postgres"].every((b) => fs.existsSync(path.join(dir, b)));
  if (env.ROTOR_PG_BIN) return has(env.ROTOR_PG_BIN) ? env.ROTOR_PG_BIN : null;
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return versions.map((v) => path.join(root, v, "bin")).find(has) ?? null;
}

/** Who runs initdb and the server: the `postgres` user when we are root (initdb refuses root). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error(`running as root, and there is no "postgres" user to run initdb as: ${INSTALL_HINT} creates it`);
  }
  return { uid: Number(uid), gid: Number(gid) };
}

function runInitdb(bin: string, dataDir: string, user: { uid: number; gid: number } | undefined): void {
  const r = spawnSync(
    path.join(bin, "initdb"),
    // --no-sync: a throwaway cluster needs no durability, and fsyncs dominate initdb's time.
    ["-D", dataDir, "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
    { ...user, cwd: path.dirname(dataDir), encoding: "utf8", timeout: 60_000 },
  );
  if (r.status !== 0) {
    const why = r.error ? String(r.error) : `exit ${r.status ?? r.signal}`;
    throw new Error(`initdb failed (${why}) in ${dataDir}: ${(r.stderr || r.stdout || "").trim().slice(-2000)}`);
  }
}

/** Ends the postmaster by pid: SIGINT is its "fast" shutdown; SIGQUIT (immediate) if that hangs. */
function stopServer(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const quit = setTimeout(() => signal(pid, "SIGQUIT"), timeoutMs);
    child.once("exit", () => {
      clearTimeout(quit);
      resolve();
    });
    if (!signal(pid, "SIGINT")) {
      clearTimeout(quit);
      resolve();
    }
  });
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false; // already gone
  }
}

/** Polls until the server accepts a connection, or fails with its log when it exits or time runs out. */
async function waitUntilAccepting(port: number, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}) before accepting connections on 127.0.0.1:${port}: ${log()}`);
    }
    const client = new pg.Client({ host: "127.0.0.1", port, user: SUPERUSER, database: "postgres", connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`postgres did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms: ${log()}`, { cause: lastError });
}

/**
 * Starts a cluster. Throws (never skips) when PostgreSQL is not installed, naming what to install:
 * `.ci/run` installs it, so under CI a missing one is a failure.
 */
export async function startPostgres(o: { timeoutMs?: number; env?: Record<string, string | undefined> } = {}): Promise<TestPostgres> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const bin = findPostgresBin(o.env);
  if (!bin) throw new Error(`PostgreSQL server binaries not found (looked in $ROTOR_PG_BIN and /usr/lib/postgresql/*/bin): ${INSTALL_HINT}`);
  const user = serverUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rotor-pg-"));
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  let child: ChildProcess | undefined;
  try {
    if (user) fs.chownSync(dir, user.uid, user.gid);
    const dataDir = path.join(dir, "data");
    runInitdb(bin, dataDir, user);
    const spawnServer = (port: number) => {
      const state = { log: "" };
      const server = spawn(
        path.join(bin, "postgres"),
        [
          ...["-D", dataDir, "-p", String(port), "-k", dir],
          ...["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
        ],
        { ...user, cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
      );
      server.stderr?.setEncoding("utf8").on("data", (d: string) => {
        state.log = (state.log + d).slice(-4000);
      });
      return { server, log: () => state.log.trim() };
    };
    // A port found free can be taken before postgres binds it; a second attempt gets another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const spawned = spawnServer(port);
      child = spawned.server;
      let started = child;
      try {
        await waitUntilAccepting(port, started, spawned.log, timeoutMs);
      } catch (err) {
        await stopServer(started);
        if (attempt < 3 && /could not bind|Address already in use/i.test(spawned.log())) continue;
        throw err;
      }
      let pid = started.pid as number;
      // A test process that dies without stop() must not leave the cluster running.
      const onExit = () => signal(pid, "SIGQUIT");
      process.once("exit", onExit);
      const admin = `postgres://${SUPERUSER}@127.0.0.1:${port}`;
      const createDatabase = async (name: string) => {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`test database name ${JSON.stringify(name)}: lowercase letters, digits, _`);
        const c = new pg.Client({ connectionString: `${admin}/postgres` });
        await c.connect();
        try {
          await c.query(`CREATE DATABASE ${name}`);
        } catch (cause) {
          throw new Error(`could not create test database ${name}`, { cause });
        } finally {
          await c.end();
        }
        return `${admin}/${name}`;
      };
      return {
        url: await createDatabase("rotor_test"),
        port,
        get pid() {
          return pid;
        },
        createDatabase,
        restart: async (downMs: number) => {
          await stopServer(started);
          await new Promise((r) => setTimeout(r, downMs));
          const again = spawnServer(port);
          started = again.server;
          pid = started.pid as number;
          await waitUntilAccepting(port, started, again.log, timeoutMs);
        },
        stop: async () => {
          process.removeListener("exit", onExit);
          await stopServer(started);
          removeDir();
        },
      };
    }
  } catch (err) {
    if (child) await stopServer(child);
    removeDir();
    throw err;
  }
}
