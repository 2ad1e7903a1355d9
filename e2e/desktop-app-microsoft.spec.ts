// Playwright as the system browser of a desktop app (openid-client as the app, the loopback redirect caught by the
// browser): a Microsoft user signs in identifier-first at the stand-in, a cancel at Microsoft gives the app
// nothing, and a method change away from Microsoft ends the app's sign-in (its refresh is refused).
import * as oidc from "openid-client";
import { db } from "../app/lib/db.server.ts";
import { createApp } from "../app/lib/oidc/clients.server.ts";
import { appConfig, authorizationRequest, outcome, redeem } from "../test/oidc-browser.ts";
import { expect, newAccount, newTenant, orgWithActiveTenant, pickAccount, signIn, test, type Tenant } from "./fixtures.ts";
import type { Page } from "@playwright/test";

const CALLBACK = "http://127.0.0.1:53119/callback";

/** A user of an org with the tenant active, linked to the tenant's user: their method is Microsoft. */
async function linkedUser(tenant: Tenant) {
  const account = await orgWithActiveTenant(tenant);
  const integration = await db.integration.findFirstOrThrow({ where: { orgId: account.orgId } });
  await db.microsoftLink.create({
    data: { userId: account.userId, integrationId: integration.id, tenantId: tenant.id, objectId: tenant.userOid, upn: tenant.user },
  });
  await db.user.update({ where: { id: account.userId }, data: { passwordHash: null } });
  return account;
}

/** Starts an app's sign-in in the page; resolves with the URL the browser was sent back to on the loopback port. */
async function appSignIn(page: Page) {
  const { app } = await createApp({ name: "Desktop", redirectUris: ["http://127.0.0.1/callback"] });
  const config = await appConfig(process.env.APP_ORIGIN!, app.clientId);
  const started = await authorizationRequest(config, CALLBACK);
  const back = new Promise<URL>((resolve) => {
    void page.route("http://127.0.0.1:53119/**", async (route) => {
      resolve(new URL(route.request().url()));
      await route.fulfill({ status: 200, contentType: "text/html", body: "<p>The app has it.</p>" });
    });
  });
  await page.goto(started.url.href);
  return { config, started, back };
}

test("a Microsoft user signs in to the app identifier-first at Microsoft, and a method change ends the app's sign-in", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await linkedUser(tenant);
  const { config, started, back } = await appSignIn(page);
  await page.getByLabel("Email address or mobile number").fill(account.email);
  await page.getByRole("button", { name: "Continue" }).click();
  await pickAccount(page, tenant.user);
  const tokens = await redeem(config, started, await back);
  expect(tokens.claims()!.sub).toBe(account.userId);
  expect(tokens.claims()!.amr).toEqual(["fed"]);
  expect(await outcome(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe("ok");

  // An admin revokes the link: Microsoft is no longer the user's method, so the app's Microsoft sign-in ends.
  const admin = await newAccount({ orgId: account.orgId, role: "admin" });
  const adminPage = await page.context().browser()!.newPage();
  await signIn(adminPage, admin);
  await adminPage.goto(`/admin/users/${account.userId}?confirm=revoke`);
  await adminPage.getByTestId("revoke-confirm").getByRole("button", { name: "Revoke link" }).click();
  await expect(adminPage.getByText(/was revoked and their Microsoft sessions ended/)).toBeVisible();
  const latest = await db.oidcPayload.count({ where: { accountId: account.userId, kind: "RefreshToken" } });
  expect(latest).toBe(0);
  await adminPage.close();
});

test("cancel at Microsoft gives the app no code, and says so", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await linkedUser(tenant);
  const { back } = await appSignIn(page);
  let returned = false;
  void back.then(() => (returned = true));
  await page.getByLabel("Email address or mobile number").fill(account.email);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("heading", { name: "Pick an account" })).toBeVisible();
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByText("Microsoft sign-in was cancelled")).toBeVisible();
  expect(returned).toBe(false);
  expect(await db.oidcPayload.count({ where: { accountId: account.userId, kind: "AuthorizationCode" } })).toBe(0);
});

test("the Microsoft button on the sign-in page signs a Microsoft user in to the app too", async ({ page, request }) => {
  const tenant = await newTenant(request, true);
  const account = await linkedUser(tenant);
  const { config, started, back } = await appSignIn(page);
  await page.getByRole("button", { name: "Sign in with Microsoft" }).click();
  await pickAccount(page, tenant.user);
  const tokens = await redeem(config, started, await back);
  expect(tokens.claims()!.sub).toBe(account.userId);
});
