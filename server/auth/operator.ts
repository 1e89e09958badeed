/**
 * Who is at the controls. Every server action asks this one function, so that real sign-in
 * (issue 7) replaces its body without touching the actions.
 */
export type OperatorRole = "viewer" | "operator" | "admin";

export interface Operator {
  name: string;
  role: OperatorRole;
}

/** The operator of the current request. For now a fixed demo operator; later, the session's. */
export async function currentOperator(): Promise<Operator> {
  return { name: "demo-operator", role: "operator" };
}

/** Roles allowed to change a rollout (start, approve, pause, …). */
export function canOperate(operator: Operator): boolean {
  return operator.role === "operator" || operator.role === "admin";
}
