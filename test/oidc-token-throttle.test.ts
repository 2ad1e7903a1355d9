// The token endpoint's throttle per address (decision 019): failures past the limit are answered 429 slow_down
// with Retry-After; successes are never refused, from any address. Addresses come from X-Forwarded-For through
// a trusted loopback proxy, as behind the portal's reverse proxy.
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { createApp } from "~/lib/oidc/clients.server.ts";
import { ADDRESS_WINDOW_MS, TOKEN_FAILURE_LIMIT } from "~/lib/throttle.server.ts";
import { createUser } from "./helpers.ts";
import { appConfig, authorizationRequest, outcome, redeem, signedInBrowser, startPortal, type Portal } from "./oidc-browser.ts";

let portal: Portal;
beforeAll(async () => {
  process.env.TRUST_PROXY = "loopback";
  portal = await startPortal();
}, 180_000);
afterAll(async () => {
  delete process.env.TRUST_PROXY;
  await portal?.close();
});

/** The app's configuration, its requests coming from `address`. */
function from(config: oidc.Configuration, address: string) {
  config[oidc.customFetch] = (url, options) => {
    const headers = new Headers(options.headers as HeadersInit);
    headers.set("X-Forwarded-For", address);
    return fetch(url, { ...options, headers } as RequestInit);
  };
  return config;
}

async function signedInApp() {
  const { user } = await createUser();
  const { app } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/callback"] });
  const config = await appConfig(portal.origin, app.clientId);
  const started = await authorizationRequest(config, "http://127.0.0.1:53117/callback");
  const { left } = await (await signedInBrowser(portal.origin, user)).follow(started.url.href);
  return { clientId: app.clientId, config, tokens: await redeem(config, started, left!) };
}

/** A refresh with a token that names nothing, from `address`: the raw answer. */
const badRefresh = (clientId: string, address: string) =>
  fetch(`${portal.origin}/oidc/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": address },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: `guess-${Math.random()}`, client_id: clientId }),
  });

describe("the token endpoint's throttle per address", () => {
  it("150 bad refresh tokens: the first ones are invalid_grant, the rest 429 slow_down with Retry-After", async () => {
    const { clientId } = await signedInApp();
    const answers: { status: number; error: string; retryAfter: string | null }[] = [];
    for (let i = 0; i < 150; i++) {
      const response = await badRefresh(clientId, "203.0.113.50");
      answers.push({ status: response.status, error: ((await response.json()) as { error: string }).error, retryAfter: response.headers.get("Retry-After") });
    }
    expect(answers.slice(0, TOKEN_FAILURE_LIMIT).every((a) => a.status === 400 && a.error === "invalid_grant")).toBe(true);
    for (const a of answers.slice(TOKEN_FAILURE_LIMIT)) {
      expect(a).toMatchObject({ status: 429, error: "slow_down" });
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
      expect(Number(a.retryAfter)).toBeLessThanOrEqual(ADDRESS_WINDOW_MS / 1000);
    }
  });

  it("a good refresh works from another address, and from the refused address itself, at once", async () => {
    const { clientId } = await signedInApp();
    for (let i = 0; i < TOKEN_FAILURE_LIMIT; i++) await badRefresh(clientId, "203.0.113.51");
    expect((await badRefresh(clientId, "203.0.113.51")).status).toBe(429);
    const elsewhere = await signedInApp();
    expect(await outcome(oidc.refreshTokenGrant(from(elsewhere.config, "198.51.100.7"), elsewhere.tokens.refresh_token!))).toBe("ok");
    // A fleet behind the refused address: successes are never held back, and are not counted.
    const fleet = await signedInApp();
    let token = fleet.tokens.refresh_token!;
    for (let i = 0; i < 3; i++) token = (await oidc.refreshTokenGrant(from(fleet.config, "203.0.113.51"), token)).refresh_token!;
    expect((await badRefresh(clientId, "203.0.113.51")).status).toBe(429);
  });

  it("a reuse from a refused address still ends the grant (answered slow_down)", async () => {
    const { clientId } = await signedInApp();
    for (let i = 0; i < TOKEN_FAILURE_LIMIT; i++) await badRefresh(clientId, "203.0.113.52");
    const app = await signedInApp();
    const config = from(app.config, "203.0.113.52");
    const next = await oidc.refreshTokenGrant(config, app.tokens.refresh_token!);
    expect(await outcome(oidc.refreshTokenGrant(config, app.tokens.refresh_token!))).toBe("slow_down");
    expect(await outcome(oidc.refreshTokenGrant(from(app.config, "198.51.100.8"), next.refresh_token!))).toBe("invalid_grant");
  });

  it("when the address's window is over, its failures are answered as usual again", async () => {
    const { clientId } = await signedInApp();
    for (let i = 0; i < TOKEN_FAILURE_LIMIT; i++) await badRefresh(clientId, "203.0.113.53");
    expect((await badRefresh(clientId, "203.0.113.53")).status).toBe(429);
    const past = BigInt(Date.now() - ADDRESS_WINDOW_MS - 1000);
    await db.signInAttempt.update({ where: { key: "address:oidc-token|203.0.113.53" }, data: { windowStartMs: past } });
    const again = await badRefresh(clientId, "203.0.113.53");
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: string }).error).toBe("invalid_grant");
  });

  it("a wrong client secret counts too", async () => {
    const { app, secret } = await createApp({ name: "Server", redirectUris: ["https://server.example/callback"], confidential: true });
    const wrong = () =>
      fetch(`${portal.origin}/oidc/token`, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          "X-Forwarded-For": "203.0.113.54",
          Authorization: `Basic ${Buffer.from(`${app.clientId}:${secret}x`).toString("base64")}`,
        },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "anything" }),
      });
    for (let i = 0; i < TOKEN_FAILURE_LIMIT; i++) expect((await wrong()).status).toBe(401);
    expect((await wrong()).status).toBe(429);
  });
});
