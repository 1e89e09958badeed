/**
 * Server-side prefetch for a page: runs the same reads as the JSON API, under the same query keys,
 * and returns the dehydrated cache for a HydrationBoundary. A read that fails is left out: the
 * browser then fetches it itself and shows the error where the data would be.
 *
 * Each query is stamped with the server's time when its read BEGAN (not when the page finished
 * rendering): the browser compares it with the `at` of the live-update messages that arrive before
 * the query is in its cache, and refetches a query that a change may have overtaken
 * (components/live-updates.tsx).
 */
import { QueryClient, dehydrate, type DehydratedState, type QueryKey } from "@tanstack/react-query";
import { componentLog } from "@/server/log";

/** A value a page has already read, with the server time its read began. */
export interface Read<T> {
  value: T;
  readAt: number;
}

/** Reads now, remembering when the read began (for a page that needs the value before it prefetches). */
export async function readNow<T>(read: () => Promise<T>): Promise<Read<T>> {
  const readAt = Date.now();
  return { value: await read(), readAt };
}

type Source = (() => Promise<unknown>) | Read<unknown>;

export async function prefetch(entries: ReadonlyArray<readonly [QueryKey, Source]>): Promise<DehydratedState> {
  const client = new QueryClient();
  await Promise.all(
    entries.map(async ([key, source]) => {
      try {
        const { value, readAt } = typeof source === "function" ? await readNow(source) : source;
        client.setQueryData(key, value, { updatedAt: readAt });
      } catch (err) {
        componentLog("prefetch").warn({ err, key }, "prefetch failed; the browser will retry");
      }
    }),
  );
  return dehydrate(client);
}
