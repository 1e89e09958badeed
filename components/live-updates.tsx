"use client";

import { matchQuery, useQueryClient, type InvalidateQueryFilters, type QueryClient } from "@tanstack/react-query";
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

/** The queries one stream message makes stale. */
function staleBy(msg: StreamMessage): InvalidateQueryFilters[] {
  switch (msg.kind) {
    case "rollout":
      return [{ queryKey: queryKeys.rollouts }, { queryKey: queryKeys.loadBalancers, exact: true }, ...(msg.lb ? [{ queryKey: queryKeys.instances(msg.lb) }] : [])];
    case "instances":
      return [{ queryKey: queryKeys.instances(msg.lb) }, { queryKey: queryKeys.faults }, { queryKey: queryKeys.loadBalancers, exact: true }];
    case "traffic":
      return [{ queryKey: queryKeys.traffic(msg.lb) }, { queryKey: queryKeys.loadBalancers, exact: true }];
    case "hello":
      return [];
  }
}

/** Maps one stream message to the queries it makes stale; only mounted queries refetch. */
export function invalidateFor(client: QueryClient, msg: StreamMessage) {
  for (const filters of staleBy(msg)) void client.invalidateQueries(filters);
}

/** How long a message is kept for queries that reach the cache after it (a page's server render in flight). */
const REMEMBER_MS = 60_000;

/** The part of EventSource the live updates use (a fake one in tests). */
export interface LiveSource {
  onopen: ((this: never, ev: Event) => unknown) | null;
  onerror: ((this: never, ev: Event) => unknown) | null;
  onmessage: ((this: never, ev: MessageEvent<string>) => unknown) | null;
  close(): void;
}

/**
 * Keeps `client`'s queries fresh from the event stream; returns the cleanup. No change can be missed:
 * - a message marks the queries it names stale (mounted ones refetch);
 * - `hello` (every open, the first one included) refetches everything: what changed between the
 *   page's server render, or the stream going down, and the stream's subscription was never sent;
 * - a query whose server-read data reaches the cache after a message about it (a page rendered on
 *   the server while the change happened, hydrated after the message arrived) is refetched when its
 *   read began (its `dataUpdatedAt`, the server's time) no later than the change;
 * - while the stream is down, everything is refetched every 2 s.
 */
export function connectLive(client: QueryClient, open: (() => LiveSource) | null, pollMs = POLL_MS): () => void {
  let poll: ReturnType<typeof setInterval> | undefined;
  const startPolling = () => {
    setMode("polling");
    poll ??= setInterval(() => void client.invalidateQueries(), pollMs);
  };
  const stopPolling = () => {
    if (poll) clearInterval(poll);
    poll = undefined;
  };
  if (!open) {
    startPolling();
    return stopPolling;
  }
  const recent: { msg: Exclude<StreamMessage, { kind: "hello" }>; received: number }[] = [];
  const offCache = client.getQueryCache().subscribe((event) => {
    // Data from a server render: a new query (hydrated), or an existing one overwritten by newer server data (setState).
    const fromServer = event.type === "added" || (event.type === "updated" && event.action.type === "setState");
    if (!fromServer || event.query.state.data === undefined) return;
    const { query } = event;
    const readAt = query.state.dataUpdatedAt;
    const overtaken = recent.some((r) => r.msg.at >= readAt && staleBy(r.msg).some((f) => matchQuery(f, query)));
    // Not from inside the cache's notification (hydration runs while React renders).
    if (overtaken) queueMicrotask(() => void client.invalidateQueries({ queryKey: query.queryKey, exact: true }));
  });
  const source = open();
  source.onopen = () => {
    stopPolling();
    setMode("live");
  };
  source.onerror = () => startPolling();
  source.onmessage = (e: MessageEvent<string>) => {
    let msg: StreamMessage;
    try {
      msg = JSON.parse(e.data) as StreamMessage;
    } catch {
      // A malformed message is not worth breaking the page over; the next hello or poll covers it.
      return;
    }
    if (msg.kind === "hello") {
      stopPolling();
      setMode("live");
      void client.invalidateQueries();
      return;
    }
    invalidateFor(client, msg);
    const now = Date.now();
    recent.push({ msg, received: now });
    while (recent.length > 0 && (recent[0]!.received < now - REMEMBER_MS || recent.length > 500)) recent.shift();
  };
  return () => {
    source.close();
    offCache();
    stopPolling();
  };
}

/**
 * Subscribes once per tab to /api/stream; falls back to polling every 2 s while it is down.
 * Off while nobody is signed in (the stream needs a session).
 */
export function LiveUpdates({ enabled = true }: { enabled?: boolean }) {
  const client = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    return connectLive(client, typeof EventSource === "undefined" ? null : () => new EventSource("/api/stream"));
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
