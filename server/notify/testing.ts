/** Tests: a webhook receiver on loopback that checks each delivery's signature as a real one would. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ROTOR_HEADERS, verifyRotorDelivery } from "./sign";

export interface Received {
  delivery: string;
  verified: boolean;
  body: Record<string, unknown>;
  raw: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** `answer(n)`: the status for the n-th request (0-based); default 200. */
export async function startReceiver(secret: string, answer: (n: number) => number = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const header = (h: string) => {
        const v = req.headers[h.toLowerCase()];
        return Array.isArray(v) ? v[0] : v;
      };
      received.push({
        delivery: header(ROTOR_HEADERS.delivery) ?? "",
        verified: verifyRotorDelivery(secret, { timestamp: header(ROTOR_HEADERS.timestamp), signature: header(ROTOR_HEADERS.signature) }, raw),
        body: JSON.parse(raw) as Record<string, unknown>,
        raw,
      });
      res.writeHead(answer(n++), { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
