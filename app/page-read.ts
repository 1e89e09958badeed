import { notFound } from "next/navigation";
import { NotFound } from "@/server/api/http";

/** A page's main read: Next's 404 page when the thing asked for is not there, any other error as it is. */
export async function readOrNotFound<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof NotFound) notFound();
    throw err;
  }
}
