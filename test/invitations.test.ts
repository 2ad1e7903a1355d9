// Invitations: the admin page (invite, resend, revoke, org isolation, hostile input) and the invitation link
// (set a password once, or sign in with Microsoft when the strategy says so; dead links never fail with a 500).
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { sha256 } from "~/lib/crypto.server.ts";
import { handlePasswordResetRequests } from "~/lib/password-reset.server.ts";
import * as page from "~/routes/admin.invitations.tsx";
import * as invite from "~/routes/invite.tsx";
import * as login from "~/routes/login._index.tsx";
import * as forgot from "~/routes/forgot-password.tsx";
import * as callback from "~/routes/auth.microsoft_.callback.tsx";
import { CONTOSO } from "./entra/fixture.ts";
import { Browser, createOrg, createUser, signedInAs } from "./helpers.ts";
import { appPath, signInAtMicrosoft, useStandin } from "./microsoft.ts";

const standin = useStandin();
const ALEX = CONTOSO.users.find((u) => u.userPrincipalName === "alex@contoso.com")!;
const NEW_PASSWORD = "a brand new passphrase";
const DAY = 24 * 60 * 60_000;

async function adminOf(orgName = "Acme") {
  const org = await createOrg(orgName);
  const { user } = await createUser({ orgId: org.id, role: "admin" });
  return { org, admin: user, b: await signedInAs(user) };
}

const inviteForm = (fields: Record<string, string>) => ({ intent: "invite", email: "ada@example.test", name: "Ada Lovelace", role: "member", ...fields });

/** The invitation link in the latest email to `to`. */
async function linkFor(to: string) {
  const mail = await db.outgoingMail.findFirstOrThrow({ where: { to }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
  const url = mail.text.match(/http:\/\/localhost:3000\/invite\?token=[A-Za-z0-9_-]+/)?.[0];
  expect(url, mail.text).toBeTruthy();
  const link = new URL(url!);
  return { path: link.pathname + link.search, token: link.searchParams.get("token")!, mail };
}

async function rows(b: Browser) {
  const r = await b.get(page.loader, "/admin/invitations");
  expect(r.status).toBe(200);
  return r.data as Awaited<ReturnType<typeof page.loader>>;
}

async function statusOf(b: Browser, email: string) {
  return (await rows(b)).invitations.find((i) => i.email === email)?.status;
}

/** Everything an invitation action could change. */
async function snapshot() {
  const [users, tokens, mail, audit] = await Promise.all([
    db.user.findMany({ orderBy: { id: "asc" } }),
    db.oneTimeToken.findMany({ orderBy: { id: "asc" } }),
    db.outgoingMail.count(),
    db.auditEvent.count({ where: { action: { startsWith: "invitation." } } }),
  ]);
  return { users, tokens, mail, audit };
}

/** A licensed org with SSO on and Contoso active. */
async function ssoOrg() {
  const { org, admin, b } = await adminOf("Contoso Ltd");
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, tenantDomain: "contoso.com", status: "active" } });
  return { org, admin, b, integration };
}

async function accept(b: Browser, token: string, password = NEW_PASSWORD, confirm = password) {
  return b.post(invite.action, `/invite?token=${token}`, { intent: "password", token, newPassword: password, confirmPassword: confirm });
}

describe("inviting by email", () => {
  it("creates a member without a password in the admin's org and mails a single-use 7-day link", async () => {
    const { org, admin, b } = await adminOf();
    const r = await b.post(page.action, "/admin/invitations", inviteForm({ email: "  Ada@Example.TEST ", role: "admin" }));
    expect(r.status, JSON.stringify(r.data)).toBe(302);
    expect(r.location).toBe("/admin/invitations");

    const user = await db.user.findUniqueOrThrow({ where: { email: "ada@example.test" } });
    expect(user).toMatchObject({ orgId: org.id, name: "Ada Lovelace", role: "admin", source: "local", status: "active", passwordHash: null });
    const { token, mail } = await linkFor("ada@example.test");
    expect(mail.template).toBe("invitation");
    expect(mail.subject).toBe("You're invited to Acme");
    expect(mail.text).toContain(admin.name);
    expect(mail.html).toContain("Accept the invitation");
    const stored = await db.oneTimeToken.findFirstOrThrow({ where: { type: "invitation", target: user.id } });
    expect(stored.tokenHash).toBe(sha256(token));
    expect(Math.abs(stored.expiresAt.getTime() - stored.createdAt.getTime() - 7 * DAY)).toBeLessThan(1000);

    const list = await rows(b);
    expect(list.invitations).toEqual([expect.objectContaining({ email: "ada@example.test", status: "pending", role: "admin", method: "none" })]);
    const actions = (await db.auditEvent.findMany({ where: { orgId: org.id }, orderBy: { createdAt: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["user.created", "invitation.sent"]));
  });

  it("sends the Microsoft invitation to a user who signs in with a linked Microsoft account", async () => {
    const { org, b, integration } = await ssoOrg();
    const { user } = await createUser({ orgId: org.id, email: "alex@contoso.com", password: null, totp: false });
    await db.microsoftLink.create({
      data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: ALEX.oid, upn: ALEX.userPrincipalName },
    });
    expect((await rows(b)).notInvited).toEqual([expect.objectContaining({ userId: user.id, method: "microsoft" })]);

    const r = await b.post(page.action, "/admin/invitations", { intent: "resend", userId: user.id });
    expect(r.status, JSON.stringify(r.data)).toBe(302);
    const { path, mail } = await linkFor("alex@contoso.com");
    expect(mail.template).toBe("sso-invitation");
    expect(mail.text).toMatch(/Microsoft work account/);
    expect(mail.html).toContain("Sign in with Microsoft");
    expect(mail.text).not.toMatch(/password to create:|choose a password/i);
    const view = await new Browser().get(invite.loader, path);
    expect(view.data).toMatchObject({ state: "microsoft", email: "alex@contoso.com", orgName: "Contoso Ltd" });
    expect(await statusOf(b, "alex@contoso.com")).toBe("pending");
  });

  it("sends the Microsoft invitation to a synced user with SSO, and the button starts Microsoft sign-in once", async () => {
    const { org, b, integration } = await ssoOrg();
    await db.organization.update({ where: { id: org.id }, data: { syncIntegrationId: integration.id } });
    const { user } = await createUser({ orgId: org.id, email: "alex@contoso.com", password: null, totp: false });
    await db.user.update({
      where: { id: user.id },
      data: {
        source: "synced",
        ssoEnabled: true,
        entraTenantId: CONTOSO.id,
        entraObjectId: ALEX.oid,
        entraUpn: ALEX.userPrincipalName,
        syncIntegrationId: integration.id,
      },
    });
    await b.post(page.action, "/admin/invitations", { intent: "resend", userId: user.id });
    const { token, mail } = await linkFor("alex@contoso.com");
    expect(mail.template).toBe("sso-invitation");

    const invitee = new Browser();
    // A password can never be set for a Microsoft user through the link.
    const refused = await accept(invitee, token);
    expect(refused.location).toBe(`/invite?token=${token}`);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBeNull();

    const go = await invitee.post(invite.action, `/invite?token=${token}`, { intent: "microsoft", token });
    expect(go.status, JSON.stringify(go.data)).toBe(302);
    const authorize = new URL(go.location!);
    expect(authorize.origin + authorize.pathname).toBe(`${standin.current.url}/${CONTOSO.id}/oauth2/v2.0/authorize`);
    expect(authorize.searchParams.get("login_hint")).toBe(ALEX.userPrincipalName);
    const done = await invitee.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, ALEX.userPrincipalName)));
    expect(done.location).toBe("/");
    expect(await statusOf(b, "alex@contoso.com")).toBe("accepted");
    const again = await new Browser().post(invite.action, `/invite?token=${token}`, { intent: "microsoft", token });
    expect(again.status).toBe(410);
    expect(await db.auditEvent.count({ where: { action: "invitation.accepted", actorId: user.id } })).toBe(1);
  });

  it("refuses an email that already has an account, without saying which organization has it", async () => {
    const { org, b } = await adminOf();
    const other = await createOrg("Secret Rival Corp");
    await createUser({ orgId: other.id, email: "taken@example.test" });
    await createUser({ orgId: org.id, email: "mine@example.test" });
    const before = await snapshot();

    const elsewhere = await b.post(page.action, "/admin/invitations", inviteForm({ email: "TAKEN@example.test" }));
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.data.errors.email).toMatch(/can't be invited/);
    expect(JSON.stringify(elsewhere.data)).not.toMatch(/Secret Rival|org-/);
    expect(elsewhere.data.values).toMatchObject({ email: "TAKEN@example.test", name: "Ada Lovelace" });

    const mine = await b.post(page.action, "/admin/invitations", inviteForm({ email: "mine@example.test" }));
    expect(mine.status).toBe(400);
    expect(mine.data.errors.email).toMatch(/already belongs to a user of your organization/);
    expect(await snapshot()).toEqual(before);
  });
});

describe("accepting with a password", () => {
  it("sets the password once, then the first sign-in enrols TOTP", async () => {
    const { b } = await adminOf();
    await b.post(page.action, "/admin/invitations", inviteForm({}));
    const { path, token } = await linkFor("ada@example.test");
    const invitee = new Browser();
    const view = await invitee.get(invite.loader, path);
    expect(view.status).toBe(200);
    expect(view.data).toMatchObject({ state: "password", email: "ada@example.test", name: "Ada Lovelace", orgName: "Acme" });

    const done = await accept(invitee, token);
    expect(done.location).toBe("/login");
    expect(done.setCookies.some((c) => c.startsWith("__flash="))).toBe(true);
    const step = await invitee.post(login.action, "/login?index", { intent: "password", identifier: "ada@example.test", password: NEW_PASSWORD });
    expect(step.location).toBe("/login/enrol");

    const second = await accept(new Browser(), token, "another password 2");
    expect(second.status).toBe(410);
    expect(second.data.invalid).toBe(true);
    const stale = await new Browser().get(invite.loader, path);
    expect(stale.status).toBe(410);
    expect(stale.data.state).toBe("invalid");
    expect(await statusOf(b, "ada@example.test")).toBe("accepted");
    expect(await db.auditEvent.count({ where: { action: "invitation.accepted" } })).toBe(1);
    // Nothing to resend or revoke once accepted.
    const user = await db.user.findUniqueOrThrow({ where: { email: "ada@example.test" } });
    expect((await b.post(page.action, "/admin/invitations", { intent: "resend", userId: user.id })).status).toBe(400);
    expect((await b.post(page.action, "/admin/invitations", { intent: "revoke", userId: user.id })).status).toBe(400);
  });

  it("signs out whoever was signed in on the browser that accepts", async () => {
    const { b } = await adminOf();
    await b.post(page.action, "/admin/invitations", inviteForm({}));
    const { token } = await linkFor("ada@example.test");
    const sessions = await db.session.count();
    const done = await accept(b, token);
    expect(done.location).toBe("/login");
    expect(await db.session.count()).toBe(sessions - 1);
  });

  it("expires after 7 days; a resent invitation works again", async () => {
    const { b } = await adminOf();
    await b.post(page.action, "/admin/invitations", inviteForm({}));
    const { path, token } = await linkFor("ada@example.test");
    await db.oneTimeToken.updateMany({ where: { type: "invitation" }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await new Browser().get(invite.loader, path)).status).toBe(410);
    expect((await accept(new Browser(), token)).status).toBe(410);
    expect((await db.user.findUniqueOrThrow({ where: { email: "ada@example.test" } })).passwordHash).toBeNull();
    expect(await statusOf(b, "ada@example.test")).toBe("expired");

    const user = await db.user.findUniqueOrThrow({ where: { email: "ada@example.test" } });
    expect((await b.post(page.action, "/admin/invitations", { intent: "resend", userId: user.id })).status).toBe(302);
    const fresh = await linkFor("ada@example.test");
    expect(fresh.token).not.toBe(token);
    expect(await statusOf(b, "ada@example.test")).toBe("pending");
    expect((await accept(new Browser(), fresh.token)).location).toBe("/login");
  });

  it.each([
    ["a short password", { newPassword: "short", confirmPassword: "short" }, "newPassword", /at least 8/],
    ["a 10 kB password", { newPassword: "x".repeat(10_000), confirmPassword: "x".repeat(10_000) }, "newPassword", /at most 256/],
    ["passwords that differ", { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD + "!" }, "confirmPassword", /don't match/],
    ["a missing confirmation", { newPassword: NEW_PASSWORD }, "confirmPassword", /.+/],
    ["a 10 kB token", { token: "t".repeat(10_000), newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, "token", /.+/],
  ])("rejects %s next to the field and keeps the link usable", async (_label, fields, field, message) => {
    const { b } = await adminOf();
    await b.post(page.action, "/admin/invitations", inviteForm({}));
    const { token } = await linkFor("ada@example.test");
    const r = await new Browser().post(invite.action, `/invite?token=${token}`, { intent: "password", token, ...fields } as Record<string, string>);
    expect(r.status).toBe(400);
    expect(r.data.errors[field]).toMatch(message);
    expect(await db.oneTimeToken.count({ where: { type: "invitation", usedAt: null } })).toBe(1);
    expect((await db.user.findUniqueOrThrow({ where: { email: "ada@example.test" } })).passwordHash).toBeNull();
  });

  it.each([
    ["empty", ""],
    ["garbage", '\'; DROP TABLE "User"; --'],
    ["html", "<script>alert(1)</script>"],
    ["too long", "a".repeat(10_000)],
    ["unicode", "ťőκέν-ťőκέν-ťőκέν-ťőκέν"],
    ["a password reset token", "reset"],
  ])("shows a clear page for a %s token and changes nothing", async (_l, raw) => {
    const { user } = await createUser({ password: null, totp: false });
    let token = raw;
    if (raw === "reset") {
      const { issueToken } = await import("~/lib/tokens.server.ts");
      token = await issueToken("password_reset", user.id, 30);
    }
    const before = await snapshot();
    const view = await new Browser().get(invite.loader, `/invite?token=${encodeURIComponent(token)}`);
    expect(view.status).toBe(410);
    expect(view.data).toEqual({ state: "invalid" });
    const r = await accept(new Browser(), token);
    expect([400, 410]).toContain(r.status);
    const m = await new Browser().post(invite.action, "/invite", { intent: "microsoft", token });
    expect([400, 410]).toContain(m.status);
    expect(await snapshot()).toEqual(before);
  });
});

describe("resend and revoke", () => {
  it("resend: a new link, the old one stops working", async () => {
    const { b } = await adminOf();
    await b.post(page.action, "/admin/invitations", inviteForm({}));
    const first = await linkFor("ada@example.test");
    const user = await db.user.findUniqueOrThrow({ where: { email: "ada@example.test" } });
    const r = await b.post(page.action, "/admin/invitations", { intent: "resend", userId: user.id });
    expect(r.location).toBe("/admin/invitations");
    const second = await linkFor("ada@example.test");
    expect(second.token).not.toBe(first.token);
    expect(await db.outgoingMail.count({ where: { to: "ada@example.test", template: "invitation" } })).toBe(2);
    expect((await new Browser().get(invite.loader, first.path)).data.state).toBe("invalid");
    expect((await accept(new Browser(), first.token)).status).toBe(410);
    expect((await new Browser().get(invite.loader, second.path)).data.state).toBe("password");
    expect(await db.auditEvent.count({ where: { action: "invitation.resent", targetId: user.id } })).toBe(1);
  });

  it("revoke: the link stops working and the account is disabled until invited again", async () => {
    const { b } = await adminOf();
    await b.post(page.action, "/admin/invitations", inviteForm({}));
    const { path, token } = await linkFor("ada@example.test");
    const user = await db.user.findUniqueOrThrow({ where: { email: "ada@example.test" } });
    const r = await b.post(page.action, "/admin/invitations", { intent: "revoke", userId: user.id });
    expect(r.location).toBe("/admin/invitations");
    expect((await new Browser().get(invite.loader, path)).status).toBe(410);
    expect((await accept(new Browser(), token)).status).toBe(410);
    expect(await statusOf(b, "ada@example.test")).toBe("revoked");
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).status).toBe("disabled");
    // "Forgot password" does not reopen a withdrawn invitation.
    await new Browser().post(forgot.action, "/forgot-password", { identifier: "ada@example.test" });
    await handlePasswordResetRequests();
    expect(await db.outgoingMail.count({ where: { template: "password-reset" } })).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "invitation.revoked", targetId: user.id } })).toBe(1);
    expect((await b.post(page.action, "/admin/invitations", { intent: "revoke", userId: user.id })).status).toBe(400);

    expect((await b.post(page.action, "/admin/invitations", { intent: "resend", userId: user.id })).status).toBe(302);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).status).toBe("active");
    const fresh = await linkFor("ada@example.test");
    expect((await accept(new Browser(), fresh.token)).location).toBe("/login");
  });

  it("revoking the invitation of an existing user only ends the link", async () => {
    const { org, b } = await adminOf();
    const { user } = await createUser({ orgId: org.id, password: null, totp: false });
    await b.post(page.action, "/admin/invitations", { intent: "resend", userId: user.id });
    expect((await b.post(page.action, "/admin/invitations", { intent: "revoke", userId: user.id })).status).toBe(302);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).status).toBe("active");
    expect(await statusOf(b, user.email!)).toBe("revoked");
  });

  it("does not invite a user who already signs in with a password", async () => {
    const { org, b } = await adminOf();
    const { user } = await createUser({ orgId: org.id });
    const before = await snapshot();
    const r = await b.post(page.action, "/admin/invitations", { intent: "resend", userId: user.id });
    expect(r.status).toBe(400);
    expect(r.data.errors.list).toMatch(/already signs in with a password/);
    expect(await snapshot()).toEqual(before);
  });
});

describe("who may use the admin page", () => {
  it("answers 404 to members and sends anonymous visitors to sign in", async () => {
    const { user } = await createUser({ role: "member" });
    const member = await signedInAs(user);
    expect((await member.get(page.loader, "/admin/invitations")).status).toBe(404);
    const before = await snapshot();
    expect((await member.post(page.action, "/admin/invitations", inviteForm({}))).status).toBe(404);
    expect(await snapshot()).toEqual(before);
    expect((await new Browser().get(page.loader, "/admin/invitations")).location).toBe("/login?redirectTo=%2Fadmin%2Finvitations");
    expect((await new Browser().post(page.action, "/admin/invitations", inviteForm({}))).location).toMatch(/^\/login/);
  });

  it("never lets an admin resend or revoke another organization's invitation (404)", async () => {
    const a = await adminOf("Org A");
    const b = await adminOf("Org B");
    await a.b.post(page.action, "/admin/invitations", inviteForm({}));
    const user = await db.user.findUniqueOrThrow({ where: { email: "ada@example.test" } });
    const before = await snapshot();
    for (const intent of ["resend", "revoke"]) {
      expect((await b.b.post(page.action, "/admin/invitations", { intent, userId: user.id })).status).toBe(404);
    }
    expect(await snapshot()).toEqual(before);
    expect((await rows(b.b)).invitations).toEqual([]);
    expect((await rows(b.b)).notInvited).toEqual([]);
  });
});

describe("hostile input on the invite form", () => {
  it.each([
    ["an empty email", { email: "" }, "email", /Enter the email address/],
    ["a 10 kB email", { email: "a".repeat(10_000) + "@example.test" }, "email", /at most 254/],
    ["a malformed email", { email: "ada@" }, "email", /valid email address/],
    ["a unicode email", { email: "ädä@exämple.com" }, "email", /valid email address/],
    ["HTML as the email", { email: "<script>alert(1)</script>@x.test" }, "email", /valid email address/],
    ["SQL as the email", { email: "' OR '1'='1@example.test" }, "email", /valid email address/],
    ["a phone number as the email", { email: "+1 415 555 2671" }, "email", /valid email address/],
    ["an empty name", { name: "   " }, "name", /Enter the person's name/],
    ["a 10 kB name", { name: "n".repeat(10_000) }, "name", /at most 100/],
    ["HTML as the name", { name: "<img src=x onerror=alert(1)>" }, "name", /letters, digits, spaces/],
    ["SQL as the name", { name: 'Robert\'); DROP TABLE "User"; --' }, "name", /letters, digits, spaces/],
    ["control characters in the name", { name: "Ada\u0000\u202E" }, "name", /letters, digits, spaces/],
    ["emoji as the name", { name: "🧪🧪" }, "name", /letters, digits, spaces/],
    ["an unknown role", { role: "owner" }, "role", /Member or Admin/],
    ["a missing role", { role: "" }, "role", /Member or Admin/],
    ["an unknown intent", { intent: "delete" }, "intent", /Choose an action/],
  ])("refuses %s with a sentence next to the field, keeps the input and changes nothing", async (_label, fields, field, message) => {
    const { b } = await adminOf();
    const before = await snapshot();
    const r = await b.post(page.action, "/admin/invitations", inviteForm(fields));
    expect(r.status).toBe(400);
    expect(r.data.errors[field]).toMatch(message);
    const sent = inviteForm(fields);
    expect(r.data.values.email).toBe(sent.email.slice(0, 254));
    expect(r.data.values.name).toBe(sent.name.slice(0, 100));
    expect(await snapshot()).toEqual(before);
  });

  it("accepts names in any script with the punctuation names use", async () => {
    const { b } = await adminOf();
    for (const [i, name] of ["Zoë Ñúñez-O'Brien", "李雷", "Ада Лавлейс", "Dr. J. R. (Ronald) Tolkien"].entries()) {
      const r = await b.post(page.action, "/admin/invitations", inviteForm({ email: `p${i}@example.test`, name }));
      expect(r.status, JSON.stringify(r.data)).toBe(302);
      expect((await db.user.findUniqueOrThrow({ where: { email: `p${i}@example.test` } })).name).toBe(name.normalize("NFC"));
    }
  });

  it.each([
    ["a missing user", { intent: "resend" }],
    ["an empty user", { intent: "revoke", userId: "" }],
    ["a 10 kB user", { intent: "revoke", userId: "u".repeat(10_000) }],
  ])("refuses %s on the list actions with a sentence", async (_l, fields) => {
    const { b } = await adminOf();
    const before = await snapshot();
    const r = await b.post(page.action, "/admin/invitations", fields as Record<string, string>);
    expect(r.status).toBe(400);
    expect(r.data.errors.userId).toMatch(/Choose a user/);
    expect(await snapshot()).toEqual(before);
  });

  it("answers 404 for a user id that does not exist", async () => {
    const { b } = await adminOf();
    expect((await b.post(page.action, "/admin/invitations", { intent: "revoke", userId: "' OR 1=1 --" })).status).toBe(404);
  });
});
