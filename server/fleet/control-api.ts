/**
 * The control API of the local fleet: JSON over HTTP on 127.0.0.1 (its own port, never the proxied one).
 * Every input is checked with zod; bad input answers 4xx `{ error: { code, message } }` and changes nothing.
 *
 *   GET    /v1/fleet                               supervisor info (pids, URLs)
 *   GET    /v1/load-balancers                      [`local`, and `local-internal` when configured]
 *   GET    /v1/load-balancers/{lb}                 summary, drain timeout, health check, totals
 *   GET    /v1/load-balancers/{lb}/instances       the instances behind {lb} (with `alsoIn`), one call per refresh
 *   POST   /v1/load-balancers/{lb}/register        { ids }   (ids behind {lb}; the other balancer is untouched)
 *   POST   /v1/load-balancers/{lb}/deregister      { ids }   (returns at once; draining shows in instances)
 *   POST   /v1/load-balancers/{lb}/settings        { drainTimeoutMs?, healthCheck? }
 *   GET    /v1/load-balancers/{lb}/backends/stats[?ids=a,b]  cumulative per-backend counters and latency
 *                                                  histograms with a timestamp (lib/analysis.ts BackendStatsSnapshot)
 *   GET    /v1/load-balancers/{lb}/traffic         the traffic generator's counters for requests sent through {lb}
 *   GET    /v1/memberships                         { [instanceId]: [every balancer it is registered in now] }
 *   POST   /v1/hooks/{stop|deploy|start|verify}    { ids, params: { version }, timeoutMs? } → results (any instance)
 *   GET    /v1/traffic                             totals, and each balancer's under `loadBalancers`
 *   POST   /v1/traffic { enabled?, rps?, slowFraction?, forMs? } · POST /v1/traffic/reset
 *   GET    /v1/faults · POST /v1/faults { kind, instanceId, holdMs? } · DELETE /v1/faults
 *   POST   /v1/reset                               clear faults, reset traffic and balancer counters
 *   GET    /v1/group                               the Auto Scaling group: min/desired/max, launch version, instances, activities
 *   POST   /v1/group/launch-version                { version }            the release new instances start from
 *   POST   /v1/group/desired-capacity              { desiredCapacity }    within min..max, else 400 CAPACITY_OUT_OF_RANGE
 *   POST   /v1/group/terminate-instance            { instanceId, decrementDesired } → the terminate activity (202);
 *                                                  404 UNKNOWN_INSTANCE, 409 ALREADY_TERMINATING / ALREADY_TERMINATED / PENDING
 *
 * Who may call it: every request but `GET /v1/health` carries `Authorization: Bearer <secret>` (the
 * fleet's per-start secret, see control-secret.ts) or gets 401; the `Host` header must name loopback
 * and this port (127.0.0.1, localhost, [::1]), or 403, so a web page reaching it through DNS
 * rebinding is refused; every request that changes something must be `application/json` (415
 * otherwise), so a page's "simple" cross-origin form POST never gets through. Each changing request,
 * and each refusal, is a line in the fleet's log.
 */
import http from "node:http";
import { z } from "zod";
import { bearerMatches } from "./control-secret";
import { type Fleet, FleetUnavailableError, UnknownInstanceError, UnknownLoadBalancerError } from "./fleet";
import { GroupRefusal } from "./group";
import { API_PREFIX, HOOK_NAMES, backendStatsQuerySchema, desiredCapacityBodySchema, faultBodySchema, hookBodySchema, idsBodySchema, launchVersionBodySchema, settingsBodySchema, terminateBodySchema, trafficBodySchema } from "./protocol";

const MAX_BODY = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, "BODY_TOO_LARGE", `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "send JSON with content-type: application/json");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, "MALFORMED_JSON", `the request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new HttpError(400, "INVALID_INPUT", z.prettifyError(r.error).replace(/\n/g, "; "));
  return r.data;
}

type Route = { method: string; pattern: RegExp; handle: (m: RegExpMatchArray, req: http.IncomingMessage) => Promise<[number, unknown]> };

export interface ControlServerOptions {
  /** The bearer secret every request but the health check must carry. */
  secret: string;
  /** Where control actions and refusals are written (default: the fleet's stdout). */
  log?: (line: string) => void;
}

const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];

/** Refusals that come before any route: wrong Host, no or wrong secret, not JSON. */
function admit(req: http.IncomingMessage, pathname: string, port: number | undefined, secret: string): void {
  const host = (req.headers.host ?? "").toLowerCase();
  if (port === undefined || !LOOPBACK_HOSTS.some((h) => host === `${h}:${port}`)) {
    throw new HttpError(403, "FORBIDDEN_HOST", `the control API answers only to Host 127.0.0.1:${port}, localhost:${port} or [::1]:${port}, not ${JSON.stringify(host)}`);
  }
  if (req.method === "GET" && pathname === `${API_PREFIX}/health`) return;
  if (!bearerMatches(req.headers.authorization, secret)) {
    throw new HttpError(401, "UNAUTHENTICATED", "send Authorization: Bearer <secret> (the fleet writes a new one to control.secret in its data dir at each start)");
  }
  if (req.method !== "GET" && req.method !== "HEAD" && !/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
    throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "send JSON with content-type: application/json");
  }
}

export function createControlServer(fleet: Fleet, options: ControlServerOptions): http.Server {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Route patterns match [^/]+, so a name is always there; the fleet says which names exist.
  const lb = (m: RegExpMatchArray) => m[1] ?? "";
  const P = API_PREFIX.replace("/", "\\/");
  const routes: Route[] = [
    { method: "GET", pattern: new RegExp(`^${P}/health$`), handle: async () => [200, { ok: true }] },
    {
      method: "GET",
      pattern: new RegExp(`^${P}/fleet$`),
      handle: async () => [
        200,
        {
          pid: process.pid,
          lbUrl: `http://127.0.0.1:${fleet.cfg.lbPort}`,
          lbUrls: Object.fromEntries(Object.entries(fleet.balancerPorts()).map(([name, port]) => [name, `http://127.0.0.1:${port}`])),
          controlUrl: `http://127.0.0.1:${fleet.cfg.controlPort}`,
          dataDir: fleet.cfg.dataDir,
          initialVersion: fleet.cfg.initialVersion,
          childPids: fleet.childPids(),
        },
      ],
    },
    { method: "GET", pattern: new RegExp(`^${P}/load-balancers$`), handle: async () => [200, await fleet.loadBalancers()] },
    { method: "GET", pattern: new RegExp(`^${P}/load-balancers/([^/]+)$`), handle: async (m) => [200, await fleet.loadBalancer(lb(m))] },
    { method: "GET", pattern: new RegExp(`^${P}/load-balancers/([^/]+)/instances$`), handle: async (m) => [200, await fleet.describeInstances(lb(m))] },
    {
      method: "GET",
      pattern: new RegExp(`^${P}/load-balancers/([^/]+)/backends/stats$`),
      handle: async (m, req) => {
        const ids = new URL(req.url ?? "/", "http://control").searchParams.get("ids");
        const query = parse(backendStatsQuerySchema, ids === null ? {} : { ids: ids.split(",") });
        return [200, await fleet.backendStats(lb(m), query.ids)];
      },
    },
    {
      method: "GET",
      pattern: new RegExp(`^${P}/load-balancers/([^/]+)/traffic$`),
      handle: async (m) => {
        const name = fleet.checkBalancer(lb(m));
        return [200, fleet.traffic.targetSnapshot(name)];
      },
    },
    { method: "GET", pattern: new RegExp(`^${P}/memberships$`), handle: async () => [200, await fleet.memberships()] },
    {
      method: "POST",
      pattern: new RegExp(`^${P}/load-balancers/([^/]+)/(register|deregister)$`),
      handle: async (m, req) => {
        const name = lb(m);
        const { ids } = parse(idsBodySchema, await readJson(req));
        await (m[2] === "register" ? fleet.register(name, ids) : fleet.deregister(name, ids));
        return [200, { ok: true }];
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${P}/load-balancers/([^/]+)/settings$`),
      handle: async (m, req) => {
        const name = fleet.checkBalancer(lb(m));
        const body = parse(settingsBodySchema, await readJson(req));
        if (body.healthCheck?.timeoutMs !== undefined && body.healthCheck.intervalMs !== undefined && body.healthCheck.timeoutMs >= body.healthCheck.intervalMs)
          throw new HttpError(400, "INVALID_INPUT", "healthCheck.timeoutMs must be less than healthCheck.intervalMs");
        await fleet.settings(name, body);
        return [200, await fleet.loadBalancer(name)];
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${P}/hooks/([^/]+)$`),
      handle: async (m, req) => {
        const hook = HOOK_NAMES.find((h) => h === m[1]);
        if (!hook) throw new HttpError(404, "UNKNOWN_HOOK", `unknown hook ${JSON.stringify(m[1])}; hooks: ${HOOK_NAMES.join(", ")}`);
        const body = parse(hookBodySchema, await readJson(req));
        return [200, await fleet.runHook(hook, body.ids, body.params.version, body.timeoutMs)];
      },
    },
    { method: "GET", pattern: new RegExp(`^${P}/traffic$`), handle: async () => [200, fleet.traffic.snapshot()] },
    {
      method: "POST",
      pattern: new RegExp(`^${P}/traffic$`),
      handle: async (_m, req) => {
        fleet.traffic.configure(parse(trafficBodySchema, await readJson(req)));
        return [200, fleet.traffic.snapshot()];
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${P}/traffic/reset$`),
      handle: async () => {
        fleet.traffic.reset();
        return [200, fleet.traffic.snapshot()];
      },
    },
    { method: "GET", pattern: new RegExp(`^${P}/faults$`), handle: async () => [200, fleet.faults.list()] },
    { method: "POST", pattern: new RegExp(`^${P}/faults$`), handle: async (_m, req) => [200, await fleet.injectFault(parse(faultBodySchema, await readJson(req)))] },
    { method: "DELETE", pattern: new RegExp(`^${P}/faults$`), handle: async () => [200, await fleet.clearFaults()] },
    { method: "GET", pattern: new RegExp(`^${P}/group$`), handle: async () => [200, fleet.groupView()] },
    { method: "POST", pattern: new RegExp(`^${P}/group/launch-version$`), handle: async (_m, req) => [200, fleet.setLaunchVersion(parse(launchVersionBodySchema, await readJson(req)).version)] },
    {
      method: "POST",
      pattern: new RegExp(`^${P}/group/desired-capacity$`),
      handle: async (_m, req) => {
        fleet.group.setDesiredCapacity(parse(desiredCapacityBodySchema, await readJson(req)).desiredCapacity);
        return [200, fleet.groupView()];
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${P}/group/terminate-instance$`),
      handle: async (_m, req) => {
        const body = parse(terminateBodySchema, await readJson(req));
        // Answers once the termination has begun (the instance is Terminating); the drain and stop follow.
        return [202, fleet.group.terminate(body.instanceId, body.decrementDesired)];
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${P}/reset$`),
      handle: async () => {
        await fleet.reset();
        return [200, { ok: true }];
      },
    },
  ];

  const server = http.createServer(async (req, res) => {
    const pathname = new URL(req.url ?? "/", "http://control").pathname;
    const changing = req.method !== "GET" && req.method !== "HEAD";
    res.once("finish", () => {
      if (changing || res.statusCode === 401 || res.statusCode === 403) {
        log(`rotor-fleet: control ${req.method} ${pathname} → ${res.statusCode} (from ${req.socket.remoteAddress ?? "?"}, host ${JSON.stringify(req.headers.host ?? "")})`);
      }
    });
    try {
      const address = server.address();
      admit(req, pathname, typeof address === "object" && address ? address.port : undefined, options.secret);
      const matching = routes.filter((r) => pathname.match(r.pattern));
      if (matching.length === 0) throw new HttpError(404, "NOT_FOUND", `no such endpoint: ${pathname}`);
      const route = matching.find((r) => r.method === req.method);
      if (!route) throw new HttpError(405, "METHOD_NOT_ALLOWED", `${req.method} is not allowed on ${pathname}; use ${matching.map((r) => r.method).join(" or ")}`);
      const [status, body] = await route.handle(pathname.match(route.pattern)!, req);
      reply(res, status, body);
    } catch (err) {
      if (err instanceof HttpError || err instanceof GroupRefusal) return reply(res, err.status, { error: { code: err.code, message: err.message } });
      if (err instanceof UnknownLoadBalancerError) return reply(res, 404, { error: { code: "UNKNOWN_LOAD_BALANCER", message: err.message } });
      if (err instanceof UnknownInstanceError) return reply(res, 404, { error: { code: "UNKNOWN_INSTANCE", message: err.message } });
      if (err instanceof FleetUnavailableError) return reply(res, 503, { error: { code: "UNAVAILABLE", message: err.message } });
      reply(res, 500, { error: { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) } });
    }
  });
  // Longer than undici's 4 s idle keep-alive, so fetch clients never reuse a socket we are closing.
  server.keepAliveTimeout = 10_000;
  return server;
}
