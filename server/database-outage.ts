// Loaders and actions that meet an unavailable database answer 503 with a sentence, shown by the root
// ErrorBoundary, instead of a 500. Done around each route of the build rather than in the Prisma client:
// no cost per query, background jobs keep the driver's own errors, and the request tells whether a form was lost.
import type { ServerBuild } from "@remix-run/node";
import { databaseUnavailableResponse, isDatabaseUnavailable } from "../app/lib/db-errors.server.ts";
import { log } from "../app/lib/log.server.ts";
import { metrics } from "../app/lib/metrics.server.ts";

export function answerDatabaseOutages(build: ServerBuild): ServerBuild {
  const routes: ServerBuild["routes"] = {};
  for (const [id, route] of Object.entries(build.routes)) {
    const { loader, action } = route.module;
    routes[id] = { ...route, module: { ...route.module, loader: guarded(loader), action: guarded(action) } };
  }
  return { ...build, routes };
}

function guarded<A extends { request: Request }, R>(handler: ((args: A) => R) | undefined) {
  if (!handler) return undefined;
  return async (args: A): Promise<Awaited<R>> => {
    try {
      return await handler(args);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      metrics.databaseUnavailable.inc();
      warn(error as Error);
      throw databaseUnavailableResponse(args.request);
    }
  };
}

// One line a minute while it lasts, not one per request.
const WARN_EVERY_MS = 60_000;
let lastWarning = 0;
let unreported = 0;

function warn(error: Error) {
  unreported++;
  if (Date.now() - lastWarning < WARN_EVERY_MS) return;
  // Prisma's messages start with the call site; the cause is on the last line.
  const cause = error.message.trim().split("\n").at(-1)!.trim();
  log.warn({ reason: cause, answered503: unreported }, `The database is unavailable: ${unreported} request(s) answered 503 since the last warning`);
  lastWarning = Date.now();
  unreported = 0;
}
