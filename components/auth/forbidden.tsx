/** What a page shows a signed-in operator whose role does not allow it. */
export function Forbidden({ message }: { message: string }) {
  return (
    <section aria-labelledby="forbidden-heading" className="space-y-2">
      <h1 id="forbidden-heading" className="text-xl font-semibold">Not allowed</h1>
      <p role="alert" className="text-sm text-red-700 dark:text-red-400">{message}</p>
      <p className="text-sm text-zinc-600 dark:text-zinc-400">Ask an admin for a role that allows it.</p>
    </section>
  );
}
