// The Entra ID Sync page in the browser (issue 15), with and without JavaScript: find a group by name, pick it,
// sync it (the history says "Full"), and the scope change back to the whole tenant says nobody is deactivated
// because of the scope; the group change says how many users would be.
import { randomUUID } from "node:crypto";
import { db } from "../app/lib/db.server.ts";
import { expect, newAccount, signIn, test } from "./fixtures.ts";

const standin = process.env.ENTRA_AUTHORITY_HOST!;

test("pick a group by name, sync it, and see what a scope change deactivates", async ({ page, request }) => {
  test.setTimeout(90_000);
  const id = randomUUID();
  const domain = `g${id.slice(0, 8)}.example.com`;
  const people = ["Ada", "Bo", "Cy"].map((name) => ({
    oid: randomUUID(),
    displayName: `${name} Person`,
    userPrincipalName: `${name.toLowerCase()}@${domain}`,
    mail: `${name.toLowerCase()}@${domain}`,
    accountEnabled: true,
    isAdmin: name === "Ada",
  }));
  const design = { id: randomUUID(), displayName: 'Design "core" team', members: [people[0]!.oid] };
  const created = await request.post(`${standin}/_standin/tenants`, {
    data: {
      id,
      displayName: `Groups ${domain}`,
      domains: [`g${id.slice(0, 8)}.onmicrosoft.com`, domain],
      adminConsent: true,
      users: people,
      groups: [design, { id: randomUUID(), displayName: "Design ops", members: [] }, { id: randomUUID(), displayName: "Finance", members: [] }],
    },
  });
  expect(created.ok()).toBe(true);
  const admin = await newAccount({ role: "admin" });
  await db.organization.update({ where: { id: admin.orgId }, data: { ssoLicensed: true } });
  const integration = await db.integration.create({
    data: { orgId: admin.orgId, tenantId: id, tenantDomain: domain, status: "active", displayName: "Groups" },
  });

  await signIn(page, admin);
  await page.goto("/admin/sync");
  // The whole tenant first, synced once.
  await page.getByLabel("Sync connection").selectOption(integration.id);
  await page.getByLabel("The whole tenant").check();
  await page.getByRole("button", { name: "Start syncing" }).click();
  await page.getByRole("button", { name: "Sync now" }).click();
  await expect(async () => {
    await page.goto("/admin/sync");
    await expect(page.getByRole("table").getByText("Succeeded").first()).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByRole("table")).toContainText("Full");

  // Find the group by name: the matches come back as radio buttons, the typed text stays.
  await page.getByLabel("The members of one group").check();
  await page.getByLabel("Find the group by name (for a group scope)").fill('design "core');
  await page.getByRole("button", { name: "Find groups" }).click();
  await expect(page.getByLabel("Find the group by name (for a group scope)")).toHaveValue('design "core');
  await page.getByLabel('Design "core" team').check();
  await page.getByRole("button", { name: "Change…" }).click();
  await expect(page.getByTestId("scope-impact")).toHaveText(
    `2 of the 3 users synced now from Groups are not in the group Design "core" team and will be deactivated at the next sync (and signed out).`,
  );
  await expect(page.getByRole("listitem").filter({ hasText: "Bo Person" })).toBeVisible();
  await page.getByRole("button", { name: "Change the scope" }).click();
  await expect(page.getByTestId("connection-summary")).toContainText(`members of Design "core" team (${design.id})`);

  // Back to the whole tenant: nobody is deactivated because of the scope.
  await page.getByLabel("The whole tenant").check();
  await page.getByRole("button", { name: "Change…" }).click();
  await expect(page.getByTestId("scope-impact")).toContainText("nobody is deactivated because of the scope");
});
