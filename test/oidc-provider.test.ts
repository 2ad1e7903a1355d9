// The portal as OpenID Provider, with openid-client as the app (relying party): discovery, PKCE, redirect URIs,
// state and nonce, codes, refresh rotation and reuse, revocation, id_token, and the hand-off to the portal's sign-in.
import { decodeProtectedHeader } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { endAppGrantsOf } from "~/lib/oidc/adapter.server.ts";
import { createApp } from "~/lib/oidc/clients.server.ts";
import { createUser, totpCode, PASSWORD } from "./helpers.ts";
import { appConfig, authorizationRequest, OidcBrowser, outcome, redeem, signedInBrowser, startPortal, type Portal, type Started } from "./oidc-browser.ts";

let portal: Portal;
beforeAll(async () => {
  portal = await startPortal();
}, 180_000);
afterAll(() => portal?.close());

const LOOPBACK = "http://127.0.0.1/callback";
const AT_PORT = "http://127.0.0.1:53117/callback";

async function desktopApp(redirectUris = [LOOPBACK]) {
  const { app } = await createApp({ name: "Desktop", redirectUris });
  return { clientId: app.clientId, config: await appConfig(portal.origin, app.clientId) };
}

/** An app's sign-in by a user already signed in to the portal: straight to the redirect URI with a code. */
async function quickSignIn(config: oidc.Configuration, browser: OidcBrowser, redirectUri = AT_PORT, extra: Record<string, string> = {}) {
  const started = await authorizationRequest(config, redirectUri, extra);
  const { left, last } = await browser.follow(started.url.href);
  expect(left, `stopped at ${last.url}: ${last.body.slice(0, 300)}`).toBeDefined();
  return { started, callback: left! };
}

async function signedInTokens() {
  const { user } = await createUser();
  const { config, clientId } = await desktopApp();
  const browser = await signedInBrowser(portal.origin, user);
  const { started, callback } = await quickSignIn(config, browser);
  return { user, config, clientId, browser, started, callback, tokens: await redeem(config, started, callback) };
}

/** The authorization request as a URL of the portal, with some parameters changed (null removes one). */
function tampered(started: Started, changes: Record<string, string | null>) {
  const url = new URL(started.url);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  return url.href;
}

describe("discovery", () => {
  it("serves the metadata at /.well-known/openid-configuration, issuer the portal's origin, code + S256 only", async () => {
    const { config } = await desktopApp();
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(portal.origin);
    expect(meta.authorization_endpoint).toBe(`${portal.origin}/oidc/auth`);
    expect(meta.token_endpoint).toBe(`${portal.origin}/oidc/token`);
    expect(meta.userinfo_endpoint).toBe(`${portal.origin}/oidc/me`);
    expect(meta.revocation_endpoint).toBe(`${portal.origin}/oidc/token/revocation`);
    expect(meta.end_session_endpoint).toBe(`${portal.origin}/oidc/session/end`);
    expect(meta.jwks_uri).toBe(`${portal.origin}/oidc/jwks`);
    expect(meta.code_challenge_methods_supported).toEqual(["S256"]);
    expect(meta.response_types_supported).toEqual(["code"]);
    expect(meta.grant_types_supported).not.toContain("implicit");
    expect(meta.grant_types_supported).not.toContain("password");
  });

  it("publishes only the public half of the signing keys", async () => {
    const jwks = (await (await fetch(`${portal.origin}/oidc/jwks`)).json()) as { keys: Record<string, string>[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(["test-key-1"]);
    for (const key of jwks.keys) expect(key.d).toBeUndefined();
  });
});

describe("sign-in through the portal's pages", () => {
  it("a password + TOTP user signs in and the browser returns to the app's loopback port", async () => {
    const { user, secret } = await createUser();
    const { config } = await desktopApp();
    const browser = new OidcBrowser(portal.origin);
    const started = await authorizationRequest(config, AT_PORT);
    const first = await browser.follow(started.url.href);
    expect(first.left).toBeUndefined();
    const done = await browser.signIn(first.last, user.email!, secret);
    expect(done.left?.origin).toBe("http://127.0.0.1:53117");
    expect(done.left?.searchParams.get("state")).toBe(started.state);
    const tokens = await redeem(config, started, done.left!);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ sub: user.id, amr: ["pwd", "otp", "mfa"], nonce: started.nonce });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).toMatchObject({ sub: user.id, name: user.name, email: user.email, org: { id: user.orgId } });
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.expires_in).toBe(600);
  });

  it("a user already signed in to the portal gets no page at all, and sub is the same at every sign-in", async () => {
    const { user, config, browser, tokens } = await signedInTokens();
    const again = await quickSignIn(config, browser);
    const second = await redeem(config, again.started, again.callback);
    expect(second.claims()!.sub).toBe(user.id);
    expect(tokens.claims()!.sub).toBe(user.id);
  });

  it("a Microsoft session gives amr fed", async () => {
    const { user } = await createUser({ password: null, totp: false });
    const { config } = await desktopApp();
    const { started, callback } = await quickSignIn(config, await signedInBrowser(portal.origin, user, "microsoft"));
    expect((await redeem(config, started, callback)).claims()!.amr).toEqual(["fed"]);
  });

  it("prompt=login asks a signed-in user to sign in again, and auth_time is the new sign-in", async () => {
    const { user, secret } = await createUser();
    const { config } = await desktopApp();
    const browser = await signedInBrowser(portal.origin, user);
    const asked = Math.floor(Date.now() / 1000);
    const started = await authorizationRequest(config, AT_PORT, { prompt: "login" });
    const { last, left } = await browser.follow(started.url.href);
    expect(left).toBeUndefined();
    expect(new URL(last.url).pathname).toBe("/settings/confirm");
    expect(last.body).toContain("asks you to sign in again");
    const confirmed = await browser.follow(last.url, { intent: "password", password: PASSWORD, code: await totpCode(secret) });
    expect(confirmed.left?.origin).toBe("http://127.0.0.1:53117");
    const claims = (await redeem(config, started, confirmed.left!)).claims()!;
    expect(claims.auth_time).toBeGreaterThanOrEqual(asked);
  });

  it("prompt=login from a browser that is not signed in goes through the sign-in pages once, not in a loop", async () => {
    const { user, secret } = await createUser();
    const { config } = await desktopApp();
    const browser = new OidcBrowser(portal.origin);
    const started = await authorizationRequest(config, AT_PORT, { prompt: "login" });
    const first = await browser.follow(started.url.href);
    const done = await browser.signIn(first.last, user.email!, secret);
    expect(done.left?.searchParams.get("code")).toBeTruthy();
  });

  it("max_age: a sign-in older than it asks again, a recent one does not", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const browser = await signedInBrowser(portal.origin, user);
    await quickSignIn(config, browser, AT_PORT, { max_age: "600" });
    await db.session.updateMany({ where: { userId: user.id }, data: { authenticatedAt: new Date(Date.now() - 120_000) } });
    const started = await authorizationRequest(config, AT_PORT, { max_age: "60" });
    const { last, left } = await browser.follow(started.url.href);
    expect(left).toBeUndefined();
    expect(new URL(last.url).pathname).toBe("/settings/confirm");
  });

  it("after signing out of the portal, the app's next sign-in shows the portal's sign-in again", async () => {
    const { user, config, browser } = await signedInTokens();
    await db.session.deleteMany({ where: { userId: user.id } });
    const started = await authorizationRequest(config, AT_PORT);
    const { last, left } = await browser.follow(started.url.href);
    expect(left).toBeUndefined();
    expect(new URL(last.url).pathname).toBe("/login");
  });

  it("another user signed in to the portal in that browser gets a grant of their own, not the first user's", async () => {
    const { config, browser, user } = await signedInTokens();
    const { user: other } = await createUser();
    const otherBrowser = await signedInBrowser(portal.origin, other);
    browser.cookies.set("__session", otherBrowser.cookies.get("__session")!);
    const again = await quickSignIn(config, browser);
    const claims = (await redeem(config, again.started, again.callback)).claims()!;
    expect(claims.sub).toBe(other.id);
    expect(claims.sub).not.toBe(user.id);
  });

  it("a disabled user, still known to the provider's session, is sent to the sign-in page and gets no code", async () => {
    const { user, config, browser } = await signedInTokens();
    await db.user.update({ where: { id: user.id }, data: { status: "disabled" } });
    const started = await authorizationRequest(config, AT_PORT);
    const { last, left } = await browser.follow(started.url.href);
    expect(left).toBeUndefined();
    expect(new URL(last.url).pathname).toBe("/login");
  });

  it("a half-finished sign-in (password given, no code yet) is not signed in for the app", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const browser = new OidcBrowser(portal.origin);
    const password = await browser.request("/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    expect(password.location).toMatch(/\/login\/totp$/);
    const started = await authorizationRequest(config, AT_PORT);
    const { last, left } = await browser.follow(started.url.href);
    expect(left).toBeUndefined();
    expect(new URL(last.url).pathname).toBe("/login");
  });

  it("prompt=none without any sign-in answers login_required to the app", async () => {
    const { config } = await desktopApp();
    const started = await authorizationRequest(config, AT_PORT, { prompt: "none" });
    const { left } = await new OidcBrowser(portal.origin).follow(started.url.href);
    expect(left?.searchParams.get("error")).toBe("login_required");
  });

  it("an interaction opened in another browser (a link sent to a signed-in victim) finishes nothing", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const attacker = new OidcBrowser(portal.origin);
    const started = await authorizationRequest(config, AT_PORT);
    const step = await attacker.request(started.url.href);
    const interaction = step.location!;
    expect(new URL(interaction).pathname).toMatch(/^\/oidc\/interaction\//);
    const victim = await signedInBrowser(portal.origin, user);
    const visit = await victim.follow(interaction);
    expect(visit.left).toBeUndefined();
    expect(visit.last.status).toBe(400);
    expect(visit.last.body).toContain("This sign-in has ended");
    // The attacker's browser, resuming, gets no code for the victim.
    const resumed = await attacker.follow(interaction);
    expect(resumed.left).toBeUndefined();
    expect(new URL(resumed.last.url).pathname).toBe("/login");
  });
});

describe("PKCE", () => {
  it("refuses an authorization request without a code_challenge", async () => {
    const { config } = await desktopApp();
    const started = await authorizationRequest(config, AT_PORT);
    const { left } = await (
      await signedInBrowser(portal.origin, (await createUser()).user)
    ).follow(tampered(started, { code_challenge: null, code_challenge_method: null }));
    expect(left?.searchParams.get("error")).toBe("invalid_request");
    expect(left?.searchParams.get("code")).toBeNull();
  });

  it("refuses code_challenge_method=plain", async () => {
    const { config } = await desktopApp();
    const started = await authorizationRequest(config, AT_PORT);
    const browser = await signedInBrowser(portal.origin, (await createUser()).user);
    const { left } = await browser.follow(tampered(started, { code_challenge: started.verifier, code_challenge_method: "plain" }));
    expect(left?.searchParams.get("error")).toBe("invalid_request");
  });

  it("refuses a wrong verifier at the token endpoint, and a missing one", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const browser = await signedInBrowser(portal.origin, user);
    const one = await quickSignIn(config, browser);
    expect(
      await outcome(oidc.authorizationCodeGrant(config, one.callback, { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: one.started.state })),
    ).toBe("invalid_grant");
    const two = await quickSignIn(config, browser);
    expect(await outcome(oidc.authorizationCodeGrant(config, two.callback, { expectedState: two.started.state }))).toBe("invalid_grant");
  });
});

describe("redirect URIs", () => {
  it("accepts any port on a registered loopback URI, on 127.0.0.1 and [::1]", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp([LOOPBACK, "http://[::1]/callback"]);
    const browser = await signedInBrowser(portal.origin, user);
    for (const uri of ["http://127.0.0.1:1024/callback", "http://127.0.0.1:65000/callback", "http://[::1]:8080/callback", LOOPBACK]) {
      const { started, callback } = await quickSignIn(config, browser, uri);
      expect(callback.href.startsWith(uri.replace("/callback", ""))).toBe(true);
      expect((await redeem(config, started, callback)).claims()!.sub).toBe(user.id);
    }
  });

  it("returns to a private-use scheme the app registered", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp(["com.example.portal:/callback"]);
    const { callback } = await quickSignIn(config, await signedInBrowser(portal.origin, user), "com.example.portal:/callback");
    expect(callback.protocol).toBe("com.example.portal:");
    expect(callback.searchParams.get("code")).toBeTruthy();
  });

  it.each([
    ["another host", "http://evil.example/callback"],
    ["localhost", "http://localhost:53117/callback"],
    ["another path", "http://127.0.0.1:53117/other"],
    ["a longer path", "http://127.0.0.1:53117/callback/more"],
    ["another scheme", "https://127.0.0.1:53117/callback"],
    ["a private-use scheme not registered", "com.example.portal:/callback"],
    ["a query added", "http://127.0.0.1:53117/callback?next=/x"],
  ])("refuses %s with a page, never redirecting there", async (_what, uri) => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const started = await authorizationRequest(config, AT_PORT);
    const { last, left } = await (await signedInBrowser(portal.origin, user)).follow(tampered(started, { redirect_uri: uri }));
    expect(left).toBeUndefined();
    expect(last.status).toBe(400);
    expect(last.body).toContain("sign-in request was refused");
  });

  it("refuses a code redeemed with another redirect_uri than the one it was issued for", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const { started, callback } = await quickSignIn(config, await signedInBrowser(portal.origin, user));
    const response = await fetch(`${portal.origin}/oidc/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: callback.searchParams.get("code")!,
        redirect_uri: "http://127.0.0.1:9999/callback",
        code_verifier: started.verifier,
        client_id: config.clientMetadata().client_id,
      }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_grant");
  });
});

describe("state, nonce and the id_token", () => {
  it("returns the state unchanged; the app's check refuses another state and another nonce", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const browser = await signedInBrowser(portal.origin, user);
    const one = await quickSignIn(config, browser);
    expect(await outcome(oidc.authorizationCodeGrant(config, one.callback, { pkceCodeVerifier: one.started.verifier, expectedState: "another" }))).not.toBe(
      "ok",
    );
    const two = await quickSignIn(config, browser);
    expect(
      await outcome(
        oidc.authorizationCodeGrant(config, two.callback, {
          pkceCodeVerifier: two.started.verifier,
          expectedState: two.started.state,
          expectedNonce: "another",
        }),
      ),
    ).not.toBe("ok");
  });

  it("is signed with the first key (ES256), for this app, from this issuer, short-lived, with auth_time", async () => {
    const { tokens, clientId, user } = await signedInTokens();
    const claims = tokens.claims()!;
    expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({ alg: "ES256", kid: "test-key-1" });
    expect(claims.iss).toBe(portal.origin);
    expect(claims.aud).toBe(clientId);
    expect(claims.sub).toBe(user.id);
    expect(claims.exp - claims.iat).toBe(600);
    expect(typeof claims.auth_time).toBe("number");
  });
});

describe("codes, refresh tokens and revocation", () => {
  it("a code works once; redeemed again it is refused and the grant it made ends", async () => {
    const { config, started, callback, tokens, user } = await signedInTokens();
    expect(await outcome(redeem(config, started, callback))).toBe("invalid_grant");
    expect(await outcome(oidc.fetchUserInfo(config, tokens.access_token, user.id))).not.toBe("ok");
    expect(await outcome(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe("invalid_grant");
  });

  it("a refresh gives a new refresh token; the old one used again ends the whole grant", async () => {
    const { config, tokens, user } = await signedInTokens();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()!.sub).toBe(user.id);
    expect(await outcome(oidc.fetchUserInfo(config, refreshed.access_token, user.id))).toBe("ok");
    // The stolen copy of the first refresh token is used: the grant ends, for the thief and the app alike.
    expect(await outcome(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe("invalid_grant");
    expect(await outcome(oidc.refreshTokenGrant(config, refreshed.refresh_token!))).toBe("invalid_grant");
    expect(await outcome(oidc.fetchUserInfo(config, refreshed.access_token, user.id))).not.toBe("ok");
    expect(await db.oidcPayload.count({ where: { accountId: user.id, kind: { in: ["Grant", "RefreshToken", "AccessToken"] } } })).toBe(0);
  });

  it("two refreshes racing with the same token: at most one succeeds, and then no refresh token of the grant works", async () => {
    const { config, tokens } = await signedInTokens();
    const race = await Promise.allSettled([oidc.refreshTokenGrant(config, tokens.refresh_token!), oidc.refreshTokenGrant(config, tokens.refresh_token!)]);
    const won = race.filter((r) => r.status === "fulfilled");
    expect(won.length).toBeLessThanOrEqual(1);
    for (const r of won) {
      const token = (r as PromiseFulfilledResult<oidc.TokenEndpointResponse>).value.refresh_token!;
      expect(await outcome(oidc.refreshTokenGrant(config, token))).toBe("invalid_grant");
    }
  });

  it("stores the lifetimes of decision 019: access token 10 min, refresh token 14 days, grant 30 days", async () => {
    const before = Date.now();
    const { user } = await signedInTokens();
    const expiry = async (kind: string) => (await db.oidcPayload.findFirstOrThrow({ where: { kind, accountId: user.id } })).expiresAt!.getTime() - before;
    const near = (ms: number, target: number) => expect(Math.abs(ms - target)).toBeLessThan(60_000);
    near(await expiry("AccessToken"), 600_000);
    near(await expiry("RefreshToken"), 14 * 24 * 3600_000);
    near(await expiry("Grant"), 30 * 24 * 3600_000);
  });

  it("a refresh token outlives the provider's browser session (the grant is the app's session)", async () => {
    const { config, tokens, user } = await signedInTokens();
    await db.oidcPayload.deleteMany({ where: { kind: "Session" } });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()!.sub).toBe(user.id);
  });

  it("two redemptions racing with the same code: at most one gets tokens, and then the grant is over", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const { started, callback } = await quickSignIn(config, await signedInBrowser(portal.origin, user));
    const race = await Promise.allSettled([redeem(config, started, callback), redeem(config, started, callback)]);
    const won = race.filter((r) => r.status === "fulfilled");
    expect(won.length).toBeLessThanOrEqual(1);
    for (const r of won) {
      const tokens = (r as PromiseFulfilledResult<oidc.TokenEndpointResponse>).value;
      expect(await outcome(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe("invalid_grant");
    }
  });

  it("an app cannot use another app's refresh token", async () => {
    const { tokens } = await signedInTokens();
    const other = await desktopApp();
    expect(await outcome(oidc.refreshTokenGrant(other.config, tokens.refresh_token!))).toBe("invalid_grant");
  });

  it("revoking the refresh token ends it; the app cannot refresh any more", async () => {
    const { config, tokens } = await signedInTokens();
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    expect(await outcome(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe("invalid_grant");
  });

  it("revoking the access token ends it at once (tokens are looked up, not self-contained)", async () => {
    const { config, tokens, user } = await signedInTokens();
    await oidc.tokenRevocation(config, tokens.access_token);
    expect(await outcome(oidc.fetchUserInfo(config, tokens.access_token, user.id))).not.toBe("ok");
  });

  it("a disabled user's refresh is refused", async () => {
    const { config, tokens, user } = await signedInTokens();
    await db.user.update({ where: { id: user.id }, data: { status: "disabled" } });
    expect(await outcome(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe("invalid_grant");
  });

  it("endAppGrantsOf ends every grant of that user and no other user's", async () => {
    const mine = await signedInTokens();
    const second = await quickSignIn(mine.config, mine.browser);
    const mineAgain = await redeem(mine.config, second.started, second.callback);
    const theirs = await signedInTokens();
    expect(await endAppGrantsOf(mine.user.id)).toMatchObject({ grants: 2 });
    for (const token of [mine.tokens.refresh_token!, mineAgain.refresh_token!]) {
      expect(await outcome(oidc.refreshTokenGrant(mine.config, token))).toBe("invalid_grant");
    }
    expect(await outcome(oidc.fetchUserInfo(mine.config, mineAgain.access_token, mine.user.id))).not.toBe("ok");
    expect(await outcome(oidc.refreshTokenGrant(theirs.config, theirs.tokens.refresh_token!))).toBe("ok");
  });

  it("endAppGrantsOf with signedInWith microsoft ends only the grants made by a Microsoft sign-in", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const viaMicrosoft = await quickSignIn(config, await signedInBrowser(portal.origin, user, "microsoft"));
    const microsoftTokens = await redeem(config, viaMicrosoft.started, viaMicrosoft.callback);
    const viaPassword = await quickSignIn(config, await signedInBrowser(portal.origin, user, "password_totp"));
    const passwordTokens = await redeem(config, viaPassword.started, viaPassword.callback);
    expect(await endAppGrantsOf(user.id, { signedInWith: "microsoft" })).toMatchObject({ grants: 1 });
    expect(await outcome(oidc.refreshTokenGrant(config, microsoftTokens.refresh_token!))).toBe("invalid_grant");
    expect(await outcome(oidc.refreshTokenGrant(config, passwordTokens.refresh_token!))).toBe("ok");
  });

  it("an app cannot redeem another app's code", async () => {
    const { user } = await createUser();
    const { config } = await desktopApp();
    const other = await desktopApp();
    const { started, callback } = await quickSignIn(config, await signedInBrowser(portal.origin, user));
    expect(await outcome(oidc.authorizationCodeGrant(other.config, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state }))).toBe(
      "invalid_grant",
    );
  });
});

describe("what is not offered", () => {
  it("refuses the implicit flow and the password grant", async () => {
    const { config, clientId } = await desktopApp();
    const started = await authorizationRequest(config, AT_PORT);
    const { left, last } = await (
      await signedInBrowser(portal.origin, (await createUser()).user)
    ).follow(tampered(started, { response_type: "id_token token" }));
    expect(left?.searchParams.get("error") ?? left?.hash ?? last.body).toMatch(/unsupported_response_type/);
    const response = await fetch(`${portal.origin}/oidc/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "password", username: "a@example.test", password: PASSWORD, client_id: clientId }),
    });
    expect(((await response.json()) as { error: string }).error).toBe("unsupported_grant_type");
  });

  it("answers a token request larger than MAX_BODY_BYTES with 413 before reading it", async () => {
    const response = await fetch(`${portal.origin}/oidc/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "grant_type=refresh_token&refresh_token=" + "a".repeat(70_000),
    });
    expect(response.status).toBe(413);
  });

  it("still refuses a cross-site POST to the authorization endpoint (only the apps' endpoints are exempt)", async () => {
    const response = await fetch(`${portal.origin}/oidc/auth`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://evil.example" },
      body: "client_id=x",
    });
    expect(response.status).toBe(403);
  });
});

describe("confidential apps", () => {
  it("need their secret at the token endpoint; the stored value is a hash", async () => {
    const { user } = await createUser();
    const { app, secret } = await createApp({ name: "Server app", redirectUris: ["https://app.example.test/callback"], confidential: true });
    expect(app.secretHash).not.toContain(secret!);
    const config = await appConfig(portal.origin, app.clientId, secret);
    const browser = await signedInBrowser(portal.origin, user);
    const good = await quickSignIn(config, browser, "https://app.example.test/callback");
    expect((await redeem(config, good.started, good.callback)).claims()!.sub).toBe(user.id);
    const wrong = await appConfig(portal.origin, app.clientId, "not-the-secret");
    const bad = await quickSignIn(wrong, browser, "https://app.example.test/callback");
    expect(await outcome(redeem(wrong, bad.started, bad.callback))).toBe("invalid_client");
  });
});

describe("a user's app grants", () => {
  it("lists one per app sign-in with its app and last use, and ends one without touching the others or another user's", async () => {
    const { appGrantsOf, endAppGrant } = await import("~/lib/oidc/grants.server.ts");
    const first = await signedInTokens();
    const again = await quickSignIn(first.config, first.browser);
    const second = await redeem(first.config, again.started, again.callback);
    const other = await signedInTokens();
    // An authorization started and never finished is not listed.
    await first.browser.follow((await authorizationRequest(first.config, AT_PORT)).url.href);

    const earlier = await appGrantsOf(first.user.id);
    const refreshed = await oidc.refreshTokenGrant(first.config, first.tokens.refresh_token!);
    const list = await appGrantsOf(first.user.id);
    expect(list).toHaveLength(2);
    expect(list.every((g) => g.appName === "Desktop" && g.clientId === first.clientId)).toBe(true);
    // The refresh shows as a later use of that grant only.
    const moved = list.filter((g) => g.lastUsedAt > earlier.find((e) => e.grantId === g.grantId)!.lastUsedAt);
    expect(moved).toHaveLength(1);
    const refreshedGrant = moved[0]!;

    // Another user's grant id is not theirs to end.
    const [theirs] = await appGrantsOf(other.user.id);
    expect(await endAppGrant(first.user.id, theirs!.grantId)).toBe(false);
    expect(await outcome(oidc.refreshTokenGrant(other.config, other.tokens.refresh_token!))).toBe("ok");

    expect(await endAppGrant(first.user.id, refreshedGrant.grantId)).toBe(true);
    expect(await outcome(oidc.refreshTokenGrant(first.config, refreshed.refresh_token!))).toBe("invalid_grant");
    expect(await outcome(oidc.refreshTokenGrant(first.config, second.refresh_token!))).toBe("ok");
    expect(await appGrantsOf(first.user.id)).toHaveLength(1);
  });
});

describe("the adapter", () => {
  it("consumes a code or refresh token once: a second consume (a racing replay) ends the whole grant", async () => {
    const { PrismaAdapter } = await import("~/lib/oidc/adapter.server.ts");
    const grants = new PrismaAdapter("Grant");
    const tokens = new PrismaAdapter("RefreshToken");
    await grants.upsert("g1", { accountId: "u1", clientId: "c1" } as never, 3600);
    await tokens.upsert("t1", { grantId: "g1", accountId: "u1", clientId: "c1" } as never, 3600);
    await tokens.upsert("t2", { grantId: "g1", accountId: "u1", clientId: "c1" } as never, 3600);
    await tokens.consume("t1");
    expect((await tokens.find("t1"))?.consumed).toEqual(expect.any(Number));
    await expect(tokens.consume("t1")).rejects.toMatchObject({ error: "invalid_grant" });
    expect(await grants.find("g1")).toBeUndefined();
    expect(await tokens.find("t2")).toBeUndefined();
  });

  it("the retention job removes expired rows in batches and nothing live", async () => {
    const { PrismaAdapter } = await import("~/lib/oidc/adapter.server.ts");
    const { runRetention } = await import("~/lib/retention.server.ts");
    const codes = new PrismaAdapter("AuthorizationCode");
    for (let i = 0; i < 7; i++) await codes.upsert(`old-${i}`, {} as never, 60);
    await codes.upsert("live", {} as never, 60);
    await db.oidcPayload.updateMany({ where: { id: { startsWith: "old-" } }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await runRetention({ batchSize: 5 })).toMatchObject({ appTokens: 7, batches: 2 });
    expect(await runRetention({ batchSize: 5 })).toMatchObject({ appTokens: 0 });
    expect((await db.oidcPayload.findMany()).map((r) => r.id)).toEqual(["live"]);
  });

  it("finds nothing expired, and by uid and user code only within its model", async () => {
    const { PrismaAdapter } = await import("~/lib/oidc/adapter.server.ts");
    const sessions = new PrismaAdapter("Session");
    await sessions.upsert("s1", { uid: "u-1", accountId: "a" } as never, 3600);
    await sessions.upsert("s2", { uid: "u-2" } as never, 1);
    await db.oidcPayload.updateMany({ where: { id: "s2" }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await sessions.findByUid("u-1")).toMatchObject({ accountId: "a" });
    expect(await sessions.findByUid("u-2")).toBeUndefined();
    expect(await new PrismaAdapter("Interaction").findByUid("u-1")).toBeUndefined();
  });
});
