import { QueryClient, dehydrate, hydrate, type QueryKey } from "@tanstack/react-query";
import { afterEach, describe, expect, it } from "vitest";
import { connectLive, type LiveSource } from "@/components/live-updates";
import { queryKeys } from "@/components/queries";
import type { StreamMessage } from "@/lib/views";

class FakeSource implements LiveSource {
  onopen: LiveSource["onopen"] = null;
  onerror: LiveSource["onerror"] = null;
  onmessage: LiveSource["onmessage"] = null;
  closed = false;
  send(msg: StreamMessage) {
    this.onmessage?.call(undefined as never, { data: JSON.stringify(msg) } as MessageEvent<string>);
  }
  close() {
    this.closed = true;
  }
}

/** What a server render hands the browser: `key` read at server time `readAt`. */
function serverRender(key: QueryKey, data: unknown, readAt: number) {
  const server = new QueryClient();
  server.setQueryData(key, data, { updatedAt: readAt });
  return dehydrate(server);
}

const invalidated = (client: QueryClient, key: QueryKey) => client.getQueryCache().find({ queryKey: key, exact: true })?.state.isInvalidated;
const settle = () => new Promise((r) => setTimeout(r, 0));

let stop: (() => void) | null = null;
afterEach(() => {
  stop?.();
  stop = null;
});

function connect(client: QueryClient): FakeSource {
  const source = new FakeSource();
  stop = connectLive(client, () => source);
  return source;
}

describe("live updates miss no change", () => {
  it("refetches what the page was rendered with once the stream says hello (changes before the stream subscribed were never sent)", () => {
    const client = new QueryClient();
    hydrate(client, serverRender(queryKeys.rollout("r-1"), { phase: "running" }, 1_000));
    const source = connect(client);
    source.onopen?.call(undefined as never, new Event("open"));
    expect(invalidated(client, queryKeys.rollout("r-1"))).toBe(false);
    source.send({ kind: "hello" });
    expect(invalidated(client, queryKeys.rollout("r-1"))).toBe(true);
  });

  it("refetches a page's query hydrated after a message about a change its server read may not have seen", async () => {
    const client = new QueryClient();
    const source = connect(client);
    source.send({ kind: "hello" });
    source.send({ kind: "rollout", id: "r-1", lb: "a", at: 2_000 });
    source.send({ kind: "instances", lb: "a", at: 2_000 });

    // Read before the change, hydrated after its message: overtaken.
    hydrate(client, serverRender(queryKeys.rollout("r-1"), { phase: "running" }, 1_500));
    // Read at or after the change: it shows it.
    hydrate(client, serverRender(queryKeys.instances("a"), [], 2_500));
    // No message names it.
    hydrate(client, serverRender(queryKeys.traffic("a"), null, 1_000));
    await settle();
    expect(invalidated(client, queryKeys.rollout("r-1"))).toBe(true);
    expect(invalidated(client, queryKeys.instances("a"))).toBe(false);
    expect(invalidated(client, queryKeys.traffic("a"))).toBe(false);
  });

  it("refetches a query a server render overwrote with data read before a change it was told about", async () => {
    const client = new QueryClient();
    client.setQueryData(queryKeys.rollout("r-1"), { phase: "running" }, { updatedAt: 1_000 });
    const source = connect(client);
    source.send({ kind: "hello" });
    client.setQueryData(queryKeys.rollout("r-1"), { phase: "running" }, { updatedAt: 1_000 });
    source.send({ kind: "rollout", id: "r-1", at: 3_000 });
    expect(invalidated(client, queryKeys.rollout("r-1"))).toBe(true);
    // The page's render (read at 2 500, before the change) lands after the message and clears the mark.
    hydrate(client, serverRender(queryKeys.rollout("r-1"), { phase: "running" }, 2_500));
    await settle();
    expect(invalidated(client, queryKeys.rollout("r-1"))).toBe(true);
  });

  it("closes the stream and stops listening on cleanup", () => {
    const client = new QueryClient();
    const source = connect(client);
    stop?.();
    stop = null;
    expect(source.closed).toBe(true);
    hydrate(client, serverRender(queryKeys.rollout("r-2"), {}, 0));
    expect(invalidated(client, queryKeys.rollout("r-2"))).toBe(false);
  });
});
