"use client";

import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { queryKeys } from "@/components/queries";
import type { StreamMessage } from "@/lib/views";

/** How the page learns of changes: the event stream, or polling while the stream is down. */
export type LiveMode = "connecting" | "live" | "polling";

const POLL_MS = 2_000;
let mode: LiveMode = "connecting";
const listeners = new Set<() => void>();

function setMode(next: LiveMode) {
  if (next === mode) return;
  mode = next;
  for (const l of listeners) l();
}

export function useLiveMode(): LiveMode {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => mode,
    () => "connecting" as const,
  );
}

/** Maps one stream message to the queries it makes stale; only mounted queries refetch. */
export function invalidateFor(client: QueryClient, msg: StreamMessage) {
  switch (msg.kind) {
    case "rollout":
      void client.invalidateQueries({ queryKey: queryKeys.rollouts });
      void client.invalidateQueries({ queryKey: queryKeys.loadBalancers, exact: true });
      if (msg.lb) void client.invalidateQueries({ queryKey: queryKeys.instances(msg.lb) });
      break;
    case "instances":
      void client.invalidateQueries({ queryKey: queryKeys.instances(msg.lb) });
      void client.invalidateQueries({ queryKey: queryKeys.faults });
      void client.invalidateQueries({ queryKey: queryKeys.loadBalancers, exact: true });
      break;
    case "traffic":
      void client.invalidateQueries({ queryKey: queryKeys.traffic(msg.lb) });
      void client.invalidateQueries({ queryKey: queryKeys.loadBalancers, exact: true });
      break;
    case "hello":
      break;
  }
}

/**
 * Subscribes once per tab to /api/stream; falls back to polling every 2 s while it is down.
 * Off while nobody is signed in (the stream needs a session).
 */
export function LiveUpdates({ enabled = true }: { enabled?: boolean }) {
  const client = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    let poll: ReturnType<typeof setInterval> | undefined;
    let wasDown = false;
    const startPolling = () => {
      setMode("polling");
      poll ??= setInterval(() => void client.invalidateQueries(), POLL_MS);
    };
    const stopPolling = () => {
      if (poll) clearInterval(poll);
      poll = undefined;
    };
    if (typeof EventSource === "undefined") {
      startPolling();
      return stopPolling;
    }
    const source = new EventSource("/api/stream");
    source.onopen = () => {
      stopPolling();
      setMode("live");
      // Anything may have changed while the stream was down.
      if (wasDown) void client.invalidateQueries();
      wasDown = false;
    };
    source.onerror = () => {
      wasDown = true;
      startPolling();
    };
    source.onmessage = (e: MessageEvent<string>) => {
      try {
        invalidateFor(client, JSON.parse(e.data) as StreamMessage);
      } catch {
        // A malformed message is not worth breaking the page over; polling covers the gap.
      }
    };
    return () => {
      source.close();
      stopPolling();
    };
  }, [client, enabled]);
  return null;
}

export function LiveIndicator() {
  const live = useLiveMode();
  const label = live === "live" ? "Live" : live === "polling" ? "Polling" : "Connecting";
  const dot = live === "live" ? "bg-emerald-500" : live === "polling" ? "bg-amber-500" : "bg-zinc-400";
  return (
    <span className="ml-auto flex items-center gap-1.5 text-xs text-zinc-500 dark:text-zinc-400" title={live === "polling" ? "Event stream unavailable: refreshing every 2 s" : "Updates stream from the server"}>
      <span aria-hidden className={`inline-block size-2 rounded-full ${dot}`} />
      {label}
    </span>
  );
}
