export default function HomePage() {
  return (
    <section aria-labelledby="lb-heading">
      <h1 id="lb-heading" className="text-2xl font-semibold">Load balancers</h1>
      <p className="mt-2 text-zinc-600 dark:text-zinc-400">Supervised, batch-by-batch rollouts for the fleet behind your load balancer.</p>
    </section>
  );
}
