// The SSO switches: the org's, "all synced users", each synced user's; password removal when SSO starts,
// previews before anything turns off, the lock-out guard, and synced users signing in by (tid, oid).
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import * as sso from "~/routes/admin.sso.tsx";
import * as userPage from "~/routes/admin.users_.$id.tsx";
import * as usersList from "~/routes/admin.users.tsx";
import * as login from "~/routes/login._index.tsx";
import * as callback from "~/routes/auth.microsoft_.callback.tsx";
import { CONTOSO, FABRIKAM } from "./entra/fixture.ts";
import { Browser, createOrg, createUser, PASSWORD, signedInAs, type Browser as B } from "./helpers.ts";
import { appPath, signInAtMicrosoft, useStandin } from "./microsoft.ts";

useStandin();

const [NESTOR, PATTI, JOHANNA, PRADEEP] = FABRIKAM.users;

/** A licensed org syncing Fabrikam, with a password admin and synced users (who still have passwords). */
async function syncOrg(opts: { ssoEnabled?: boolean; adminSynced?: boolean } = {}) {
  const org = await createOrg();
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: FABRIKAM.id, status: "active" } });
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: opts.ssoEnabled ?? true, syncIntegrationId: integration.id } });
  const synced = async (who: (typeof FABRIKAM.users)[number], role = "member") => {
    const { user } = await createUser({ orgId: org.id, email: who!.mail ?? null, role });
    return db.user.update({
      where: { id: user.id },
      data: {
        source: "synced",
        entraTenantId: FABRIKAM.id,
        entraObjectId: who!.oid,
        entraUpn: who!.userPrincipalName,
        syncIntegrationId: integration.id,
        name: who!.displayName,
      },
    });
  };
  const admin = opts.adminSynced ? await synced(NESTOR, "admin") : (await createUser({ orgId: org.id, role: "admin" })).user;
  const patti = await synced(PATTI);
  const johanna = await synced(JOHANNA);
  const { user: local } = await createUser({ orgId: org.id });
  return { org, integration, admin, patti, johanna, local, b: await signedInAs(admin) };
}

const post = (b: B, form: Record<string, string>) => b.post(sso.action, "/admin/sso", form);
const userPost = (b: B, id: string, form: Record<string, string>) => b.post(userPage.action, `/admin/users/${id}`, form, { id });
const hash = async (id: string) => (await db.user.findUniqueOrThrow({ where: { id } })).passwordHash;

describe("SSO for all synced users", () => {
  it("removes synced users' passwords when it starts, keeps local users' and ongoing sessions", async () => {
    const { org, patti, johanna, local, b } = await syncOrg();
    await signedInAs(patti);
    const r = await post(b, { intent: "all", enabled: "on" });
    expect(r.location).toBe("/admin/sso");
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ ssoForAllSynced: true });
    expect(await hash(patti.id)).toBeNull();
    expect(await hash(johanna.id)).toBeNull();
    expect(await hash(local.id)).not.toBeNull();
    expect(await db.session.count({ where: { userId: patti.id } })).toBe(1);
    expect(await db.auditEvent.count({ where: { orgId: org.id, action: "org.sso_all_synced.enabled" } })).toBe(1);

    const page = (await b.get(sso.loader, "/admin/sso")).data;
    expect(page).toMatchObject({ ssoForAllSynced: true, synced: 2 });
  });

  it("sends a synced user from the identifier to Microsoft and signs them in by the synced tid + oid", async () => {
    const { patti, b } = await syncOrg();
    await post(b, { intent: "all", enabled: "on" });
    const browser = new Browser();
    const go = await browser.post(login.action, "/login?index", { intent: "identifier", identifier: patti.email! });
    expect(new URL(go.location!).searchParams.get("login_hint")).toBe(PATTI!.userPrincipalName);
    const done = await browser.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, PATTI!.userPrincipalName)));
    expect(done.location).toBe("/");
    expect(await db.session.findFirst({ where: { userId: patti.id, authMethod: "microsoft" } })).toMatchObject({ microsoftTenantId: FABRIKAM.id });
    // A Fabrikam account that sync did not bring in is nobody here.
    const other = new Browser();
    const go2 = await other.post(login.action, "/login?index", { intent: "identifier", identifier: patti.email! });
    expect((await other.get(callback.loader, appPath(await signInAtMicrosoft(go2.location!, PRADEEP!.userPrincipalName)))).data.problem.title).toMatch(
      /isn't connected/,
    );
  });

  it("locks the per-user switches while it is on", async () => {
    const { patti, b } = await syncOrg();
    await post(b, { intent: "all", enabled: "on" });
    const r = await userPost(b, patti.id, { intent: "sso", enabled: "off", confirmed: "yes" });
    expect(r.status).toBe(400);
    expect(r.data.error).toMatch(/no synced user can be excepted/);
  });

  it("turns off only after a preview; users without a password are offered set-password links", async () => {
    const { org, patti, johanna, b } = await syncOrg();
    await post(b, { intent: "all", enabled: "on" });
    expect((await post(b, { intent: "all", enabled: "off" })).location).toBe("/admin/sso?confirm=off-all");
    const preview = (await b.get(sso.loader, "/admin/sso?confirm=off-all")).data.preview;
    expect(preview.toNone.first.map((u: { id: string }) => u.id).sort()).toEqual([patti.id, johanna.id].sort());
    expect(preview.toPassword.count).toBe(0);
    await post(b, { intent: "all", enabled: "off", confirmed: "yes", sendLinks: "yes" });
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ ssoForAllSynced: false });
    expect((await db.outgoingMail.findMany()).map((m) => m.to).sort()).toEqual([patti.email, johanna.email].sort());
  });

  it("needs a sync connection", async () => {
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const r = await post(await signedInAs(admin), { intent: "all", enabled: "on" });
    expect(r.status).toBe(400);
    expect(r.data.error).toMatch(/Set up Entra ID Sync first/);
  });
});

describe("the per-user switch", () => {
  it("turns SSO on for one synced user (password removed) and off after a preview", async () => {
    const { patti, johanna, b } = await syncOrg();
    expect((await userPost(b, patti.id, { intent: "sso", enabled: "on" })).location).toBe(`/admin/users/${patti.id}`);
    expect(await hash(patti.id)).toBeNull();
    expect(await hash(johanna.id)).not.toBeNull();
    expect((await b.get(userPage.loader, `/admin/users/${patti.id}`, { id: patti.id })).data).toMatchObject({
      method: "microsoft",
      user: { ssoEnabled: true, hasPassword: false },
    });

    expect((await userPost(b, patti.id, { intent: "sso", enabled: "off" })).location).toBe(`/admin/users/${patti.id}?confirm=sso-off`);
    const page = (await b.get(userPage.loader, `/admin/users/${patti.id}?confirm=sso-off`, { id: patti.id })).data;
    expect(page.offPreview.toNone.first.map((u: { id: string }) => u.id)).toEqual([patti.id]);
    await userPost(b, patti.id, { intent: "sso", enabled: "off", confirmed: "yes", sendLinks: "yes" });
    expect((await b.get(userPage.loader, `/admin/users/${patti.id}`, { id: patti.id })).data).toMatchObject({ method: "none" });
    expect((await db.outgoingMail.findMany()).map((m) => [m.to, m.template])).toEqual([[patti.email, "set-password"]]);
  });

  it("keeps the password of a user whose SSO takes effect only when the org turns SSO on", async () => {
    const { patti, b } = await syncOrg({ ssoEnabled: false });
    const r = await userPost(b, patti.id, { intent: "sso", enabled: "on" });
    expect(r.location).toBe(`/admin/users/${patti.id}`);
    expect(await hash(patti.id)).not.toBeNull();
    // The org switch is what starts SSO for her, and removes the password then.
    await post(b, { intent: "org", enabled: "on" });
    expect(await hash(patti.id)).toBeNull();
  });

  it("has no per-user switch for users who are not synced", async () => {
    const { local, b } = await syncOrg();
    const r = await userPost(b, local.id, { intent: "sso", enabled: "on" });
    expect(r.status).toBe(400);
    expect(r.data.error).toMatch(/Only users synced from Entra ID/);
  });

  it.each([
    ["a wrong value", { intent: "sso", enabled: "yes please" }],
    ["no intent", { enabled: "on" }],
    ["an oversized value", { intent: "sso", enabled: "on".repeat(5000) }],
    ["markup", { intent: "<script>", enabled: "on" }],
  ])("refuses %s and changes nothing", async (_name, form) => {
    const { patti, b } = await syncOrg();
    expect((await userPost(b, patti.id, form as Record<string, string>)).status).toBe(400);
    expect(await db.user.findUniqueOrThrow({ where: { id: patti.id } })).toMatchObject({ ssoEnabled: false });
    expect(await hash(patti.id)).not.toBeNull();
  });
});

describe("the org switch", () => {
  it("turns on at once, removing the passwords SSO replaces, and off only after a preview, offering set-password links", async () => {
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true } });
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active" } });
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const b = await signedInAs(admin);
    const withPassword = (await createUser({ orgId: org.id })).user;
    const withoutPassword = (await createUser({ orgId: org.id, password: null })).user;
    for (const [i, user] of [withPassword, withoutPassword].entries()) {
      await db.microsoftLink.create({ data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: CONTOSO.users[i + 1]!.oid } });
    }

    expect((await post(b, { intent: "org", enabled: "on" })).location).toBe("/admin/sso");
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ ssoEnabled: true });
    // SSO replaces the password, never beside it.
    expect(await hash(withPassword.id)).toBeNull();

    expect((await post(b, { intent: "org", enabled: "off" })).location).toBe("/admin/sso?confirm=off-org");
    const preview = (await b.get(sso.loader, "/admin/sso?confirm=off-org")).data.preview;
    expect(preview.toPassword.count).toBe(0);
    expect(preview.toNone.first.map((u: { id: string }) => u.id).sort()).toEqual([withPassword.id, withoutPassword.id].sort());

    await post(b, { intent: "org", enabled: "off", confirmed: "yes", sendLinks: "yes" });
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ ssoEnabled: false });
    expect((await db.outgoingMail.findMany()).map((m) => m.to).sort()).toEqual([withPassword.email, withoutPassword.email].sort());
    // Links stay, dormant: turning SSO back on restores Microsoft sign-in for them.
    expect(await db.microsoftLink.count()).toBe(2);
  });

  it("warns and asks again when every admin would be left with Microsoft only", async () => {
    const { org, admin, b } = await syncOrg({ ssoEnabled: false, adminSynced: true });
    await db.organization.update({ where: { id: org.id }, data: { ssoForAllSynced: true } });
    expect((await post(b, { intent: "org", enabled: "on" })).location).toBe("/admin/sso?confirm=lockout-org");
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ ssoEnabled: false });
    expect(await hash(admin.id)).not.toBeNull();
    const page = (await b.get(sso.loader, "/admin/sso?confirm=lockout-org")).data;
    expect(page.pending).toMatchObject({ step: "lockout", target: "org" });
    await post(b, { intent: "org", enabled: "on", lockoutConfirmed: "yes" });
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ ssoEnabled: true });
    expect(await hash(admin.id)).toBeNull();
  });

  it("does not warn while an admin keeps password sign-in", async () => {
    const { b } = await syncOrg({ ssoEnabled: false });
    expect((await post(b, { intent: "all", enabled: "on" })).location).toBe("/admin/sso");
  });

  it("is refused without the licence", async () => {
    const { org, b } = await syncOrg({ ssoEnabled: false });
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: false } });
    expect((await post(b, { intent: "org", enabled: "on" })).status).toBe(403);
    expect((await b.get(sso.loader, "/admin/sso")).data).toMatchObject({ licensed: false });
  });

  it.each([
    ["a wrong value", { intent: "org", enabled: "maybe" }],
    ["a missing value", { intent: "org" }],
    ["an unknown intent", { intent: "teleport", enabled: "on" }],
    ["an oversized value", { intent: "org", enabled: "on".repeat(5000) }],
    ["SQL", { intent: "org' OR 1=1 --", enabled: "on" }],
  ])("refuses %s and changes nothing", async (_name, form) => {
    const { org, b } = await syncOrg({ ssoEnabled: false });
    expect((await post(b, form as Record<string, string>)).status).toBe(400);
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ ssoEnabled: false });
  });

  it("ignores a made-up confirm parameter", async () => {
    const { b } = await syncOrg();
    for (const confirm of ["<script>", "off-everything", "x".repeat(3000)]) {
      expect((await b.get(sso.loader, `/admin/sso?confirm=${encodeURIComponent(confirm)}`)).data).toMatchObject({ pending: null, preview: null });
    }
  });
});

describe("the users list and org isolation", () => {
  it("filters all users with active sync and by sign-in method", async () => {
    const { patti, johanna, local, admin, b } = await syncOrg();
    await userPost(b, patti.id, { intent: "sso", enabled: "on" });
    const ids = async (query: string) => (await b.get(usersList.loader, `/admin/users${query}`)).data.users.map((u: { id: string }) => u.id).sort();
    expect(await ids("?show=synced")).toEqual([patti.id, johanna.id].sort());
    expect(await ids("?show=local")).toEqual([admin.id, local.id].sort());
    expect(await ids("?show=microsoft")).toEqual([patti.id]);
    expect(await ids(`?q=${encodeURIComponent("Johanna")}`)).toEqual([johanna.id]);
    expect(await ids("?show=<script>&page=-4")).toHaveLength(4);
  });

  it("gives another org's admin and a plain user 404 on a user's page and switch", async () => {
    const { patti } = await syncOrg();
    const strangerOrg = await createOrg();
    await db.organization.update({ where: { id: strangerOrg.id }, data: { ssoLicensed: true } });
    const stranger = { b: await signedInAs((await createUser({ orgId: strangerOrg.id, role: "admin" })).user) };
    const { user: member } = await createUser({ orgId: patti.orgId });
    for (const b of [stranger.b, await signedInAs(member)]) {
      expect((await b.get(userPage.loader, `/admin/users/${patti.id}`, { id: patti.id })).status).toBe(404);
      expect((await userPost(b, patti.id, { intent: "sso", enabled: "on" })).status).toBe(404);
    }
    expect((await (await signedInAs(member)).post(sso.action, "/admin/sso", { intent: "org", enabled: "off", confirmed: "yes" })).status).toBe(404);
    expect(await db.user.findUniqueOrThrow({ where: { id: patti.id } })).toMatchObject({ ssoEnabled: false });
    const list = (await stranger.b.get(usersList.loader, "/admin/users")).data.users.map((u: { id: string }) => u.id);
    expect(list).not.toContain(patti.id);
  });

  it("a password sign-in of a synced user with SSO is refused", async () => {
    const { patti, b } = await syncOrg();
    await signedInAs(patti);
    await db.user.update({
      where: { id: patti.id },
      data: { passwordHash: (await db.user.findUniqueOrThrow({ where: { id: (await createUser()).user.id } })).passwordHash },
    });
    await userPost(b, patti.id, { intent: "sso", enabled: "on" });
    const r = await new Browser().post(login.action, "/login?index", { intent: "password", identifier: patti.email!, password: PASSWORD });
    expect(r.status).toBe(400);
  });
});
