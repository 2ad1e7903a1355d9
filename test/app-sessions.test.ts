// Issue 14: an app's sign-in is a session like the others. The Sessions page lists it and signs it out; signing
// out everywhere, a password reset, the directory deactivating the user, and a method change that ends Microsoft
// sessions end the matching app grants; an admin sees them on the user's page and can end them, in their org only.
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { createApp } from "~/lib/oidc/clients.server.ts";
import { applyDirectoryChanges, changeMethods } from "~/lib/signin/change.server.ts";
import * as sessionsPage from "~/routes/settings.sessions.tsx";
import * as userPage from "~/routes/admin.users_.$id.tsx";
import { CONTOSO } from "./entra/fixture.ts";
import { createOrg, createUser, signedInAs } from "./helpers.ts";
import { appConfig, authorizationRequest, outcome, redeem, signedInBrowser, startPortal, type Portal } from "./oidc-browser.ts";

let portal: Portal;
beforeAll(async () => {
  portal = await startPortal();
}, 180_000);
afterAll(() => portal?.close());

const CALLBACK = "http://127.0.0.1:53118/callback";

/** The user signs in to a new app "Desktop" with the portal session of `authMethod`; returns its tokens. */
async function appSignIn(user: { id: string }, authMethod: "password_totp" | "microsoft" = "password_totp", name = "Desktop") {
  const { app } = await createApp({ name, redirectUris: ["http://127.0.0.1/callback"] });
  const config = await appConfig(portal.origin, app.clientId);
  const browser = await signedInBrowser(portal.origin, user, authMethod);
  const started = await authorizationRequest(config, CALLBACK);
  const { left } = await browser.follow(started.url.href);
  const tokens = await redeem(config, started, left!);
  return { config, tokens, refreshes: async () => outcome(oidc.refreshTokenGrant(config, tokens.refresh_token!)) };
}

describe("app sessions", () => {
  it("My Profile → Sessions lists the app and signs it out alone; 'all other sessions' takes the apps too", async () => {
    const { user } = await createUser();
    const desktop = await appSignIn(user, "password_totp", "Desktop");
    const phone = await appSignIn(user, "password_totp", "Phone");
    const b = await signedInAs(user);
    const page = await b.get(sessionsPage.loader as never, "/settings/sessions");
    expect(page.data.apps.map((a: { appName: string }) => a.appName).sort()).toEqual(["Desktop", "Phone"]);
    const desktopGrant = page.data.apps.find((a: { appName: string }) => a.appName === "Desktop").grantId;

    expect((await b.post(sessionsPage.action as never, "/settings/sessions", { intent: "end-app", grantId: desktopGrant })).status).toBe(302);
    expect([await desktop.refreshes(), await phone.refreshes()]).toEqual(["invalid_grant", "ok"]);
    // Again: already ended, a clear answer and nothing else changes.
    const again = await b.post(sessionsPage.action as never, "/settings/sessions", { intent: "end-app", grantId: desktopGrant });
    expect([again.status, again.data.formError]).toEqual([400, "That session has already ended or isn't yours."]);

    await b.post(sessionsPage.action as never, "/settings/sessions", { intent: "end-others" });
    expect(await db.oidcPayload.count({ where: { accountId: user.id, kind: "Grant" } })).toBe(0);
    expect(await db.auditEvent.count({ where: { actorId: user.id, action: "sessions.ended" } })).toBe(2);
  }, 60_000);

  it("another user's grant id is not theirs to end", async () => {
    const { user: mine } = await createUser();
    const { user: theirs } = await createUser();
    await appSignIn(theirs);
    const [grant] = await db.oidcPayload.findMany({ where: { accountId: theirs.id, kind: "Grant" } });
    const r = await (await signedInAs(mine)).post(sessionsPage.action as never, "/settings/sessions", { intent: "end-app", grantId: grant!.id });
    expect(r.status).toBe(400);
    expect(await db.oidcPayload.count({ where: { id: grant!.id } })).toBe(1);
  }, 60_000);

  it("a password reset through the one door ends every app grant of that user", async () => {
    const { user } = await createUser();
    const app = await appSignIn(user);
    await changeMethods(
      { userId: user.id, orgId: user.orgId, address: null },
      { kind: "password", userId: user.id, hasPassword: true },
      { endSessions: { userId: user.id, all: true }, audit: { action: "password.reset" } },
      async () => {},
    );
    expect(await app.refreshes()).toBe("invalid_grant");
    const event = await db.auditEvent.findFirstOrThrow({ where: { action: "password.reset", targetId: user.id } });
    expect(JSON.parse(event.detail!)).toMatchObject({ appGrantsEnded: 1 });
  }, 60_000);

  it("the directory deactivating a user ends their app grants", async () => {
    const { user } = await createUser();
    const app = await appSignIn(user);
    await db.$transaction((tx) => applyDirectoryChanges(tx, user.orgId, { deactivated: [user.id], changed: [] }));
    expect(await app.refreshes()).toBe("invalid_grant");
  }, 60_000);

  it("a method change away from Microsoft ends the apps signed in with Microsoft, not those signed in with a password", async () => {
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active" } });
    const { user } = await createUser({ orgId: org.id });
    await createUser({ orgId: org.id, role: "admin" });
    await db.microsoftLink.create({ data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: "oid-apps-1" } });
    const viaMicrosoft = await appSignIn(user, "microsoft", "Desktop");
    const viaPassword = await appSignIn(user, "password_totp", "Phone");
    const outcomeOfChange = await changeMethods(
      { userId: null, orgId: org.id, address: null },
      { kind: "link", userId: user.id, integrationId: null },
      { audit: { action: "link.revoked" } },
      (tx) => tx.microsoftLink.deleteMany({ where: { userId: user.id } }),
    );
    expect(outcomeOfChange.kind).toBe("done");
    expect([await viaMicrosoft.refreshes(), await viaPassword.refreshes()]).toEqual(["invalid_grant", "ok"]);
  }, 60_000);

  it("a method change to Microsoft keeps the app signed in with a password, as it keeps password sessions (decision 011)", async () => {
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active" } });
    const { user } = await createUser({ orgId: org.id });
    await createUser({ orgId: org.id, role: "admin" });
    const viaPassword = await appSignIn(user);
    const linked = await changeMethods(
      { userId: user.id, orgId: org.id, address: null },
      { kind: "link", userId: user.id, integrationId: integration.id },
      { audit: { action: "link.created" } },
      (tx) => tx.microsoftLink.create({ data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: "oid-apps-2" } }),
    );
    expect(linked.kind).toBe("done");
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBeNull();
    expect(await viaPassword.refreshes()).toBe("ok");
  }, 60_000);

  it("an admin sees a user's apps on the user's page and signs one out; another org's admin gets the 404", async () => {
    const org = await createOrg();
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const { user } = await createUser({ orgId: org.id });
    const app = await appSignIn(user);
    const b = await signedInAs(admin);
    const page = await b.get(userPage.loader as never, `/admin/users/${user.id}`, { id: user.id });
    expect(page.data.apps).toHaveLength(1);
    const grantId = page.data.apps[0].grantId;

    const stranger = await signedInAs((await createUser({ orgId: (await createOrg()).id, role: "admin" })).user);
    const foreign = await stranger.post(userPage.action as never, `/admin/users/${user.id}`, { intent: "end-app", grantId }, { id: user.id });
    expect(foreign.status).toBe(404);
    expect(await app.refreshes()).toBe("ok");

    const ended = await b.post(userPage.action as never, `/admin/users/${user.id}`, { intent: "end-app", grantId }, { id: user.id });
    expect(ended.status).toBe(302);
    expect(await db.oidcPayload.count({ where: { accountId: user.id, kind: "Grant" } })).toBe(0);
    const event = await db.auditEvent.findFirstOrThrow({ where: { action: "app.signed_out", targetId: user.id } });
    expect(event.actorId).toBe(admin.id);
  }, 60_000);
});
