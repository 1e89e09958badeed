/**
 * The one way a change enters Rotor: `runCommand(rt, operator, command)` — parse once (lib's zod
 * schemas), authorize once (the role, then the two-person rule; every refusal of a known rollout is
 * kept in its log), append (a new rollout with its `start`, or an operator event the state machine
 * accepts). Server actions, the bearer API, the CLI and chat integrations all call it and get one
 * ActionResult; the engine does the work.
 *
 *   click "Approve batch 2" → server action → runCommand(rt, alice, { type: "operator-event", … })
 *     → operatorEventSchema.parse → role + two-person rule → journal.append(approve) → bus → engine
 */
import { fail, ok, type ActionResult } from "@/lib/result";
import type { OperatorEvent } from "@/lib/rollout/types";
import { fieldErrorRecord, freezeSchema, liftFreezeSchema, operatorEventSchema, startRolloutSchema, toOperatorEvent, toRolloutRequest } from "@/lib/validation";
import { recordAccess, recordRefusal } from "@/server/auth/access-log";
import { addFreeze, liftFreezes, type Freeze } from "@/server/store/freezes";
import { ensureAuthSchema } from "@/server/auth/db";
import { authorizeRolloutEvent } from "@/server/auth/rollout-access";
import { can, MIN_ROLE, type Operator } from "@/server/auth/roles";
import { componentLog } from "@/server/log";
import type { Runtime } from "@/server/runtime";
import { launchRollout, operate } from "./launch";

/** `input`: the start form or API body, unparsed. */
export type StartCommand = { type: "start-rollout"; input: unknown };
/** Deploy freezes (admins): `input` is `{ lb, reason, until }` to freeze, `{ lb }` to lift, unparsed. */
export type FreezeCommand = { type: "freeze-lb"; input: unknown } | { type: "lift-freeze"; input: unknown };
/** `event`: `{ type: "approve", batch: 1 }` and the like, unparsed; the rollout comes apart from it. */
export type EventCommand = { type: "operator-event"; rolloutId: string; event: unknown };
export type Command = StartCommand | EventCommand | FreezeCommand;

async function startRollout(rt: Runtime, operator: Operator, input: unknown): Promise<ActionResult<{ id: string }>> {
  const parsed = startRolloutSchema.safeParse(input);
  if (!parsed.success) return fail("INVALID_INPUT", "Nothing started: check the highlighted fields", fieldErrorRecord(parsed.error));
  if (!can(operator.role, "rollout.start")) {
    return fail("FORBIDDEN", `${operator.name} has the ${operator.role} role; starting a rollout needs ${MIN_ROLE["rollout.start"]} or above`);
  }
  const req = toRolloutRequest(parsed.data);
  const r = await launchRollout(
    { store: rt.store, monitor: rt.monitor, bus: rt.bus },
    {
      lb: req.lb,
      plan: req.options,
      mode: req.approval,
      ...(req.drainTimeoutMs !== undefined ? { drainTimeoutMs: req.drainTimeoutMs } : {}),
      ...(req.replace ? { replace: req.replace } : {}),
      analysis: { request: req.analysis, defaults: rt.analysisDefaults },
    },
    operator.name,
    parsed.data,
  );
  return r.ok ? ok(r.data) : fail(r.code, r.message, r.fieldErrors as Record<string, string> | undefined);
}

function operatorEvent(rt: Runtime, operator: Operator, rolloutId: string, raw: unknown): ActionResult<{ seq: number }> {
  const body = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  if (!body) return fail("INVALID_INPUT", 'Send an operator event, e.g. { "type": "approve" }');
  if (body.rolloutId !== undefined && body.rolloutId !== rolloutId) {
    return fail("INVALID_INPUT", `The event names rollout ${String(body.rolloutId)} but was sent to ${rolloutId}`);
  }
  const parsed = operatorEventSchema.safeParse({ ...body, rolloutId });
  if (!parsed.success) return fail("INVALID_INPUT", parsed.error.issues.map((i) => i.message).join("; "), fieldErrorRecord(parsed.error));
  const event: OperatorEvent = toOperatorEvent(parsed.data);
  if (event.type === "start") return fail("INVALID_INPUT", "A rollout starts when it is created; start a new one instead");
  // Refusals of a known rollout are kept in its event log as rejected (actor, reason).
  const access = authorizeRolloutEvent(rt.store, operator, rolloutId, event);
  if (!access.ok) {
    rt.bus.emit({ rolloutId, kind: "event" });
    return fail(access.code, access.message);
  }
  const r = operate(rt.journals, rolloutId, event, operator.name);
  return r.ok ? ok(r.data) : fail(r.code, r.message);
}

/** Freezes a load balancer: new rollouts refused until the end time; running ones untouched. Audited. */
function freezeLb(rt: Runtime, operator: Operator, command: FreezeCommand): ActionResult<{ freeze: Freeze | null; lifted: number }> {
  const now = Date.now();
  const parsed = command.type === "freeze-lb" ? freezeSchema(now).safeParse(command.input) : liftFreezeSchema.safeParse(command.input);
  if (!parsed.success) return fail("INVALID_INPUT", parsed.error.issues.map((i) => i.message).join("; "), fieldErrorRecord(parsed.error));
  if (!can(operator.role, "lb.freeze")) return fail("FORBIDDEN", `${operator.name} has the ${operator.role} role; freezing a load balancer needs ${MIN_ROLE["lb.freeze"]}`);
  const db = ensureAuthSchema(rt.store.db);
  if (command.type === "lift-freeze") {
    const lifted = rt.store.write(() => liftFreezes(rt.store.db, parsed.data.lb, operator.name, now));
    if (lifted.length === 0) return fail("NOT_FROZEN", `${parsed.data.lb} is not frozen`);
    recordAccess(db, { actor: operator.name, type: "freeze-lifted", outcome: "applied", details: { lb: parsed.data.lb, freezes: lifted.map((f) => ({ reason: f.reason, endsAt: f.endsAt, by: f.createdBy })) } });
    return ok({ freeze: null, lifted: lifted.length });
  }
  const f = parsed.data as { lb: string; reason: string; endsAt: number };
  const freeze = rt.store.write(() => addFreeze(rt.store.db, { lb: f.lb, reason: f.reason, endsAt: f.endsAt, createdBy: operator.name, createdAt: now }));
  recordAccess(db, { actor: operator.name, type: "freeze-added", outcome: "applied", details: { lb: f.lb, reason: f.reason, endsAt: f.endsAt } });
  rt.bus.emit({ lb: f.lb, kind: "event" });
  return ok({ freeze, lifted: 0 });
}

/**
 * Refusals the rollout's own log does not keep (a start refused, an event that did not validate) go
 * to the audit trail, so every refused command is on record with its actor and target.
 */
function audited<T>(rt: Runtime, operator: Operator, command: Command, r: ActionResult<T>): ActionResult<T> {
  if (r.ok) return r;
  // An event that passed validation is on record already: in its rollout's log, or (unknown rollout) in the audit trail.
  const inRolloutLog = command.type === "operator-event" && r.code !== "INVALID_INPUT";
  if (!inRolloutLog) {
    recordRefusal(ensureAuthSchema(rt.store.db), {
      actor: operator.name,
      action: command.type === "start-rollout" ? "rollout.start" : command.type === "operator-event" ? "rollout.event" : command.type,
      target: command.type === "operator-event" ? command.rolloutId : null,
      reason: `${r.code}: ${r.message}`,
    });
  }
  return r;
}

/** Parse once, authorize once, append. Never throws: an unexpected error is INTERNAL with its cause logged. */
export function runCommand(rt: Runtime, operator: Operator, command: StartCommand): Promise<ActionResult<{ id: string }>>;
export function runCommand(rt: Runtime, operator: Operator, command: EventCommand): Promise<ActionResult<{ seq: number }>>;
export function runCommand(rt: Runtime, operator: Operator, command: FreezeCommand): Promise<ActionResult<{ freeze: Freeze | null; lifted: number }>>;
export async function runCommand(rt: Runtime, operator: Operator, command: Command): Promise<ActionResult<{ id: string } | { seq: number } | { freeze: Freeze | null; lifted: number }>> {
  try {
    switch (command.type) {
      case "start-rollout":
        return audited(rt, operator, command, await startRollout(rt, operator, command.input));
      case "operator-event":
        return audited(rt, operator, command, operatorEvent(rt, operator, command.rolloutId, command.event));
      case "freeze-lb":
      case "lift-freeze":
        return audited(rt, operator, command, freezeLb(rt, operator, command));
    }
  } catch (err) {
    componentLog("commands").error({ err, command: command.type, actor: operator.name }, "command failed");
    const what = command.type === "start-rollout" ? "Starting the rollout" : command.type === "operator-event" ? "Recording the action" : "Changing the freeze";
    return fail("INTERNAL", `${what} failed on the server: ${err instanceof Error ? err.message : String(err)}`);
  }
}
