// Org isolation, table-driven: every admin page and action, visited as an admin of another org and as a
// plain user of the owning org. Expect 404 (or the licence's 403), never data of the other org, no change.
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { issueToken } from "~/lib/tokens.server.ts";
import * as adminIndex from "~/routes/admin._index.tsx";
import * as audit from "~/routes/admin.audit.tsx";
import * as auditExport from "~/routes/admin.audit_.export.tsx";
import * as integrations from "~/routes/admin.integrations._index.tsx";
import * as integration from "~/routes/admin.integrations.$id.tsx";
import * as consentCallback from "~/routes/admin.integrations.callback.tsx";
import * as invitations from "~/routes/admin.invitations.tsx";
import * as sso from "~/routes/admin.sso.tsx";
import * as sync from "~/routes/admin.sync.tsx";
import * as users from "~/routes/admin.users.tsx";
import * as userPage from "~/routes/admin.users_.$id.tsx";
import { CONTOSO, FABRIKAM } from "./entra/fixture.ts";
import { createOrg, createUser, signedInAs, type Browser } from "./helpers.ts";

const SECRET = "ZEBRA";

type Victim = { orgId: string; memberId: string; syncedId: string; integrationId: string; syncIntegrationId: string; consentState: string };

/** Org B, full of things whose names carry SECRET, so that any leak shows in a response. */
async function victim(): Promise<Victim> {
  const org = await createOrg(`${SECRET} Corp`);
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active", displayName: `${SECRET} tenant` } });
  const syncIntegration = await db.integration.create({
    data: { orgId: org.id, tenantId: FABRIKAM.id, status: "active", displayName: `${SECRET} sync tenant` },
  });
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true, syncIntegrationId: syncIntegration.id } });
  const { user: member } = await createUser({ orgId: org.id, email: `${SECRET.toLowerCase()}@victim.test` });
  await db.user.update({ where: { id: member.id }, data: { name: `${SECRET} Member` } });
  await db.microsoftLink.create({
    data: {
      userId: member.id,
      integrationId: integration.id,
      tenantId: CONTOSO.id,
      objectId: CONTOSO.users[1]!.oid,
      upn: `${SECRET.toLowerCase()}@contoso.com`,
    },
  });
  const { user: synced } = await createUser({ orgId: org.id, password: null, email: `${SECRET.toLowerCase()}-synced@victim.test` });
  await db.user.update({
    where: { id: synced.id },
    data: {
      name: `${SECRET} Synced`,
      source: "synced",
      entraTenantId: FABRIKAM.id,
      entraObjectId: FABRIKAM.users[1]!.oid,
      syncIntegrationId: syncIntegration.id,
    },
  });
  await issueToken("invitation", synced.id, 7 * 24 * 60, { invitedBy: member.id });
  await db.auditEvent.create({ data: { orgId: org.id, action: "org.sso.enabled", detail: JSON.stringify({ note: SECRET }) } });
  await db.syncRun.create({ data: { integrationId: syncIntegration.id, trigger: "manual", status: "succeeded", errorMessage: SECRET } });
  const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
  const consentState = await issueToken("consent_state", "some-session-of-b", 15, { integrationId: integration.id });
  void admin;
  return { orgId: org.id, memberId: member.id, syncedId: synced.id, integrationId: integration.id, syncIntegrationId: syncIntegration.id, consentState };
}

async function snapshot() {
  const [orgs, usersRows, links, integrationRows, tokens, runs, mail] = await Promise.all([
    db.organization.findMany({ orderBy: { id: "asc" }, select: { id: true, ssoEnabled: true, ssoForAllSynced: true, syncIntegrationId: true } }),
    db.user.findMany({ orderBy: { id: "asc" }, select: { id: true, status: true, ssoEnabled: true, passwordHash: true } }),
    db.microsoftLink.count(),
    db.integration.findMany({ orderBy: { id: "asc" }, select: { id: true, status: true, syncScope: true, syncGroupId: true } }),
    // consent_state is single-use: a forged callback burns it, which is harmless and intended.
    db.oneTimeToken.findMany({ where: { type: { not: "consent_state" } }, orderBy: { id: "asc" }, select: { id: true, usedAt: true } }),
    db.syncRun.count(),
    db.outgoingMail.count(),
  ]);
  return JSON.stringify({ orgs, usersRows, links, integrationRows, tokens, runs, mail });
}

type Fn = (args: never) => unknown;
type Visit = {
  name: string;
  fn: Fn;
  path: (v: Victim) => string;
  params?: (v: Victim) => Record<string, string>;
  form?: (v: Victim) => Record<string, string>;
};

// Every admin loader, and every action with the intents that name an object of org B.
const visits: Visit[] = [
  { name: "admin home", fn: adminIndex.loader as Fn, path: () => "/admin" },
  { name: "users list", fn: users.loader as Fn, path: () => "/admin/users?show=all" },
  { name: "users list, synced", fn: users.loader as Fn, path: () => "/admin/users?show=synced" },
  {
    name: "revoke a link",
    fn: userPage.action as Fn,
    path: (v) => `/admin/users/${v.memberId}`,
    params: (v) => ({ id: v.memberId }),
    form: () => ({ intent: "revoke", confirmed: "yes", sendLink: "yes" }),
  },
  { name: "a user's page", fn: userPage.loader as Fn, path: (v) => `/admin/users/${v.memberId}`, params: (v) => ({ id: v.memberId }) },
  {
    name: "a user's SSO switch",
    fn: userPage.action as Fn,
    path: (v) => `/admin/users/${v.syncedId}`,
    params: (v) => ({ id: v.syncedId }),
    form: () => ({ intent: "sso", enabled: "on" }),
  },
  { name: "integrations", fn: integrations.loader as Fn, path: () => "/admin/integrations" },
  { name: "an integration", fn: integration.loader as Fn, path: (v) => `/admin/integrations/${v.integrationId}`, params: (v) => ({ id: v.integrationId }) },
  ...(["check", "consent", "remove"] as const).map((intent): Visit => ({
    name: `integration: ${intent}`,
    fn: integration.action as Fn,
    path: (v) => `/admin/integrations/${v.integrationId}`,
    params: (v) => ({ id: v.integrationId }),
    form: () => ({ intent, sendLinks: "yes" }),
  })),
  {
    name: "consent callback",
    fn: consentCallback.loader as Fn,
    path: (v) => `/admin/integrations/callback?admin_consent=True&tenant=${CONTOSO.id}&state=${v.consentState}`,
  },
  { name: "single sign-on", fn: sso.loader as Fn, path: () => "/admin/sso?confirm=off-org" },
  { name: "entra id sync", fn: sync.loader as Fn, path: () => "/admin/sync" },
  { name: "invitations", fn: invitations.loader as Fn, path: () => "/admin/invitations" },
  ...(["resend", "revoke"] as const).map((intent): Visit => ({
    name: `invitation: ${intent}`,
    fn: invitations.action as Fn,
    path: () => "/admin/invitations",
    form: (v) => ({ intent, userId: v.syncedId }),
  })),
  { name: "audit log", fn: audit.loader as Fn, path: () => "/admin/audit" },
  { name: "audit log filtered by org B's user", fn: audit.loader as Fn, path: (v) => `/admin/audit?user=${v.memberId}&actor=${v.memberId}` },
  { name: "audit export (CSV)", fn: auditExport.loader as Fn, path: () => "/admin/audit/export?format=csv" },
  { name: "audit export (JSON Lines)", fn: auditExport.loader as Fn, path: (v) => `/admin/audit/export?format=jsonl&user=${v.memberId}` },
];

let v: Victim;
let stranger: Browser;
let member: Browser;

beforeEach(async () => {
  v = await victim();
  const org = await createOrg("Attacker Ltd");
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true } });
  stranger = await signedInAs((await createUser({ orgId: org.id, role: "admin" })).user);
  member = await signedInAs({ id: v.memberId });
});

describe("an admin of another org", () => {
  it.each(visits.map((visit) => [visit.name, visit] as const))("%s: nothing of org B, nothing changed", async (_name, visit) => {
    const before = await snapshot();
    const params = visit.params?.(v) ?? {};
    const result = visit.form
      ? await stranger.post(visit.fn as never, visit.path(v), visit.form(v), params)
      : await stranger.get(visit.fn as never, visit.path(v), params);
    expect(result.status).toBeLessThan(500);
    if (visit.params || visit.form) expect([200, 302, 400, 404]).toContain(result.status);
    expect(JSON.stringify(result.data ?? "")).not.toContain(SECRET);
    expect(JSON.stringify(result.data ?? "").toLowerCase()).not.toContain(SECRET.toLowerCase());
    if (result.location) expect(result.location).not.toContain(v.integrationId);
    expect(await snapshot()).toBe(before);
  });

  it("gets 404 for every page and action naming an object of org B", async () => {
    for (const visit of visits.filter((x) => x.params)) {
      const params = visit.params!(v);
      const result = visit.form
        ? await stranger.post(visit.fn as never, visit.path(v), visit.form(v), params)
        : await stranger.get(visit.fn as never, visit.path(v), params);
      expect(result.status, visit.name).toBe(404);
    }
  });
});

describe("a plain user of the org", () => {
  it.each(visits.map((visit) => [visit.name, visit] as const))("%s: 404, nothing changed", async (_name, visit) => {
    const before = await snapshot();
    const params = visit.params?.(v) ?? {};
    const result = visit.form
      ? await member.post(visit.fn as never, visit.path(v), visit.form(v), params)
      : await member.get(visit.fn as never, visit.path(v), params);
    expect(result.status).toBe(404);
    expect(JSON.stringify(result.data ?? "")).not.toContain(SECRET);
    expect(await snapshot()).toBe(before);
  });
});
