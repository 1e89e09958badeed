/**
 * What `npm start` (server/cli/start.ts) does about operators before it starts the dashboard:
 *
 *   const auth = await prepareOperators(host);   // throws (refuses) beyond loopback with nobody to sign in as
 *   for (const line of auth.lines) console.log(line);
 *
 * On loopback with no operator configured, the `demo` admin gets a fresh random password, printed
 * here once (the database keeps only its hash). Configuration errors (a bad ROTOR_OPERATORS, half
 * an OIDC setup) stop the start with their message.
 */
import { assertSafeBinding, configuredOperators, ensureDemoOperator, realAccounts } from "./accounts";
import { authDb } from "./db";
import { oidcSettings } from "./oidc";
import { purgeSessions } from "./sessions";

export interface PreparedOperators {
  /** Lines for the terminal (the demo password is in them, once). */
  lines: string[];
  demo: { name: string; password: string } | null;
  configured: number;
  oidc: boolean;
}

export async function prepareOperators(host: string, opts: { dataDir?: string; env?: Readonly<Record<string, string | undefined>> } = {}): Promise<PreparedOperators> {
  const env = opts.env ?? process.env;
  const db = authDb();
  const oidc = oidcSettings(env) !== null;
  const configured = configuredOperators(env, opts.dataDir).length;
  assertSafeBinding(host, realAccounts(db, env), { oidc });
  purgeSessions(db);
  const demo = oidc ? null : await ensureDemoOperator(db, host, env);
  const lines: string[] = [];
  if (demo) {
    lines.push(
      `rotor: no operators configured; on loopback you can sign in as "${demo.name}" (admin) with password: ${demo.password}`,
      "rotor: (shown once; a new one is made at each start. Configure ROTOR_OPERATORS or operators.json for real accounts.)",
    );
  } else {
    lines.push(`rotor: ${configured} operator(s) configured${oidc ? ", single sign-on (OIDC) on" : ""}`);
  }
  return { lines, demo, configured, oidc };
}
