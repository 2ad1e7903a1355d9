// Two portal instances on one database, as behind a load balancer: the provider keeps nothing in a process, so a
// code issued by one is redeemed at the other, and a refresh token rotated at one is refused for reuse at the other.
import * as oidc from "openid-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createApp } from "~/lib/oidc/clients.server.ts";
import { createUser } from "./helpers.ts";
import { authorizationRequest, outcome, redeem, signedInBrowser } from "./oidc-browser.ts";
import { appEnv, ensureBuild, freePort, Instance } from "./processes.ts";

const instances: Instance[] = [];
let origin = "";

beforeAll(async () => {
  ensureBuild();
  const ports = [await freePort(), await freePort()];
  origin = `http://127.0.0.1:${ports[0]}`;
  process.env.APP_ORIGIN = origin;
  (await import("~/lib/env.server.ts")).reloadEnv();
  for (const port of ports) {
    const instance = new Instance(port);
    instance.start(appEnv({ NODE_ENV: "production", APP_ORIGIN: origin, SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0" }));
    instances.push(instance);
  }
  await Promise.all(instances.map((i) => i.ready()));
}, 180_000);
afterAll(() => Promise.all(instances.map((i) => i.stop())));

/** The app's view of the portal, with its requests sent to one instance (the public origin is the first's). */
async function appAt(instance: Instance, clientId: string) {
  const config = await oidc.discovery(new URL(origin), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  config[oidc.customFetch] = (url, options) => {
    const target = new URL(url);
    target.port = String(instance.port);
    return fetch(target, options as RequestInit);
  };
  return config;
}

it("a code issued on one instance is redeemed on the other; rotation and reuse detection hold across them", async () => {
  const { user } = await createUser();
  const { app } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/callback"] });
  const [a, b] = instances as [Instance, Instance];
  const atA = await appAt(a, app.clientId);
  const atB = await appAt(b, app.clientId);

  const browser = await signedInBrowser(origin, user);
  const started = await authorizationRequest(atA, "http://127.0.0.1:50001/callback");
  const { left } = await browser.follow(started.url.href);
  expect(left?.searchParams.get("code")).toBeTruthy();

  const tokens = await redeem(atB, started, left!);
  expect(tokens.claims()!.sub).toBe(user.id);
  expect(await outcome(oidc.fetchUserInfo(atA, tokens.access_token, user.id))).toBe("ok");
  const refreshed = await oidc.refreshTokenGrant(atA, tokens.refresh_token!);
  expect(await outcome(oidc.refreshTokenGrant(atB, tokens.refresh_token!))).toBe("invalid_grant");
  expect(await outcome(oidc.refreshTokenGrant(atA, refreshed.refresh_token!))).toBe("invalid_grant");
}, 60_000);

it("behind TLS (APP_ORIGIN https, plain http to the process) the provider's cookies are Secure and its URLs https", async () => {
  const { app } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/callback"] });
  const instance = new Instance(await freePort());
  instances.push(instance);
  const publicOrigin = "https://portal.example.test";
  instance.start(
    appEnv({ NODE_ENV: "production", APP_ORIGIN: publicOrigin, SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0" }),
  );
  await instance.ready();
  const base = `http://127.0.0.1:${instance.port}`;
  const discovery = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as { issuer: string; token_endpoint: string };
  expect(discovery).toMatchObject({ issuer: publicOrigin, token_endpoint: `${publicOrigin}/oidc/token` });
  const query = new URLSearchParams({
    client_id: app.clientId,
    response_type: "code",
    scope: "openid",
    redirect_uri: "http://127.0.0.1:5000/callback",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  });
  const response = await fetch(`${base}/oidc/auth?${query}`, {
    redirect: "manual",
    headers: { "X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example" },
  });
  expect(response.status).toBe(303);
  expect(response.headers.get("location")).toMatch(new RegExp(`^${publicOrigin}/oidc/interaction/|^/oidc/interaction/`));
  const cookies = response.headers.getSetCookie();
  expect(cookies.length).toBeGreaterThan(0);
  for (const cookie of cookies) expect(cookie).toMatch(/;\s*secure/i);
}, 60_000);
