/** Shapes the admin pages show (no secrets: a token's value exists only in the create answer). */
export type RoleName = "viewer" | "operator" | "admin";

export interface TokenView {
  id: string;
  name: string;
  role: RoleName;
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

export interface OperatorView {
  name: string;
  role: RoleName;
  createdAt: number;
  createdBy: string;
  disabled: boolean;
  source: "config" | "db";
}

export const ROLE_NAMES: readonly RoleName[] = ["viewer", "operator", "admin"];
