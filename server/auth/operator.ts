/**
 * Who is at the controls: the operator of the current request's session. Server actions do not
 * ask this (they call `requireOperator(action)` from guard.ts, which also checks the role); the
 * layout asks it to show who is signed in.
 */
import type { Operator } from "@/lib/auth";
import { signedInOperator } from "./guard";

export type { Operator, OperatorRole } from "@/lib/auth";

/** The operator of the current request's session, or null (not signed in). */
export async function currentOperator(): Promise<Operator | null> {
  return signedInOperator();
}
