// Microsoft integrations and linking in the browser, against the stand-in for Entra ID that e2e/serve.sh
// starts. Every test registers its own tenant in the stand-in, so tests never share one.
import { randomUUID } from "node:crypto";
import type { APIRequestContext, Page } from "@playwright/test";
import { db } from "../app/lib/db.server.ts";
import { expect, enterIdentifier, newAccount, PASSWORD, signIn, test, totp } from "./fixtures.ts";

const standin = process.env.ENTRA_AUTHORITY_HOST!;

type Tenant = { id: string; domain: string; admin: string; user: string; userOid: string };

/** A new tenant in the stand-in, with one admin and one user, consented or not. */
async function newTenant(request: APIRequestContext, adminConsent = false): Promise<Tenant> {
  const id = randomUUID();
  const name = `t${id.slice(0, 8)}`;
  const domain = `${name}.example.com`;
  const userOid = randomUUID();
  const response = await request.post(`${standin}/_standin/tenants`, {
    data: {
      id,
      displayName: `Tenant ${name}`,
      domains: [`${name}.onmicrosoft.com`, domain],
      adminConsent,
      users: [
        { oid: randomUUID(), displayName: "Tina Admin", userPrincipalName: `admin@${domain}`, mail: `admin@${domain}`, accountEnabled: true, isAdmin: true },
        { oid: userOid, displayName: "Uma User", userPrincipalName: `uma@${domain}`, mail: `uma@${domain}`, accountEnabled: true, isAdmin: false },
      ],
    },
  });
  expect(response.ok(), await response.text()).toBe(true);
  return { id, domain, admin: `admin@${domain}`, user: `uma@${domain}`, userOid };
}

async function licensedAdmin() {
  const admin = await newAccount({ role: "admin" });
  await db.organization.update({ where: { id: admin.orgId }, data: { ssoLicensed: true } });
  return admin;
}

/** On the stand-in's "Pick an account" page: choose the account. */
async function pickAccount(page: Page, upn: string) {
  await expect(page.getByRole("heading", { name: "Pick an account" })).toBeVisible();
  await page.getByRole("button", { name: new RegExp(upn.replace(/[.]/g, "\\.")) }).click();
}

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

  await expect(page.getByText(/Consent confirmed: Tenant t[0-9a-f]+ is active\./)).toBeVisible();
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

/** A licensed org with SSO on and the tenant active, and a password + TOTP user in it. */
async function orgWithActiveTenant(tenant: Tenant) {
  const account = await newAccount();
  await db.organization.update({ where: { id: account.orgId }, data: { ssoLicensed: true, ssoEnabled: true } });
  await db.integration.create({ data: { orgId: account.orgId, tenantId: tenant.id, tenantDomain: tenant.domain, status: "active", displayName: "Tenant" } });
  return account;
}

test("link after password + TOTP, sign in with Microsoft, unlink, and password + TOTP again", async ({ page, request }) => {
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

  await page.goto("/settings/microsoft");
  await page.getByRole("button", { name: "Unlink" }).click();
  await expect(page.getByText(/Your Microsoft account is unlinked/)).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();

  await enterIdentifier(page, account.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("6-digit code from your authenticator app").fill(await totp(account.secret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/link-microsoft/);
  await page.getByRole("button", { name: "Don't ask again" }).click();
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
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
  await row.getByRole("button", { name: /Revoke link/ }).click();
  await expect(page.getByText(/was revoked and their Microsoft sessions ended/)).toBeVisible();
  await expect(page.getByTestId(`user-${account.email}`)).toContainText("Password + TOTP");
});
