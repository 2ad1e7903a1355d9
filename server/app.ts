// The HTTP server around the Remix app: client address, security headers, the cross-site POST check, the
// body limit, a 503 page when the database is unavailable.
import { readdirSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import express from "express";
import { createRequestHandler, type ServerBuild } from "@remix-run/node";
import type { ViteDevServer } from "vite";
import type { Env } from "../app/lib/env.server.ts";
import { limitBodies, refuseCrossSite } from "./boundary.ts";
import { answerDatabaseOutages } from "./database-outage.ts";
import { answering } from "../app/lib/after-answer.server.ts";
import { inRequest, logRequests, serveMetrics } from "./operations.ts";
import { APP_ENDPOINTS, isProviderPath, oidcRoutes } from "./oidc.ts";

export async function createApp(env: Env, options: { vite?: ViteDevServer } = {}) {
  const app = express();
  app.disable("x-powered-by");
  // A hop count or the proxies' addresses, never "any": see TRUST_PROXY in app/lib/env.server.ts.
  if (env.TRUST_PROXY !== false) app.set("trust proxy", env.TRUST_PROXY);
  app.use(logRequests(env.TRUST_PROXY !== false));

  const authority = new URL(env.ENTRA_AUTHORITY_HOST).origin;
  app.use((req, res, next) => {
    res.locals.cspNonce = randomBytes(16).toString("base64");
    if (!options.vite) {
      // Inline scripts only with this response's nonce; forms may lead to Microsoft (sign-in and consent redirects).
      res.setHeader(
        "Content-Security-Policy",
        [
          "default-src 'self'",
          `script-src 'self' 'nonce-${res.locals.cspNonce}'`,
          "style-src 'self' 'unsafe-inline'",
          "img-src 'self' data:",
          "object-src 'none'",
          "base-uri 'none'",
          // The app sign-out page's form ends at the app's loopback address (post_logout_redirect_uri).
          `form-action 'self' ${authority}${req.path.startsWith("/oidc/session/end") ? " http://127.0.0.1:* http://[::1]:*" : ""}`,
          "frame-ancestors 'none'",
        ].join("; "),
      );
    }
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "same-origin");
    res.setHeader("X-Frame-Options", "DENY");
    if (env.APP_ORIGIN.startsWith("https:")) res.setHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    next();
  });
  app.use(refuseCrossSite(env.APP_ORIGIN, APP_ENDPOINTS));
  app.use(limitBodies(env.MAX_BODY_BYTES, isProviderPath));
  app.get("/metrics", serveMetrics(env.METRICS_TOKEN));
  app.use(oidcRoutes(env));

  let build: ServerBuild | (() => Promise<ServerBuild>);
  if (options.vite) {
    app.use(options.vite.middlewares);
    const vite = options.vite;
    build = () => (vite.ssrLoadModule("virtual:remix/server-build") as Promise<ServerBuild>).then(answerDatabaseOutages);
  } else {
    const buildDir = path.resolve("build");
    app.use("/assets", express.static(path.join(buildDir, "client/assets"), { immutable: true, maxAge: "1y" }));
    app.use((_req, res, next) => {
      // Pages can show personal data: never keep them in a shared or browser cache.
      res.setHeader("Cache-Control", "no-store");
      next();
    });
    // Other files of public/ (a favicon, robots.txt) by their first path segment: a static handler in front of
    // every page would look for a file on disk at each request (~5 % of the CPU under bench/load.ts).
    const clientDir = path.join(buildDir, "client");
    const publicEntries = new Set(readdirSync(clientDir).filter((name) => name !== "assets"));
    const servePublic = express.static(clientDir, { maxAge: "1h" });
    app.use((req, res, next) => (publicEntries.has(req.path.split("/")[1] ?? "") ? servePublic(req, res, next) : next()));
    build = answerDatabaseOutages((await import(path.join(buildDir, "server/index.js"))) as ServerBuild);
  }

  const handle = createRequestHandler(build, options.vite ? "development" : "production");
  app.all("*", async (req, res, next) => {
    try {
      const context = { clientAddress: req.ip ?? req.socket.remoteAddress ?? "unknown", cspNonce: res.locals.cspNonce as string };
      // Jobs left for after the answer (afterAnswer) run once its last byte is written.
      await answering(async () => send(res, await inRequest(req, res, build, () => handle(remixRequest(req, res, env.APP_ORIGIN), context))));
    } catch (error) {
      next(error);
    }
  });
  return app;
}

/**
 * The request as Remix sees it: on the public origin whatever Host or X-Forwarded-Host the client wrote, with the
 * body limitBodies has read, and aborted when the client goes away before the answer is complete.
 */
function remixRequest(req: express.Request, res: express.Response, appOrigin: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
  }
  const controller = new AbortController();
  res.on("close", () => res.writableFinished || controller.abort());
  // An absolute-form target ("GET http://host/x") has no place here: only paths are appended to the origin.
  const target = req.originalUrl.startsWith("/") ? req.originalUrl : "/";
  const init: RequestInit = { method: req.method, headers, signal: controller.signal };
  if (req.method !== "GET" && req.method !== "HEAD") init.body = new Uint8Array((res.locals.body as Buffer | undefined) ?? []);
  return new Request(`${appOrigin}${target}`, init);
}

async function send(res: express.Response, response: Response) {
  res.statusMessage = response.statusText;
  res.status(response.status);
  for (const [name, value] of response.headers.entries()) res.append(name, value);
  if (response.body) await pipeWithBackPressure(response.body, res);
  else res.end();
}

/**
 * Writes a response body as the client takes it. Remix's writeReadableStreamToWritable writes without waiting
 * for "drain", so a long stream (the audit export) would pile up in memory ahead of a slower client.
 */
async function pipeWithBackPressure(body: ReadableStream<Uint8Array>, res: express.Response) {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await Promise.race([once(res, "drain"), once(res, "close")]);
      if (res.destroyed) {
        await reader.cancel();
        return;
      }
    }
    res.end();
  } catch (error) {
    res.destroy(error as Error);
  }
}
