// The HTTP server around the Remix app: client address, security headers, the cross-site POST check,
// a 503 page when the database is unavailable.
import { readdirSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import express from "express";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import type { ViteDevServer } from "vite";
import { isCrossSiteRequest } from "../app/lib/security.server.ts";
import type { Env } from "../app/lib/env.server.ts";
import { answerDatabaseOutages } from "./database-outage.ts";

export async function createApp(env: Env, options: { vite?: ViteDevServer } = {}) {
  const app = express();
  app.disable("x-powered-by");
  if (env.TRUST_PROXY === "true") app.set("trust proxy", true);

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
          `form-action 'self' ${authority}`,
          "frame-ancestors 'none'",
        ].join("; "),
      );
    }
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "same-origin");
    res.setHeader("X-Frame-Options", "DENY");
    if (env.APP_ORIGIN.startsWith("https:")) res.setHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    const method = req.method;
    const headers = new Headers();
    for (const name of ["origin", "sec-fetch-site"]) {
      const value = req.get(name);
      if (value) headers.set(name, value);
    }
    if (isCrossSiteRequest(new Request("http://x/", { method: method === "GET" || method === "HEAD" ? method : "POST", headers }), env.APP_ORIGIN)) {
      res.status(403).type("text/plain").send("This form was sent from another site, so it was refused. Go back to the portal and try again.");
      return;
    }
    next();
  });

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

  app.all(
    "*",
    createRequestHandler({
      build,
      mode: options.vite ? "development" : "production",
      getLoadContext: (req, res) => ({ clientAddress: req.ip ?? req.socket.remoteAddress ?? "unknown", cspNonce: res.locals.cspNonce as string }),
    }),
  );
  return app;
}
