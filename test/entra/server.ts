// The stand-in's HTTPS server: one origin that is both the Entra authority host and the Graph base URL.
// Faults apply before routing; bad input gets a 4xx, never a crash.
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { ensureCertificate } from "./cert.ts";
import { adminConsentGet, adminConsentPost } from "./consent.ts";
import { authorizeGet, authorizePost } from "./authorize.ts";
import { Flows, GRAPH_PAGE_LIMITS, type Context, type PageLimits } from "./context.ts";
import { Directory } from "./directory.ts";
import { Faults, type Area, type FaultSettings } from "./faults.ts";
import { defaultFixture, type AppRegistration, type Fixture, type FixtureTenant } from "./fixture.ts";
import { graph } from "./graph.ts";
import { BodyTooLarge, entraError, graphError, readBody, sendHtml, sendJson, type Req, type Res } from "./http.ts";
import { discovery, keys, logout } from "./oidc.ts";
import { errorPage } from "./pages.ts";
import { token } from "./token.ts";
import { TokenIssuer } from "./tokens.ts";

export type Standin = {
  /** https://localhost:PORT: the authority host and the Graph base URL. */
  url: string;
  port: number;
  certPath: string;
  directory: Directory;
  faults: Faults;
  tokens: TokenIssuer;
  app: AppRegistration;
  flows: Flows;
  /** The most a users/delta or groups/delta page holds (Graph's sizes unless given); kept across reset. */
  pageLimits: PageLimits;
  /** Emits "request" with the URL of every request (but /_standin/ ones) as it arrives, before any fault or delay. */
  requests: EventEmitter<{ request: [URL] }>;
  /** A fresh directory (of `fixture`, or of the fixture it started with) and flows; faults cleared. */
  reset(fixture?: Fixture): void;
  close(): Promise<void>;
};

export type StandinOptions = { fixture?: Fixture; certDir: string; port?: number; host?: string; pageLimits?: Partial<PageLimits> };

type Handler = (ctx: Context, req: Req, res: Res, segment: string, url: URL) => unknown;
type Route = { pattern: RegExp; area: Area; methods: Partial<Record<string, Handler>> };

const ROUTES: Route[] = [
  { pattern: /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/, area: "discovery", methods: { GET: (c, q, s, t) => discovery(c, q, s, t) } },
  { pattern: /^\/([^/]+)\/discovery\/v2\.0\/keys$/, area: "keys", methods: { GET: (c, q, s, t) => keys(c, q, s, t) } },
  {
    pattern: /^\/([^/]+)\/oauth2\/v2\.0\/authorize$/,
    area: "authorize",
    methods: { GET: (c, q, s, t, u) => authorizeGet(c, q, s, t, u), POST: (c, q, s) => authorizePost(c, q, s) },
  },
  { pattern: /^\/([^/]+)\/oauth2\/v2\.0\/token$/, area: "token", methods: { POST: (c, q, s, t) => token(c, q, s, t) } },
  {
    pattern: /^\/([^/]+)\/oauth2\/v2\.0\/logout$/,
    area: "logout",
    methods: { GET: (_c, _q, s, _t, u) => logout(s, u), POST: (_c, _q, s, _t, u) => logout(s, u) },
  },
  {
    pattern: /^\/([^/]+)\/v2\.0\/adminconsent$/,
    area: "adminconsent",
    methods: { GET: (c, _q, s, t, u) => adminConsentGet(c, s, t, u), POST: (c, q, s) => adminConsentPost(c, q, s) },
  },
];

const HTML_AREAS: Area[] = ["authorize", "adminconsent", "logout"];

function areaOf(path: string): Area | null {
  if (path.startsWith("/v1.0/") || path === "/v1.0") return "graph";
  return ROUTES.find((r) => r.pattern.test(path))?.area ?? null;
}

/** A path segment that decodes (resolveAuthority decodes it again). */
function decodable(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server error or throttling answer in the shape the area's clients expect (Graph, Entra JSON or an HTML page). */
function failure(req: Req, res: Res, area: Area | null, status: number, headers: Record<string, string> = {}) {
  const throttled = status === 429;
  if (area === "graph") {
    return throttled
      ? graphError(req, res, 429, "TooManyRequests", "Too many requests. Retry after the time in the Retry-After header.", headers)
      : graphError(req, res, status, "serviceNotAvailable", "The service is temporarily unavailable. Please try again later.", headers);
  }
  if (area && HTML_AREAS.includes(area)) {
    if (headers["Retry-After"] && !res.headersSent) res.setHeader("Retry-After", headers["Retry-After"]);
    return sendHtml(
      res,
      status,
      errorPage(
        throttled ? "AADSTS90055" : "AADSTS90033",
        throttled ? "There are too many incoming requests. Try again later." : "A transient error has occurred. Please try again.",
      ),
    );
  }
  entraError(
    req,
    res,
    status,
    throttled
      ? { error: "temporarily_unavailable", code: 90055, description: "There are too many incoming requests. Try again later." }
      : { error: "temporarily_unavailable", code: 90033, description: "A transient error has occurred. Please try again." },
    headers,
  );
}

async function standinFaults(faults: Faults, req: Req, res: Res) {
  if (req.method === "GET") return sendJson(res, 200, faults.current);
  if (req.method === "DELETE") {
    faults.clear();
    return sendJson(res, 200, faults.current);
  }
  if (req.method !== "POST") return sendJson(res, 405, { error: "method not allowed" }, { Allow: "GET, POST, DELETE" });
  let settings: unknown;
  try {
    settings = JSON.parse(await readBody(req));
  } catch (error) {
    if (error instanceof BodyTooLarge) throw error;
    return sendJson(res, 400, { error: "the body must be JSON fault settings" });
  }
  if (!settings || typeof settings !== "object" || Array.isArray(settings))
    return sendJson(res, 400, { error: "the body must be a JSON object of fault settings" });
  try {
    faults.set(settings as FaultSettings);
  } catch (error) {
    return sendJson(res, 400, { error: (error as Error).message });
  }
  sendJson(res, 200, faults.current);
}

/** POST /_standin/tenants: adds a tenant (a FixtureTenant as JSON), so that e2e tests each get their own. */
async function standinTenants(ctx: Context, req: Req, res: Res) {
  if (req.method !== "POST") return sendJson(res, 405, { error: "method not allowed" }, { Allow: "POST" });
  let tenant: FixtureTenant;
  try {
    tenant = JSON.parse(await readBody(req)) as FixtureTenant;
  } catch (error) {
    if (error instanceof BodyTooLarge) throw error;
    return sendJson(res, 400, { error: "the body must be a JSON tenant" });
  }
  const valid =
    tenant && typeof tenant.id === "string" && typeof tenant.displayName === "string" && Array.isArray(tenant.domains) && Array.isArray(tenant.users);
  if (!valid) return sendJson(res, 400, { error: "a tenant needs id, displayName, domains and users" });
  try {
    const added = ctx.directory.addTenant(tenant);
    sendJson(res, 201, { id: added.id, domains: added.domains });
  } catch (error) {
    sendJson(res, 409, { error: (error as Error).message });
  }
}

async function route(ctx: Context, req: Req, res: Res, url: URL) {
  const path = url.pathname;
  const method = req.method ?? "GET";
  if (path === "/_standin/health") return sendJson(res, 200, { status: "ok", tenants: ctx.directory.tenants.map((t) => t.id) });
  if (path === "/_standin/faults") return standinFaults(ctx.faults, req, res);
  if (path === "/_standin/tenants") return standinTenants(ctx, req, res);
  if (path === "/v1.0" || path.startsWith("/v1.0/")) return graph(ctx, req, res, url);
  for (const r of ROUTES) {
    const match = r.pattern.exec(path);
    if (!match) continue;
    const handler = r.methods[method === "HEAD" ? "GET" : method];
    if (!handler) {
      const allow = Object.keys(r.methods).join(", ");
      if (r.area === "token") {
        return entraError(req, res, 405, { error: "invalid_request", code: 900561, description: "The endpoint only accepts POST requests." }, { Allow: allow });
      }
      return sendJson(res, 405, { error: "method not allowed" }, { Allow: allow });
    }
    if (!decodable(match[1]!)) return sendJson(res, 400, { error: "invalid_request", error_description: "The tenant segment of the path is not valid." });
    return handler(ctx, req, res, match[1]!, url);
  }
  sendJson(res, 404, { error: "not_found", error_description: `No such endpoint: ${path}` });
}

async function handle(state: { ctx: Context; requests: EventEmitter<{ request: [URL] }> }, req: Req, res: Res) {
  let url: URL;
  try {
    url = new URL(req.url ?? "/", state.ctx.baseUrl);
    if (url.origin !== state.ctx.baseUrl) throw new Error("not a path");
  } catch {
    return sendJson(res, 400, { error: "invalid_request", error_description: "The request target is not valid." });
  }
  const path = url.pathname;
  const area = areaOf(path);
  if (!path.startsWith("/_standin/")) {
    state.requests.emit("request", url);
    const faults = state.ctx.faults;
    const delay = faults.delayFor(area, path);
    if (delay > 0) await sleep(delay);
    const fault = faults.networkFaultFor(area, path);
    if (fault?.kind === "unreachable") {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "status") return failure(req, res, area, fault.status);
    if (fault?.kind === "rateLimit") return failure(req, res, area, 429, { "Retry-After": String(fault.retryAfterSeconds) });
  }
  try {
    await route(state.ctx, req, res, url);
  } catch (error) {
    if (res.destroyed || req.destroyed) return;
    if (error instanceof BodyTooLarge) {
      sendJson(res, 413, { error: "invalid_request", error_description: "The request body is too large." }, { Connection: "close" });
      return;
    }
    // A bug in the stand-in: loud, so that the test that met it fails.
    console.error("Entra stand-in:", error);
    sendJson(res, 500, { error: "server_error", error_description: "The stand-in failed to handle this request." });
  }
}

/** Listens on `port`; with the default host also on [::1] (same port) so that "localhost" works either way. */
async function listen(servers: Server[], port: number, host: string | undefined): Promise<number> {
  const listenOn = (server: Server, p: number, h: string) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, h, () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listenOn(servers[0]!, port, host ?? "127.0.0.1");
  const bound = (servers[0]!.address() as AddressInfo).port;
  if (!host) await listenOn(servers[1]!, bound, "::1").catch(() => servers.pop());
  else servers.pop();
  return bound;
}

function validLimits(limits: PageLimits): PageLimits {
  for (const [name, value] of Object.entries(limits))
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`pageLimits.${name} must be a positive whole number, not ${value}`);
  return limits;
}

export async function startStandin(options: StandinOptions): Promise<Standin> {
  const { certPath, keyPath } = ensureCertificate(options.certDir);
  let fixture = structuredClone(options.fixture ?? defaultFixture());
  const faults = new Faults();
  const pageLimits = validLimits({ ...GRAPH_PAGE_LIMITS, ...options.pageLimits });
  const requests = new EventEmitter<{ request: [URL] }>();
  const state = { ctx: undefined as unknown as Context, requests };
  const tls = { cert: readFileSync(certPath), key: readFileSync(keyPath) };
  const servers = [0, 1].map(() => {
    const server = createServer(tls, (req, res) => void handle(state, req, res));
    // Node's fetch drops a kept-alive connection a couple of seconds before the server's announced timeout: at
    // 2 s it opened a new TLS connection for every request (a handshake per Graph page). close() ends them anyway.
    server.keepAliveTimeout = 10_000;
    return server;
  });
  const port = await listen(servers, options.port ?? 0, options.host);
  const url = `https://localhost:${port}`;
  const tokens = await TokenIssuer.create(url);
  const fresh = (f: Fixture): Context => ({
    baseUrl: url,
    app: f.app,
    directory: new Directory(structuredClone(f)),
    flows: new Flows(),
    tokens,
    faults,
    pageLimits,
  });
  state.ctx = fresh(fixture);

  return {
    url,
    port,
    certPath,
    faults,
    tokens,
    pageLimits,
    requests,
    get directory() {
      return state.ctx.directory;
    },
    get flows() {
      return state.ctx.flows;
    },
    get app() {
      return state.ctx.app;
    },
    reset(next?: Fixture) {
      if (next) fixture = structuredClone(next);
      faults.clear();
      state.ctx = fresh(fixture);
    },
    async close() {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}
