// Entra ID Sync and SSO for synced users in the browser: set up sync on a stand-in tenant, run it, turn SSO
// on for all synced users, a synced user signs in with Microsoft; then SSO off with set-password emails, and
// the user sets a password from the outbox and signs in with password + TOTP enrolment.
import { randomUUID } from "node:crypto";
import type { Page } from "@playwright/test";
import { db } from "../app/lib/db.server.ts";
import { expect, enterIdentifier, newAccount, signIn, test, totp } from "./fixtures.ts";

const standin = process.env.ENTRA_AUTHORITY_HOST!;

async function openMail(page: Page, to: string) {
  await expect(async () => {
    await page.goto("/dev/outbox");
    await page
      .getByRole("row", { name: new RegExp(to.replace(/[.]/g, "\\.")) })
      .getByRole("link")
      .first()
      .click({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });
}

test("sync a tenant, SSO for all synced users, then back to passwords through set-password emails", async ({ page, browser, request }) => {
  test.setTimeout(120_000);
  const id = randomUUID();
  const domain = `s${id.slice(0, 8)}.example.com`;
  const synced = { oid: randomUUID(), upn: `sam@${domain}` };
  const created = await request.post(`${standin}/_standin/tenants`, {
    data: {
      id,
      displayName: `Sync ${domain}`,
      domains: [`s${id.slice(0, 8)}.onmicrosoft.com`, domain],
      adminConsent: true,
      users: [
        { oid: randomUUID(), displayName: "Tess Admin", userPrincipalName: `tess@${domain}`, mail: `tess@${domain}`, accountEnabled: true, isAdmin: true },
        {
          oid: synced.oid,
          displayName: "Sam Synced",
          userPrincipalName: synced.upn,
          mail: synced.upn,
          jobTitle: "Engineer",
          accountEnabled: true,
          isAdmin: false,
        },
      ],
    },
  });
  expect(created.ok()).toBe(true);

  const admin = await newAccount({ role: "admin" });
  await db.organization.update({ where: { id: admin.orgId }, data: { ssoLicensed: true } });
  const integration = await db.integration.create({
    data: { orgId: admin.orgId, tenantId: id, tenantDomain: domain, status: "active", displayName: `Sync ${domain}` },
  });

  await signIn(page, admin);
  await page.goto("/admin/sync");
  await page.getByLabel("Sync connection").selectOption(integration.id);
  await page.getByLabel("The whole tenant").check();
  await page.getByRole("button", { name: "Start syncing" }).click();
  await page.getByRole("button", { name: "Sync now" }).click();
  await expect(async () => {
    await page.goto("/admin/sync");
    await expect(page.getByRole("table").getByText("Succeeded").first()).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 30_000 });

  await page.goto("/admin/users?show=synced");
  await expect(page.getByRole("link", { name: "Sam Synced" })).toBeVisible();

  await page.goto("/admin/sso");
  await page.getByRole("button", { name: "Enable SSO" }).click();
  await expect(page.getByText("SSO is on.")).toBeVisible();
  await page.getByRole("button", { name: "Enable for all synced users" }).click();
  await expect(page.getByText(/SSO for all synced users is on\./)).toBeVisible();

  // Sam signs in with Microsoft: the identifier sends him there, the synced (tid, oid) lets him in.
  const sam = await browser.newContext();
  const samPage = await sam.newPage();
  await enterIdentifier(samPage, synced.upn);
  await expect(samPage.getByRole("heading", { name: "Pick an account" })).toBeVisible();
  await samPage.getByRole("button", { name: new RegExp(synced.upn.replace(/[.]/g, "\\.")) }).click();
  await expect(samPage.getByRole("heading", { name: "Welcome, Sam Synced" })).toBeVisible();

  // Off again: the preview says Sam is left with nothing, and the admin emails him a set-password link.
  await page.getByRole("button", { name: "Turn off for all synced users…" }).click();
  await expect(page.getByTestId("switch-preview")).toContainText("Sam Synced");
  await expect(page.getByLabel(/Email the 2 users with an email address a link to set a password/)).toBeChecked();
  await page.getByRole("button", { name: "Turn off for all synced users" }).click();
  await expect(page.getByText(/Set-password links sent to 2 user/)).toBeVisible();

  await samPage.context().clearCookies();
  await openMail(samPage, synced.upn);
  const link = samPage.getByRole("link", { name: /reset-password\?token=/ }).first();
  await samPage.goto((await link.getAttribute("href"))!);
  await samPage.getByLabel("New password", { exact: true }).fill("sam's new passphrase");
  await samPage.getByLabel("Repeat the new password").fill("sam's new passphrase");
  await samPage.getByRole("button", { name: "Set password" }).click();
  await expect(samPage.getByText(/Your password is set/)).toBeVisible();

  await enterIdentifier(samPage, synced.upn);
  await samPage.getByLabel("Password").fill("sam's new passphrase");
  await samPage.getByRole("button", { name: "Sign in" }).click();
  await expect(samPage).toHaveURL(/\/login\/enrol/);
  const uri = await samPage.getByTestId("totp-secret").getAttribute("data-uri");
  await samPage.getByLabel("6-digit code from the app").fill(await totp(new URL(uri!).searchParams.get("secret")!));
  await samPage.getByRole("button", { name: "Confirm and continue" }).click();
  await samPage.getByRole("link", { name: "I've saved my codes, continue" }).click();
  await expect(samPage.getByRole("heading", { name: "Welcome, Sam Synced" })).toBeVisible();
  await sam.close();
});
