/**
 * Turning a zod error into messages a form can put next to its fields.
 *   { batchSize: { value: "x" } } fails → [{ field: "batchSize.value", message: "Expected a number" }]
 * Issues without a path belong to the whole form (field "form"). The first message per field wins.
 */
import type { z } from "zod";

export interface FieldError {
  field: string;
  message: string;
}

export function fieldErrorsFromZod(error: z.ZodError): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const field = issue.path.length === 0 ? "form" : issue.path.map(String).join(".");
    if (seen.has(field)) continue;
    seen.add(field);
    out.push({ field, message: issue.message });
  }
  return out;
}

/** The same as a record, for ActionResult.fieldErrors. */
export function fieldErrorRecord(error: z.ZodError): Record<string, string> {
  return Object.fromEntries(fieldErrorsFromZod(error).map((e) => [e.field, e.message]));
}
