/** Shapes the admin pages show, defined once in lib/auth.ts (no secrets: a token's value exists only in the create answer). */
import type { ApiTokenInfo, OperatorRole, StoredOperator } from "@/lib/auth";

export type RoleName = OperatorRole;
export type TokenView = ApiTokenInfo;
export type OperatorView = StoredOperator;
export { ROLES as ROLE_NAMES } from "@/lib/auth";
