// Microsoft integrations and linking in the browser, against the stand-in for Entra ID that e2e/serve.sh
// starts. Every test registers its own tenant in the stand-in, so tests never share one.
import { db } from "../app/lib/db.server.ts";
import { expect, enterIdentifier, licensedAdmin, newAccount, newTenant, orgWithActiveTenant, PASSWORD, pickAccount, signIn, test } from "./fixtures.ts";

test("an admin adds a tenant, consents at Microsoft, and sees it active", async ({ page, request }) => {
  const tenant = await newTenant(request);
  const admin = await licensedAdmin();
  await signIn(page, admin);
  await page.goto("/admin/integrations");
  await page.getByLabel("Tenant ID or domain").fill(tenant.domain);
  await page.getByRole("button", { name: "Continue to Microsoft" }).click();

  await pickAccount(page, tenant.admin);
  await expect(page.getByRole("heading", { name: "Permissions requested" })).toBeVisible();
  await page.getByRole("button", { name: "Accept" }).click();
  // Consent alone proves nothing about who owns the tenant: its admin signs in next (issue 13.2).
  await pickAccount(page, tenant.admin);

  await expect(page.getByText(/Ownership proven: you signed in as an admin of the tenant, and the integration is active\./)).toBeVisible();
  await expect(page.getByRole("heading", { name: /Tenant t[0-9a-f]+/ })).toBeVisible();
  await expect(page.getByText(tenant.id)).toBeVisible();
  await page.getByRole("link", { name: "← All integrations" }).click();
  await expect(page.getByRole("row", { name: /Tenant t[0-9a-f]+/ })).toContainText("Active");

  await page.getByRole("link", { name: "Manage single sign-on" }).click();
  await page.getByRole("button", { name: "Enable SSO" }).click();
  await expect(page.getByText("SSO is on for your organization.")).toBeVisible();
});

test("an admin who refuses consent sees Microsoft's reason, and a wrong input keeps what was typed", async ({ page, request }) => {
  const tenant = await newTenant(request);
  const admin = await licensedAdmin();
  await signIn(page, admin);
  await page.goto("/admin/integrations");
  await page.getByLabel("Tenant ID or domain").fill("not a tenant!");
  await page.getByRole("button", { name: "Continue to Microsoft" }).click();
  await expect(page.getByText(/Enter a tenant ID/)).toBeVisible();
  await expect(page.getByLabel("Tenant ID or domain")).toHaveValue("not a tenant!");

  await page.getByLabel("Tenant ID or domain").fill(tenant.id);
  await page.getByRole("button", { name: "Continue to Microsoft" }).click();
  await pickAccount(page, tenant.admin);
  await page.getByRole("button", { name: "Cancel" }).click();

  await expect(page.getByText(/consent was not granted/)).toBeVisible();
  await expect(page.getByTestId("failure-reason")).toContainText("AADSTS65004");
  await expect(page.getByRole("button", { name: "Consent again" })).toBeVisible();
});

test("link after password + TOTP (the password goes), sign in with Microsoft, unlink (a set-password link comes)", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await orgWithActiveTenant(tenant);

  await signIn(page, account, PASSWORD, -1);
  await expect(page.getByRole("heading", { name: "Sign in with your Microsoft account from now on?" })).toBeVisible();
  await page.getByRole("button", { name: "Use Microsoft" }).click();
  await pickAccount(page, tenant.user);
  await expect(page.getByText(/Your Microsoft account is linked/)).toBeVisible();
  await expect(page.getByText(tenant.user).first()).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await enterIdentifier(page, account.email);
  await pickAccount(page, tenant.user);
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();

  // Linking replaced the password; unlinking ends the Microsoft session and mails a link to set a new one.
  await page.goto("/settings/microsoft");
  // Unlinking asks first.
  await page.getByRole("link", { name: "Unlink Microsoft account…" }).click();
  await page.getByTestId("unlink-confirm").getByRole("button", { name: "Unlink" }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByText(/Your Microsoft account is unlinked\. You have no password yet: we've emailed a link to set one/)).toBeVisible();
  expect((await db.user.findUniqueOrThrow({ where: { id: account.userId } })).passwordHash).toBeNull();
  expect(await db.microsoftLink.count({ where: { userId: account.userId } })).toBe(0);
});

test("a Microsoft account that isn't linked gets no session, even with a matching email", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await orgWithActiveTenant(tenant);
  await db.user.update({ where: { id: account.userId }, data: { email: tenant.user } });
  await page.goto("/login");
  await page.getByRole("button", { name: "Sign in with Microsoft" }).click();
  await pickAccount(page, tenant.user);
  await expect(page.getByRole("heading", { name: "This Microsoft account isn't connected to an account here" })).toBeVisible();
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login/);
});

test("an admin revokes a link and the user is back on password", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await orgWithActiveTenant(tenant);
  const integration = await db.integration.findFirstOrThrow({ where: { orgId: account.orgId } });
  await db.microsoftLink.create({
    data: { userId: account.userId, integrationId: integration.id, tenantId: tenant.id, objectId: tenant.userOid, upn: tenant.user },
  });
  const admin = await newAccount({ orgId: account.orgId, role: "admin" });

  await signIn(page, admin);
  await page.goto("/admin/users");
  const row = page.getByTestId(`user-${account.email}`);
  await expect(row).toContainText("Microsoft");
  // Revoking asks first, on the user's page.
  await row.getByRole("link", { name: /Revoke link/ }).click();
  await page.getByTestId("revoke-confirm").getByRole("button", { name: "Revoke link" }).click();
  await expect(page.getByText(/was revoked and their Microsoft sessions ended/)).toBeVisible();
  await expect(page.getByTestId("method")).toHaveText("Password + authenticator app");
  await page.goto("/admin/users");
  await expect(page.getByTestId(`user-${account.email}`)).toContainText("Password + TOTP");
});
