// Logs and metrics at the HTTP boundary: one log line per request, /metrics for Prometheus (decision 022).
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type express from "express";
import type { ServerBuild } from "@remix-run/node";
import { matchRoutes } from "@remix-run/react";
import { log, withRequest, type RequestFacts } from "../app/lib/log.server.ts";
import { metricsText } from "../app/lib/metrics.server.ts";

// What a proxy's request id may look like; anything else is replaced by our own.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// Probes and scrapes come every few seconds: their lines are there at LOG_LEVEL=debug.
const QUIET = new Set(["/healthz", "/metrics"]);

/**
 * Starts each request's facts and writes its line when the answer is done. The line holds the path without its
 * query (reset and invitation links carry their token there), never a header or a body. A proxy's X-Request-Id is
 * taken only when a proxy is trusted (TRUST_PROXY): otherwise anyone could choose the ids of their requests.
 */
export function logRequests(trustProxy: boolean): express.RequestHandler {
  return (req, res, next) => {
    const given = req.get("X-Request-Id");
    const facts: RequestFacts = {
      requestId: trustProxy && given && REQUEST_ID.test(given) ? given : randomUUID(),
      userAgent: req.get("User-Agent")?.slice(0, 512) ?? null,
    };
    res.locals.request = facts;
    res.setHeader("X-Request-Id", facts.requestId);
    const started = process.hrtime.bigint();
    res.once("close", () => {
      const path = req.path.slice(0, 200);
      const { userAgent: _device, ...said } = facts;
      const line = {
        ...said,
        method: req.method,
        path,
        status: res.writableFinished ? res.statusCode : 499,
        durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      const level = QUIET.has(path) ? "debug" : line.status >= 500 ? "warn" : "info";
      log[level](line, "request");
    });
    next();
  };
}

/** Runs the Remix handler as this request: its route id is known for the log line, and loaders can add the user. */
export async function inRequest<T>(req: express.Request, res: express.Response, build: ServerBuild | (() => Promise<ServerBuild>), handle: () => Promise<T>) {
  const facts = res.locals.request as RequestFacts;
  facts.route = routeId(typeof build === "function" ? await build() : build, req.path);
  return withRequest(facts, handle);
}

type RouteNode = Parameters<typeof matchRoutes>[0][number];
const trees = new WeakMap<ServerBuild["routes"], RouteNode[]>();

/** The id of the deepest route Remix answers a path with ("routes/admin.users"), for single-fetch data URLs too. */
function routeId(build: ServerBuild, pathname: string): string | undefined {
  let tree = trees.get(build.routes);
  if (!tree) trees.set(build.routes, (tree = routeTree(build.routes, undefined)));
  const page = pathname === "/_root.data" ? "/" : pathname.replace(/\.data$/, "");
  return matchRoutes(tree, page)?.at(-1)?.route.id;
}

function routeTree(routes: ServerBuild["routes"], parentId: string | undefined): RouteNode[] {
  return Object.values(routes)
    .filter((route) => route.parentId === parentId)
    .map((route): RouteNode => {
      const { id, path, caseSensitive } = route;
      return route.index ? { id, path, caseSensitive, index: true } : { id, path, caseSensitive, children: routeTree(routes, id) };
    });
}

/**
 * /metrics for a scraper holding METRICS_TOKEN as a bearer token. Without the variable, or without the right
 * token, the request goes on to the app, which answers 404 as for any unknown URL.
 */
export function serveMetrics(token: string | undefined): express.RequestHandler {
  const expected = token ? digest(token) : null;
  return async (req, res, next) => {
    const given = /^Bearer (.+)$/.exec(req.get("Authorization") ?? "")?.[1];
    if (!expected || !given || !timingSafeEqual(digest(given), expected)) return next();
    try {
      const { contentType, body } = await metricsText();
      res.status(200).setHeader("Content-Type", contentType).setHeader("Cache-Control", "no-store").end(body);
    } catch (error) {
      next(error);
    }
  };
}

const digest = (value: string) => createHash("sha256").update(value).digest();
