/**
 * Why the dashboard cannot read the provider (its configuration, AWS credentials or permissions, an
 * outage), as one sentence saying what is wrong, which setting, and what to do. Every page that reads
 * the fleet shows it the same way: the home page, a fleet page, the rollout pages and the form.
 */
import type { ReactNode } from "react";
import type { ProblemView } from "@/lib/views";

const TITLES: Record<string, string> = {
  CONFIG: "Configuration problem",
  AUTH: "AWS refused Rotor's credentials",
  UNAVAILABLE: "The provider does not answer",
  THROTTLED: "The provider does not answer",
  TIMEOUT: "The provider does not answer",
};

export function ProviderProblem({ problem }: { problem: ProblemView }) {
  return (
    <div role="alert" data-problem={problem.code} className="space-y-0.5 rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900 dark:border-red-500/40 dark:bg-red-500/10 dark:text-red-200">
      <p className="font-semibold">{TITLES[problem.code] ?? "The load balancers cannot be read"}</p>
      <p>{problem.message}</p>
    </div>
  );
}

/** A page that has nothing to show but the problem (a fleet page, the form), under its usual heading. */
export function ProblemPage({ heading, problem }: { heading: ReactNode; problem: ProblemView }) {
  return (
    <section aria-labelledby="problem-heading" className="space-y-3">
      <h1 id="problem-heading" className="text-xl font-semibold">
        {heading}
      </h1>
      <ProviderProblem problem={problem} />
    </section>
  );
}
