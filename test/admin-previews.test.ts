// Issue 15, previews at scale: turning a switch off at thousands of users shows counts and the first names, not
// every name; the full lists are a CSV download; the same for removing an integration.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { PREVIEW_NAMES } from "~/lib/preview-summary.ts";
import * as ssoPreview from "~/routes/admin.sso_.preview.tsx";
import * as integrationPreview from "~/routes/admin.integrations.$id_.preview.tsx";
import { FABRIKAM } from "./entra/fixture.ts";
import { createOrg, createUser, signedInAs } from "./helpers.ts";
import { textOf, usePages } from "./admin-render.ts";

const render = usePages();
const SYNCED = 1500;

/** A licensed org syncing Fabrikam with SSO for all synced users: SYNCED synced users, none with a password. */
async function bigOrg() {
  const org = await createOrg();
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: FABRIKAM.id, status: "active" } });
  await db.organization.update({
    where: { id: org.id },
    data: { ssoLicensed: true, ssoEnabled: true, ssoForAllSynced: true, syncIntegrationId: integration.id },
  });
  const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
  await db.user.createMany({
    data: Array.from({ length: SYNCED }, (_, i) => ({
      orgId: org.id,
      name: `Synced ${String(i).padStart(4, "0")}`,
      email: i % 10 === 0 ? null : `synced${i}-${org.id}@fabrikam.test`,
      source: "synced",
      entraTenantId: FABRIKAM.id,
      entraObjectId: `oid-${org.id}-${i}`,
      syncIntegrationId: integration.id,
    })),
  });
  return { org, integration, admin, b: await signedInAs(admin) };
}

describe("previews at scale", () => {
  it("the confirmation of turning SSO off for all synced users shows counts and the first names, with the full list as CSV", async () => {
    const { b } = await bigOrg();
    const page = await render(b, "/admin/sso?confirm=off-all");
    expect(page.status).toBe(200);
    const text = textOf(page.html);
    expect(text).toContain("1,500 users are left with no way to sign in (no password)");
    expect(text).toContain(`…and ${(SYNCED - PREVIEW_NAMES).toLocaleString("en")} more users.`);
    expect(text).toContain("Email the 1,350 users with an email address a link to set a password");
    expect(text).toContain("150 of them have no email address");
    expect(page.html.match(/<li>Synced \d{4}/g)?.length).toBe(PREVIEW_NAMES);
    // A page, not a directory: 1,500 names would be ~150 kB of list alone.
    expect(page.html.length).toBeLessThan(40_000);
    expect(page.html).toContain('href="/admin/sso/preview?switch=all&amp;enabled=off"');

    const csv = await b.get(ssoPreview.loader as never, "/admin/sso/preview?switch=all&enabled=off");
    expect(csv.status).toBe(200);
    const lines = (csv.data as string).trimEnd().split("\r\n");
    expect(lines[0]).toBe("name,email,role,after the change");
    expect(lines).toHaveLength(SYNCED + 1);
    expect(lines.filter((l) => l.endsWith(",no way to sign in"))).toHaveLength(SYNCED);
  }, 120_000);

  it("the integration's removal preview is summarised too, and its CSV lists everyone it moves", async () => {
    const { integration, b } = await bigOrg();
    const page = await render(b, `/admin/integrations/${integration.id}`);
    expect(page.html.match(/<li>Synced \d{4}/g)?.length).toBe(PREVIEW_NAMES);
    const csv = await b.get(integrationPreview.loader as never, `/admin/integrations/${integration.id}/preview`, { id: integration.id });
    expect((csv.data as string).trimEnd().split("\r\n")).toHaveLength(SYNCED + 1);
  }, 120_000);

  it("refuses a bad query, another org's integration and a member", async () => {
    const { integration } = await bigOrg();
    const stranger = await signedInAs((await createUser({ orgId: (await createOrg()).id, role: "admin" })).user);
    expect((await stranger.get(ssoPreview.loader as never, "/admin/sso/preview?switch=everything&enabled=off")).status).toBe(400);
    expect((await stranger.get(integrationPreview.loader as never, `/admin/integrations/${integration.id}/preview`, { id: integration.id })).status).toBe(404);
    const member = await signedInAs((await createUser({ orgId: integration.orgId })).user);
    expect((await member.get(ssoPreview.loader as never, "/admin/sso/preview?switch=all&enabled=off")).status).toBe(404);
  }, 120_000);
});
