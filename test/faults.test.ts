// Microsoft in trouble: unreachable, slower than the timeout, answering 5xx, or serving a key set without
// the token's key. Microsoft users get the "unavailable" page, nobody gets a 500, password users sign in
// normally, and nothing in the database changes. Also: a consent flow survives a restart of the app.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { reloadEnv } from "~/lib/env.server.ts";
import { resetMicrosoftClients } from "~/lib/microsoft/config.server.ts";
import { forgetTenantKeys } from "~/lib/microsoft/signin.server.ts";
import * as callback from "~/routes/auth.microsoft_.callback.tsx";
import * as consentCallback from "~/routes/admin.integrations.callback.tsx";
import * as integrations from "~/routes/admin.integrations._index.tsx";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import type { FaultSettings } from "./entra/faults.ts";
import { CONTOSO, NORTHWIND } from "./entra/fixture.ts";
import { Browser, createOrg, createUser, PASSWORD, signedInAs, totpCode } from "./helpers.ts";
import { appPath, consentAtMicrosoft, signInAtMicrosoft, useStandin } from "./microsoft.ts";

const standin = useStandin({ timeoutMs: 800 });
const ALEX = CONTOSO.users[1]!;

async function world() {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active" } });
  const { user: linked } = await createUser({ orgId: org.id });
  await db.microsoftLink.create({
    data: { userId: linked.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: ALEX.oid, upn: ALEX.userPrincipalName },
  });
  const passwordUser = await createUser({ orgId: org.id, email: `pw-${Date.now()}@example.test` });
  // Declined, so that password sign-in lands on "/" without the link prompt.
  await db.user.update({ where: { id: passwordUser.user.id }, data: { linkPrompt: "declined" } });
  return { linked, passwordUser };
}

async function snapshot() {
  const [users, sessions, links, integrationRows] = await Promise.all([
    db.user.findMany({ orderBy: { id: "asc" }, select: { id: true, passwordHash: true, status: true, linkPrompt: true } }),
    db.session.findMany({ orderBy: { id: "asc" }, select: { id: true, userId: true } }),
    db.microsoftLink.findMany({ orderBy: { id: "asc" } }),
    db.integration.findMany({ orderBy: { id: "asc" }, select: { id: true, status: true } }),
  ]);
  return JSON.stringify({ users, sessions, links, integrationRows });
}

const FAULTS: [string, FaultSettings][] = [
  ["unreachable", { unreachable: true }],
  ["slower than the timeout", { slowMs: 2000 }],
  ["answering 503", { status5xx: 503 }],
  ["answering 500", { status5xx: 500 }],
  ["rate-limited", { rateLimit: { retryAfterSeconds: 30 } }],
];

describe.each(FAULTS)("Microsoft %s", (_name, fault) => {
  it("at the start of a Microsoft sign-in: a clear sentence, the typed identifier kept, nothing changed", async () => {
    const { linked } = await world();
    resetMicrosoftClients(); // a cold instance must ask Microsoft for the tenant's metadata
    standin.current.faults.set(fault);
    const before = await snapshot();
    const r = await new Browser().post(login.action, "/login?index", { intent: "identifier", identifier: linked.email! });
    expect(r.status).toBe(503);
    expect(r.data.formError).toMatch(/Microsoft sign-in is unavailable/);
    expect(r.data.identifier).toBe(linked.email);
    expect(await snapshot()).toBe(before);
  });

  it("at the callback: the unavailable page, no session, nothing changed; password users are unaffected", async () => {
    const { linked, passwordUser } = await world();
    const b = new Browser();
    const go = await b.post(login.action, "/login?index", { intent: "identifier", identifier: linked.email! });
    const back = appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName));
    standin.current.faults.set({ ...fault, ...(fault.unreachable ? { unreachable: { paths: ["token", "keys"] } } : {}) });
    const before = await snapshot();
    const r = await b.get(callback.loader, back);
    expect(r.status).toBe(200);
    expect(r.data.problem.title).toBe("Microsoft sign-in is unavailable");
    expect(await snapshot()).toBe(before);

    const p = new Browser();
    await p.post(login.action, "/login?index", { intent: "password", identifier: passwordUser.user.email!, password: PASSWORD });
    expect((await p.post(totp.action, "/login/totp", { code: await totpCode(passwordUser.secret) })).location).toBe("/");
  });
});

describe("a key set without the token's key", () => {
  it("shows the unavailable page and signs nobody in", async () => {
    const { linked } = await world();
    forgetTenantKeys();
    standin.current.faults.set({ jwksWithoutKey: true });
    const b = new Browser();
    const go = await b.post(login.action, "/login?index", { intent: "identifier", identifier: linked.email! });
    const before = await snapshot();
    const r = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName)));
    expect(r.data.problem.title).toBe("Microsoft sign-in is unavailable");
    expect(await snapshot()).toBe(before);
  });
});

describe("a restart in the middle of a consent flow", () => {
  it("keeps nothing the flow needs in memory: the callback completes after the restart", async () => {
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true } });
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const b = await signedInAs(admin);
    const added = await b.post(integrations.action, "/admin/integrations", { intent: "add", tenant: "northwindtraders.com" });
    const { location } = await consentAtMicrosoft(added.location!, "nancy@northwindtraders.com");
    // What a new process starts with: no MSAL clients, no cached keys, the environment read again.
    resetMicrosoftClients();
    forgetTenantKeys();
    reloadEnv();
    // The consent callback leads on to the sign-in by an admin of the tenant (issue 13.2), which activates it.
    const back = await b.get(consentCallback.loader, appPath(location!));
    expect(back.location).toContain(`/${NORTHWIND.id}/oauth2/v2.0/authorize`);
    await b.get(callback.loader, appPath(await signInAtMicrosoft(back.location!, "nancy@northwindtraders.com")));
    expect(await db.integration.findFirstOrThrow({ where: { orgId: org.id } })).toMatchObject({ tenantId: NORTHWIND.id, status: "active" });
  });

  it("leaves an integration waiting, not broken, when the app stops before the admin comes back", async () => {
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true } });
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const b = await signedInAs(admin);
    await b.post(integrations.action, "/admin/integrations", { intent: "add", tenant: "northwindtraders.com" });
    const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    expect(integration.status).toBe("pending_consent");
    // The admin can start consent again from the integration's page with a fresh state.
    const again = await (
      await signedInAs(admin)
    ).post(
      (await import("~/routes/admin.integrations.$id.tsx")).action,
      `/admin/integrations/${integration.id}`,
      { intent: "consent" },
      { id: integration.id },
    );
    expect(again.location).toContain("/adminconsent?");
  });
});
