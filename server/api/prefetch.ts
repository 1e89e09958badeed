/**
 * Server-side prefetch for a page: runs the same reads as the JSON API, under the same query keys,
 * and returns the dehydrated cache for a HydrationBoundary. A read that fails is left out: the
 * browser then fetches it itself and shows the error where the data would be.
 */
import { QueryClient, dehydrate, type DehydratedState, type QueryKey } from "@tanstack/react-query";
import { componentLog } from "@/server/log";

export async function prefetch(entries: ReadonlyArray<readonly [QueryKey, () => Promise<unknown>]>): Promise<DehydratedState> {
  const client = new QueryClient();
  await Promise.all(
    entries.map(async ([key, read]) => {
      try {
        client.setQueryData(key, await read());
      } catch (err) {
        componentLog("prefetch").warn({ err, key }, "prefetch failed; the browser will retry");
      }
    }),
  );
  return dehydrate(client);
}
