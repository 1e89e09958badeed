/**
 * Operators, roles and API tokens as the server keeps them and the admin pages show them: one
 * definition for both sides. No secrets here: a token's value exists only in the answer that creates it.
 */
export type OperatorRole = "viewer" | "operator" | "admin";

export const ROLES = ["viewer", "operator", "admin"] as const satisfies readonly OperatorRole[];

/** Who is acting: a signed-in operator, or an API token acting as `api:<name>`. */
export interface Operator {
  name: string;
  role: OperatorRole;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: OperatorRole;
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

export interface StoredOperator {
  name: string;
  role: OperatorRole;
  createdAt: number;
  createdBy: string;
  disabled: boolean;
  source: "config" | "db";
}
