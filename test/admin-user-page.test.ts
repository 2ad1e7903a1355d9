// Issue 15, the admin's page for one user: drawn once inside the admin layout, the styled 404 for members on
// every admin route, revoking a Microsoft link there, and a confirmation (a page, then a second POST with
// confirmed=yes, so it works without JavaScript) before revoking and before a user's own unlink.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import * as userPage from "~/routes/admin.users_.$id.tsx";
import * as microsoftSettings from "~/routes/settings.microsoft.tsx";
import { CONTOSO } from "./entra/fixture.ts";
import { createOrg, createUser, signedInAs } from "./helpers.ts";
import { occurrences, textOf, usePages } from "./admin-render.ts";

const render = usePages();
const ALEX = CONTOSO.users.find((u) => u.userPrincipalName === "alex@contoso.com")!;

async function ssoOrg() {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active", tenantDomain: "contoso.com" } });
  const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
  return { org, integration, admin };
}

/** A user of the org linked to Alex at Contoso (with or without a password), signed in with Microsoft. */
async function linkedUser(options: { password?: null } = {}) {
  const { org, integration, admin } = await ssoOrg();
  const { user } = await createUser({ orgId: org.id, ...options });
  await db.microsoftLink.create({
    data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: ALEX.oid, upn: ALEX.userPrincipalName },
  });
  const userBrowser = await signedInAs(user, "microsoft", CONTOSO.id);
  return { org, admin, user, userBrowser };
}

/** The form inside the element with this test id, or null. */
const formIn = (html: string, testId: string) => new RegExp(`<form[^>]*data-testid="${testId}"[\\s\\S]*?</form>`).exec(html)?.[0] ?? null;

describe("the user's page is drawn once", () => {
  it("has one site header and one main, inside the admin layout", async () => {
    const { admin, user } = await linkedUser();
    const page = await render(await signedInAs(admin), `/admin/users/${user.id}`);
    expect(page.status).toBe(200);
    expect(occurrences(page.html, /<header class="topbar"/)).toBe(1);
    expect(occurrences(page.html, /<main[ >]/)).toBe(1);
    expect(occurrences(page.html, /<h1[ >]/)).toBe(1);
    expect(textOf(page.html)).toContain(user.name);
  });
});

/**
 * Admin routes without a page component (downloads): Remix hands their thrown 404 over as it is, plain text.
 * None yet; each one listed here says why that is acceptable for it.
 */
const RESOURCE_ROUTES: Record<string, string> = {
  "admin.audit_.export.tsx": "a file download (CSV or JSON Lines): a member gets a bare 404, as for any file",
  "admin.sso_.preview.tsx": "a file download (CSV): a member gets a bare 404, as for any file",
  "admin.integrations.$id_.preview.tsx": "a file download (CSV): a member gets a bare 404, as for any file",
  "admin.sync_.preview.tsx": "a file download (CSV): a member gets a bare 404, as for any file",
};

/** Every admin route file, as a URL a member could type (parameters filled with a made-up id). */
function adminUrls() {
  return readdirSync("app/routes")
    .filter((f) => /^admin[._]/.test(f) || /^admin\.tsx$/.test(f))
    .map((file) => {
      const segments = file
        .replace(/\.tsx?$/, "")
        .split(".")
        .filter((s) => s !== "_index")
        .map((s) => (s.startsWith("$") ? "c0ffee00000000000000000000" : s.replace(/_$/, "")));
      return [file, `/${segments.join("/")}`] as const;
    });
}

describe("admin routes for a member answer the portal's styled 404", () => {
  const urls = adminUrls();
  it("finds the admin routes", () => {
    expect(urls.map(([, url]) => url)).toEqual(expect.arrayContaining(["/admin", "/admin/users", "/admin/users/c0ffee00000000000000000000"]));
  });

  it.each(urls)("%s (%s)", async (file, url) => {
    const { user } = await createUser();
    const page = await render(await signedInAs(user), url);
    expect(page.status).toBe(404);
    const resource = !/export default/.test(readFileSync(`app/routes/${file}`, "utf8"));
    if (resource && file in RESOURCE_ROUTES) return;
    expect(resource, `${file} has no page component, so a member's 404 is bare text: give it one, or list it in RESOURCE_ROUTES with why`).toBe(false);
    expect(page.type).toMatch(/^text\/html/);
    expect(textOf(page.html)).toContain("Page not found");
    expect(page.html).toContain("styles");
  });

  it("another org's user id on the user page is the same styled 404, for an admin", async () => {
    const { user } = await linkedUser();
    const { admin: stranger } = await ssoOrg();
    const page = await render(await signedInAs(stranger), `/admin/users/${user.id}`);
    expect(page.status).toBe(404);
    expect(textOf(page.html)).toContain("Page not found");
    expect(page.html).not.toContain(user.name);
  });
});

describe("revoking a Microsoft link on the user's page", () => {
  const post = (b: Awaited<ReturnType<typeof signedInAs>>, id: string, form: Record<string, string>) =>
    b.post(userPage.action, `/admin/users/${id}`, form, { id });

  it("offers 'Revoke link…', which opens the confirmation; nothing changes until it is confirmed", async () => {
    const { admin, user } = await linkedUser();
    const b = await signedInAs(admin);
    const page = await render(b, `/admin/users/${user.id}`);
    expect(page.html).toContain(`href="/admin/users/${user.id}?confirm=revoke"`);
    expect(formIn(page.html, "revoke-confirm")).toBeNull();

    // A POST without the confirmation's yes (an old form, a replayed request) only leads to the confirmation.
    const unconfirmed = await post(b, user.id, { intent: "revoke" });
    expect(unconfirmed.location).toBe(`/admin/users/${user.id}?confirm=revoke`);
    expect(await db.microsoftLink.count()).toBe(1);
    expect(await db.auditEvent.count({ where: { action: "link.revoked" } })).toBe(0);

    const confirm = await render(b, unconfirmed.location!);
    const form = formIn(confirm.html, "revoke-confirm")!;
    expect(form).toMatch(/method="post"/);
    expect(form).toContain('name="confirmed" value="yes"');
    expect(form).toMatch(/<button[^>]*name="intent"[^>]*value="revoke"/);
    expect(textOf(form)).toContain("They sign in with their password and authenticator app again.");
  });

  it("the confirmed POST revokes: the link goes, their Microsoft sessions end, one audit event", async () => {
    const { admin, user } = await linkedUser();
    const b = await signedInAs(admin);
    const r = await post(b, user.id, { intent: "revoke", confirmed: "yes" });
    expect(r.location).toBe(`/admin/users/${user.id}`);
    expect(await db.microsoftLink.count()).toBe(0);
    expect(await db.session.count({ where: { userId: user.id } })).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "link.revoked", actorId: admin.id, targetId: user.id } })).toBe(1);
    const after = textOf((await render(b, `/admin/users/${user.id}`)).html);
    expect(after).toContain("was revoked and their Microsoft sessions ended");
    expect(after).toContain("Password + authenticator app");

    // The same confirmed POST again (a second tab, a double submit): a sentence, nothing else happens.
    const again = await post(b, user.id, { intent: "revoke", confirmed: "yes" });
    expect(again.status).toBe(400);
    expect(again.data.error).toBe(`${user.name} has no linked Microsoft account.`);
    expect(await db.auditEvent.count({ where: { action: "link.revoked" } })).toBe(1);
  });

  it("says when revoking leaves the user with nothing, and offers the set-password email", async () => {
    const { admin, user } = await linkedUser({ password: null });
    const b = await signedInAs(admin);
    const form = formIn((await render(b, `/admin/users/${user.id}?confirm=revoke`)).html, "revoke-confirm")!;
    expect(textOf(form)).toContain("has no password: they are left with no way to sign in until they set one.");
    expect(form).toMatch(/<input type="checkbox" name="sendLink" checked="" value="yes"/);
    await post(b, user.id, { intent: "revoke", confirmed: "yes", sendLink: "yes" });
    expect((await db.outgoingMail.findMany()).map((m) => [m.to, m.template])).toEqual([[user.email, "set-password"]]);
  });

  it("another org's admin gets the 404 and changes nothing, confirmed or not", async () => {
    const { user } = await linkedUser();
    const { admin: stranger } = await ssoOrg();
    const b = await signedInAs(stranger);
    for (const form of [{ intent: "revoke" }, { intent: "revoke", confirmed: "yes" }] as Record<string, string>[])
      expect((await post(b, user.id, form)).status).toBe(404);
    expect((await b.get(userPage.loader, `/admin/users/${user.id}?confirm=revoke`, { id: user.id })).status).toBe(404);
    expect(await db.microsoftLink.count()).toBe(1);
  });

  it("a member cannot revoke", async () => {
    const { org, user } = await linkedUser();
    const { user: member } = await createUser({ orgId: org.id });
    expect((await post(await signedInAs(member), user.id, { intent: "revoke", confirmed: "yes" })).status).toBe(404);
    expect(await db.microsoftLink.count()).toBe(1);
  });

  it("the users list links to the confirmation instead of revoking in one click", async () => {
    const { admin, user } = await linkedUser();
    const html = (await render(await signedInAs(admin), "/admin/users")).html;
    expect(html).toContain(`href="/admin/users/${user.id}?confirm=revoke"`);
    expect(html).not.toMatch(/value="revoke"/);
  });
});

describe("unlinking one's own Microsoft account asks first", () => {
  it("a POST without the yes leads to the confirmation page; the confirmed POST unlinks", async () => {
    const { user, userBrowser: b } = await linkedUser();
    const page = await render(b, "/settings/microsoft");
    expect(page.html).toContain('href="/settings/microsoft?confirm=unlink"');
    expect(formIn(page.html, "unlink-confirm")).toBeNull();

    const unconfirmed = await b.post(microsoftSettings.action, "/settings/microsoft", { intent: "unlink" });
    expect(unconfirmed.location).toBe("/settings/microsoft?confirm=unlink");
    expect(await db.microsoftLink.count()).toBe(1);
    expect(await db.session.count({ where: { userId: user.id } })).toBe(1);

    const form = formIn((await render(b, unconfirmed.location!)).html, "unlink-confirm")!;
    expect(form).toMatch(/method="post"/);
    expect(form).toContain('name="confirmed" value="yes"');
    expect(textOf(form)).toContain("Unlink your Microsoft account?");

    const done = await b.post(microsoftSettings.action, "/settings/microsoft?confirm=unlink", { intent: "unlink", confirmed: "yes" });
    expect(done.location).toBe("/login");
    expect(await db.microsoftLink.count()).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "link.removed", actorId: user.id } })).toBe(1);
  });

  it("the confirmation page of someone with no link shows no unlink form", async () => {
    const { user } = await createUser();
    const html = (await render(await signedInAs(user), "/settings/microsoft?confirm=unlink")).html;
    expect(formIn(html, "unlink-confirm")).toBeNull();
  });
});
