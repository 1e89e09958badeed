import { buttonCls } from "@/components/ui/table";

/** A form around a server action: works without JavaScript. */
export function SignOutButton({ action }: { action: () => Promise<void> }) {
  return (
    <form action={action}>
      <button type="submit" className={buttonCls.secondary}>
        Sign out
      </button>
    </form>
  );
}
