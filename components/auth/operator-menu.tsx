import Link from "next/link";

/**
 * The nav's corner: who is signed in, with a sign-out button, or a sign-in link. Takes the
 * sign-out server action as a prop (components never import server code).
 */
export function OperatorMenu({ operator, signOut }: { operator: { name: string; role: string } | null; signOut: () => Promise<void> }) {
  if (!operator) {
    return (
      <Link href="/sign-in" className="text-xs font-medium text-sky-700 hover:underline dark:text-sky-400">
        Sign in
      </Link>
    );
  }
  return (
    <form action={signOut} className="flex items-center gap-2 text-xs text-zinc-500 dark:text-zinc-400">
      <span title="Signed-in operator">
        <span className="font-mono">{operator.name}</span> ({operator.role})
      </span>
      <button type="submit" className="rounded px-1.5 py-0.5 font-medium text-zinc-700 ring-1 ring-zinc-300 hover:bg-zinc-100 dark:text-zinc-200 dark:ring-zinc-700 dark:hover:bg-zinc-800">
        Sign out
      </button>
    </form>
  );
}
