/**
 * One row of the audit trail as the page and the exports show it: a rollout event (operator or
 * engine) or an access fact (sign-in, token created, a refused request). Times are epoch ms.
 */
export type AuditKind = "rollout" | "access";
export type AuditOutcome = "applied" | "rejected" | "info";

export interface AuditRow {
  kind: AuditKind;
  /** Order within its kind (events.seq or auth_events.seq). */
  seq: number;
  at: number;
  /** "engine", an operator's name, or "api:<token name> for <its creator>". */
  actor: string;
  type: string;
  outcome: AuditOutcome;
  /** Why a rejected event was refused. */
  reason: string | null;
  rolloutId: string | null;
  lb: string | null;
  /** 0-based batch index, when the event is about one batch (shown as index + 1). */
  batch: number | null;
  /** Instances the event is about. */
  instances: string[];
  payload: Record<string, unknown>;
  details: Record<string, unknown> | null;
}

export interface AuditFilter {
  actor?: string;
  rollout?: string;
  type?: string;
  outcome?: AuditOutcome;
  kind?: AuditKind;
  /** Inclusive bounds, epoch ms. */
  from?: number;
  to?: number;
}

export interface AuditPage {
  rows: AuditRow[];
  filter: AuditFilter;
  offset: number;
  limit: number;
  /** More rows match beyond this page. */
  more: boolean;
  /** For the filter form's suggestions. */
  actors: string[];
  types: string[];
}
