"use client";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { LiveUpdates } from "@/components/live-updates";

function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Freshness comes from the event stream (or the polling fallback), not from refetch-on-focus.
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        retry: 1,
      },
    },
  });
}

let browserClient: QueryClient | undefined;

function getQueryClient() {
  if (typeof window === "undefined") return makeQueryClient();
  browserClient ??= makeQueryClient();
  return browserClient;
}

export function Providers({ children, live = true }: { children: ReactNode; live?: boolean }) {
  const [client] = useState(getQueryClient);
  return (
    <QueryClientProvider client={client}>
      <LiveUpdates enabled={live} />
      {children}
    </QueryClientProvider>
  );
}
