// Issue 13.2 in the browser: registering a tenant needs a sign-in by an admin of that tenant, after consent;
// a Microsoft account without an admin role is refused with a page that says so, and nothing turns active.
import { expect, licensedAdmin, newTenant, pickAccount, signIn, test } from "./fixtures.ts";

test("13.2 a non-admin Microsoft account is refused with a clear page; the tenant's admin then activates it", async ({ page, request }) => {
  const tenant = await newTenant(request);
  const admin = await licensedAdmin();
  await signIn(page, admin);
  await page.goto("/admin/integrations");
  await page.getByLabel("Tenant ID or domain").fill(tenant.domain);
  await page.getByRole("button", { name: "Continue to Microsoft" }).click();
  await pickAccount(page, tenant.admin);
  await page.getByRole("button", { name: "Accept" }).click();

  // The ownership sign-in: a plain user of the tenant is not enough.
  await pickAccount(page, tenant.user);
  await expect(page.getByRole("heading", { name: "That Microsoft account is not an admin of the tenant" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("The tenant was not activated.");
  await page.getByRole("link", { name: "Back to the integration" }).click();
  await expect(page.getByTestId("ownership")).toContainText("an admin of the tenant must sign in");
  await expect(page.getByText("Waiting for consent")).toBeVisible();

  await page.getByRole("button", { name: "Sign in as a tenant admin" }).click();
  await pickAccount(page, tenant.admin);
  await expect(page.getByText(/Ownership proven: .* the integration is active\./)).toBeVisible();
  await expect(page.getByTestId("ownership")).toContainText(`by ${tenant.admin}, Global Administrator of the tenant`);
});
