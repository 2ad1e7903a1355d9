// Every page at a phone's width (390 px): no sideways scrolling of the page itself, signed out, as a member and as an
// admin, with and without JavaScript (the two projects of playwright.config.ts). The pages come from app/routes:
// each route file is mapped to URLs with fixture data below, or listed as not a page, so a new route cannot be
// forgotten. Wide tables may scroll inside their own box; long names, addresses and IDs wrap.
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import type { Page } from "@playwright/test";
import { db } from "../app/lib/db.server.ts";
import { sendSetPasswordLinks } from "../app/lib/set-password.server.ts";
import { issueToken } from "../app/lib/tokens.server.ts";
import { enterIdentifier, expect, newAccount, PASSWORD, signIn, test } from "./fixtures.ts";

const WIDTH = 390;

type Who = "anonymous" | "member" | "admin" | "password step" | "enrolment";
type Fixture = Awaited<ReturnType<typeof fixture>>;
type Visit = { who: Who; path: (f: Fixture) => string };

const as = (who: Who, ...paths: (string | ((f: Fixture) => string))[]): Visit[] => paths.map((p) => ({ who, path: typeof p === "string" ? () => p : p }));

/** Route file → the URLs that show its page. */
const PAGES: Record<string, Visit[]> = {
  "_index.tsx": [...as("anonymous", "/"), ...as("member", "/"), ...as("admin", "/")],
  "admin._index.tsx": as("admin", "/admin"),
  "admin.audit.tsx": as("admin", "/admin/audit"),
  "admin.integrations.$id.tsx": as(
    "admin",
    (f) => `/admin/integrations/${f.integrationId}`,
    (f) => `/admin/integrations/${f.failedIntegrationId}`,
  ),
  "admin.integrations._index.tsx": as("admin", "/admin/integrations"),
  "admin.integrations.callback.tsx": as("admin", "/admin/integrations/callback"),
  "admin.invitations.tsx": as("admin", "/admin/invitations", "/admin/invitations?q=northwind"),
  "admin.sso.tsx": as("admin", "/admin/sso"),
  "admin.sync.tsx": as("admin", "/admin/sync"),
  "admin.users.tsx": as("admin", "/admin/users", "/admin/users?show=synced"),
  "admin.users_.$id.tsx": as(
    "admin",
    (f) => `/admin/users/${f.linkedId}`,
    (f) => `/admin/users/${f.linkedId}?confirm=revoke`,
    (f) => `/admin/users/${f.syncedId}`,
    (f) => `/admin/users/${f.neverInvitedId}`,
  ),
  "auth.microsoft_.callback.tsx": as("anonymous", "/auth/microsoft/callback"),
  "dev.outbox.tsx": as("anonymous", "/dev/outbox"),
  "dev.outbox_.$id.tsx": as("anonymous", (f) => `/dev/outbox/${f.mailId}`),
  "forgot-password.tsx": as("anonymous", "/forgot-password"),
  "invite.tsx": as(
    "anonymous",
    (f) => `/invite?token=${f.invitationToken}`,
    () => "/invite?token=not-a-valid-token",
  ),
  "link-microsoft.tsx": as("member", "/link-microsoft"),
  "login._index.tsx": as("anonymous", "/login"),
  "login.enrol.tsx": as("enrolment", "/login/enrol"),
  "login.totp.tsx": as("password step", "/login/totp"),
  "reset-password.tsx": as(
    "anonymous",
    (f) => `/reset-password?token=${f.setPasswordToken}`,
    () => "/reset-password?token=not-a-valid-token",
  ),
  "settings._index.tsx": as("member", "/settings"),
  "settings.confirm.tsx": as("member", "/settings/confirm?redirectTo=%2Fsettings%2Fmicrosoft"),
  "settings.microsoft.tsx": as("member", "/settings/microsoft"),
  "settings.password.tsx": as("member", "/settings/password"),
  "settings.recovery-codes.tsx": as("member", "/settings/recovery-codes"),
  "settings.sessions.tsx": as("member", "/settings/sessions"),
  "settings.two-factor.tsx": as("member", "/settings/two-factor"),
};

/** Route files that are not pages of their own. */
const NOT_PAGES: Record<string, string> = {
  "admin.audit_.export.tsx": "a file download (CSV or JSON Lines)",
  "apps.continue.tsx": "an app sign-in's hand-off: it navigates on at once (to the provider, then to the app)",
  "admin.sso_.preview.tsx": "a file download (CSV)",
  "admin.sync_.preview.tsx": "a file download (CSV)",
  "admin.integrations.$id_.preview.tsx": "a file download (CSV)",
  "admin.tsx": "the layout of the admin pages (drawn by each of them)",
  "settings.tsx": "the layout of the settings pages (drawn by each of them)",
  "auth.microsoft.tsx": "a POST that redirects to Microsoft",
  "logout.tsx": "a POST that signs out",
  "healthz.ts": "the health check, plain text",
};

// Long words that must wrap rather than widen a page: a long organization name, e-mail addresses, UPNs, GUIDs.
const LONG = "northwind-traders-international-holdings";

/** An admin's organization the way a large tenant fills it: SSO, two integrations, a sync history, many kinds of users. */
async function fixture() {
  const tag = randomUUID().slice(0, 8);
  const admin = await newAccount({ role: "admin", email: `admin.with.a.long.address-${tag}@${LONG}.example.com` });
  const member = await newAccount({ orgId: admin.orgId, email: `member.with.a.long.address-${tag}@${LONG}.example.com` });
  const orgId = admin.orgId;
  const tenantId = randomUUID();
  const integration = await db.integration.create({
    data: {
      orgId,
      tenantId,
      tenantDomain: `${LONG}.onmicrosoft.com`,
      status: "active",
      displayName: "Northwind Traders International Holdings (production tenant)",
    },
  });
  const failed = await db.integration.create({
    data: {
      orgId,
      tenantId: randomUUID(),
      tenantDomain: `${LONG}-subsidiary.onmicrosoft.com`,
      status: "failed",
      failureReason: `Microsoft answered AADSTS700016: Application with identifier '${randomUUID()}' was not found in the directory '${LONG}-subsidiary.onmicrosoft.com'.`,
    },
  });
  await db.organization.update({
    where: { id: orgId },
    data: { name: "Northwind Traders International Holdings and Subsidiaries", ssoLicensed: true, ssoEnabled: true, syncIntegrationId: integration.id },
  });
  const now = Date.now();
  for (const [i, status] of ["succeeded", "failed", "succeeded"].entries()) {
    await db.syncRun.create({
      data: {
        integrationId: integration.id,
        trigger: i ? "schedule" : "manual",
        status,
        startedAt: new Date(now - (i + 1) * 3600_000),
        finishedAt: new Date(now - (i + 1) * 3600_000 + 95_000),
        pagesDone: 200 + i,
        created: 19_954,
        updated: 1_234,
        deactivated: 5,
        conflicts: 2,
        errors: status === "failed" ? 1 : 0,
        errorMessage:
          status === "failed" ? `Microsoft Graph answered 503 for https://graph.microsoft.com/v1.0/users/delta?$deltatoken=${"x".repeat(120)}` : null,
      },
    });
  }
  const linked = await db.user.create({
    data: {
      orgId,
      name: "Maximiliane Alexandra Featherstonehaugh-Wolfeschlegelsteinhausen",
      email: `maximiliane.featherstonehaugh-${tag}@${LONG}.example.com`,
    },
  });
  await db.microsoftLink.create({
    data: {
      userId: linked.id,
      integrationId: integration.id,
      tenantId,
      objectId: randomUUID(),
      upn: `maximiliane.featherstonehaugh-wolfeschlegelsteinhausen@${LONG}.onmicrosoft.com`,
    },
  });
  const synced = await db.user.create({
    data: {
      orgId,
      name: "Bartholomew Synced-Directory-User",
      email: `bartholomew.synced-${tag}@${LONG}.example.com`,
      source: "synced",
      entraTenantId: tenantId,
      entraObjectId: randomUUID(),
      entraUpn: `bartholomew.synced-directory-user@${LONG}.onmicrosoft.com`,
      syncIntegrationId: integration.id,
      ssoEnabled: true,
      jobTitle: "Principal Infrastructure Reliability Engineering Manager",
      lastSyncedAt: new Date(),
    },
  });
  const neverInvited = await db.user.create({
    data: { orgId, name: "Northwind Never-Invited Person", email: `never.invited.person-${tag}@${LONG}.example.com`, source: "synced" },
  });
  const invited = await db.user.create({ data: { orgId, name: "Invited Person With A Long Name", email: `invited.person-${tag}@${LONG}.example.com` } });
  const invitationToken = await issueToken("invitation", invited.id, 60, { invitedBy: admin.userId, created: true });
  const setPasswordToken = await issueToken("set_password", neverInvited.id, 60);
  // A mail with a long link in the outbox (the worker delivers it within seconds).
  await sendSetPasswordLinks(orgId, [synced.id], admin.userId);
  return {
    mailId: "",
    admin,
    member,
    integrationId: integration.id,
    failedIntegrationId: failed.id,
    linkedId: linked.id,
    syncedId: synced.id,
    neverInvitedId: neverInvited.id,
    invitationToken,
    setPasswordToken,
    mailTo: synced.email!,
  };
}

/** How wide the page is at this viewport, and, when too wide, the elements that stick out (for the failure message). */
function measure(page: Page) {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const scrollWidth = document.documentElement.scrollWidth;
    // The elements that stick out of a parent that fits (what to fix), leaving aside what scrolls in its own box.
    const scrolls = (e: Element) => ["auto", "scroll", "hidden"].includes(getComputedStyle(e).overflowX);
    const inScroller = (e: Element) => {
      for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) if (scrolls(p)) return true;
      return false;
    };
    const culprits =
      scrollWidth > width
        ? [...document.body.querySelectorAll("*")]
            .filter((e) => {
              const box = e.getBoundingClientRect();
              // An absolutely positioned element escapes a scroller that is not positioned itself.
              if (getComputedStyle(e).position === "absolute") return box.right > width + 1;
              if (inScroller(e)) return false;
              const pokesOut = box.right > width + 1 && (e.parentElement?.getBoundingClientRect().right ?? 0) <= width + 1;
              const textOverflows = !scrolls(e) && e.scrollWidth > e.clientWidth + 1 && box.left + e.scrollWidth > width + 1;
              return pokesOut || textOverflows;
            })
            .slice(0, 4)
            .map((e) => `<${e.tagName.toLowerCase()}${e.className ? ` class="${e.className}"` : ""}> ${(e.textContent ?? "").trim().slice(0, 50)}`)
        : [];
    return { width, scrollWidth, culprits };
  });
}

async function visitAll(page: Page, f: Fixture, who: Who) {
  const problems: string[] = [];
  for (const [file, visits] of Object.entries(PAGES)) {
    for (const visit of visits.filter((v) => v.who === who)) {
      const path = visit.path(f);
      await page.goto(path);
      const m = await measure(page);
      if (m.scrollWidth > m.width) problems.push(`${file} ${path}: ${m.scrollWidth} px wide at ${m.width} px; ${m.culprits.join(" | ")}`);
    }
  }
  expect(problems, problems.join("\n")).toEqual([]);
}

test.use({ viewport: { width: WIDTH, height: 844 } });

test("every route file is a page visited below or listed as not a page", () => {
  const files = readdirSync("app/routes").sort();
  const unknown = files.filter((f) => !(f in PAGES) && !(f in NOT_PAGES));
  expect(unknown, `Map these routes to URLs in e2e/phone-width.spec.ts (PAGES), or list them in NOT_PAGES: ${unknown.join(", ")}`).toEqual([]);
  const gone = [...Object.keys(PAGES), ...Object.keys(NOT_PAGES)].filter((f) => !files.includes(f));
  expect(gone, "Listed routes that no longer exist").toEqual([]);
});

test.describe("no sideways page scroll at 390 px", () => {
  let f: Fixture;
  test.beforeAll(async () => {
    f = await fixture();
  });

  test("signed out", async ({ page }) => {
    // The mail from the fixture reaches the outbox through the mail worker.
    await expect(async () => {
      await page.goto("/dev/outbox");
      const href = await page
        .getByRole("row", { name: new RegExp(f.mailTo.replace(/[.]/g, "\\.")) })
        .getByRole("link")
        .first()
        .getAttribute("href", { timeout: 1000 });
      f.mailId = href!.split("/").pop()!;
    }).toPass({ timeout: 20_000 });
    await visitAll(page, f, "anonymous");
  });

  test("a member", async ({ page }) => {
    await signIn(page, f.member);
    await visitAll(page, f, "member");
  });

  test("an admin", async ({ page }) => {
    await signIn(page, f.admin);
    await visitAll(page, f, "admin");
  });

  test("the code step of signing in", async ({ page }) => {
    const account = await newAccount({ email: `code.step-${Date.now()}@${LONG}.example.com` });
    await enterIdentifier(page, account.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/login\/totp/);
    await visitAll(page, f, "password step");
  });

  test("the enrolment of an authenticator app: the key wraps between its groups only", async ({ page }) => {
    const account = await newAccount({ totp: false, email: `enrolment-${Date.now()}@${LONG}.example.com` });
    await enterIdentifier(page, account.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/login\/enrol/);
    await visitAll(page, f, "enrolment");
    // Narrower still, so that the key has to wrap: every group of four stays on one line.
    await page.setViewportSize({ width: 260, height: 844 });
    const groups = page.getByTestId("totp-secret").locator(".secret-group");
    expect(await groups.count()).toBeGreaterThan(4);
    const lines = await groups.evaluateAll((spans) => spans.map((s) => s.getClientRects().length));
    expect(lines.every((n) => n === 1)).toBe(true);
    const tops = await groups.evaluateAll((spans) => new Set(spans.map((s) => Math.round(s.getBoundingClientRect().top))).size);
    expect(tops).toBeGreaterThan(1);
  });
});
