// Microsoft tenant integrations against the stand-in: add, admin consent, confirmation by app-only token,
// refusal, forged callbacks, outages, removal with its preview, the SSO switch, and org isolation.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import * as integrations from "~/routes/admin.integrations._index.tsx";
import * as detail from "~/routes/admin.integrations.$id.tsx";
import * as callback from "~/routes/admin.integrations.callback.tsx";
import { CONTOSO, NORTHWIND, STANDIN_APP } from "./entra/fixture.ts";
import { createOrg, createUser, signedInAs, type Browser } from "./helpers.ts";
import * as msCallback from "~/routes/auth.microsoft_.callback.tsx";
import { appPath, consentAtMicrosoft, signInAtMicrosoft, useStandin } from "./microsoft.ts";

const standin = useStandin();

async function licensedAdmin(opts: { licensed?: boolean } = {}) {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: opts.licensed ?? true } });
  const { user } = await createUser({ orgId: org.id, role: "admin" });
  return { org, admin: user, b: await signedInAs(user) };
}

/** Submits "Add integration"; returns the action's result (a redirect to Microsoft on success). */
const add = (b: Browser, tenant: string) => b.post(integrations.action, "/admin/integrations", { intent: "add", tenant });

async function addAndConsent(b: Browser, tenant: string, login: string, decision: "accept" | "cancel" = "accept") {
  const added = await add(b, tenant);
  expect(added.status, JSON.stringify(added.data)).toBe(302);
  const consented = await consentAtMicrosoft(added.location!, login, decision);
  return { consentUrl: added.location!, back: consented.location, page: consented.page };
}

/** The consent callback, then (as issue 13.2 asks) the sign-in by an admin of the tenant that activates it. */
async function finishConsent(b: Browser, back: string, tenantAdmin: string) {
  const r = await b.get(callback.loader, appPath(back));
  if (!r.location?.includes("/oauth2/v2.0/authorize")) return r;
  return b.get(msCallback.loader, appPath(await signInAtMicrosoft(r.location, tenantAdmin)));
}

const auditActions = async (orgId: string) =>
  (await db.auditEvent.findMany({ where: { orgId }, orderBy: { createdAt: "asc" } })).map((e) => `${e.action}:${e.result}`);

describe("adding a tenant and admin consent", () => {
  it("resolves a domain, sends the admin to consent, and turns the integration active with the tenant's name", async () => {
    const { org, b } = await licensedAdmin();
    const added = await add(b, "northwindtraders.com");
    const consentUrl = new URL(added.location!);
    expect(consentUrl.origin).toBe(standin.current.url);
    expect(consentUrl.pathname).toBe(`/${NORTHWIND.id}/v2.0/adminconsent`);
    expect(consentUrl.searchParams.get("client_id")).toBe(standin.current.app.clientId);
    expect(consentUrl.searchParams.get("redirect_uri")).toBe("http://localhost:3000/admin/integrations/callback");
    expect(consentUrl.searchParams.get("state")).toMatch(/^[\w-]{20,}$/);
    const pending = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    expect(pending).toMatchObject({ tenantId: NORTHWIND.id, status: "pending_consent", tenantDomain: "northwindtraders.com" });

    const { location } = await consentAtMicrosoft(added.location!, "nancy@northwindtraders.com");
    expect(new URL(location!).searchParams.get("admin_consent")).toBe("True");
    const back = await finishConsent(b, location!, "nancy@northwindtraders.com");
    expect(back.location).toBe(`/admin/integrations/${pending.id}`);
    const active = await db.integration.findUniqueOrThrow({ where: { id: pending.id } });
    expect(active).toMatchObject({ status: "active", displayName: "Northwind Traders", failureReason: null });
    expect(active.consentedAt).toBeInstanceOf(Date);
    expect(await auditActions(org.id)).toEqual(["integration.add:success", "integration.ownership:success", "integration.activated:success"]);

    const list = (await b.get(integrations.loader, "/admin/integrations")).data;
    expect(list.integrations).toEqual([
      expect.objectContaining({ tenantId: NORTHWIND.id, status: "active", displayName: "Northwind Traders", linkedUsers: 0 }),
    ]);
  });

  it("accepts a tenant ID as typed, in any case and with spaces around it", async () => {
    const { org, b } = await licensedAdmin();
    const added = await add(b, `  ${CONTOSO.id.toUpperCase()} `);
    expect(added.status).toBe(302);
    expect(await db.integration.findFirst({ where: { orgId: org.id } })).toMatchObject({ tenantId: CONTOSO.id, tenantDomain: null });
  });

  it("shows Microsoft's reason when the admin refuses, and keeps nothing active", async () => {
    const { org, b } = await licensedAdmin();
    const { back } = await addAndConsent(b, "northwindtraders.com", "nancy@northwindtraders.com", "cancel");
    expect(new URL(back!).searchParams.get("error")).toBe("access_denied");
    const r = await b.get(callback.loader, appPath(back!));
    const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    expect(r.location).toBe(`/admin/integrations/${integration.id}`);
    expect(integration.status).toBe("failed");
    expect(integration.failureReason).toMatch(/access_denied: AADSTS65004/);
    const page = await b.get(detail.loader, `/admin/integrations/${integration.id}`, { id: integration.id });
    expect(page.data.integration.failureReason).toMatch(/AADSTS65004/);
    expect(await auditActions(org.id)).toContain("integration.consent:failure");
  });

  it("ends in refusal when Microsoft refuses consent after Accept", async () => {
    const { org, b } = await licensedAdmin();
    standin.current.faults.set({ consentRefused: true });
    const { back } = await addAndConsent(b, "northwindtraders.com", "nancy@northwindtraders.com");
    await b.get(callback.loader, appPath(back!));
    expect(await db.integration.findFirstOrThrow({ where: { orgId: org.id } })).toMatchObject({ status: "failed" });
    expect(standin.current.directory.hasConsent(NORTHWIND.id)).toBe(false);
  });

  it("does not let a user who is not a tenant admin consent", async () => {
    const { org, b } = await licensedAdmin();
    const { back, page } = await addAndConsent(b, "northwindtraders.com", "andrew@northwindtraders.com");
    expect(back).toBeNull();
    expect(page.html).toContain("Need admin approval");
    expect(await db.integration.findFirstOrThrow({ where: { orgId: org.id } })).toMatchObject({ status: "pending_consent" });
  });

  it("never trusts the callback's tenant: a forged success without consent stays waiting", async () => {
    const { org, b } = await licensedAdmin();
    const added = await add(b, "northwindtraders.com");
    const state = new URL(added.location!).searchParams.get("state")!;
    // Nobody consented in Northwind; the callback claims success anyway.
    const forged = `/admin/integrations/callback?admin_consent=True&tenant=${NORTHWIND.id}&state=${state}`;
    await finishConsent(b, `http://localhost:3000${forged}`, "nancy@northwindtraders.com");
    const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    expect(integration.status).toBe("pending_consent");
    expect(integration.failureReason).toMatch(/consent/i);

    const page = await b.get(detail.loader, `/admin/integrations/${integration.id}`, { id: integration.id });
    expect(page.data.integration.status).toBe("pending_consent");
  });

  it("confirms the expected tenant when the callback names another one, and records the mismatch", async () => {
    const { org, b } = await licensedAdmin();
    standin.current.faults.set({ callbackTenant: CONTOSO.id });
    const { back } = await addAndConsent(b, "northwindtraders.com", "nancy@northwindtraders.com");
    expect(new URL(back!).searchParams.get("tenant")).toBe(CONTOSO.id);
    await finishConsent(b, back!, "nancy@northwindtraders.com");
    // Consent was really granted in Northwind, so Northwind turns active; Contoso is not registered at all.
    expect(await db.integration.findMany({ where: { orgId: org.id }, select: { tenantId: true, status: true } })).toEqual([
      { tenantId: NORTHWIND.id, status: "active" },
    ]);
    expect(await auditActions(org.id)).toContain("integration.consent.tenant_mismatch:failure");
  });

  it("refuses a state issued to another session, even of the same admin", async () => {
    const { org, admin, b } = await licensedAdmin();
    const { back } = await addAndConsent(b, "northwindtraders.com", "nancy@northwindtraders.com");
    const other = await signedInAs(admin);
    expect((await other.get(callback.loader, appPath(back!))).data).toEqual({ badState: true });
    expect(await db.integration.findFirstOrThrow({ where: { orgId: org.id } })).toMatchObject({ status: "pending_consent" });
  });

  it("refuses a replayed callback and made-up states", async () => {
    const { b } = await licensedAdmin();
    const { back } = await addAndConsent(b, "northwindtraders.com", "nancy@northwindtraders.com");
    expect((await b.get(callback.loader, appPath(back!))).location).toContain(`/${NORTHWIND.id}/oauth2/v2.0/authorize`);
    expect((await b.get(callback.loader, appPath(back!))).data).toEqual({ badState: true });
    for (const state of ["", "x".repeat(5000), "' OR 1=1 --", "<script>alert(1)</script>"]) {
      expect((await b.get(callback.loader, `/admin/integrations/callback?admin_consent=True&state=${encodeURIComponent(state)}`)).data).toEqual({
        badState: true,
      });
    }
  });

  it("refuses a tenant registered by another organization", async () => {
    const first = await licensedAdmin();
    await addAndConsent(first.b, "contoso.com", "adele@contoso.com").then(({ back }) => finishConsent(first.b, back!, "adele@contoso.com"));
    const second = await licensedAdmin();
    const r = await add(second.b, CONTOSO.id);
    expect(r.status).toBe(400);
    expect(r.data.errors.tenant).toMatch(/already registered by another organization/);
    expect(r.data.tenant).toBe(CONTOSO.id);
    expect(await db.integration.count({ where: { orgId: second.org.id } })).toBe(0);
  });

  it("says so when a domain resolves to no tenant, and saves nothing", async () => {
    const { org, b } = await licensedAdmin();
    const r = await add(b, "nowhere.example.com");
    expect(r.status).toBe(400);
    expect(r.data.errors.tenant).toMatch(/knows no tenant for the domain nowhere\.example\.com/);
    expect(r.data.tenant).toBe("nowhere.example.com");
    expect(await db.integration.count({ where: { orgId: org.id } })).toBe(0);
  });

  it.each([
    ["empty", "", /Enter a tenant ID/],
    ["oversized", "a".repeat(10_000), /at most 253/],
    ["markup", "<script>alert(1)</script>", /Enter a tenant ID/],
    ["SQL", "' OR 1=1; DROP TABLE Integration; --", /Enter a tenant ID/],
    ["unicode", "ｃｏｎｔｏｓｏ.ｃｏｍ", /Enter a tenant ID/],
    ["a path", "../../common", /Enter a tenant ID/],
  ])("refuses %s input with a sentence and saves nothing", async (_name, tenant, message) => {
    const { org, b } = await licensedAdmin();
    const r = await add(b, tenant);
    expect(r.status).toBe(400);
    expect(r.data.errors.tenant).toMatch(message);
    expect(await db.integration.count({ where: { orgId: org.id } })).toBe(0);
  });

  it("tells the admin when Microsoft is down while adding, and saves nothing", async () => {
    const { org, b } = await licensedAdmin();
    standin.current.faults.set({ unreachable: true });
    const r = await add(b, "contoso.com");
    expect(r.status).toBe(400);
    expect(r.data.errors.tenant).toMatch(/could not be reached/);
    expect(await db.integration.count({ where: { orgId: org.id } })).toBe(0);
  });

  it("keeps the integration waiting when Microsoft fails during the callback, and confirms on 'check again'", async () => {
    const { org, b } = await licensedAdmin();
    const added = await add(b, "northwindtraders.com");
    const consented = await consentAtMicrosoft(added.location!, "nancy@northwindtraders.com");
    // Its tenant admin signed in already (that sign-in uses the token endpoint too): only the confirmation fails.
    await db.integration.updateMany({ where: { orgId: org.id }, data: { claimedTenantId: NORTHWIND.id, ownerProvenAt: new Date() } });
    standin.current.faults.set({ status5xx: { paths: ["token"] } });
    const r = await b.get(callback.loader, appPath(consented.location!));
    const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    expect(r.location).toBe(`/admin/integrations/${integration.id}`);
    expect(integration.status).toBe("pending_consent");

    standin.current.faults.clear();
    await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "check" }, { id: integration.id });
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ status: "active" });
  });

  it("times out on a slow Microsoft instead of hanging", async () => {
    const { b } = await licensedAdmin();
    standin.current.faults.set({ slowMs: 4000 });
    const started = Date.now();
    const r = await add(b, "contoso.com");
    expect(r.data.errors.tenant).toMatch(/could not be reached/);
    expect(Date.now() - started).toBeLessThan(3500);
  });

  it("offers 'consent again' with a fresh state", async () => {
    const { org, b } = await licensedAdmin();
    const first = await add(b, "northwindtraders.com");
    const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    const again = await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "consent" }, { id: integration.id });
    expect(again.location).toContain("/adminconsent?");
    expect(new URL(again.location!).searchParams.get("state")).not.toBe(new URL(first.location!).searchParams.get("state"));
  });
});

describe("the SSO licence gate", () => {
  it("explains that SSO needs the licence and refuses every action", async () => {
    const { org, b } = await licensedAdmin({ licensed: false });
    const page = await b.get(integrations.loader, "/admin/integrations");
    expect(page.data).toMatchObject({ licensed: false, integrations: [] });
    const r = await b.post(integrations.action, "/admin/integrations", { intent: "add", tenant: "contoso.com" });
    expect(r.status).toBe(403);
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ ssoEnabled: false });
    expect(await db.integration.count()).toBe(0);
  });
});

async function linkedUsers(orgId: string, integrationId: string) {
  const withPassword = await createUser({ orgId });
  const withoutPassword = await createUser({ orgId, password: null });
  const noEmail = await createUser({ orgId, password: null, email: null, phone: "+14155550199" });
  const oids = ["4b450d5b-6425-4736-8c25-715b3f6172ef", "03247f43-3fe9-4642-b18c-4b9b5bc06b1f", "ea7cd55b-9422-494d-a3c5-d8c6d6abd57c"];
  for (const [i, { user }] of [withPassword, withoutPassword, noEmail].entries()) {
    await db.microsoftLink.create({ data: { userId: user.id, integrationId, tenantId: CONTOSO.id, objectId: oids[i]!, upn: `u${i}@contoso.com` } });
  }
  return { withPassword: withPassword.user, withoutPassword: withoutPassword.user, noEmail: noEmail.user };
}

describe("an integration that stops and starts working", () => {
  it("ends linked users' Microsoft sessions when consent is withdrawn, and asks before the last admin on password goes back to Microsoft", async () => {
    const { org, admin, b } = await licensedAdmin();
    await db.organization.update({ where: { id: org.id }, data: { ssoEnabled: true } });
    const integration = await db.integration.create({
      data: { orgId: org.id, tenantId: CONTOSO.id, status: "active", claimedTenantId: CONTOSO.id, ownerProvenAt: new Date() },
    });
    const { withoutPassword } = await linkedUsers(org.id, integration.id);
    await signedInAs(withoutPassword, "microsoft", CONTOSO.id);
    // The admin's own link: dormant while the tenant is not working, they set a password meanwhile.
    await db.microsoftLink.create({
      data: { userId: admin.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: "7d2b7a54-1c0e-4d0f-9a6e-3f1a2b3c4d5e" },
    });
    const consents = standin.current.directory.tenant(CONTOSO.id)!.consents;
    consents.delete(STANDIN_APP.clientId);

    const params = { id: integration.id };
    await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "check" }, params);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ status: "pending_consent" });
    expect(await db.session.count({ where: { userId: withoutPassword.id } })).toBe(0);
    expect(await db.session.count({ where: { userId: admin.id } })).toBe(1);

    consents.add(STANDIN_APP.clientId);
    const asked = await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "check" }, params);
    expect(asked.status).toBe(409);
    expect(asked.data.lockout).toBe(true);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ status: "pending_consent" });
    expect((await db.user.findUniqueOrThrow({ where: { id: admin.id } })).passwordHash).not.toBeNull();

    await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "check", lockoutConfirmed: "yes" }, params);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ status: "active" });
    // SSO replaces the password, never beside it.
    expect((await db.user.findUniqueOrThrow({ where: { id: admin.id } })).passwordHash).toBeNull();
  });
});

describe("removing an integration", () => {
  it("previews who is affected, then revokes links, ends Microsoft sessions and emails set-password links", async () => {
    const { org, b } = await licensedAdmin();
    await addAndConsent(b, "contoso.com", "adele@contoso.com").then(({ back }) => finishConsent(b, back!, "adele@contoso.com"));
    await db.organization.update({ where: { id: org.id }, data: { ssoEnabled: true } });
    const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    const users = await linkedUsers(org.id, integration.id);
    await signedInAs(users.withoutPassword, "microsoft", CONTOSO.id);
    const unrelated = await signedInAs(users.withPassword, "password_totp");

    const page = await b.get(detail.loader, `/admin/integrations/${integration.id}`, { id: integration.id });
    expect(page.data.preview.linked).toBe(3);
    expect(page.data.preview.toPassword.first.map((u: { id: string }) => u.id)).toEqual([users.withPassword.id]);
    expect(page.data.preview.toNone.first.map((u: { id: string }) => u.id).sort()).toEqual([users.withoutPassword.id, users.noEmail.id].sort());

    const r = await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "remove", sendLinks: "yes" }, { id: integration.id });
    expect(r.location).toBe("/admin/integrations");
    expect(await db.microsoftLink.count()).toBe(0);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ status: "removed" });
    expect(await db.session.count({ where: { userId: users.withoutPassword.id } })).toBe(0);
    expect(await db.session.count({ where: { userId: users.withPassword.id } })).toBe(1);
    const mail = await db.outgoingMail.findMany();
    expect(mail.map((m) => m.to)).toEqual([users.withoutPassword.email]);
    expect(unrelated).toBeTruthy();
    expect(await auditActions(org.id)).toContain("integration.removed:success");
  });

  it("sends no email unless asked", async () => {
    const { org, b } = await licensedAdmin();
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active" } });
    await db.organization.update({ where: { id: org.id }, data: { ssoEnabled: true } });
    await linkedUsers(org.id, integration.id);
    await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "remove" }, { id: integration.id });
    expect(await db.outgoingMail.count()).toBe(0);
    expect(await db.microsoftLink.count()).toBe(0);
  });
});

describe("org isolation", () => {
  it("gives an admin of another org 404 on every integration route, and a plain user 404 too", async () => {
    const owner = await licensedAdmin();
    const integration = await db.integration.create({
      data: { orgId: owner.org.id, tenantId: CONTOSO.id, status: "active", displayName: "Contoso secret name" },
    });
    const stranger = await licensedAdmin();
    const { user: member } = await createUser({ orgId: owner.org.id });
    const memberBrowser = await signedInAs(member);
    for (const b of [stranger.b, memberBrowser]) {
      const params = { id: integration.id };
      expect((await b.get(detail.loader, `/admin/integrations/${integration.id}`, params)).status).toBe(404);
      for (const intent of ["check", "consent", "remove"]) {
        expect((await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent }, params)).status).toBe(404);
      }
    }
    const list = await stranger.b.get(integrations.loader, "/admin/integrations");
    expect(JSON.stringify(list.data)).not.toContain("Contoso secret name");
    expect((await memberBrowser.get(integrations.loader, "/admin/integrations")).status).toBe(404);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ status: "active" });
  });

  it("does not let another org's admin finish a consent started in this org", async () => {
    const owner = await licensedAdmin();
    const { back } = await addAndConsent(owner.b, "northwindtraders.com", "nancy@northwindtraders.com");
    const stranger = await licensedAdmin();
    expect((await stranger.b.get(callback.loader, appPath(back!))).data).toEqual({ badState: true });
    expect(await db.integration.findFirstOrThrow({ where: { orgId: owner.org.id } })).toMatchObject({ status: "pending_consent" });
  });
});
