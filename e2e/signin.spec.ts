import { expect, enterIdentifier, newAccount, PASSWORD, signIn, test, totp } from "./fixtures.ts";

test("password + TOTP sign-in, then sign out", async ({ page, account }) => {
  await signIn(page, account);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByText("You're signed out.")).toBeVisible();
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?redirectTo=%2Fsettings/);
});

test("unknown identifiers get the same password page and the same error", async ({ page, account }) => {
  await enterIdentifier(page, "nobody-here@example.test");
  await expect(page.getByLabel("Password")).toBeVisible();
  await page.getByLabel("Password").fill("whatever it is");
  await page.getByRole("button", { name: "Sign in" }).click();
  const unknownError = await page.getByRole("alert").textContent();

  await enterIdentifier(page, account.email);
  await page.getByLabel("Password").fill("wrong password!");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText(unknownError!);
});

test("a wrong code is refused with a clear message, a right one signs in", async ({ page, account }) => {
  await enterIdentifier(page, account.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("6-digit code from your authenticator app").fill("000000");
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("alert")).toContainText("isn't valid");
  await page.getByLabel("6-digit code from your authenticator app").fill(await totp(account.secret));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
});

test("first sign-in: enrol with the key as text, get recovery codes, later sign in with one", async ({ page }) => {
  const account = await newAccount({ totp: false });
  await enterIdentifier(page, account.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/login\/enrol/);
  const uri = await page.getByTestId("totp-secret").getAttribute("data-uri");
  const secret = new URL(uri!).searchParams.get("secret")!;
  await expect(page.getByTestId("totp-secret")).toHaveText(secret.match(/.{1,4}/g)!.join(" "));
  await page.getByLabel("6-digit code from the app").fill(await totp(secret));
  await page.getByRole("button", { name: "Confirm and continue" }).click();
  await expect(page.getByTestId("recovery-codes").locator("li")).toHaveCount(10);
  const codes = await page.getByTestId("recovery-codes").locator("li").allTextContents();
  await page.getByRole("link", { name: "I've saved my codes, continue" }).click();
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  // The sign-out is a POST: let it finish before the next navigation (a navigation would abort it).
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);

  await enterIdentifier(page, account.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("6-digit code from your authenticator app").fill(codes[0]!);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: /Welcome/ })).toBeVisible();
});

test("the sign-in page fits a phone screen", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/login");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth).catch(() => null);
  // Without JavaScript evaluate still works (it is the test driver's, not the page's).
  expect(overflow).toBe(0);
  await expect(page.getByLabel("Email address or mobile number")).toBeVisible();
});
