// Request/response helpers and the error shapes of Entra ID (OAuth JSON) and Microsoft Graph (OData JSON).
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export type Res = ServerResponse;
export type Req = IncomingMessage;

const MAX_BODY = 1024 * 1024;

/** Thrown by readBody past MAX_BODY; the router answers 413. */
export class BodyTooLarge extends Error {
  constructor() {
    super("request body too large");
  }
}

/** The body as text; past MAX_BODY the rest is drained unread and BodyTooLarge is thrown (the router answers 413). */
export function readBody(req: Req): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => {
      req.resume();
      reject(new BodyTooLarge());
    };
    if (Number(req.headers["content-length"]) > MAX_BODY) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) return void chunks.push(chunk);
      req.off("data", onData);
      chunks.length = 0;
      tooLarge();
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
    req.on("close", () => reject(new Error("the client went away before the body ended")));
  });
}

export async function readForm(req: Req): Promise<URLSearchParams> {
  return new URLSearchParams(await readBody(req));
}

function send(res: Res, status: number, type: string, body: string, headers: Record<string, string> = {}) {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store", ...headers });
  res.end(body);
}

export function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}) {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(body), headers);
}

export function sendHtml(res: Res, status: number, html: string) {
  send(res, status, "text/html; charset=utf-8", html);
}

export function redirect(res: Res, location: string) {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(302, { Location: location, "Content-Length": 0, "Cache-Control": "no-store" });
  res.end();
}

/** `url` with `params` added to its query (or its fragment, for response_mode=fragment). */
export function withParams(url: string, params: Record<string, string | undefined>, inFragment = false): string {
  const target = new URL(url);
  const query = new URLSearchParams(inFragment ? "" : target.search);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.set(key, value);
  if (inFragment) target.hash = query.toString();
  else target.search = query.toString();
  return target.toString();
}

export type EntraErrorInit = { error: string; code: number; description: string };

/** The body Entra's token and discovery endpoints answer errors with. */
export function entraErrorBody(req: Req, init: EntraErrorInit) {
  const timestamp = new Date()
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
  const traceId = randomUUID();
  const correlationId = (req.headers["client-request-id"] as string | undefined) ?? randomUUID();
  return {
    error: init.error,
    error_description: `AADSTS${init.code}: ${init.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [init.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${init.code}`,
  };
}

export function entraError(req: Req, res: Res, status: number, init: EntraErrorInit, headers: Record<string, string> = {}) {
  sendJson(res, status, entraErrorBody(req, init), headers);
}

/** Graph's error body: {error: {code, message, innerError: {date, request-id, client-request-id}}}. */
export function graphError(req: Req, res: Res, status: number, code: string, message: string, headers: Record<string, string> = {}) {
  const requestId = randomUUID();
  sendJson(
    res,
    status,
    {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d+Z$/, ""),
          "request-id": requestId,
          "client-request-id": (req.headers["client-request-id"] as string | undefined) ?? requestId,
        },
      },
    },
    headers,
  );
}
