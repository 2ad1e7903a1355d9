// Issue 12's defects 1, 3, 4 and 5 as a person meets them in the browser (with and without JavaScript), against
// the Microsoft stand-in that e2e/serve.sh starts. Each test registers its own tenant; the portal's state is
// checked in the database the fixtures write to.
import { randomUUID } from "node:crypto";
import type { APIRequestContext, Page } from "@playwright/test";
import { db } from "../app/lib/db.server.ts";
import { enterIdentifier, expect, newAccount, orgWithActiveTenant, PASSWORD, pickAccount, signIn, test, totp, type Tenant } from "./fixtures.ts";

const standin = process.env.ENTRA_AUTHORITY_HOST!;

type Person = { name: string; upn: string; oid: string };

/** A consented tenant with Tina Admin, Uma User and the other people named (first names, lower case in the UPN). */
async function tenantWith(request: APIRequestContext, others: string[] = []): Promise<Tenant & { people: Record<string, Person> }> {
  const id = randomUUID();
  const name = `t${id.slice(0, 8)}`;
  const domain = `${name}.example.com`;
  const person = (first: string, last: string): Person => ({ name: `${first} ${last}`, upn: `${first.toLowerCase()}@${domain}`, oid: randomUUID() });
  const people: Record<string, Person> = { tina: person("Tina", "Admin"), uma: person("Uma", "User") };
  for (const first of others) people[first.toLowerCase()] = person(first, "Other");
  const response = await request.post(`${standin}/_standin/tenants`, {
    data: {
      id,
      displayName: `Tenant ${name}`,
      domains: [`${name}.onmicrosoft.com`, domain],
      adminConsent: true,
      users: Object.entries(people).map(([key, p]) => ({
        oid: p.oid,
        displayName: p.name,
        userPrincipalName: p.upn,
        mail: p.upn,
        accountEnabled: true,
        isAdmin: key === "tina",
      })),
    },
  });
  expect(response.ok(), await response.text()).toBe(true);
  return { id, domain, admin: people.tina!.upn, user: people.uma!.upn, userOid: people.uma!.oid, people };
}

/** A user of the org linked to the tenant's Uma, as linking leaves them: no password. */
async function linkedUser(tenant: Tenant) {
  const account = await orgWithActiveTenant(tenant);
  const integration = await db.integration.findFirstOrThrow({ where: { orgId: account.orgId } });
  await db.microsoftLink.create({
    data: { userId: account.userId, integrationId: integration.id, tenantId: tenant.id, objectId: tenant.userOid, upn: tenant.user },
  });
  await db.user.update({ where: { id: account.userId }, data: { passwordHash: null } });
  return account;
}

/** A user synced from the tenant by the org's sync connection, with SSO on for them: no password, Microsoft only. */
async function syncedUser(orgId: string, tenant: Tenant, person: Person) {
  const integration = await db.integration.findFirstOrThrow({ where: { orgId, tenantId: tenant.id } });
  await db.organization.update({ where: { id: orgId }, data: { syncIntegrationId: integration.id } });
  return db.user.create({
    data: {
      orgId,
      name: person.name,
      email: person.upn,
      source: "synced",
      ssoEnabled: true,
      entraTenantId: tenant.id,
      entraObjectId: person.oid,
      entraUpn: person.upn,
      syncIntegrationId: integration.id,
    },
  });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Opens, in the development outbox, the one message sent to `to` (the mail worker delivers within seconds). */
async function openMail(page: Page, to: string) {
  await expect(async () => {
    await page.goto("/dev/outbox");
    await page
      .getByRole("row", { name: new RegExp(escape(to)) })
      .getByRole("link", { name: "Open" })
      .click({ timeout: 1000 });
    await expect(page).toHaveURL(/\/dev\/outbox\/.+/, { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
}

/** "Forgot your password?" for `identifier`: the confirmation the page shows, with the identifier taken out. */
async function askForReset(page: Page, identifier: string) {
  await page.goto("/forgot-password");
  await expect(page.getByRole("heading", { name: "Forgot your password?" })).toBeVisible();
  await page.getByLabel("Email address or mobile number").fill(identifier);
  await page.getByRole("button", { name: "Send reset link" }).click();
  const status = page.getByRole("status");
  await expect(status).toContainText(`If an account exists for ${identifier}`);
  await expect(page.getByRole("heading", { name: "Forgot your password?" })).toBeVisible();
  return (await status.innerText()).replace(identifier, "<identifier>");
}

/** Switches the stand-in's remembered Microsoft session (a global fault of the stand-in: only this key is touched). */
async function rememberedSignIn(request: APIRequestContext, value: { ageSeconds: number; ignorePrompt?: boolean } | null) {
  const response = await request.post(`${standin}/_standin/faults`, { data: { rememberedSignIn: value } });
  expect(response.ok(), await response.text()).toBe(true);
}

test("forgot password never gives an SSO user a password: a linked user and a synced user get the Microsoft mail, and keep signing in with Microsoft", async ({
  page,
  request,
}) => {
  const tenant = await tenantWith(request, ["Sam"]);
  const linked = await linkedUser(tenant);
  const synced = await syncedUser(linked.orgId, tenant, tenant.people.sam!);
  const passwordUser = await newAccount();

  // What anyone sees: an address nobody has, and a password user (who does get a reset link).
  const nobody = await askForReset(page, `nobody-${randomUUID()}@example.test`);
  expect(await askForReset(page, passwordUser.email)).toBe(nobody);
  await expect.poll(() => db.outgoingMail.count({ where: { to: passwordUser.email, template: "password-reset" } })).toBe(1);

  for (const [email, userId, upn] of [
    [linked.email, linked.userId, tenant.user],
    [synced.email!, synced.id, tenant.people.sam!.upn],
  ] as const) {
    // The same page as for anyone: nothing says the account signs in with Microsoft.
    expect(await askForReset(page, email)).toBe(nobody);

    // The mail says "You sign in with Microsoft" and holds no link that sets a password.
    await openMail(page, email);
    await expect(page.getByRole("heading", { name: "You sign in with Microsoft", level: 1 })).toBeVisible();
    await expect(page.getByText(/there is no password to reset/).first()).toBeVisible();
    await expect(page.getByRole("link", { name: /reset-password|set-password|token=/ })).toHaveCount(0);
    await expect(page.getByRole("link", { name: /\/login$/ })).toBeVisible();
    const mails = await db.outgoingMail.findMany({ where: { to: email } });
    expect(mails.map((m) => [m.template, m.subject])).toEqual([["microsoft-sign-in", "You sign in with Microsoft"]]);
    expect(mails[0]!.text).not.toMatch(/token=/);

    // Nothing was stored that could become a password.
    expect((await db.user.findUniqueOrThrow({ where: { id: userId } })).passwordHash).toBeNull();
    expect(await db.oneTimeToken.count({ where: { target: userId, type: { in: ["password_reset", "set_password"] } } })).toBe(0);

    // Their Microsoft sign-in still works.
    await enterIdentifier(page, email);
    await pickAccount(page, upn);
    await expect(page.getByRole("heading", { name: /^Welcome, / })).toBeVisible();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/login/);
  }
});

test("the only admin is warned before linking their Microsoft account, and linking removes their password", async ({ page, request }) => {
  const tenant = await tenantWith(request);
  const account = await orgWithActiveTenant(tenant);
  await db.user.update({ where: { id: account.userId }, data: { role: "admin" } });

  await signIn(page, account);
  await expect(page).toHaveURL(/\/link-microsoft/);
  await expect(page.getByRole("heading", { name: "Sign in with your Microsoft account from now on?" })).toBeVisible();
  const warning = page.getByTestId("lockout-warning");
  await expect(warning).toContainText("You are the last admin who signs in with a password and authenticator app.");
  await expect(warning).toContainText("nobody will be able to sign in to manage the organization");
  const confirm = page.getByLabel("I understand: sign me in with Microsoft only");
  await expect(confirm).not.toBeChecked();

  // Without the tick: told to confirm, still here, nothing linked, the password kept.
  await page.getByRole("button", { name: "Use Microsoft" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Tick the box" })).toHaveText(
    "Tick the box to confirm that you will sign in with Microsoft only, or choose Not now.",
  );
  await expect(page).toHaveURL(/\/link-microsoft/);
  await expect(page.getByRole("heading", { name: "Pick an account" })).toHaveCount(0);
  expect(await db.microsoftLink.count({ where: { userId: account.userId } })).toBe(0);
  expect((await db.user.findUniqueOrThrow({ where: { id: account.userId } })).passwordHash).not.toBeNull();

  // With the tick: to Microsoft, linked, and told the password went.
  await page.getByLabel("I understand: sign me in with Microsoft only").check();
  await page.getByRole("button", { name: "Use Microsoft" }).click();
  await pickAccount(page, tenant.user);
  await expect(page).toHaveURL(/\/settings\/microsoft$/);
  await expect(page.getByRole("status")).toHaveText(
    "Your Microsoft account is linked. From now on, sign in with Microsoft. Your password was removed: Microsoft replaces it.",
  );
  await expect(page.getByText(`(${tenant.user})`)).toBeVisible();
  expect(await db.microsoftLink.count({ where: { userId: account.userId, objectId: tenant.userOid } })).toBe(1);
  expect((await db.user.findUniqueOrThrow({ where: { id: account.userId } })).passwordHash).toBeNull();
});

test("linking needs a recent sign-in: a password session from hours ago confirms with password and code, then links", async ({ page, request }) => {
  const tenant = await tenantWith(request);
  const account = await orgWithActiveTenant(tenant);
  await newAccount({ orgId: account.orgId, role: "admin" });
  // The code of this time step is kept for "Confirm it's you" (codes are single use).
  await signIn(page, account, PASSWORD, -1);
  await page.getByRole("button", { name: "Not now" }).click();
  await expect(page.getByRole("heading", { name: /^Welcome, / })).toBeVisible();
  // The browser was left signed in for five hours.
  await db.session.updateMany({ where: { userId: account.userId }, data: { authenticatedAt: new Date(Date.now() - 5 * 3600_000) } });

  await page.getByRole("link", { name: "My Profile", exact: true }).click();
  await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Microsoft account" }).click();
  await expect(page).toHaveURL(/\/settings\/microsoft$/);
  await page.getByRole("button", { name: "Link my Microsoft account" }).click();

  await expect(page).toHaveURL(/\/settings\/confirm\?redirectTo=%2Fsettings%2Fmicrosoft$/);
  await expect(page.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
  await expect(page.getByText("Changing how you sign in needs a sign-in within the last 15 minutes.")).toBeVisible();
  expect(await db.microsoftLink.count({ where: { userId: account.userId } })).toBe(0);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("6-digit code from your authenticator app").fill(await totp(account.secret));
  await page.getByRole("button", { name: "Confirm" }).click();

  await expect(page).toHaveURL(/\/settings\/microsoft$/);
  await page.getByRole("button", { name: "Link my Microsoft account" }).click();
  await pickAccount(page, tenant.user);
  await expect(page).toHaveURL(/\/settings\/microsoft$/);
  await expect(page.getByRole("status")).toContainText("Your Microsoft account is linked.");
  expect(await db.microsoftLink.count({ where: { userId: account.userId, objectId: tenant.userOid } })).toBe(1);
});

test("linking needs a recent sign-in: a Microsoft session from hours ago signs in at Microsoft again (prompt=login, max_age=900) to unlink", async ({
  page,
  request,
}) => {
  const tenant = await tenantWith(request);
  const account = await linkedUser(tenant);
  await newAccount({ orgId: account.orgId, role: "admin" });
  await enterIdentifier(page, account.email);
  await pickAccount(page, tenant.user);
  await expect(page.getByRole("heading", { name: /^Welcome, / })).toBeVisible();
  // Five hours later; Microsoft still remembers that sign-in and reports it to any request that does not ask for a new one.
  await db.session.updateMany({ where: { userId: account.userId }, data: { authenticatedAt: new Date(Date.now() - 5 * 3600_000) } });
  try {
    await rememberedSignIn(request, { ageSeconds: 5 * 3600 });

    await page.getByRole("link", { name: "My Profile", exact: true }).click();
    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Microsoft account" }).click();
    await expect(page.getByRole("button", { name: "Unlink Microsoft account" })).toHaveCount(0);
    await expect(page.getByText("To unlink, first confirm it's you.")).toBeVisible();
    await page.getByRole("link", { name: "confirm it's you" }).click();

    await expect(page).toHaveURL(/\/settings\/confirm\?redirectTo=%2Fsettings%2Fmicrosoft$/);
    await expect(page.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
    await expect(page.getByLabel("Password")).toHaveCount(0);
    await page.getByRole("button", { name: "Sign in with Microsoft again" }).click();

    // At Microsoft: a new sign-in is asked for, no older than 15 minutes.
    await expect(page.getByRole("heading", { name: "Pick an account" })).toBeVisible();
    const authorize = new URL(page.url());
    expect(authorize.origin).toBe(standin);
    expect(authorize.pathname).toBe(`/${tenant.id}/oauth2/v2.0/authorize`);
    expect(authorize.searchParams.get("prompt")).toBe("login");
    expect(authorize.searchParams.get("max_age")).toBe("900");
    expect(authorize.searchParams.get("login_hint")).toBe(tenant.user);
    await pickAccount(page, tenant.user);

    await expect(page).toHaveURL(/\/settings\/microsoft$/);
    await expect(page.getByRole("status")).toHaveText("Thanks, that's confirmed.");
    // Unlinking asks first.
    await page.getByRole("link", { name: "Unlink Microsoft account…" }).click();
    await page.getByTestId("unlink-confirm").getByRole("button", { name: "Unlink Microsoft account" }).click();
    await expect(page).toHaveURL(/\/login/);
    await expect(page.getByRole("status")).toContainText(
      `Your Microsoft account is unlinked. You have no password yet: we've emailed a link to set one to ${account.email}.`,
    );
    expect(await db.microsoftLink.count({ where: { userId: account.userId } })).toBe(0);
  } finally {
    await rememberedSignIn(request, null);
  }
});

test("an invitation to an SSO user is completed only by the invited identity: another account of the tenant is refused, then Uma's own completes it", async ({
  page,
  browser,
  request,
}) => {
  const tenant = await tenantWith(request, ["Otto"]);
  const admin = await orgWithActiveTenant(tenant);
  await db.user.update({ where: { id: admin.userId }, data: { role: "admin" } });
  const uma = await syncedUser(admin.orgId, tenant, tenant.people.uma!);
  // A colleague synced from the same tenant, who signs in with Microsoft too.
  const otto = await syncedUser(admin.orgId, tenant, tenant.people.otto!);

  await signIn(page, admin);
  await page.goto("/admin/invitations");
  await page.getByRole("button", { name: "Send invitation to Uma User" }).click();
  await expect(page.getByRole("status")).toContainText(`A new invitation was sent to ${tenant.user}`);
  await expect(page.getByTestId(`invitation-${tenant.user}`)).toContainText("Pending");
  const invitation = await db.oneTimeToken.findFirstOrThrow({ where: { type: "invitation", target: uma.id } });

  // Uma's browser: the mail, then the link in it.
  const context = await browser.newContext();
  const invitee = await context.newPage();
  await openMail(invitee, tenant.user);
  const href = (await invitee
    .getByRole("link", { name: /\/invite\?token=/ })
    .first()
    .getAttribute("href"))!;
  await invitee.goto(href);
  await expect(invitee.getByRole("heading", { name: "Welcome to Acme" })).toBeVisible();
  await invitee.getByRole("button", { name: "Sign in with Microsoft" }).click();

  // At Microsoft, Otto's account is chosen: refused, nobody signed in, the invitation still open.
  await pickAccount(invitee, tenant.people.otto!.upn);
  await expect(invitee.getByRole("heading", { name: "That is not the Microsoft account you sign in with" })).toBeVisible();
  await expect(invitee.getByRole("alert")).toContainText("Nothing was changed.");
  await invitee.goto("/settings");
  await expect(invitee).toHaveURL(/\/login/);
  expect(await db.session.count({ where: { userId: { in: [uma.id, otto.id] } } })).toBe(0);
  expect((await db.oneTimeToken.findUniqueOrThrow({ where: { id: invitation.id } })).usedAt).toBeNull();
  expect(await db.auditEvent.count({ where: { action: "invitation.accepted", targetId: uma.id } })).toBe(0);
  await page.reload();
  await expect(page.getByTestId(`invitation-${tenant.user}`)).toContainText("Pending");

  // The same link again, with Uma's own account: signed in as Uma, and the invitation is used up.
  await invitee.goto(href);
  await expect(invitee.getByRole("heading", { name: "Welcome to Acme" })).toBeVisible();
  await invitee.getByRole("button", { name: "Sign in with Microsoft" }).click();
  await pickAccount(invitee, tenant.user);
  await expect(invitee.getByRole("heading", { name: "Welcome, Uma User" })).toBeVisible();
  expect((await db.oneTimeToken.findUniqueOrThrow({ where: { id: invitation.id } })).usedAt).not.toBeNull();
  expect(await db.auditEvent.count({ where: { action: "invitation.accepted", actorId: uma.id } })).toBe(1);
  expect(await db.session.count({ where: { userId: otto.id } })).toBe(0);
  await invitee.goto(href);
  await expect(invitee.getByRole("heading", { name: "This invitation link is no longer valid" })).toBeVisible();
  await page.reload();
  await expect(page.getByTestId(`invitation-${tenant.user}`)).toContainText("Accepted");
  await context.close();
});
