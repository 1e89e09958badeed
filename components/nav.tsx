"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { OperatorMenu } from "@/components/auth/operator-menu";
import { LiveIndicator } from "@/components/live-updates";

const links = [
  { href: "/", label: "Load balancers", match: (p: string) => p === "/" || p.startsWith("/lb/") },
  { href: "/rollouts", label: "Rollouts", match: (p: string) => p.startsWith("/rollouts") },
  { href: "/audit", label: "Audit", match: (p: string) => p.startsWith("/audit") },
];

const adminLinks = [
  { href: "/settings/tokens", label: "Tokens", match: (p: string) => p.startsWith("/settings/tokens") },
  { href: "/settings/operators", label: "Operators", match: (p: string) => p.startsWith("/settings/operators") },
  { href: "/settings/notifications", label: "Notifications", match: (p: string) => p.startsWith("/settings/notifications") },
];

export function Nav({ operator, signOut }: { operator: { name: string; role: string } | null; signOut: () => Promise<void> }) {
  const pathname = usePathname() ?? "/";
  const shown = operator ? [...links, ...(operator.role === "admin" ? adminLinks : [])] : [];
  return (
    // On a phone the links take a row of their own below the brand and the operator, wrapping as
    // needed: every item stays on screen without a menu to open.
    <nav aria-label="Main" className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-5 gap-y-1 px-4 py-2.5 text-sm">
      <Link href="/" className="flex items-center gap-2 font-semibold tracking-tight">
        <svg aria-hidden viewBox="0 0 16 16" className="size-4 text-sky-600 dark:text-sky-400">
          <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <path d="M8 1.5 A6.5 6.5 0 0 1 14.5 8 L8 8 Z" fill="currentColor" />
        </svg>
        Rotor
      </Link>
      {shown.length > 0 && (
        <ul className="order-last flex w-full flex-wrap gap-x-4 sm:order-none sm:w-auto sm:gap-x-5">
          {shown.map((l) => {
            const current = l.match(pathname);
            return (
              <li key={l.href}>
                <Link
                  href={l.href}
                  aria-current={current ? "page" : undefined}
                  className={`inline-block py-1 ${current ? "font-medium text-zinc-900 dark:text-zinc-50" : "text-zinc-600 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100"}`}
                >
                  {l.label}
                </Link>
              </li>
            );
          })}
        </ul>
      )}
      {operator ? <LiveIndicator /> : <span className="ml-auto" />}
      <OperatorMenu operator={operator} signOut={signOut} />
    </nav>
  );
}
