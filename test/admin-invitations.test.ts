// Issue 15, invitations at scale: the "never invited" list is searched (name, email) and paged by cursor in the
// URL (works without JavaScript, keeps the search), and a user's admin page can send the invitation.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { NOT_INVITED_PAGE } from "~/lib/invitations.server.ts";
import * as page from "~/routes/admin.invitations.tsx";
import * as userPage from "~/routes/admin.users_.$id.tsx";
import { createOrg, createUser, signedInAs, type Browser } from "./helpers.ts";
import { textOf, usePages } from "./admin-render.ts";

const render = usePages();

type Data = Awaited<ReturnType<typeof page.loader>>;
const load = async (b: Browser, path: string) => {
  const r = await b.get(page.loader, path);
  expect(r.status).toBe(200);
  return r.data as Data;
};

/** `n` synced users without a password, never invited; a few share a name, so the cursor must break ties by id. */
async function neverInvited(orgId: string, n: number, prefix = "Person") {
  const names = Array.from({ length: n }, (_, i) => (i % 10 === 0 ? `${prefix} Same` : `${prefix} ${String(i).padStart(4, "0")}`));
  await db.user.createMany({
    data: names.map((name, i) => ({ id: randomUUID(), orgId, name, email: `${prefix.toLowerCase()}${i}@${orgId.slice(0, 8)}.test`, source: "synced" })),
  });
  return names.length;
}

async function adminOf() {
  const org = await createOrg();
  const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
  return { org, admin, b: await signedInAs(admin) };
}

describe("the never-invited list at scale", () => {
  it("pages through every such user once, by name, with the total; others are not in it", async () => {
    const { org, b } = await adminOf();
    const n = await neverInvited(org.id, 2 * NOT_INVITED_PAGE + 7);
    // Not listed: users with a password, invited users, deactivated users, users without email, another org's.
    await createUser({ orgId: org.id });
    const { user: invited } = await createUser({ orgId: org.id, password: null });
    await b.post(page.action, "/admin/invitations", { intent: "resend", userId: invited.id });
    await db.user.create({ data: { orgId: org.id, name: "Person Gone", email: "gone@example.test", status: "disabled" } });
    await db.user.create({ data: { orgId: org.id, name: "Person Phone", phone: "+14155550100" } });
    const other = await createOrg("Other");
    await neverInvited(other.id, 5, "Stranger");

    const seen: string[] = [];
    let path = "/admin/invitations";
    for (let pages = 0; pages < 10; pages++) {
      const data = await load(b, path);
      expect(data.notInvitedTotal).toBe(n);
      seen.push(...data.notInvited.map((u) => u.userId));
      expect(data.notInvited.length).toBeLessThanOrEqual(NOT_INVITED_PAGE);
      if (!data.next) break;
      path = `/admin/invitations?after=${data.next}`;
    }
    expect(seen.length).toBe(n);
    expect(new Set(seen).size).toBe(n);
    const expected = await db.user.findMany({
      where: { orgId: org.id, source: "synced", status: "active" },
      orderBy: [{ name: "asc" }, { id: "asc" }],
      select: { id: true },
    });
    expect(seen).toEqual(expected.map((u) => u.id));
  });

  it("searches name and email, case-insensitively, and keeps the search in the next page's link", async () => {
    const { org, b } = await adminOf();
    await neverInvited(org.id, NOT_INVITED_PAGE + 5, "Tailspin");
    await neverInvited(org.id, 3, "Fabrikam");
    const byName = await load(b, "/admin/invitations?q=TAILSPIN");
    expect(byName.notInvitedTotal).toBe(NOT_INVITED_PAGE + 5);
    expect(byName.notInvited.every((u) => u.name.startsWith("Tailspin"))).toBe(true);
    expect(byName.next).not.toBeNull();

    const html = (await render(b, "/admin/invitations?q=TAILSPIN")).html;
    expect(textOf(html)).toContain(`${NOT_INVITED_PAGE + 5} users match “TAILSPIN”; this page shows ${NOT_INVITED_PAGE}, by name.`);
    expect(textOf((await render(b, "/admin/invitations")).html)).toContain(`${NOT_INVITED_PAGE + 8} users never invited; this page shows ${NOT_INVITED_PAGE}`);
    expect(textOf((await render(b, "/admin/invitations?q=fabrikam1%40")).html)).toContain("1 user matches “fabrikam1@”.");
    expect(html).toContain(`href="/admin/invitations?q=TAILSPIN&amp;after=${byName.next}#not-invited"`);
    // The search is a plain GET form: it works without JavaScript.
    expect(html).toMatch(/<form method="get" action="\/admin\/invitations#not-invited"[^>]*role="search"/);
    expect(html).toMatch(/<input id="q" name="q" type="search" maxLength="100" value="TAILSPIN"\/>/);

    const second = await load(b, `/admin/invitations?q=TAILSPIN&after=${byName.next}`);
    expect(second.notInvited.length).toBe(5);
    expect(second.notInvited.every((u) => u.name.startsWith("Tailspin"))).toBe(true);
    expect(second.next).toBeNull();

    const byEmail = await load(b, `/admin/invitations?q=${encodeURIComponent("fabrikam1@")}`);
    expect(byEmail.notInvited.map((u) => u.email)).toEqual([expect.stringMatching(/^fabrikam1@/)]);
    expect(textOf((await render(b, "/admin/invitations?q=nobody-at-all")).html)).toContain("Nobody matches “nobody-at-all”.");
  });

  it("takes % and _ in a search literally", async () => {
    const { org, b } = await adminOf();
    await db.user.createMany({
      data: [
        { orgId: org.id, name: "100% Sure", email: "sure@example.test" },
        { orgId: org.id, name: "1000 Other", email: "other@example.test" },
        { orgId: org.id, name: "Under_score", email: "under@example.test" },
        { orgId: org.id, name: "UnderXscore", email: "underx@example.test" },
      ],
    });
    expect((await load(b, "/admin/invitations?q=100%25")).notInvited.map((u) => u.name)).toEqual(["100% Sure"]);
    expect((await load(b, "/admin/invitations?q=under_")).notInvited.map((u) => u.name)).toEqual(["Under_score"]);
  });

  it("ignores hostile paging and search input: another org's cursor, oversized values", async () => {
    const { org, b } = await adminOf();
    await neverInvited(org.id, 3);
    const other = await createOrg("Other");
    const { user: stranger } = await createUser({ orgId: other.id, password: null });
    const first = await load(b, "/admin/invitations");
    // Another org's user id as the cursor reveals nothing and starts from the top.
    expect((await load(b, `/admin/invitations?after=${stranger.id}`)).notInvited).toEqual(first.notInvited);
    expect((await load(b, `/admin/invitations?after=${"x".repeat(500)}`)).notInvited).toEqual(first.notInvited);
    expect((await load(b, `/admin/invitations?q=${"a".repeat(5000)}`)).notInvited).toEqual(first.notInvited);
    expect((await load(b, "/admin/invitations?q='%20OR%201=1%20--")).notInvited).toEqual([]);
  });

  it("is for admins only", async () => {
    const { org } = await adminOf();
    const { user: member } = await createUser({ orgId: org.id });
    expect((await (await signedInAs(member)).get(page.loader, "/admin/invitations?q=a")).status).toBe(404);
  });
});

describe("Send invitation on a user's page", () => {
  const post = (b: Browser, id: string) => b.post(userPage.action, `/admin/users/${id}`, { intent: "invite" }, { id });

  it("sends the invitation to a never-invited user; the page then offers to resend it", async () => {
    const { org, admin, b } = await adminOf();
    const synced = await db.user.create({ data: { orgId: org.id, name: "Sam Synced", email: "sam@example.test", source: "synced" } });
    const before = textOf((await render(b, `/admin/users/${synced.id}`)).html);
    expect(before).toContain("Sam Synced has no password and was never invited.");
    expect(before).toContain("works once, for 7 days");

    const r = await post(b, synced.id);
    expect(r.location).toBe(`/admin/users/${synced.id}`);
    const mail = await db.outgoingMail.findFirstOrThrow({ where: { to: "sam@example.test" } });
    expect(mail.template).toBe("invitation");
    expect(await db.oneTimeToken.count({ where: { type: "invitation", target: synced.id, usedAt: null } })).toBe(1);
    expect(await db.auditEvent.count({ where: { action: "invitation.sent", actorId: admin.id, targetId: synced.id } })).toBe(1);

    const after = await render(b, `/admin/users/${synced.id}`);
    expect(textOf(after.html)).toContain("A new invitation was sent to sam@example.test");
    expect(after.html).toMatch(/<button[^>]*value="invite"[^>]*>Resend invitation<\/button>/);
    expect((await load(b, "/admin/invitations")).notInvited).toEqual([]);

    // Resending replaces the link: one live token, the old one used up.
    await post(b, synced.id);
    expect(await db.oneTimeToken.count({ where: { type: "invitation", target: synced.id, usedAt: null } })).toBe(1);
    expect(await db.oneTimeToken.count({ where: { type: "invitation", target: synced.id } })).toBe(2);
  });

  it("another org's user id is the 404 and sends nothing", async () => {
    const { org } = await adminOf();
    const synced = await db.user.create({ data: { orgId: org.id, name: "Sam Synced", email: "sam@example.test", source: "synced" } });
    const { b: stranger } = await adminOf();
    expect((await post(stranger, synced.id)).status).toBe(404);
    expect(await db.outgoingMail.count()).toBe(0);
    expect(await db.oneTimeToken.count()).toBe(0);
  });

  it("a member cannot send it", async () => {
    const { org } = await adminOf();
    const synced = await db.user.create({ data: { orgId: org.id, name: "Sam Synced", email: "sam@example.test", source: "synced" } });
    const { user: member } = await createUser({ orgId: org.id });
    expect((await post(await signedInAs(member), synced.id)).status).toBe(404);
    expect(await db.outgoingMail.count()).toBe(0);
  });

  it("a user who has a password is offered no invitation, and a forged POST gets a sentence and sends nothing", async () => {
    const { org, b } = await adminOf();
    const { user } = await createUser({ orgId: org.id });
    expect((await render(b, `/admin/users/${user.id}`)).html).not.toContain('value="invite"');
    const r = await post(b, user.id);
    expect(r.status).toBe(400);
    expect(r.data.error).toBe(`${user.name} already signs in with a password; there is nothing to invite them to.`);
    expect(await db.outgoingMail.count()).toBe(0);
  });

  it("a user without an email address is offered no invitation", async () => {
    const { org, b } = await adminOf();
    const user = await db.user.create({ data: { orgId: org.id, name: "No Mail", phone: "+14155550111" } });
    expect((await render(b, `/admin/users/${user.id}`)).html).not.toContain('value="invite"');
    expect((await post(b, user.id)).status).toBe(400);
    expect(await db.outgoingMail.count()).toBe(0);
  });
});
