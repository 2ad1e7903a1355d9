// One regression test per defect of issue 12 ("one door for every sign-in decision"), each named after what
// went wrong. Every one of them failed on the code before the sign-in core (app/lib/signin/) existed.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { issueToken } from "~/lib/tokens.server.ts";
import { handlePasswordResetRequests, resetPassword } from "~/lib/password-reset.server.ts";
import { runSync } from "~/lib/sync/run.server.ts";
import * as forgot from "~/routes/forgot-password.tsx";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import * as enrol from "~/routes/login.enrol.tsx";
import * as prompt from "~/routes/link-microsoft.tsx";
import * as callback from "~/routes/auth.microsoft_.callback.tsx";
import * as microsoftSettings from "~/routes/settings.microsoft.tsx";
import * as profile from "~/routes/settings._index.tsx";
import * as settingsLayout from "~/routes/settings.tsx";
import * as password from "~/routes/settings.password.tsx";
import * as twoFactor from "~/routes/settings.two-factor.tsx";
import * as syncPage from "~/routes/admin.sync.tsx";
import * as integrationPage from "~/routes/admin.integrations.$id.tsx";
import * as userPage from "~/routes/admin.users_.$id.tsx";
import * as invitations from "~/routes/admin.invitations.tsx";
import * as invite from "~/routes/invite.tsx";
import { CONTOSO, FABRIKAM } from "./entra/fixture.ts";
import { Browser, createOrg, createUser, PASSWORD, signedInAs, totpCode } from "./helpers.ts";
import { appPath, signInAtMicrosoft, useStandin } from "./microsoft.ts";

useStandin();

const ALEX = CONTOSO.users.find((u) => u.userPrincipalName === "alex@contoso.com")!;
const MEGAN = CONTOSO.users.find((u) => u.userPrincipalName === "megan@contoso.com")!;
const PATTI = FABRIKAM.users.find((u) => u.userPrincipalName === "patti@fabrikam.com")!;
const NEW_PASSWORD = "a brand new passphrase";

/** A licensed org with SSO on and Contoso active. */
async function ssoOrg() {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, tenantDomain: "contoso.com", status: "active" } });
  return { org, integration };
}

/** A user of the org synced from Contoso (their (tid, oid) known), with SSO on for them. */
async function syncedSsoUser(
  orgId: string,
  integrationId: string,
  who: { oid: string; userPrincipalName: string },
  opts: { role?: string; password?: string | null } = {},
) {
  await db.organization.update({ where: { id: orgId }, data: { syncIntegrationId: integrationId } });
  const { user, secret } = await createUser({ orgId, email: who.userPrincipalName, role: opts.role, password: opts.password ?? null });
  await db.user.update({
    where: { id: user.id },
    data: {
      source: "synced",
      ssoEnabled: true,
      entraTenantId: CONTOSO.id,
      entraObjectId: who.oid,
      entraUpn: who.userPrincipalName,
      syncIntegrationId: integrationId,
    },
  });
  return { user, secret };
}

const userRow = (id: string) => db.user.findUniqueOrThrow({ where: { id } });

async function passwordAndCode(b: Browser, email: string, secret: string) {
  const r = await b.post(login.action, "/login?index", { intent: "password", identifier: email, password: PASSWORD });
  expect(r.location, JSON.stringify(r.data)).toBe("/login/totp");
  return b.post(totp.action, "/login/totp", { code: await totpCode(secret) });
}

describe("issue 12's defects", () => {
  it("1. forgot password never gives an SSO user a password", async () => {
    const { org, integration } = await ssoOrg();
    const { user: linked } = await createUser({ orgId: org.id, email: "linked@example.test", password: null });
    await db.microsoftLink.create({ data: { userId: linked.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: ALEX.oid } });
    const { user: synced } = await syncedSsoUser(org.id, integration.id, MEGAN);
    const microsoftSession = await signedInAs(synced, "microsoft", CONTOSO.id);

    for (const user of [linked, synced]) {
      // The same page as for anyone; the mail says how they sign in, and carries no link to set a password.
      const r = await new Browser().post(forgot.action, "/forgot-password", { identifier: user.email! });
      expect(r.status).toBe(200);
      expect(r.data.sent).toBe(true);
      // The mail worker's first step: the per-account work happens after the answer (decision 013).
      await handlePasswordResetRequests();
      const mail = await db.outgoingMail.findFirstOrThrow({ where: { to: user.email! } });
      expect(mail.template).toBe("microsoft-sign-in");
      expect(mail.text).not.toMatch(/reset-password\?token=/);
    }
    expect(await db.oneTimeToken.count({ where: { type: "password_reset" } })).toBe(0);

    // A set-password link sent before SSO started does not give them a password beside it either.
    const token = await issueToken("set_password", synced.id, 60);
    expect(await resetPassword(token, NEW_PASSWORD, "203.0.113.7")).toBe("microsoft");
    expect((await userRow(synced.id)).passwordHash).toBeNull();
    expect((await userRow(linked.id)).passwordHash).toBeNull();
    // Nothing was changed, so their Microsoft session goes on.
    expect(await db.session.count({ where: { userId: synced.id } })).toBe(1);
    expect(microsoftSession).toBeTruthy();
  });

  it("2. resolving a sync conflict asks before leaving no admin on password + authenticator", async () => {
    const org = await createOrg();
    const integration = await db.integration.create({
      data: { orgId: org.id, tenantId: FABRIKAM.id, status: "active", displayName: "Fabrikam", syncScope: "tenant" },
    });
    await db.organization.update({
      where: { id: org.id },
      data: { ssoLicensed: true, ssoEnabled: true, ssoForAllSynced: true, syncIntegrationId: integration.id },
    });
    // The only admin on password has the email of a directory user: the sync records a conflict.
    const { user: admin } = await createUser({ orgId: org.id, email: PATTI.userPrincipalName, role: "admin" });
    await runSync(integration.id, "manual", { pageSize: 50, backoffMs: 5, retries: 1 });
    const conflict = await db.syncConflict.findFirstOrThrow({ where: { localUserId: admin.id } });
    const b = await signedInAs(admin);

    const asked = await b.post(syncPage.action, "/admin/sync", { intent: "resolve", conflictId: conflict.id, resolution: "attach" });
    expect(asked.status).toBe(409);
    expect(asked.data.lockoutConflictId).toBe(conflict.id);
    expect(await userRow(admin.id)).toMatchObject({ source: "local", entraObjectId: null });
    expect((await userRow(admin.id)).passwordHash).not.toBeNull();

    const done = await b.post(syncPage.action, "/admin/sync", { intent: "resolve", conflictId: conflict.id, resolution: "attach", lockoutConfirmed: "yes" });
    expect(done.status, JSON.stringify(done.data)).toBe(302);
    expect(await userRow(admin.id)).toMatchObject({ source: "synced", entraObjectId: PATTI.oid, passwordHash: null });
    const event = await db.auditEvent.findFirstOrThrow({ where: { action: "sync.conflict.resolved" } });
    expect(JSON.parse(event.detail!)).toMatchObject({ methodBefore: "password", methodAfter: "microsoft", lockoutConfirmed: true });
  });

  it("3. the only admin is warned before linking their Microsoft account from the prompt", async () => {
    const { org } = await ssoOrg();
    const { user: admin, secret } = await createUser({ orgId: org.id, role: "admin" });
    const b = new Browser();
    expect((await passwordAndCode(b, admin.email!, secret)).location).toBe("/link-microsoft?redirectTo=%2F");
    expect((await b.get(prompt.loader, "/link-microsoft?redirectTo=%2F")).data).toEqual({ redirectTo: "/", lockout: true });

    const unconfirmed = await b.post(prompt.action, "/link-microsoft", { intent: "link", redirectTo: "/" });
    expect(unconfirmed.status).toBe(409);
    expect(unconfirmed.data.error).toMatch(/Tick the box/);

    const go = await b.post(prompt.action, "/link-microsoft", { intent: "link", redirectTo: "/", lockoutConfirmed: "yes" });
    const done = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName)));
    expect(done.location).toBe("/settings/microsoft");
    expect((await userRow(admin.id)).passwordHash).toBeNull();
    const event = await db.auditEvent.findFirstOrThrow({ where: { action: "link.created", result: "success" } });
    expect(JSON.parse(event.detail!)).toMatchObject({ methodBefore: "password", methodAfter: "microsoft", lockoutConfirmed: true });
  });

  it("4. linking needs a recent sign-in: a 5-hour-old session cannot link another account", async () => {
    const { org } = await ssoOrg();
    await createUser({ orgId: org.id, role: "admin" });
    const { user } = await createUser({ orgId: org.id });
    const b = await signedInAs(user);
    await db.session.updateMany({ where: { userId: user.id }, data: { authenticatedAt: new Date(Date.now() - 5 * 3600_000) } });

    const fromPrompt = await b.post(prompt.action, "/link-microsoft", { intent: "link", redirectTo: "/" });
    expect(fromPrompt.location).toMatch(/^\/settings\/confirm\?redirectTo=/);
    const fromSettings = await b.post(microsoftSettings.action, "/settings/microsoft", { intent: "link" });
    expect(fromSettings.location).toBe("/settings/confirm?redirectTo=%2Fsettings%2Fmicrosoft");
    expect(await db.oneTimeToken.count({ where: { type: "oauth_state" } })).toBe(0);
    expect(await db.microsoftLink.count()).toBe(0);
    expect((await userRow(user.id)).passwordHash).not.toBeNull();
  });

  it("5. an invitation to an SSO user is completed only by the invited identity", async () => {
    const { org, integration } = await ssoOrg();
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const { user: alex } = await syncedSsoUser(org.id, integration.id, ALEX);
    await syncedSsoUser(org.id, integration.id, MEGAN);
    const adminBrowser = await signedInAs(admin);
    await adminBrowser.post(invitations.action, "/admin/invitations", { intent: "resend", userId: alex.id });
    const mail = await db.outgoingMail.findFirstOrThrow({ where: { to: alex.email! } });
    const token = new URL(mail.text.match(/http:\/\/localhost:3000\/invite\?token=[A-Za-z0-9_-]+/)![0]).searchParams.get("token")!;

    // Someone else of the tenant (Megan, herself a user of the org) opens Alex's invitation.
    const other = new Browser();
    const go = await other.post(invite.action, `/invite?token=${token}`, { intent: "microsoft", token });
    const refused = await other.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, MEGAN.userPrincipalName)));
    expect(refused.data.code).toBe("identity_not_expected");
    expect(await db.session.count({ where: { stage: "active", userId: { not: admin.id } } })).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "invitation.accepted" } })).toBe(0);

    // The invitation still works for Alex.
    const invitee = new Browser();
    const again = await invitee.post(invite.action, `/invite?token=${token}`, { intent: "microsoft", token });
    expect((await invitee.get(callback.loader, appPath(await signInAtMicrosoft(again.location!, ALEX.userPrincipalName)))).location).toBe("/");
    expect(await db.auditEvent.count({ where: { action: "invitation.accepted", actorId: alex.id } })).toBe(1);
  });

  it("6. My Profile shows the method the user has now: linked, and SSO switched on during the session", async () => {
    const { org, integration } = await ssoOrg();
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const { user: linked } = await createUser({ orgId: org.id, password: null });
    await db.microsoftLink.create({ data: { userId: linked.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: ALEX.oid } });
    const linkedBrowser = await signedInAs(linked, "microsoft", CONTOSO.id);
    expect((await linkedBrowser.get(profile.loader, "/settings")).data).toMatchObject({
      method: "microsoft",
      howYouSignIn: "Your linked Microsoft work account",
    });

    // A synced user signed in with their password; the admin then turns SSO on for them.
    const { user: synced } = await createUser({ orgId: org.id, email: MEGAN.userPrincipalName });
    await db.user.update({
      where: { id: synced.id },
      data: { source: "synced", entraTenantId: CONTOSO.id, entraObjectId: MEGAN.oid, syncIntegrationId: integration.id },
    });
    await db.organization.update({ where: { id: org.id }, data: { syncIntegrationId: integration.id } });
    const mine = await signedInAs(synced);
    expect((await mine.get(profile.loader, "/settings")).data.method).toBe("password");
    const switched = await (await signedInAs(admin)).post(userPage.action, `/admin/users/${synced.id}`, { intent: "sso", enabled: "on" }, { id: synced.id });
    expect(switched.status, JSON.stringify(switched.data)).toBe(302);

    // The password session goes on (as promised), but every page now tells the truth.
    expect((await mine.get(profile.loader, "/settings")).data).toMatchObject({ method: "microsoft", passwordChangedAt: null });
    expect((await mine.get(settingsLayout.loader, "/settings")).data.method).toBe("microsoft");
    expect((await mine.get(password.loader, "/settings/password")).data.method).toBe("microsoft");
    const change = await mine.post(password.action, "/settings/password", {
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
      confirmPassword: NEW_PASSWORD,
    });
    expect(change.status).toBe(409);
    expect(change.data.formError).toMatch(/You sign in with your Microsoft account/);
    expect((await userRow(synced.id)).passwordHash).toBeNull();
  });

  it("7. removing the sync integration ends synced users' Microsoft sessions", async () => {
    const { org, integration } = await ssoOrg();
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const { user: synced } = await syncedSsoUser(org.id, integration.id, ALEX);
    await signedInAs(synced, "microsoft", CONTOSO.id);
    const b = await signedInAs(admin);
    const r = await b.post(integrationPage.action, `/admin/integrations/${integration.id}`, { intent: "remove" }, { id: integration.id });
    expect(r.status, JSON.stringify(r.data)).toBe(302);
    expect(await db.session.count({ where: { userId: synced.id } })).toBe(0);
    expect(await db.session.count({ where: { userId: admin.id } })).toBe(1);
  });

  it("8. every sign-in completes the same way: after first-sign-in enrolment the user is offered the link", async () => {
    const { org } = await ssoOrg();
    await createUser({ orgId: org.id, role: "admin" });
    const { user } = await createUser({ orgId: org.id, totp: false });
    const b = new Browser();
    expect((await b.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD })).location).toBe("/login/enrol");
    const page = await b.get(enrol.loader, "/login/enrol");
    const secret = new URL(page.data.setup.uri).searchParams.get("secret")!;
    const done = await b.post(enrol.action, "/login/enrol", { code: await totpCode(secret) });
    expect(done.data.codes).toHaveLength(10);
    expect(done.data.next).toBe("/link-microsoft?redirectTo=%2F");
    expect(await db.auditEvent.count({ where: { action: "signin.succeeded", actorId: user.id } })).toBe(1);
  });

  it("9. the authenticator secret belongs to the enrolment attempt, not to the user", async () => {
    const { user } = await createUser({ totp: false });
    // Whoever knows the password opens enrolment and notes the secret, then leaves.
    const intruder = new Browser();
    await intruder.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    const noted = new URL((await intruder.get(enrol.loader, "/login/enrol")).data.setup.uri).searchParams.get("secret")!;
    expect((await userRow(user.id)).totpSecret).toBeNull();

    // The real user's enrolment shows another secret, and a code from the noted one does not confirm it.
    const owner = new Browser();
    await owner.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    const theirs = new URL((await owner.get(enrol.loader, "/login/enrol")).data.setup.uri).searchParams.get("secret")!;
    expect(theirs).not.toBe(noted);
    expect((await owner.post(enrol.action, "/login/enrol", { code: await totpCode(noted) })).status).toBe(400);
    expect((await owner.post(enrol.action, "/login/enrol", { code: await totpCode(theirs) })).data.codes).toHaveLength(10);

    // Settings → Authenticator app: each session is shown its own new secret.
    const [a, b] = [await signedInAs(user), await signedInAs(user)];
    const secretOf = async (x: Browser) => new URL((await x.get(twoFactor.loader, "/settings/two-factor")).data.setup.uri).searchParams.get("secret");
    expect(await secretOf(a)).not.toBe(await secretOf(b));
  });
});
