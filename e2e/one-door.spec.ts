// Issue 12's defects 1, 3, 4 and 5 as a person meets them in the browser (with and without JavaScript), against
// the Microsoft stand-in. Each test registers its own tenant.
import { db } from "../app/lib/db.server.ts";
import { expect, newAccount, newTenant, orgWithActiveTenant, PASSWORD, pickAccount, signIn, enterIdentifier, test, totp, type Tenant } from "./fixtures.ts";

/** A user of the org linked to the tenant's user, as linking leaves them: no password. */
async function linkedUser(tenant: Tenant) {
  const account = await orgWithActiveTenant(tenant);
  const integration = await db.integration.findFirstOrThrow({ where: { orgId: account.orgId } });
  await db.microsoftLink.create({
    data: { userId: account.userId, integrationId: integration.id, tenantId: tenant.id, objectId: tenant.userOid, upn: tenant.user },
  });
  await db.user.update({ where: { id: account.userId }, data: { passwordHash: null } });
  return account;
}

test("forgot password never gives an SSO user a password", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await linkedUser(tenant);
  await page.goto("/forgot-password");
  await page.getByLabel("Email address or mobile number").fill(account.email);
  await page.getByRole("button", { name: "Send reset link" }).click();
  // The same page as for anyone.
  await expect(page.getByRole("status")).toContainText("If an account exists");
  const mail = await db.outgoingMail.findFirstOrThrow({ where: { to: account.email } });
  expect(mail.template).toBe("microsoft-sign-in");
  expect(mail.subject).toBe("You sign in with Microsoft");
  expect(mail.text).not.toMatch(/reset-password\?token=/);
  expect(await db.oneTimeToken.count({ where: { target: account.userId, type: "password_reset" } })).toBe(0);
  expect((await db.user.findUniqueOrThrow({ where: { id: account.userId } })).passwordHash).toBeNull();

  // Their Microsoft sign-in still works.
  await enterIdentifier(page, account.email);
  await pickAccount(page, tenant.user);
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
});

test("the only admin is warned before linking their Microsoft account", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await orgWithActiveTenant(tenant);
  await db.user.update({ where: { id: account.userId }, data: { role: "admin" } });
  await signIn(page, account);
  await expect(page.getByRole("heading", { name: "Sign in with your Microsoft account from now on?" })).toBeVisible();
  await expect(page.getByTestId("lockout-warning")).toContainText("You are the last admin who signs in with a password and authenticator app.");

  await page.getByRole("button", { name: "Use Microsoft" }).click();
  await expect(page.getByText(/Tick the box to confirm/)).toBeVisible();
  expect(await db.microsoftLink.count({ where: { userId: account.userId } })).toBe(0);

  await page.getByLabel(/I understand: sign me in with Microsoft only/).check();
  await page.getByRole("button", { name: "Use Microsoft" }).click();
  await pickAccount(page, tenant.user);
  await expect(page.getByText(/Your Microsoft account is linked\..*Your password was removed/)).toBeVisible();
  expect((await db.user.findUniqueOrThrow({ where: { id: account.userId } })).passwordHash).toBeNull();
});

test("linking needs a recent sign-in, and so does unlinking, with the current method", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await orgWithActiveTenant(tenant);
  await newAccount({ orgId: account.orgId, role: "admin" });
  await signIn(page, account, PASSWORD, -1);
  await page.getByRole("button", { name: "Not now" }).click();
  // The browser was left unlocked for five hours.
  await db.session.updateMany({ where: { userId: account.userId }, data: { authenticatedAt: new Date(Date.now() - 5 * 3600_000) } });

  await page.goto("/settings/microsoft");
  await page.getByRole("button", { name: "Link my Microsoft account" }).click();
  await expect(page).toHaveURL(/\/settings\/confirm\?redirectTo=%2Fsettings%2Fmicrosoft/);
  await expect(page.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("6-digit code from your authenticator app").fill(await totp(account.secret, 0));
  await page.getByRole("button", { name: "Confirm" }).click();
  await expect(page).toHaveURL(/\/settings\/microsoft$/);
  await page.getByRole("button", { name: "Link my Microsoft account" }).click();
  await pickAccount(page, tenant.user);
  await expect(page.getByText(/Your Microsoft account is linked/)).toBeVisible();

  // The session began with a password; the method is Microsoft now, so unlinking asks for Microsoft again.
  await page.getByRole("link", { name: "confirm it's you" }).click();
  await page.getByRole("button", { name: "Sign in with Microsoft again" }).click();
  await expect(page.getByRole("heading", { name: "Pick an account" })).toBeVisible();
  const authorize = new URL(page.url());
  expect(authorize.searchParams.get("prompt")).toBe("login");
  expect(authorize.searchParams.get("max_age")).toBe("900");
  await pickAccount(page, tenant.user);
  await expect(page.getByText("Thanks, that's confirmed.")).toBeVisible();
  await page.getByRole("button", { name: "Unlink" }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByText(/Your Microsoft account is unlinked/)).toBeVisible();
});

test("an invitation to an SSO user is completed only by the invited identity", async ({ page, browser, request }) => {
  const tenant = await newTenant(request, true);
  const admin = await orgWithActiveTenant(tenant);
  await db.user.update({ where: { id: admin.userId }, data: { role: "admin" } });
  const integration = await db.integration.findFirstOrThrow({ where: { orgId: admin.orgId } });
  await db.organization.update({ where: { id: admin.orgId }, data: { syncIntegrationId: integration.id } });
  const uma = await db.user.create({
    data: {
      orgId: admin.orgId,
      name: "Uma User",
      email: tenant.user,
      source: "synced",
      ssoEnabled: true,
      entraTenantId: tenant.id,
      entraObjectId: tenant.userOid,
      entraUpn: tenant.user,
      syncIntegrationId: integration.id,
    },
  });

  await signIn(page, admin);
  await page.goto("/admin/invitations");
  await page.getByRole("button", { name: "Send invitation to Uma User" }).click();
  // With JavaScript the form is sent by fetch: wait for the mail to be queued.
  await expect.poll(() => db.outgoingMail.count({ where: { to: tenant.user } })).toBe(1);
  const mail = await db.outgoingMail.findFirstOrThrow({ where: { to: tenant.user } });
  expect(mail.template).toBe("sso-invitation");
  const link = new URL(mail.text.match(/http:\/\/localhost:\d+\/invite\?token=[A-Za-z0-9_-]+/)![0]);

  // Another account of the same tenant opens Uma's invitation.
  const other = await browser.newContext();
  const intruder = await other.newPage();
  await intruder.goto(link.pathname + link.search);
  await intruder.getByRole("button", { name: "Sign in with Microsoft" }).click();
  await pickAccount(intruder, tenant.admin);
  await expect(intruder.getByRole("heading", { name: /not the Microsoft account you sign in with|isn't connected to an account here/ })).toBeVisible();
  await intruder.goto("/settings");
  await expect(intruder).toHaveURL(/\/login/);
  expect(await db.auditEvent.count({ where: { action: "invitation.accepted", actorId: uma.id } })).toBe(0);
  await other.close();

  // Uma's own account completes it.
  const mine = await browser.newContext();
  const invitee = await mine.newPage();
  await invitee.goto(link.pathname + link.search);
  await invitee.getByRole("button", { name: "Sign in with Microsoft" }).click();
  await pickAccount(invitee, tenant.user);
  await expect(invitee.getByRole("heading", { name: /Welcome, Uma User/ })).toBeVisible();
  expect(await db.auditEvent.count({ where: { action: "invitation.accepted", actorId: uma.id } })).toBe(1);
  await mine.close();
});
