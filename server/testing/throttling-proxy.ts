/**
 * A small HTTP proxy in front of moto that answers AWS's own throttling error, as AWS does when a
 * caller exceeds its rate, for the requests `throttle` picks; every other request goes through to
 * moto untouched. With it, tests exercise the real SDK's retry loop over real HTTP (moto itself
 * never throttles). Counts every request per operation.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ThrottlingProxy {
  endpoint: string;
  /** Requests seen per operation (`DeregisterInstancesFromLoadBalancer`, `AmazonSSM.GetCommandInvocation`, …). */
  requests: Map<string, number>;
  close(): Promise<void>;
}

export interface AwsOperation {
  name: string;
  /** JSON protocol (SSM: `x-amz-target`), else query protocol (ELB, EC2: `Action=…`). */
  json: boolean;
}

/** The operation of a query-protocol request (`Action=…` in its form body) or a JSON one (`x-amz-target`). */
function operationOf(req: http.IncomingMessage, body: Buffer): AwsOperation {
  const target = req.headers["x-amz-target"];
  if (typeof target === "string") return { name: target.split(".").pop() ?? target, json: true };
  return { name: new URLSearchParams(body.toString("utf8")).get("Action") ?? "unknown", json: false };
}

/** An HTTP server that hands each AWS request over with its whole body and its operation. */
export function awsRequestServer(handle: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, op: AwsOperation) => void): http.Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      handle(req, res, body, operationOf(req, body));
    });
  });
}

function throttled(res: http.ServerResponse, json: boolean): void {
  if (json) {
    res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "ThrottlingException" });
    res.end(JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded" }));
    return;
  }
  res.writeHead(400, { "content-type": "text/xml" });
  res.end(
    '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/"><Error><Type>Sender</Type>' +
      "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>rotor-throttling-proxy</RequestId></ErrorResponse>",
  );
}

/** `throttle(operation, n)`: n is the 1-based count of that operation's requests so far. */
export async function startThrottlingProxy(motoEndpoint: string, throttle: (operation: string, n: number) => boolean): Promise<ThrottlingProxy> {
  const upstream = new URL(motoEndpoint);
  const requests = new Map<string, number>();
  const server = awsRequestServer((req, res, body, op) => {
    const n = (requests.get(op.name) ?? 0) + 1;
    requests.set(op.name, n);
    if (throttle(op.name, n)) return throttled(res, op.json);
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on("error", (err) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`throttling proxy: moto did not answer: ${err.message}`);
    });
    forward.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
