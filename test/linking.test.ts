// The linking model against the stand-in: the prompt after password + TOTP, linking, signing in with
// Microsoft, the callback's checks failing closed, unlinking, admin revoke, and Microsoft outages.
import { describe, expect, it, vi } from "vitest";
import { db } from "~/lib/db.server.ts";
import { verifyIdToken } from "~/lib/microsoft/signin.server.ts";
import { resetMicrosoftClients } from "~/lib/microsoft/config.server.ts";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import * as prompt from "~/routes/link-microsoft.tsx";
import * as callback from "~/routes/auth.microsoft_.callback.tsx";
import * as microsoftButton from "~/routes/auth.microsoft.tsx";
import * as settings from "~/routes/settings.microsoft.tsx";
import * as confirm from "~/routes/settings.confirm.tsx";
import * as users from "~/routes/admin.users.tsx";
import * as userPage from "~/routes/admin.users_.$id.tsx";
import { CONTOSO, FABRIKAM, NORTHWIND } from "./entra/fixture.ts";
import { Browser, createOrg, createUser, PASSWORD, signedInAs, totpCode } from "./helpers.ts";
import { appPath, cancelAtMicrosoft, signInAtMicrosoft, useStandin } from "./microsoft.ts";

const standin = useStandin();

const ALEX = CONTOSO.users.find((u) => u.userPrincipalName === "alex@contoso.com")!;
const MEGAN = CONTOSO.users.find((u) => u.userPrincipalName === "megan@contoso.com")!;
const PATTI = FABRIKAM.users.find((u) => u.userPrincipalName === "patti@fabrikam.com")!;

/** A licensed org with SSO on and Contoso active (and more tenants when asked). */
async function ssoOrg(tenants: string[] = [CONTOSO.id]) {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
  for (const tenantId of tenants)
    await db.integration.create({ data: { orgId: org.id, tenantId, status: "active", tenantDomain: tenantId === CONTOSO.id ? "contoso.com" : null } });
  return org;
}

async function passwordAndCode(b: Browser, email: string, secret: string, offset = 0) {
  const r = await b.post(login.action, "/login?index", { intent: "password", identifier: email, password: PASSWORD });
  expect(r.location, JSON.stringify(r.data)).toBe("/login/totp");
  return b.post(totp.action, "/login/totp", { code: await totpCode(secret, offset) });
}

/** Signs in with password + TOTP, answers "Use Microsoft" and picks `upn` at Microsoft; returns the callback's result. */
async function linkVia(b: Browser, upn: string) {
  const go = await b.post(prompt.action, "/link-microsoft", { intent: "link", redirectTo: "/" });
  expect(go.status, JSON.stringify(go.data)).toBe(302);
  const back = await signInAtMicrosoft(go.location!, upn);
  return b.get(callback.loader, appPath(back));
}

async function linkedUser(upn = ALEX.userPrincipalName, oid = ALEX.oid) {
  const org = await ssoOrg();
  const { user, secret } = await createUser({ orgId: org.id });
  const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
  await db.microsoftLink.create({ data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: oid, upn } });
  return { org, user, secret };
}

/** Identifier-first for a Microsoft user: returns the redirect to Microsoft. */
const identifier = (b: Browser, email: string) => b.post(login.action, "/login?index", { intent: "identifier", identifier: email });

describe("the link prompt after password + TOTP", () => {
  it("links the Microsoft account chosen at Microsoft, keyed on tenant and object ID", async () => {
    const org = await ssoOrg();
    const { user, secret } = await createUser({ orgId: org.id, email: "ada@example.test" });
    const b = new Browser();
    expect((await passwordAndCode(b, user.email!, secret)).location).toBe("/link-microsoft?redirectTo=%2F");
    expect((await b.get(prompt.loader, "/link-microsoft?redirectTo=%2F")).data).toEqual({ redirectTo: "/", lockout: false });

    const go = await b.post(prompt.action, "/link-microsoft", { intent: "link", redirectTo: "/" });
    const authorize = new URL(go.location!);
    expect(authorize.origin + authorize.pathname).toBe(`${standin.current.url}/${CONTOSO.id}/oauth2/v2.0/authorize`);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("nonce")).toBeTruthy();
    // Linking lets the user pick any account of the tenant: the portal's email says nothing about it.
    expect(authorize.searchParams.get("prompt")).toBe("select_account");

    const done = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName)));
    expect(done.location).toBe("/settings/microsoft");
    const link = await db.microsoftLink.findUniqueOrThrow({ where: { userId: user.id } });
    expect(link).toMatchObject({ tenantId: CONTOSO.id, objectId: ALEX.oid, upn: "alex@contoso.com" });
    const page = (await b.get(settings.loader, "/settings/microsoft")).data;
    expect(page).toMatchObject({ method: "microsoft", canUnlink: true, link: { upn: "alex@contoso.com", tenantId: CONTOSO.id } });
    expect(await db.auditEvent.count({ where: { action: "link.created", actorId: user.id, result: "success" } })).toBe(1);
  });

  it("uses organizations with a domain hint when the org has several tenants", async () => {
    const org = await ssoOrg([CONTOSO.id, NORTHWIND.id]);
    const { user, secret } = await createUser({ orgId: org.id, email: "someone@contoso.com" });
    const b = new Browser();
    await passwordAndCode(b, user.email!, secret);
    const go = await b.post(prompt.action, "/link-microsoft", { intent: "link", redirectTo: "/" });
    const authorize = new URL(go.location!);
    expect(authorize.pathname).toBe("/organizations/oauth2/v2.0/authorize");
    expect(authorize.searchParams.get("domain_hint")).toBe("contoso.com");
  });

  it("does not prompt after 'Don't ask again', and Settings can still link", async () => {
    const org = await ssoOrg();
    const { user, secret } = await createUser({ orgId: org.id });
    const b = new Browser();
    await passwordAndCode(b, user.email!, secret, -1);
    expect((await b.post(prompt.action, "/link-microsoft", { intent: "never", redirectTo: "/" })).location).toBe("/");
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ linkPrompt: "declined" });
    expect((await passwordAndCode(new Browser(), user.email!, secret, 0)).location).toBe("/");
    expect((await b.get(settings.loader, "/settings/microsoft")).data).toMatchObject({ canLink: true, declined: true });
    const go = await b.post(settings.action, "/settings/microsoft", { intent: "link" });
    expect(go.location).toContain("/oauth2/v2.0/authorize");
  });

  it("asks again next time after 'Not now'", async () => {
    const org = await ssoOrg();
    const { user, secret } = await createUser({ orgId: org.id });
    const b = new Browser();
    await passwordAndCode(b, user.email!, secret, -1);
    expect((await b.post(prompt.action, "/link-microsoft", { intent: "later", redirectTo: "/settings" })).location).toBe("/settings");
    expect((await passwordAndCode(new Browser(), user.email!, secret, 0)).location).toBe("/link-microsoft?redirectTo=%2F");
  });

  it.each([
    ["SSO is off", { ssoEnabled: false }],
    ["no licence", { ssoLicensed: false }],
  ])("does not prompt when %s", async (_name, orgData) => {
    const org = await ssoOrg();
    await db.organization.update({ where: { id: org.id }, data: orgData });
    const { user, secret } = await createUser({ orgId: org.id });
    expect((await passwordAndCode(new Browser(), user.email!, secret)).location).toBe("/");
  });

  it.each([
    ["an unknown intent", { intent: "teleport" }],
    ["nothing", {}],
    ["an oversized intent", { intent: "link".repeat(3000) }],
    ["a foreign redirect", { intent: "later", redirectTo: "https://evil.example/" }],
  ])("handles %s without harm", async (_name, form) => {
    const org = await ssoOrg();
    const { user } = await createUser({ orgId: org.id });
    const b = await signedInAs(user);
    const r = await b.post(prompt.action, "/link-microsoft", form as Record<string, string>);
    if (r.status === 302) expect(r.location).toBe("/");
    else expect(r.status).toBe(400);
    expect(await db.microsoftLink.count()).toBe(0);
  });
});

describe("refusals while linking", () => {
  it("refuses an account of a tenant that is not the org's", async () => {
    const org = await ssoOrg([CONTOSO.id, NORTHWIND.id]);
    const { user } = await createUser({ orgId: org.id });
    const b = await signedInAs(user);
    const r = await linkVia(b, PATTI.userPrincipalName);
    expect(r.data.problem.title).toMatch(/belongs to another organization/);
    expect(await db.microsoftLink.count()).toBe(0);
  });

  it("refuses a Microsoft account already linked to someone else", async () => {
    const { org } = await linkedUser();
    const { user: second } = await createUser({ orgId: org.id });
    const r = await linkVia(await signedInAs(second), ALEX.userPrincipalName);
    expect(r.data.problem.title).toMatch(/linked to someone else/);
    expect(await db.microsoftLink.count({ where: { userId: second.id } })).toBe(0);
  });

  it("refuses a Microsoft account that sync gave to another user", async () => {
    const org = await ssoOrg();
    await createUser({ orgId: org.id }).then(({ user }) =>
      db.user.update({ where: { id: user.id }, data: { source: "synced", entraTenantId: CONTOSO.id, entraObjectId: ALEX.oid } }),
    );
    const { user } = await createUser({ orgId: org.id });
    const r = await linkVia(await signedInAs(user), ALEX.userPrincipalName);
    expect(r.data.problem.title).toMatch(/linked to someone else/);
  });

  it("refuses to link twice", async () => {
    const { user } = await linkedUser();
    const r = await (await signedInAs(user)).post(settings.action, "/settings/microsoft", { intent: "link" });
    expect(r.status).toBe(400);
    expect(await db.microsoftLink.count()).toBe(1);
  });
});

describe("the callback fails closed", () => {
  async function startedLink(orgId?: string) {
    const { user } = await createUser({ orgId: orgId ?? (await ssoOrg()).id });
    const b = await signedInAs(user);
    const go = await b.post(prompt.action, "/link-microsoft", { intent: "link", redirectTo: "/" });
    return { user, b, authorizeUrl: go.location! };
  }

  it("refuses a callback carried to another session", async () => {
    const { user, authorizeUrl } = await startedLink();
    const back = await signInAtMicrosoft(authorizeUrl, ALEX.userPrincipalName);
    const other = await signedInAs(user);
    expect((await other.get(callback.loader, appPath(back))).data.problem.title).toMatch(/expired/);
    expect(await db.microsoftLink.count()).toBe(0);
  });

  it("refuses a replayed callback", async () => {
    const { b, authorizeUrl } = await startedLink();
    const back = appPath(await signInAtMicrosoft(authorizeUrl, ALEX.userPrincipalName));
    expect((await b.get(callback.loader, back)).location).toBe("/settings/microsoft");
    expect((await b.get(callback.loader, back)).data.problem.title).toMatch(/expired/);
  });

  it("refuses a token whose nonce is not the one sent", async () => {
    const { b, authorizeUrl } = await startedLink();
    const back = await signInAtMicrosoft(authorizeUrl, ALEX.userPrincipalName);
    standin.current.flows.codes.get(new URL(back).searchParams.get("code"))!.nonce = "someone-elses-nonce";
    expect((await b.get(callback.loader, appPath(back))).data.problem.title).toMatch(/could not be verified/);
    expect(await db.microsoftLink.count()).toBe(0);
  });

  it("refuses a code redeemed with another PKCE verifier (a code from another flow)", async () => {
    const first = await startedLink();
    const second = await startedLink(first.user.orgId);
    const codeOfFirst = new URL(await signInAtMicrosoft(first.authorizeUrl, ALEX.userPrincipalName)).searchParams.get("code")!;
    const backOfSecond = new URL(await signInAtMicrosoft(second.authorizeUrl, MEGAN.userPrincipalName));
    backOfSecond.searchParams.set("code", codeOfFirst);
    expect((await second.b.get(callback.loader, appPath(backOfSecond.toString()))).data.problem.title).toMatch(/could not be verified/);
    expect(await db.microsoftLink.count()).toBe(0);
  });

  it.each([
    ["no state", "/auth/microsoft/callback?code=abc"],
    ["a made-up state", "/auth/microsoft/callback?code=abc&state=made-up"],
    ["an oversized code", `/auth/microsoft/callback?code=${"a".repeat(10_000)}&state=x`],
    ["markup", "/auth/microsoft/callback?error=<script>alert(1)</script>&error_description=<img src=x onerror=alert(1)>"],
  ])("answers %s with a page, not a 500", async (_name, path) => {
    const r = await new Browser().get(callback.loader, path);
    expect(r.status).toBe(200);
    expect(r.data.problem.title).toBeTruthy();
    expect(JSON.stringify(r.data)).not.toContain("<script>");
  });

  it("tells the user who cancelled at Microsoft that nothing changed", async () => {
    const { b, authorizeUrl } = await startedLink();
    const r = await b.get(callback.loader, appPath(await cancelAtMicrosoft(authorizeUrl)));
    expect(r.data.problem.title).toBe("Microsoft sign-in was cancelled");
    expect(await db.microsoftLink.count()).toBe(0);
  });
});

describe("verifying the id_token", () => {
  const user = () => standin.current.directory.user(CONTOSO.id, ALEX.oid)!;
  const token = (claims: Record<string, unknown> = {}, options: { lifetimeSeconds?: number; foreignKey?: boolean } = {}) =>
    options.foreignKey
      ? standin.current.tokens.sign(
          { iss: standin.current.tokens.issuer(CONTOSO.id), aud: standin.current.app.clientId, tid: CONTOSO.id, oid: ALEX.oid, nonce: "n-1", ...claims },
          options,
        )
      : standin.current.tokens.idToken(CONTOSO.id, user(), {
          clientId: standin.current.app.clientId,
          nonce: "n-1",
          claims,
          lifetimeSeconds: options.lifetimeSeconds,
        });

  it("accepts a good token and returns tid and oid", async () => {
    expect(await verifyIdToken(await token(), "n-1")).toMatchObject({ tenantId: CONTOSO.id, objectId: ALEX.oid, upn: "alex@contoso.com" });
  });

  it.each([
    ["another nonce", {}, {}, "n-2"],
    ["an issuer of another tenant", { iss: `https://127.0.0.1/${FABRIKAM.id}/v2.0` }, {}, "n-1"],
    ["the common issuer", { iss: "https://login.microsoftonline.com/{tenantid}/v2.0" }, {}, "n-1"],
    ["another audience", { aud: "00000000-0000-0000-0000-000000000000" }, {}, "n-1"],
    ["an expired token", {}, { lifetimeSeconds: -600 }, "n-1"],
    ["a key Microsoft never published", {}, { foreignKey: true }, "n-1"],
    ["no tenant", { tid: "not-a-guid" }, {}, "n-1"],
    ["no object ID", { oid: undefined }, {}, "n-1"],
  ])("refuses %s", async (_name, claims, options, nonce) => {
    await expect(verifyIdToken(await token(claims, options), nonce)).rejects.toThrow();
  });
});

describe("signing in with Microsoft", () => {
  it("sends a linked user from the identifier straight to Microsoft, and signs them in by tid + oid", async () => {
    const { user } = await linkedUser();
    const b = new Browser();
    const go = await identifier(b, user.email!);
    const authorize = new URL(go.location!);
    expect(authorize.pathname).toBe(`/${CONTOSO.id}/oauth2/v2.0/authorize`);
    expect(authorize.searchParams.get("login_hint")).toBe("alex@contoso.com");
    const done = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName)));
    expect(done.location).toBe("/");
    const session = await db.session.findFirstOrThrow({ where: { userId: user.id } });
    expect(session).toMatchObject({ stage: "active", authMethod: "microsoft", microsoftTenantId: CONTOSO.id });
  });

  it("no longer accepts the linked user's password", async () => {
    const { user } = await linkedUser();
    const r = await new Browser().post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    expect(r.status).toBe(400);
    expect(await db.session.count({ where: { userId: user.id } })).toBe(0);
  });

  it("refuses another Microsoft account at the callback of an identifier-first sign-in", async () => {
    const { user } = await linkedUser();
    const b = new Browser();
    const go = await identifier(b, user.email!);
    const r = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, MEGAN.userPrincipalName)));
    expect(r.data.problem.title).toMatch(/isn't connected/);
    expect(await db.session.count()).toBe(0);
  });

  it("nOAuth: a Microsoft account whose email equals a portal user's is not connected to that user", async () => {
    const org = await ssoOrg();
    await createUser({ orgId: org.id, email: MEGAN.mail! });
    const b = new Browser();
    const go = await b.post(microsoftButton.action, "/auth/microsoft", { redirectTo: "/" });
    expect(new URL(go.location!).pathname).toBe("/organizations/oauth2/v2.0/authorize");
    const r = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, MEGAN.userPrincipalName)));
    expect(r.data.problem.title).toBe("This Microsoft account isn't connected to an account here");
    expect(await db.session.count()).toBe(0);
    expect(await db.microsoftLink.count()).toBe(0);
  });

  it("refuses a linked identity when its integration is no longer active", async () => {
    const { org, user } = await linkedUser();
    const b = new Browser();
    const go = await b.post(microsoftButton.action, "/auth/microsoft", { redirectTo: "/" });
    await db.integration.updateMany({ where: { orgId: org.id }, data: { status: "removed" } });
    const r = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName)));
    expect(r.data.problem).toBeTruthy();
    expect(await db.session.count({ where: { userId: user.id } })).toBe(0);
  });

  it("binds an anonymous sign-in to the browser that started it", async () => {
    await linkedUser();
    const started = new Browser();
    const go = await started.post(microsoftButton.action, "/auth/microsoft", { redirectTo: "/" });
    const back = appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName));
    expect((await new Browser().get(callback.loader, back)).data.problem.title).toMatch(/expired/);
    expect(await db.session.count()).toBe(0);
  });

  it("says Microsoft is unavailable when it can't be reached, and password users are unaffected", async () => {
    const { user } = await linkedUser();
    const org = await ssoOrg([]);
    const { user: passwordUser, secret } = await createUser({ orgId: org.id });
    standin.current.faults.set({ unreachable: true });
    // A fresh instance: MSAL has not cached the tenant's metadata yet, so it must ask Microsoft.
    resetMicrosoftClients();
    const r = await identifier(new Browser(), user.email!);
    expect(r.status).toBe(503);
    expect(r.data.formError).toMatch(/Microsoft sign-in is unavailable/);
    expect(r.data.identifier).toBe(user.email);
    expect((await passwordAndCode(new Browser(), passwordUser.email!, secret)).location).toBe("/");
  });

  it("says Microsoft is unavailable when the token endpoint fails or is too slow", async () => {
    const { user } = await linkedUser();
    for (const fault of [{ status5xx: { paths: ["token"] } }, { slowMs: { ms: 3000, paths: ["token"] } }]) {
      standin.current.faults.clear();
      const b = new Browser();
      const go = await identifier(b, user.email!);
      const back = appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName));
      standin.current.faults.set(fault);
      const r = await b.get(callback.loader, back);
      expect(r.data.problem.title).toBe("Microsoft sign-in is unavailable");
    }
    expect(await db.session.count()).toBe(0);
  });
});

describe("unlinking in My Profile", () => {
  it("needs a recent sign-in: re-authenticate with Microsoft, then unlink; password + TOTP apply again", async () => {
    const { user, secret } = await linkedUser();
    const b = await signedInAs(user, "microsoft", CONTOSO.id);
    await db.session.updateMany({ where: { userId: user.id }, data: { authenticatedAt: new Date(Date.now() - 20 * 60_000) } });
    const refused = await b.post(settings.action, "/settings/microsoft", { intent: "unlink", confirmed: "yes" });
    expect(refused.location).toBe("/settings/confirm?redirectTo=%2Fsettings%2Fmicrosoft");
    expect(await db.microsoftLink.count()).toBe(1);

    const page = await b.get(confirm.loader, refused.location!);
    expect(page.data).toMatchObject({ method: "microsoft", redirectTo: "/settings/microsoft" });
    const reauth = await b.post(confirm.action, refused.location!, { intent: "microsoft" });
    const authorize = new URL(reauth.location!);
    expect(authorize.searchParams.get("prompt")).toBe("login");
    expect(authorize.searchParams.get("max_age")).toBe("900");
    const confirmed = await b.get(callback.loader, appPath(await signInAtMicrosoft(reauth.location!, ALEX.userPrincipalName)));
    expect(confirmed.location).toBe("/settings/microsoft");
    // The Microsoft session ends with the method it used: the user signs in with password + TOTP again.
    expect((await b.post(settings.action, "/settings/microsoft", { intent: "unlink", confirmed: "yes" })).location).toBe("/login");
    expect(await db.microsoftLink.count()).toBe(0);
    expect(await db.session.count({ where: { userId: user.id } })).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "link.removed", actorId: user.id } })).toBe(1);
    expect((await passwordAndCode(new Browser(), user.email!, secret)).location).toMatch(/^\/(link-microsoft|$)/);
  });

  it("refuses re-authentication with another Microsoft account", async () => {
    const { user } = await linkedUser();
    const b = await signedInAs(user, "microsoft", CONTOSO.id);
    const reauth = await b.post(confirm.action, "/settings/confirm?redirectTo=%2Fsettings%2Fmicrosoft", { intent: "microsoft" });
    const r = await b.get(callback.loader, appPath(await signInAtMicrosoft(reauth.location!, MEGAN.userPrincipalName)));
    expect(r.data.code).toBe("identity_not_expected");
    expect(r.data.problem.title).toMatch(/not the Microsoft account you sign in with/);
  });

  it("refuses a re-authentication whose auth_time is older than the request (Microsoft reused an old session)", async () => {
    const { user } = await linkedUser();
    const b = await signedInAs(user, "microsoft", CONTOSO.id);
    await db.session.updateMany({ where: { userId: user.id }, data: { authenticatedAt: new Date(Date.now() - 5 * 3600_000) } });
    standin.current.faults.set({ rememberedSignIn: { ageSeconds: 5 * 3600, ignorePrompt: true } });
    const reauth = await b.post(confirm.action, "/settings/confirm?redirectTo=%2Fsettings%2Fmicrosoft", { intent: "microsoft" });
    const r = await b.get(callback.loader, appPath(await signInAtMicrosoft(reauth.location!, ALEX.userPrincipalName)));
    expect(r.data.code).toBe("reauth_not_fresh");
    expect(r.data.problem.title).toBe("Microsoft did not confirm a fresh sign-in");
    expect(await db.auditEvent.count({ where: { action: "reauth.microsoft", result: "failure" } })).toBe(1);
    // Still not fresh: unlinking still asks to confirm.
    expect((await b.post(settings.action, "/settings/microsoft", { intent: "unlink", confirmed: "yes" })).location).toMatch(/^\/settings\/confirm/);
    expect(await db.microsoftLink.count()).toBe(1);
  });

  it("gets a fresh auth_time because it sends prompt=login, even when Microsoft remembers an old session", async () => {
    const { user } = await linkedUser();
    const b = await signedInAs(user, "microsoft", CONTOSO.id);
    await db.session.updateMany({ where: { userId: user.id }, data: { authenticatedAt: new Date(Date.now() - 5 * 3600_000) } });
    standin.current.faults.set({ rememberedSignIn: { ageSeconds: 5 * 3600 } });
    const reauth = await b.post(confirm.action, "/settings/confirm?redirectTo=%2Fsettings%2Fmicrosoft", { intent: "microsoft" });
    const r = await b.get(callback.loader, appPath(await signInAtMicrosoft(reauth.location!, ALEX.userPrincipalName)));
    expect(r.location).toBe("/settings/microsoft");
  });

  it("lets a user without a password unlink: a set-password email goes out and they are signed out", async () => {
    const org = await ssoOrg();
    const { user } = await createUser({ orgId: org.id, password: null });
    const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    await db.microsoftLink.create({ data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: ALEX.oid } });
    const b = await signedInAs(user, "microsoft", CONTOSO.id);
    const r = await b.post(settings.action, "/settings/microsoft", { intent: "unlink", confirmed: "yes" });
    expect(r.location).toBe("/login");
    expect(await db.microsoftLink.count()).toBe(0);
    expect(await db.session.count({ where: { userId: user.id } })).toBe(0);
    expect((await db.outgoingMail.findMany()).map((m) => [m.to, m.template])).toEqual([[user.email, "set-password"]]);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBeNull();
  });

  it.each([
    ["nothing", {}],
    ["a wrong intent", { intent: "UNLINK" }],
    ["an oversized intent", { intent: "unlink".repeat(2000) }],
  ])("refuses %s", async (_name, form) => {
    const { user } = await linkedUser();
    const r = await (await signedInAs(user, "microsoft", CONTOSO.id)).post(settings.action, "/settings/microsoft", form as Record<string, string>);
    expect(r.status).toBe(400);
    expect(await db.microsoftLink.count()).toBe(1);
  });
});

/** The confirmed revoke on the user's page (the confirmation itself is tested in test/admin-user-page.test.ts). */
async function revoke(admin: { id: string }, userId: string, form: Record<string, string> = {}) {
  return (await signedInAs(admin)).post(userPage.action, `/admin/users/${userId}`, { intent: "revoke", confirmed: "yes", ...form }, { id: userId });
}

describe("admin revoke", () => {
  it("revokes the link, ends the user's Microsoft sessions, and the user is back on password", async () => {
    const { org, user, secret } = await linkedUser();
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    await signedInAs(user, "microsoft", CONTOSO.id);
    const list = (await (await signedInAs(admin)).get(users.loader, "/admin/users")).data.users;
    expect(list.find((u: { id: string }) => u.id === user.id)).toMatchObject({ method: "microsoft", link: { upn: "alex@contoso.com" } });

    const r = await revoke(admin, user.id);
    expect(r.location).toBe(`/admin/users/${user.id}`);
    expect(await db.microsoftLink.count()).toBe(0);
    expect(await db.session.count({ where: { userId: user.id } })).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "link.revoked", actorId: admin.id, targetId: user.id } })).toBe(1);
    expect((await passwordAndCode(new Browser(), user.email!, secret)).location).toMatch(/^\/(link-microsoft|$)/);
  });

  it("emails a set-password link when revoking leaves the user with nothing", async () => {
    const org = await ssoOrg();
    const { user } = await createUser({ orgId: org.id, password: null });
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const integration = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    await db.microsoftLink.create({ data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: ALEX.oid } });
    await revoke(admin, user.id, { sendLink: "yes" });
    expect((await db.outgoingMail.findMany()).map((m) => m.to)).toEqual([user.email]);
  });

  it("cannot reach a user of another org", async () => {
    const { user } = await linkedUser();
    const other = await createOrg();
    const { user: stranger } = await createUser({ orgId: other.id, role: "admin" });
    const r = await revoke(stranger, user.id);
    expect(r.status).toBe(404);
    const list = (await (await signedInAs(stranger)).get(users.loader, "/admin/users")).data.users;
    expect(list.map((u: { id: string }) => u.id)).not.toContain(user.id);
    expect(await db.microsoftLink.count()).toBe(1);
  });

  it("refuses an oversized user ID with the 404 and an unknown intent with a sentence", async () => {
    const { org, user } = await linkedUser();
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    expect((await revoke(admin, "x".repeat(100))).status).toBe(404);
    const b = await signedInAs(admin);
    expect((await b.post(userPage.action, `/admin/users/${user.id}`, { intent: "delete", confirmed: "yes" }, { id: user.id })).status).toBe(400);
    expect(await db.microsoftLink.count()).toBe(1);
  });
});

describe("createLink when two requests race", () => {
  const identity = { tenantId: CONTOSO.id, objectId: ALEX.oid, name: "Alex", upn: ALEX.userPrincipalName, email: null, authTime: null };

  it("links one user and tells the other the account is taken", async () => {
    const { createLink } = await import("~/lib/links.server.ts");
    const org = await ssoOrg();
    const [a, b] = [await createUser({ orgId: org.id }), await createUser({ orgId: org.id })];
    const results = await Promise.all([createLink(a.user, identity, "203.0.113.7"), createLink(b.user, identity, "203.0.113.7")]);
    expect(results.map((r) => (r.ok ? "ok" : r.reason)).sort()).toEqual(["ok", "taken"]);
    expect(await db.microsoftLink.count()).toBe(1);
  });

  it("does not call a database failure 'taken'", async () => {
    const { createLink } = await import("~/lib/links.server.ts");
    const org = await ssoOrg();
    const { user } = await createUser({ orgId: org.id });
    const create = vi.spyOn(db, "$transaction").mockRejectedValueOnce(Object.assign(new Error("database is locked"), { code: "P1008" }));
    try {
      await expect(createLink(user, identity, "203.0.113.7")).rejects.toThrow("database is locked");
    } finally {
      create.mockRestore();
    }
    expect(await db.microsoftLink.count()).toBe(0);
  });
});
