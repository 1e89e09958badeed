import { Field } from "@/components/ui/field";
import { inputCls } from "@/components/ui/table";
import { ROLE_NAMES } from "./auth-types";

/** The role picker of the operator and token forms (posted as `role`, `operator` preselected). */
export function RoleField({ id }: { id: string }) {
  return (
    <Field id={id} label="Role">
      <select id={id} name="role" defaultValue="operator" className={inputCls}>
        {ROLE_NAMES.map((r) => (
          <option key={r} value={r}>{r}</option>
        ))}
      </select>
    </Field>
  );
}
