// The OpenID Provider inside the portal (app/lib/oidc/): its endpoints under /oidc/ and discovery at
// /.well-known/openid-configuration, answered here before the Remix app; the interaction hand-off beside them.
import type { NextFunction, Request, Response } from "express";
import type { Env } from "../app/lib/env.server.ts";
import { handleInteraction } from "../app/lib/oidc/interaction.server.ts";
import { DISCOVERY_PATH, INTERACTION_PREFIX, OIDC_PREFIX } from "../app/lib/oidc/paths.ts";
import { oidcProvider } from "../app/lib/oidc/provider.server.ts";

/** Endpoints that apps call directly (not a browser): no Origin, and their bodies are read by the provider. */
export const APP_ENDPOINTS = new Set([`${OIDC_PREFIX}/token`, `${OIDC_PREFIX}/token/revocation`, `${OIDC_PREFIX}/me`]);

export const isProviderPath = (pathname: string) => pathname === DISCOVERY_PATH || pathname.startsWith(`${OIDC_PREFIX}/`);

export function oidcRoutes(env: Env) {
  const origin = new URL(env.APP_ORIGIN);
  let callback: ReturnType<ReturnType<typeof oidcProvider>["callback"]> | undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!isProviderPath(req.path)) return next();
    if (req.path.startsWith(INTERACTION_PREFIX)) return void handleInteraction(req, res).catch(next);
    // The provider builds its URLs and cookies for the public origin, as the Remix app does (APP_ORIGIN), and
    // sees the client address Express worked out with TRUST_PROXY — not what the client wrote.
    req.headers["x-forwarded-proto"] = origin.protocol.slice(0, -1);
    req.headers["x-forwarded-host"] = origin.host;
    req.headers["x-forwarded-for"] = req.ip ?? req.socket.remoteAddress ?? "";
    callback ??= oidcProvider().callback();
    return void Promise.resolve(callback(req, res)).catch(next);
  };
}
