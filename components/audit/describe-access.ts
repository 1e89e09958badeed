import type { AuditRow } from "@/lib/audit";

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** One line for an access fact of the audit trail. */
export function describeAccess(r: AuditRow): string {
  const d = r.details ?? {};
  switch (r.type) {
    case "sign-in":
      return r.outcome === "applied" ? `signed in${str(d.via) === "oidc" ? " with single sign-on" : ""} as ${str(d.role) ?? "?"}` : "sign-in refused";
    case "sign-out":
      return "signed out";
    case "fault-injected":
      return `injected fault ${str(d.kind) ?? "?"} on ${str(d.instanceId) ?? "?"}`;
    case "faults-cleared":
      return "cleared the fleet's faults";
    case "token-created":
      return `created API token ${str(d.name) ?? ""} (${str(d.role) ?? "?"})`;
    case "token-revoked":
      return `revoked API token ${str(d.name) ?? ""}`;
    case "operator-added":
      return `added operator ${str(d.name) ?? ""} (${str(d.role) ?? "?"})`;
    case "operator-disabled":
      return `disabled operator ${str(d.name) ?? ""}`;
    case "setting-changed":
      return `changed setting ${str(d.key) ?? ""}`;
    case "lock-lifted":
      return `lifted the sign-in lock on ${str(d.name) ?? ""}`;
    case "access-refused":
      return `refused: ${str(d.action) ?? "an action"}${str(d.target) ? ` on ${str(d.target)}` : ""}`;
    default:
      return r.type.replace(/-/g, " ");
  }
}
