// Issue 13.2 and 13.3: a tenant turns active only after a sign-in by an admin of that tenant, bound to the portal
// admin and the integration; and the Graph permissions the org's use needs are named when they are missing.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { runSync } from "~/lib/sync/run.server.ts";
import * as integrations from "~/routes/admin.integrations._index.tsx";
import * as detail from "~/routes/admin.integrations.$id.tsx";
import * as consentCallback from "~/routes/admin.integrations.callback.tsx";
import * as msCallback from "~/routes/auth.microsoft_.callback.tsx";
import * as syncPage from "~/routes/admin.sync.tsx";
import { CONTOSO, FABRIKAM, NORTHWIND, ROLE } from "./entra/fixture.ts";
import { createOrg, createUser, signedInAs, type Browser } from "./helpers.ts";
import { appPath, consentAtMicrosoft, signInAtMicrosoft, useStandin } from "./microsoft.ts";

const standin = useStandin();

async function licensedAdmin() {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true } });
  const { user } = await createUser({ orgId: org.id, role: "admin" });
  return { org, admin: user, b: await signedInAs(user) };
}

const add = (b: Browser, tenant: string) => b.post(integrations.action, "/admin/integrations", { intent: "add", tenant });
const integrationOf = (orgId: string) => db.integration.findFirstOrThrow({ where: { orgId } });
const auditOf = async (orgId: string, action: string) => db.auditEvent.findMany({ where: { orgId, action }, orderBy: { createdAt: "asc" } });

/** Add the tenant and approve admin consent as `consenter`: returns where the consent callback sends the browser. */
async function addAndConsent(b: Browser, tenant: string, consenter: string) {
  const added = await add(b, tenant);
  expect(added.status, JSON.stringify(added.data)).toBe(302);
  const { location } = await consentAtMicrosoft(added.location!, consenter);
  return b.get(consentCallback.loader, appPath(location!));
}

/** The tenant admin's sign-in: pick `login` at Microsoft and bring the answer back to the portal. */
async function signInAsTenantAdmin(b: Browser, authorizeUrl: string, login: string) {
  return b.get(msCallback.loader, appPath(await signInAtMicrosoft(authorizeUrl, login)));
}

describe("13.2 tenant ownership", () => {
  it("13.2 consent alone activates nothing: the consent callback sends the org admin to sign in at the tenant, and only its admin activates it", async () => {
    const { org, admin, b } = await licensedAdmin();
    const back = await addAndConsent(b, "northwindtraders.com", "nancy@northwindtraders.com");
    const signIn = new URL(back.location!);
    expect(signIn.origin).toBe(standin.current.url);
    expect(signIn.pathname).toBe(`/${NORTHWIND.id}/oauth2/v2.0/authorize`);
    expect(signIn.searchParams.get("code_challenge_method")).toBe("S256");
    expect(signIn.searchParams.get("nonce")).toBeTruthy();
    expect((await integrationOf(org.id)).status).toBe("pending_consent");

    const done = await signInAsTenantAdmin(b, back.location!, "nancy@northwindtraders.com");
    const integration = await integrationOf(org.id);
    expect(done.location).toBe(`/admin/integrations/${integration.id}`);
    const nancy = NORTHWIND.users.find((u) => u.userPrincipalName === "nancy@northwindtraders.com")!;
    expect(integration).toMatchObject({
      status: "active",
      claimedTenantId: NORTHWIND.id,
      ownerProvenById: admin.id,
      ownerObjectId: nancy.oid,
      ownerUpn: "nancy@northwindtraders.com",
      ownerRole: ROLE.globalAdministrator,
    });
    expect(integration.ownerProvenAt).toBeInstanceOf(Date);
    const [proof] = await auditOf(org.id, "integration.ownership");
    expect(proof).toMatchObject({ result: "success", actorId: admin.id, targetId: integration.id });
    expect(JSON.parse(proof!.detail!)).toMatchObject({ tenantId: NORTHWIND.id, objectId: nancy.oid, role: ROLE.globalAdministrator });
    const page = await b.get(detail.loader, `/admin/integrations/${integration.id}`, { id: integration.id });
    expect(page.data.ownership).toMatchObject({ upn: "nancy@northwindtraders.com", role: "Global Administrator" });
  });

  it("13.2 a user of the tenant without a consent-capable role cannot activate it (no role, or a User Administrator)", async () => {
    const { org, b } = await licensedAdmin();
    const back = await addAndConsent(b, "contoso.com", "adele@contoso.com");
    const alex = await signInAsTenantAdmin(b, back.location!, "alex@contoso.com");
    expect(alex.data.code).toBe("not_tenant_admin");
    const integration = await integrationOf(org.id);
    // Each try starts a new sign-in from the integration page (the state is single-use).
    const again = await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "owner" }, { id: integration.id });
    const megan = await signInAsTenantAdmin(b, again.location!, "megan@contoso.com");
    expect(megan.data.code).toBe("not_tenant_admin");
    expect(megan.data.problem.title).toMatch(/not an admin of the tenant/);
    expect(await integrationOf(org.id)).toMatchObject({ status: "pending_consent", claimedTenantId: null, ownerProvenAt: null });
    const failures = await auditOf(org.id, "integration.ownership");
    expect(failures.every((e) => e.result === "failure")).toBe(true);
    expect(JSON.parse(failures.at(-1)!.detail!).roles).toContain(ROLE.userAdministrator);
  });

  it("13.2 an org admin whose Microsoft account is of another tenant cannot activate", async () => {
    const { org, b } = await licensedAdmin();
    const back = await addAndConsent(b, "northwindtraders.com", "nancy@northwindtraders.com");
    // The attacker edits Microsoft's URL to sign in anywhere, and picks their own tenant's admin.
    const edited = back.location!.replace(`/${NORTHWIND.id}/`, "/organizations/");
    const answer = await b.get(msCallback.loader, appPath(await signInAtMicrosoft(edited, "adele@contoso.com")));
    expect(answer.location).toBeNull();
    expect(["wrong_tenant", "token_invalid"]).toContain(answer.data.code);
    expect(await integrationOf(org.id)).toMatchObject({ status: "pending_consent", claimedTenantId: null });
  });

  it("13.2 the check action cannot bypass the proof, even for a tenant whose consent Microsoft confirms", async () => {
    const { org, b } = await licensedAdmin();
    // Contoso's admin consented long ago: an app-only token is there for the asking.
    const added = await add(b, "contoso.com");
    const integration = await integrationOf(org.id);
    const checked = await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "check" }, { id: integration.id });
    expect(checked.status).toBe(302);
    expect(await integrationOf(org.id)).toMatchObject({ status: "pending_consent", consentedAt: null });
    // A forged "consent granted" callback with the real state leads only to the tenant admin's sign-in.
    const state = new URL(added.location!).searchParams.get("state")!;
    const forged = await b.get(consentCallback.loader, `/admin/integrations/callback?admin_consent=True&tenant=${CONTOSO.id}&state=${state}`);
    expect(new URL(forged.location!).pathname).toBe(`/${CONTOSO.id}/oauth2/v2.0/authorize`);
    expect((await integrationOf(org.id)).status).toBe("pending_consent");
    expect((await auditOf(org.id, "integration.activated")).length).toBe(0);
  });

  it("13.2 two orgs racing for the same tenant: a waiting registration blocks nobody, the tenant admin's org gets it, the other is refused", async () => {
    const squatter = await licensedAdmin();
    const real = await licensedAdmin();
    expect((await add(squatter.b, "contoso.com")).status).toBe(302);
    // The squatter's row waits for a proof it can't give; the real Contoso can still register.
    const back = await addAndConsent(real.b, "contoso.com", "adele@contoso.com");
    const squatterRow = await integrationOf(squatter.org.id);
    const startSquatter = await squatter.b.post(detail.action, `/admin/integrations/${squatterRow.id}`, { intent: "owner" }, { id: squatterRow.id });

    // Both reach Microsoft; Contoso's admin happens to sign in for both (the squatter tricked her): one wins.
    const [a, c] = await Promise.all([
      signInAsTenantAdmin(real.b, back.location!, "adele@contoso.com"),
      signInAsTenantAdmin(squatter.b, startSquatter.location!, "adele@contoso.com"),
    ]);
    const rows = await db.integration.findMany({ where: { tenantId: CONTOSO.id, status: "active" } });
    expect(rows).toHaveLength(1);
    expect(await db.integration.count({ where: { claimedTenantId: CONTOSO.id } })).toBe(1);
    const loser = rows[0]!.orgId === real.org.id ? c : a;
    expect(loser.data.code).toBe("claimed_by_other_org");

    const winner = rows[0]!.orgId === real.org.id ? squatter : real;
    const refused = await add(winner.b, "contoso.com");
    // Whoever lost can neither add it again nor activate it.
    if (refused.status === 400) expect(refused.data.errors.tenant).toMatch(/already registered by another organization/);
  });

  it("13.2 a replayed or another org's flow state is refused and changes nothing", async () => {
    const victim = await licensedAdmin();
    const attacker = await licensedAdmin();
    const back = await addAndConsent(attacker.b, "northwindtraders.com", "nancy@northwindtraders.com");
    const answer = appPath(await signInAtMicrosoft(back.location!, "nancy@northwindtraders.com"));
    // The attacker hands their callback URL to an admin of another org: the state is bound to the attacker's session.
    const stolen = await victim.b.get(msCallback.loader, answer);
    expect(stolen.data.code).toBe("state_unknown");
    expect(await db.integration.count({ where: { orgId: victim.org.id } })).toBe(0);
    // ...which also used it up: the attacker's own replay is refused too.
    const replay = await attacker.b.get(msCallback.loader, answer);
    expect(replay.data.code).toBe("state_unknown");
    expect(await integrationOf(attacker.org.id)).toMatchObject({ status: "pending_consent", ownerProvenAt: null });

    // A state from one integration can't prove another: the flow names its integration, scoped to the session's org.
    const other = await db.integration.create({ data: { orgId: victim.org.id, tenantId: NORTHWIND.id } });
    const start = await attacker.b.post(
      detail.action,
      `/admin/integrations/${(await integrationOf(attacker.org.id)).id}`,
      { intent: "owner" },
      { id: (await integrationOf(attacker.org.id)).id },
    );
    await signInAsTenantAdmin(attacker.b, start.location!, "nancy@northwindtraders.com");
    expect(await db.integration.findUniqueOrThrow({ where: { id: other.id } })).toMatchObject({ ownerProvenAt: null, status: "pending_consent" });
  });

  it("13.2 without wids in the id_token (app registration not set up) nothing is activated and the page says why", async () => {
    const { org, b } = await licensedAdmin();
    const previous = standin.current.app.groupMembershipClaims;
    standin.current.app.groupMembershipClaims = "None";
    try {
      const back = await addAndConsent(b, "northwindtraders.com", "nancy@northwindtraders.com");
      const answer = await signInAsTenantAdmin(b, back.location!, "nancy@northwindtraders.com");
      expect(answer.data.code).toBe("roles_not_in_token");
      expect(answer.data.problem.message).toMatch(/groupMembershipClaims/);
    } finally {
      standin.current.app.groupMembershipClaims = previous;
    }
    expect((await integrationOf(org.id)).status).toBe("pending_consent");
  });

  it("13.2 an integration active before the proof existed stays active, says ownership is not proven, and can't be re-activated without it", async () => {
    const { org, b } = await licensedAdmin();
    // What the migration leaves: active, holding its tenant, no proof.
    const row = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active", claimedTenantId: CONTOSO.id } });
    const page = await b.get(detail.loader, `/admin/integrations/${row.id}`, { id: row.id });
    expect(page.data.integration.status).toBe("active");
    expect(page.data.ownership).toBeNull();
    // Another org can't register it meanwhile.
    const other = await licensedAdmin();
    expect((await add(other.b, "contoso.com")).data.errors.tenant).toMatch(/another organization/);

    await db.integration.update({ where: { id: row.id }, data: { status: "pending_consent" } });
    await b.post(detail.action, `/admin/integrations/${row.id}`, { intent: "check" }, { id: row.id });
    expect((await db.integration.findUniqueOrThrow({ where: { id: row.id } })).status).toBe("pending_consent");

    const start = await b.post(detail.action, `/admin/integrations/${row.id}`, { intent: "owner" }, { id: row.id });
    await signInAsTenantAdmin(b, start.location!, "adele@contoso.com");
    expect(await db.integration.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ status: "active", ownerUpn: "adele@contoso.com" });
  });
});

/** A Fabrikam integration proven and active through the real flow, as the org's sync connection. */
async function provenSyncConnection(scope: "tenant" | "group" = "tenant") {
  const { org, b } = await licensedAdmin();
  const back = await addAndConsent(b, "fabrikam.com", FABRIKAM.users.find((u) => u.isAdmin)!.userPrincipalName);
  await signInAsTenantAdmin(b, back.location!, FABRIKAM.users.find((u) => u.isAdmin)!.userPrincipalName);
  const integration = await integrationOf(org.id);
  expect(integration.status).toBe("active");
  await db.integration.update({ where: { id: integration.id }, data: { syncScope: scope, syncGroupId: scope === "group" ? FABRIKAM.groups![0]!.id : null } });
  await db.organization.update({ where: { id: org.id }, data: { syncIntegrationId: integration.id } });
  return { org, b, integration };
}

describe("13.3 missing permissions", () => {
  it("13.3 roles missing: the integration page names User.Read.All and offers to grant it; sign-in only needs none", async () => {
    standin.current.faults.set({ grantedRoles: { [FABRIKAM.id]: [] } });
    const { org, b, integration } = await provenSyncConnection();
    const page = await b.get(detail.loader, `/admin/integrations/${integration.id}`, { id: integration.id });
    expect(page.data.permissions.missing).toEqual(["User.Read.All"]);
    expect(page.data.permissions.sentence).toMatch(/User\.Read\.All/);
    const grant = await b.post(detail.action, `/admin/integrations/${integration.id}`, { intent: "consent" }, { id: integration.id });
    expect(new URL(grant.location!).pathname).toBe(`/${FABRIKAM.id}/v2.0/adminconsent`);

    // Used for sign-in only, nothing is missing.
    await db.organization.update({ where: { id: org.id }, data: { syncIntegrationId: null } });
    const signInOnly = await b.get(detail.loader, `/admin/integrations/${integration.id}`, { id: integration.id });
    expect(signInOnly.data.permissions.sentence).toBeNull();
  });

  it("13.3 a group scope also needs GroupMember.Read.All; sync refuses to start with the sentence and records nothing", async () => {
    standin.current.faults.set({ grantedRoles: { [FABRIKAM.id]: ["User.Read.All"] } });
    const { org, b, integration } = await provenSyncConnection("group");
    const outcome = await runSync(integration.id, "manual");
    expect(outcome.kind).toBe("missing_permissions");
    expect((outcome as { message: string }).message).toMatch(/GroupMember\.Read\.All/);
    expect(await db.syncRun.count({ where: { integrationId: integration.id } })).toBe(0);
    expect(await db.user.count({ where: { orgId: org.id, source: "synced" } })).toBe(0);
    expect((await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).syncLockedBy).toBeNull();

    const pressed = await b.post(syncPage.action, "/admin/sync", { intent: "sync" });
    expect(pressed.status).toBe(409);
    expect(pressed.data.errors.form).toMatch(/GroupMember\.Read\.All/);
    const shown = await b.get(syncPage.loader, "/admin/sync");
    expect(shown.data.connection.missingPermissions).toMatch(/GroupMember\.Read\.All/);
  });

  it("13.3 with the roles present, sync runs", async () => {
    const { org, integration } = await provenSyncConnection();
    const outcome = await runSync(integration.id, "manual");
    expect(outcome.kind).toBe("succeeded");
    expect(await db.user.count({ where: { orgId: org.id, source: "synced" } })).toBeGreaterThan(0);
  });
});
