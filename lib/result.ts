/**
 * What a server action or API mutation returns: data, or a code and a message the UI shows as it is,
 * with per-field messages for forms. Never a bare string, never a thrown error across the boundary.
 *
 *   ok({ id: "r-12" })                          → { ok: true, data: { id: "r-12" } }
 *   fail("INVALID_INPUT", "Check the form", { version: "Version may contain only …" })
 */
export type ActionResult<T> =
  | { ok: true; data: T }
  | { ok: false; code: string; message: string; fieldErrors?: Record<string, string> };

export function ok<T>(data: T): ActionResult<T> {
  return { ok: true, data };
}

export function fail<T = never>(code: string, message: string, fieldErrors?: Record<string, string>): ActionResult<T> {
  return fieldErrors && Object.keys(fieldErrors).length > 0 ? { ok: false, code, message, fieldErrors } : { ok: false, code, message };
}
