/**
 * An HTTP proxy in front of moto that fills in the SSM Run Command behaviour moto 5.2.1 lacks, so the
 * AWS provider's real SDK calls can be tested over real HTTP. Everything else goes through to moto.
 *
 * What moto itself serves (passed through untouched): every EC2, ELB and ELBv2 call; SSM documents
 * (Create/Get/UpdateDocument, UpdateDocumentDefaultVersion); SendCommand (moto stores the command and
 * returns its CommandId) and ListCommands (moto ignores its Filters and pagination).
 *
 * What this proxy emulates, from its own record of the SendCommand calls it forwarded (the ids of the
 * request, the CommandId of moto's answer, the `Hook` parameter):
 * - ListCommandInvocations (moto answers 500: not implemented): per instance, `InProgress` until the
 *   hook's simulated run time has passed, then `Success` (exit 0) or `Failed` (another exit code),
 *   or `Cancelled` once cancelled; `Details: true` adds one plugin (`rotorHook`) whose `Output` is
 *   stdout, then `----------ERROR-------` and stderr, cut to 2,500 characters as AWS does;
 *   `MaxResults` (default 50) and `NextToken` paginate.
 * - GetCommandInvocation for the commands it recorded (moto would say `Success` at once, whatever
 *   the simulated run): the same state, with the full stdout and stderr.
 * - CancelCommand (moto answers 500): marks the named (or every) invocation still running `Cancelled`.
 * A command the proxy did not record (sent straight to moto) is passed through to moto.
 *
 * Test controls: `hooks` (how long a hook runs and how it ends, per hook and instance), `outage`
 * (answer 503 ServiceUnavailable, drop the connection, or let the request through and lose the answer,
 * for chosen operations during a time window) and `requests` (every request counted per operation,
 * those refused by an outage included).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { awsRequestServer } from "@/server/testing/throttling-proxy";

/** How a simulated hook runs on one instance. */
export interface SimulatedRun {
  durationMs?: number;
  exitCode?: number;
  stdout?: string;
  stderr?: string;
}

export interface SentRecord {
  commandId: string;
  hook: string;
  version: string;
  comment: string;
  ids: string[];
  at: number;
}

export interface Outage {
  operations: string[];
  /**
   * 503: answer ServiceUnavailable (a JSON error AWS sends when it is overloaded); nothing reaches moto.
   * drop: close the connection unanswered; nothing reaches moto.
   * lost (operations passed to moto, e.g. SendCommand): moto does it (a SendCommand is recorded as
   * sent), but the connection is closed instead of answering.
   */
  kind: "503" | "drop" | "lost";
  from: number;
  until: number;
}

export interface SsmShim {
  endpoint: string;
  /** Requests seen per operation (`SendCommand`, `ListCommandInvocations`, `DescribeInstanceHealth`, …). */
  requests: Map<string, number>;
  /** SendCommand calls that reached moto and were accepted, oldest first. */
  sent: SentRecord[];
  /** CancelCommand calls answered: the command and the instances named (empty: all). */
  cancels: { commandId: string; ids: string[]; at: number }[];
  /** How each hook runs (default: at once, exit 0, no output). */
  hooks: (hook: string, instanceId: string) => SimulatedRun;
  /** Refuses `operations` for `ms` from now. */
  outage(operations: string[], ms: number, kind?: Outage["kind"]): void;
  count(operation: string): number;
  reset(): void;
  close(): Promise<void>;
}

/** AWS cuts ListCommandInvocations' plugin Output at this many characters. */
const LIST_OUTPUT_LIMIT = 2_500;

interface Invocation {
  run: Required<SimulatedRun>;
  cancelledAt: number | null;
}

interface Recorded extends SentRecord {
  documentName: string;
  invocations: Map<string, Invocation>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, errorType?: string): void {
  res.writeHead(status, { "content-type": "application/x-amz-json-1.1", ...(errorType ? { "x-amzn-errortype": errorType } : {}) });
  res.end(JSON.stringify(body));
}

function unavailable(res: http.ServerResponse, json: boolean): void {
  if (json) return sendJson(res, 503, { __type: "ServiceUnavailable", message: "Service Unavailable (rotor ssm shim outage)" }, "ServiceUnavailable");
  res.writeHead(503, { "content-type": "text/xml" });
  res.end('<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Service Unavailable</Message></Error><RequestId>rotor-ssm-shim</RequestId></ErrorResponse>');
}

type Phase = { status: "InProgress" | "Success" | "Failed" | "Cancelled"; code: number; endedAt: number | null };

function phaseOf(cmd: Recorded, inv: Invocation, now: number): Phase {
  const end = cmd.at + inv.run.durationMs;
  if (inv.cancelledAt !== null && inv.cancelledAt < end) return { status: "Cancelled", code: -1, endedAt: inv.cancelledAt };
  if (now < end) return { status: "InProgress", code: -1, endedAt: null };
  return { status: inv.run.exitCode === 0 ? "Success" : "Failed", code: inv.run.exitCode, endedAt: end };
}

function combinedOutput(run: Required<SimulatedRun>): string {
  return run.stderr ? `${run.stdout}\n----------ERROR-------\n${run.stderr}` : run.stdout;
}

export async function startSsmShim(motoEndpoint: string): Promise<SsmShim> {
  const upstream = new URL(motoEndpoint);
  const requests = new Map<string, number>();
  const commands = new Map<string, Recorded>();
  const sent: SentRecord[] = [];
  const cancels: SsmShim["cancels"] = [];
  let outages: Outage[] = [];

  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, onAnswer?: (status: number, body: Buffer) => void, lose = false) => {
    const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (c: Buffer) => chunks.push(c));
      answer.on("end", () => {
        const out = Buffer.concat(chunks);
        onAnswer?.(answer.statusCode ?? 502, out);
        if (lose) return void req.socket.destroy();
        const headers = { ...answer.headers };
        delete headers["transfer-encoding"];
        headers["content-length"] = String(out.length);
        res.writeHead(answer.statusCode ?? 502, headers);
        res.end(out);
      });
    });
    up.on("error", (err) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`ssm shim: moto did not answer: ${err.message}`);
    });
    up.end(body);
  };

  const invocationView = (cmd: Recorded, id: string, inv: Invocation, details: boolean, now: number) => {
    const p = phaseOf(cmd, inv, now);
    const output = p.status === "InProgress" ? "" : combinedOutput(inv.run).slice(0, LIST_OUTPUT_LIMIT);
    return {
      CommandId: cmd.commandId,
      InstanceId: id,
      InstanceName: "",
      Comment: cmd.comment,
      DocumentName: cmd.documentName,
      DocumentVersion: "$DEFAULT",
      RequestedDateTime: cmd.at / 1000,
      Status: p.status,
      StatusDetails: p.status,
      StandardOutputUrl: "",
      StandardErrorUrl: "",
      CommandPlugins: details
        ? [
            {
              Name: "rotorHook",
              Status: p.status,
              StatusDetails: p.status,
              ResponseCode: p.code,
              ResponseStartDateTime: cmd.at / 1000,
              ...(p.endedAt !== null ? { ResponseFinishDateTime: p.endedAt / 1000 } : {}),
              Output: output,
            },
          ]
        : [],
    };
  };

  const handlers: Record<string, (input: Record<string, unknown>, res: http.ServerResponse) => boolean> = {
    ListCommandInvocations(input, res) {
      const cmd = commands.get(String(input.CommandId ?? ""));
      if (!cmd) return false;
      const now = Date.now();
      const only = typeof input.InstanceId === "string" ? [input.InstanceId] : [...cmd.invocations.keys()];
      const max = typeof input.MaxResults === "number" ? input.MaxResults : 50;
      const start = typeof input.NextToken === "string" ? Number(input.NextToken) : 0;
      const page = only.slice(start, start + max);
      const list = page.flatMap((id) => {
        const inv = cmd.invocations.get(id);
        return inv ? [invocationView(cmd, id, inv, input.Details === true, now)] : [];
      });
      sendJson(res, 200, { CommandInvocations: list, ...(start + max < only.length ? { NextToken: String(start + max) } : {}) });
      return true;
    },
    GetCommandInvocation(input, res) {
      const cmd = commands.get(String(input.CommandId ?? ""));
      if (!cmd) return false;
      const id = String(input.InstanceId ?? "");
      const inv = cmd.invocations.get(id);
      if (!inv) {
        sendJson(res, 400, { __type: "InvocationDoesNotExist", message: "An error occurred (InvocationDoesNotExist)" }, "InvocationDoesNotExist");
        return true;
      }
      const p = phaseOf(cmd, inv, Date.now());
      const done = p.status !== "InProgress";
      sendJson(res, 200, {
        CommandId: cmd.commandId,
        InstanceId: id,
        Comment: cmd.comment,
        DocumentName: cmd.documentName,
        PluginName: "rotorHook",
        ResponseCode: p.code,
        ExecutionStartDateTime: new Date(cmd.at).toISOString(),
        ...(p.endedAt !== null ? { ExecutionEndDateTime: new Date(p.endedAt).toISOString() } : {}),
        Status: p.status,
        StatusDetails: p.status,
        StandardOutputContent: done ? inv.run.stdout : "",
        StandardErrorContent: done ? inv.run.stderr : "",
      });
      return true;
    },
    CancelCommand(input, res) {
      const cmd = commands.get(String(input.CommandId ?? ""));
      if (!cmd) return false;
      const now = Date.now();
      const ids = Array.isArray(input.InstanceIds) ? input.InstanceIds.map(String) : [];
      cancels.push({ commandId: cmd.commandId, ids, at: now });
      for (const [id, inv] of cmd.invocations) {
        if ((ids.length === 0 || ids.includes(id)) && inv.cancelledAt === null && phaseOf(cmd, inv, now).status === "InProgress") inv.cancelledAt = now;
      }
      sendJson(res, 200, {});
      return true;
    },
  };

  const shim: SsmShim = {
    endpoint: "",
    requests,
    sent,
    cancels,
    hooks: () => ({}),
    outage(operations, ms, kind = "503") {
      const now = Date.now();
      outages.push({ operations, kind, from: now, until: now + ms });
    },
    count: (operation) => requests.get(operation) ?? 0,
    reset() {
      requests.clear();
      commands.clear();
      sent.length = 0;
      cancels.length = 0;
      outages = [];
      shim.hooks = () => ({});
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const server = awsRequestServer((req, res, body, op) => {
    requests.set(op.name, (requests.get(op.name) ?? 0) + 1);
    const now = Date.now();
    outages = outages.filter((o) => o.until > now);
    const down = outages.find((o) => o.from <= now && o.operations.includes(op.name));
    if (down?.kind === "drop") return void req.socket.destroy();
    if (down?.kind === "503") return unavailable(res, op.json);
    const lose = down?.kind === "lost";
    if (!op.json || !req.headers["x-amz-target"]?.toString().startsWith("AmazonSSM.")) return forward(req, body, res, undefined, lose);
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return forward(req, body, res, undefined, lose);
    }
    if (op.name === "SendCommand") {
      const at = Date.now();
      return forward(req, body, res, (status, out) => {
        if (status !== 200) return;
        const answer = JSON.parse(out.toString("utf8")) as { Command?: { CommandId?: string } };
        const commandId = answer.Command?.CommandId;
        if (!commandId) return;
        const params = (input.Parameters ?? {}) as Record<string, string[] | undefined>;
        const hook = params.Hook?.[0] ?? "";
        const ids = Array.isArray(input.InstanceIds) ? input.InstanceIds.map(String) : [];
        const record: Recorded = {
          commandId,
          hook,
          version: params.Version?.[0] ?? "",
          comment: typeof input.Comment === "string" ? input.Comment : "",
          ids,
          at,
          documentName: String(input.DocumentName ?? ""),
          invocations: new Map(ids.map((id) => [id, { run: { durationMs: 0, exitCode: 0, stdout: "", stderr: "", ...shim.hooks(hook, id) }, cancelledAt: null }])),
        };
        commands.set(commandId, record);
        sent.push({ commandId, hook, version: record.version, comment: record.comment, ids, at });
      }, lose);
    }
    const handler = handlers[op.name];
    if (handler && handler(input, res)) return;
    forward(req, body, res, undefined, lose);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  shim.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return shim;
}
