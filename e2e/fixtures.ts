// Each test gets its own user (TOTP codes are single-use per user and time step) and helpers to sign in.
import { test as base, expect, type Page } from "@playwright/test";
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
