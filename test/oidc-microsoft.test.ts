// Apps signing in users whose method is Microsoft: the portal's identifier-first page sends them to Microsoft (the
// stand-in), and the app gets its code when they come back; a cancel at Microsoft gives the app nothing; an app's
// prompt=login sends a Microsoft user to Microsoft again.
import * as oidc from "openid-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { createApp } from "~/lib/oidc/clients.server.ts";
import { CONTOSO } from "./entra/fixture.ts";
import { createOrg, createUser } from "./helpers.ts";
import { cancelAtMicrosoft, signInAtMicrosoft, useStandin } from "./microsoft.ts";
import { appConfig, authorizationRequest, OidcBrowser, redeem, signedInBrowser, startPortal, type Portal } from "./oidc-browser.ts";

const standin = useStandin();
let portal: Portal;
beforeAll(async () => {
  portal = await startPortal();
}, 180_000);
afterAll(() => portal?.close());

const ALEX = CONTOSO.users.find((u) => u.userPrincipalName === "alex@contoso.com")!;
const REDIRECT = "http://127.0.0.1:50123/callback";

/** A user of an org with SSO on whose Microsoft link (Contoso) makes Microsoft their method. */
async function linkedUser() {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, tenantDomain: "contoso.com", status: "active" } });
  const { user } = await createUser({ orgId: org.id, email: "linked@example.test", password: null, totp: false });
  await db.microsoftLink.create({ data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: ALEX.oid } });
  return user;
}

async function desktop() {
  const { app } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/callback"] });
  return appConfig(portal.origin, app.clientId);
}

/** From the portal's sign-in page: the identifier, which sends a Microsoft user to Microsoft. */
async function toMicrosoft(browser: OidcBrowser, at: string) {
  const redirectTo = new URL(at).searchParams.get("redirectTo") ?? "";
  const step = await browser.request("/login?index", { intent: "identifier", identifier: "linked@example.test", redirectTo });
  expect(step.status, step.body.slice(0, 300)).toBe(302);
  expect(step.location).toContain(standin.current.url);
  return step.location!;
}

it("a Microsoft user signs in to the app through identifier-first and Microsoft; amr is fed", async () => {
  const user = await linkedUser();
  const config = await desktop();
  const browser = new OidcBrowser(portal.origin);
  const started = await authorizationRequest(config, REDIRECT);
  const first = await browser.follow(started.url.href);
  expect(new URL(first.last.url).pathname).toBe("/login");
  const back = await signInAtMicrosoft(await toMicrosoft(browser, first.last.url), ALEX.userPrincipalName);
  const done = await browser.follow(back);
  expect(done.left?.origin).toBe("http://127.0.0.1:50123");
  const tokens = await redeem(config, started, done.left!);
  expect(tokens.claims()).toMatchObject({ sub: user.id, amr: ["fed"] });
  expect(await oidc.fetchUserInfo(config, tokens.access_token, user.id)).toMatchObject({ email: "linked@example.test" });
});

it("cancel at Microsoft gives the app no code: the portal says the sign-in was cancelled", async () => {
  await linkedUser();
  const config = await desktop();
  const browser = new OidcBrowser(portal.origin);
  const started = await authorizationRequest(config, REDIRECT);
  const first = await browser.follow(started.url.href);
  const done = await browser.follow(await cancelAtMicrosoft(await toMicrosoft(browser, first.last.url)));
  expect(done.left).toBeUndefined();
  expect(done.last.body).toContain("Microsoft sign-in was cancelled");
  expect(await db.oidcPayload.count({ where: { kind: { in: ["Grant", "AuthorizationCode"] } } })).toBe(0);
});

it("prompt=login sends a signed-in Microsoft user to Microsoft again, and the app gets the new sign-in", async () => {
  const user = await linkedUser();
  const config = await desktop();
  const browser = await signedInBrowser(portal.origin, user, "microsoft");
  const started = await authorizationRequest(config, REDIRECT, { prompt: "login" });
  const asked = Math.floor(Date.now() / 1000);
  const { last } = await browser.follow(started.url.href);
  expect(new URL(last.url).pathname).toBe("/settings/confirm");
  expect(last.body).toContain("Sign in with Microsoft again");
  const go = await browser.request(last.url.replace(/since=\d+&/, ""), { intent: "microsoft" });
  expect(go.location).toContain("prompt=login");
  const done = await browser.follow(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName));
  expect(done.left?.origin).toBe("http://127.0.0.1:50123");
  const claims = (await redeem(config, started, done.left!)).claims()!;
  expect(claims).toMatchObject({ sub: user.id, amr: ["fed"] });
  expect(claims.auth_time).toBeGreaterThanOrEqual(asked);
});
