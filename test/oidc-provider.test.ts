// The portal as OpenID Provider, with openid-client as the app (relying party): discovery, PKCE, redirect URIs,
// state and nonce, codes, refresh rotation and reuse, revocation, id_token, and the hand-off to the portal's sign-in.
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "~/lib/oidc/clients.server.ts";
import { createUser } from "./helpers.ts";
import { appConfig, authorizationRequest, OidcBrowser, redeem, startPortal, type Portal } from "./oidc-browser.ts";

let portal: Portal;
beforeAll(async () => {
  portal = await startPortal();
}, 180_000);
afterAll(() => portal?.close());

const LOOPBACK = "http://127.0.0.1/callback";

async function desktopApp(redirectUris = [LOOPBACK]) {
  const { app } = await createApp({ name: "Desktop", redirectUris });
  return { clientId: app.clientId, config: await appConfig(portal.origin, app.clientId) };
}

describe("discovery", () => {
  it("serves the metadata at /.well-known/openid-configuration with the issuer the portal's origin", async () => {
    const { config } = await desktopApp();
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(portal.origin);
    expect(meta.authorization_endpoint).toBe(`${portal.origin}/oidc/auth`);
    expect(meta.token_endpoint).toBe(`${portal.origin}/oidc/token`);
    expect(meta.code_challenge_methods_supported).toEqual(["S256"]);
    expect(meta.response_types_supported).toEqual(["code"]);
  });
});

describe("sign-in", () => {
  it("signs a password + TOTP user in through the portal's pages and returns to the loopback port", async () => {
    const { user, secret } = await createUser();
    const { config } = await desktopApp();
    const browser = new OidcBrowser(portal.origin);
    const started = await authorizationRequest(config, "http://127.0.0.1:53117/callback");
    const first = await browser.follow(started.url.href);
    expect(first.left).toBeUndefined();
    const done = await browser.signIn(first.last, user.email!, secret);
    expect(done.left?.origin).toBe("http://127.0.0.1:53117");
    const tokens = await redeem(config, started, done.left!);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(user.id);
    expect(claims.amr).toEqual(["pwd", "otp", "mfa"]);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).toMatchObject({ sub: user.id, name: user.name, email: user.email, org: { id: user.orgId } });
    expect(tokens.refresh_token).toBeTruthy();
  });
});
