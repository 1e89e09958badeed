import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Nav } from "@/components/nav";
import { Providers } from "@/components/providers";
import { signOutAction } from "@/app/sign-in/actions";
import { currentOperator } from "@/server/auth/operator";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Rotor", template: "%s · Rotor" },
  description: "Supervised, batch-by-batch rolling deploys behind a load balancer",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const operator = await currentOperator();
  return (
    <html lang="en">
      <body className="min-h-screen bg-zinc-50 text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100">
        <Providers live={operator !== null}>
          <header className="border-b border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
            <Nav operator={operator} signOut={signOutAction} />
          </header>
          <main className="mx-auto max-w-7xl px-4 py-5">{children}</main>
        </Providers>
      </body>
    </html>
  );
}
