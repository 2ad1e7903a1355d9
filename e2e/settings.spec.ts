import { expect, PASSWORD, signIn, test } from "./fixtures.ts";

test("change password: a wrong current password is explained, the right one works", async ({ page, account }) => {
  await signIn(page, account);
  await page.goto("/settings/password");
  await page.getByLabel("Current password").fill("not my password");
  await page.getByLabel("New password", { exact: true }).fill("new pass phrase 1");
  await page.getByLabel("Repeat the new password").fill("new pass phrase 1");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("That is not your current password.")).toBeVisible();
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill("new pass phrase 1");
  await page.getByLabel("Repeat the new password").fill("new pass phrase 1");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText(/^Password changed/)).toBeVisible();
});

test("sessions: see both devices and sign the other one out", async ({ browser, account }) => {
  const laptop = await browser.newContext();
  const phone = await browser.newContext();
  const a = await laptop.newPage();
  const b = await phone.newPage();
  await signIn(a, account, PASSWORD, -1);
  await signIn(b, account, PASSWORD, 0);
  await a.goto("/settings/sessions");
  await expect(a.getByRole("row")).toHaveCount(3);
  await expect(a.getByText("This device")).toBeVisible();
  await a.getByRole("button", { name: /Sign out all other sessions \(1\)/ }).click();
  await expect(a.getByText("Signed out 1 session.")).toBeVisible();
  await b.goto("/settings");
  await expect(b).toHaveURL(/\/login/);
  await laptop.close();
  await phone.close();
});
