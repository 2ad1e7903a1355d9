import { expect, newAccount, signIn, test, totp } from "./fixtures.ts";

test("an admin invites someone, who sets a password from the email, enrols TOTP and lands signed in", async ({ page }) => {
  const admin = await newAccount({ role: "admin" });
  const email = `invitee-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.test`;
  await signIn(page, admin);

  await page.goto("/admin/invitations");
  await page.getByLabel("Email address").fill("not an email");
  await page.getByLabel("Name", { exact: true }).fill("Ada Lovelace");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByText(/Enter a valid email address/)).toBeVisible();
  // What was typed is still there.
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("Ada Lovelace");
  await page.getByLabel("Email address").fill(email);
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status")).toContainText(`Invitation sent to ${email}`);
  await expect(page.getByTestId(`invitation-${email}`)).toContainText("Pending");

  // The mail worker delivers to the outbox within a few seconds.
  await expect(async () => {
    await page.goto("/dev/outbox");
    await page
      .getByRole("row", { name: new RegExp(email) })
      .getByRole("link")
      .first()
      .click({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  const href = await page
    .getByRole("link", { name: /\/invite\?token=/ })
    .first()
    .getAttribute("href");
  await page.goto(href!);

  await expect(page.getByRole("heading", { name: "Set your password" })).toBeVisible();
  const password = "an invited passphrase 7";
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the new password").fill(password + "!");
  await page.getByRole("button", { name: "Set password" }).click();
  await expect(page.getByText("The two passwords don't match.")).toBeVisible();
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the new password").fill(password);
  await page.getByRole("button", { name: "Set password" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByText(/Your password is set/)).toBeVisible();

  await page.getByLabel("Email address or mobile number").fill(email);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/login\/enrol/);
  const uri = await page.getByTestId("totp-secret").getAttribute("data-uri");
  const secret = new URL(uri!).searchParams.get("secret")!;
  await page.getByLabel("6-digit code from the app").fill(await totp(secret));
  await page.getByRole("button", { name: "Confirm and continue" }).click();
  await expect(page.getByTestId("recovery-codes").locator("li")).toHaveCount(10);
  await page.getByRole("link", { name: "I've saved my codes, continue" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Ada Lovelace" })).toBeVisible();

  // The link worked once.
  await page.goto(href!);
  await expect(page.getByRole("heading", { name: "This invitation link is no longer valid" })).toBeVisible();
});
