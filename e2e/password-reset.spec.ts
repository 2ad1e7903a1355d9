import { expect, PASSWORD, test, totp } from "./fixtures.ts";

test("forgotten password through the outbox, and the next sign-in still asks for the code", async ({ page, account }) => {
  await page.goto("/login");
  await page.getByLabel("Email address or mobile number").fill(account.email);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByLabel("Email address or mobile number").fill(account.email);
  await page.getByRole("button", { name: "Send reset link" }).click();
  await expect(page.getByRole("status")).toContainText("If an account exists");

  // The mail worker delivers to the outbox within a few seconds.
  await expect(async () => {
    await page.goto("/dev/outbox");
    await page
      .getByRole("row", { name: new RegExp(account.email) })
      .getByRole("link")
      .first()
      .click({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  const link = page.getByRole("link", { name: /reset-password\?token=/ }).first();
  await page.goto((await link.getAttribute("href"))!);

  const fresh = "a fresh passphrase 42";
  await page.getByLabel("New password", { exact: true }).fill(fresh);
  await page.getByLabel("Repeat the new password").fill(fresh);
  await page.getByRole("button", { name: "Set password" }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByText(/Your password is set/)).toBeVisible();

  await page.getByLabel("Email address or mobile number").fill(account.email);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("don't match");
  await page.getByLabel("Password").fill(fresh);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/login\/totp/);
  await page.getByLabel("6-digit code from your authenticator app").fill(await totp(account.secret));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
});
