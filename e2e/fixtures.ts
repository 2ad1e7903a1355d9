// Each test gets its own user (TOTP codes are single-use per user and time step) and helpers to sign in.
import { randomUUID } from "node:crypto";
import { test as base, expect, type APIRequestContext, type Page } from "@playwright/test";
import { db } from "../app/lib/db.server.ts";
import { generate } from "otplib";
import { createOrg, createUser, PASSWORD } from "../test/helpers.ts";

export { expect, PASSWORD };

type Account = { email: string; secret: string; userId: string; orgId: string };

export async function totp(secret: string, offsetSteps = 0) {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

export async function newAccount(opts: Parameters<typeof createUser>[0] = {}): Promise<Account> {
  const { user, secret } = await createUser({ email: `e2e-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.test`, ...opts });
  return { email: user.email!, secret, userId: user.id, orgId: user.orgId };
}

export async function enterIdentifier(page: Page, identifier: string) {
  await page.goto("/login");
  await page.getByLabel("Email address or mobile number").fill(identifier);
  await page.getByRole("button", { name: "Continue" }).click();
}

export async function signIn(page: Page, account: Account, password = PASSWORD, offsetSteps = 0) {
  await enterIdentifier(page, account.email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/login\/totp/);
  await page.getByLabel("6-digit code from your authenticator app").fill(await totp(account.secret, offsetSteps));
  await page.getByRole("button", { name: "Verify" }).click();
  // With JavaScript the redirect is a client-side navigation: let it land before the test moves on.
  await expect(page).not.toHaveURL(/\/login/);
}

export const test = base.extend<{ account: Account }>({
  account: async ({}, use) => {
    await use(await newAccount());
  },
});

export { createOrg };

// ---- the Microsoft stand-in (e2e/serve.sh starts it): every test registers its own tenant ----

const standin = process.env.ENTRA_AUTHORITY_HOST!;

export type Tenant = { id: string; domain: string; admin: string; user: string; userOid: string };

/** A new tenant in the stand-in, with one admin and one user, consented or not. */
export async function newTenant(request: APIRequestContext, adminConsent = false): Promise<Tenant> {
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

export async function licensedAdmin() {
  const admin = await newAccount({ role: "admin" });
  await db.organization.update({ where: { id: admin.orgId }, data: { ssoLicensed: true } });
  return admin;
}

/** On the stand-in's "Pick an account" page: choose the account. */
export async function pickAccount(page: Page, upn: string) {
  await expect(page.getByRole("heading", { name: "Pick an account" })).toBeVisible();
  await page.getByRole("button", { name: new RegExp(upn.replace(/[.]/g, "\\.")) }).click();
}

/** A licensed org with SSO on and the tenant active, and a password + TOTP user in it. */
export async function orgWithActiveTenant(tenant: Tenant) {
  const account = await newAccount();
  await db.organization.update({ where: { id: account.orgId }, data: { ssoLicensed: true, ssoEnabled: true } });
  await db.integration.create({ data: { orgId: account.orgId, tenantId: tenant.id, tenantDomain: tenant.domain, status: "active", displayName: "Tenant" } });
  return account;
}
