/**
 * Stamps each incoming HTTP request with its TCP peer's address (`x-rotor-peer`) before Next
 * handles it. `next start` hides the socket from route handlers and server actions, and fills
 * X-Forwarded-For from it only when the client sent none, so without this the sign-in limit could
 * only key on a header the client writes. Node publishes every request on the
 * `http.server.request.start` diagnostics channel synchronously, before the server's own request
 * listener runs, so the stamp is in place when Next copies the headers.
 */
import diagnostics from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { PEER_HEADER } from "./http";

function stamp(message: unknown): void {
  const { request, socket } = message as { request?: IncomingMessage; socket?: Socket };
  if (!request) return;
  // Overwrite, never keep, a client's own value.
  request.headers[PEER_HEADER] = socket?.remoteAddress ?? request.socket?.remoteAddress ?? "unknown";
}

let installed = false;

/** Subscribes once per process; returns the unsubscribe (tests). */
export function installPeerStamp(): () => void {
  if (!installed) {
    diagnostics.subscribe("http.server.request.start", stamp);
    installed = true;
  }
  return () => {
    diagnostics.unsubscribe("http.server.request.start", stamp);
    installed = false;
  };
}
