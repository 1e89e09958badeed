/**
 * Vitest global setup: ONE throwaway PostgreSQL cluster for the whole run, shared by every project
 * (`shared` and `isolated`), stopped after the last file. Tests reach it through `inject("pgAdminUrl")`
 * (server/testing/stores.ts gives each a database of its own). A missing PostgreSQL fails the run
 * with what to install: never a skip.
 *
 * Vitest runs a project's global setups one project after another, each project loading this module
 * afresh; so the first project with tests starts the cluster, and a later one finds its URL in that
 * project's provided context and reuses it. Teardowns run after every file: the starter's stops it.
 */
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "@/server/store/db";
import { PG_MIGRATIONS } from "@/server/store/pg/migrations";
import { PgSyncDb } from "@/server/store/pg/sync";
import { startPostgres } from "./postgres";
import { TEMPLATE_DATABASE } from "./stores";

declare module "vitest" {
  interface ProvidedContext {
    /** The test cluster's superuser URL without a database: `postgres://rotor@127.0.0.1:PORT`. */
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const started = project.vitest.projects.map((p) => p.getProvidedContext().pgAdminUrl).find(Boolean);
  if (started) {
    project.provide("pgAdminUrl", started);
    return undefined;
  }
  const pg = await startPostgres();
  try {
    const adminUrl = `postgres://rotor@127.0.0.1:${pg.port}`;
    await prepareTemplate(adminUrl, await pg.createDatabase(TEMPLATE_DATABASE));
    project.provide("pgAdminUrl", adminUrl);
  } catch (err) {
    await pg.stop();
    throw err;
  }
  return () => pg.stop();
}

/** Migrates the template, then waits until its connection is gone (CREATE DATABASE … TEMPLATE needs it unused). */
async function prepareTemplate(adminUrl: string, url: string): Promise<void> {
  const db = new PgSyncDb(url, { applicationName: "rotor-template" });
  try {
    migrate(db, PG_MIGRATIONS);
  } finally {
    db.close();
  }
  const c = new pg.Client({ connectionString: `${adminUrl}/postgres` });
  await c.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const r = await c.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1", [TEMPLATE_DATABASE]);
      if (r.rowCount === 0) return;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error(`the template database ${TEMPLATE_DATABASE} still has a connection after 2 s`);
  } finally {
    await c.end();
  }
}
