// The admin's users list past the sizes a page can hold in memory: method filters exact beyond 5000 users, cursor
// paging with equal names, other orgs' users never shown, and whatever the query string says, a page (never a 500).
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import * as usersList from "~/routes/admin.users.tsx";
import { createOrg, createUser, signedInAs, type Browser } from "./helpers.ts";

type Row = { id: string; name: string };
type Page = { users: Row[]; total: number; previous: string | null; next: string | null };

const get = async (b: Browser, query: string) => {
  const result = await b.get(usersList.loader, `/admin/users${query}`);
  expect(result.status, query).toBe(200);
  return result.data as Page;
};

/** Every page from the first by Next: the rows in order, and the pages as their ids. */
async function walk(b: Browser, base: string) {
  const pages: string[][] = [];
  let page = await get(b, base);
  for (;;) {
    pages.push(page.users.map((u) => u.id));
    if (!page.next) return pages;
    page = await get(b, `${base}&after=${page.next}`);
  }
}

async function orgWithAdmin() {
  const org = await createOrg();
  const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
  return { org, admin, b: await signedInAs(admin) };
}

let seq = 0;
async function bulk(orgId: string, n: number, row: (i: number) => { name: string; passwordHash?: string | null; source?: string }) {
  for (let i = 0; i < n; i += 1000) {
    await db.user.createMany({
      data: Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ id: `bulk-${++seq}`, orgId, ...row(i + j) })),
    });
  }
}

const byNameThenId = (a: Row, b: Row) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe("the users list at scale", () => {
  it("filters by sign-in method exactly past 5000 users, with exact counts", async () => {
    const { org, b } = await orgWithAdmin();
    // 5200 users without a password sort before 70 with one: a filter over the first 5000 rows finds none of those.
    await bulk(org.id, 5200, (i) => ({ name: `Aaron ${String(i).padStart(5, "0")}`, passwordHash: null }));
    await bulk(org.id, 70, (i) => ({ name: `Zora ${i}`, passwordHash: "$argon2id$not-a-real-hash" }));
    const password = await get(b, "?show=password");
    expect(password.users.filter((u) => u.name.startsWith("Zora"))).toHaveLength(49);
    expect(password.total).toBe(71); // and the admin
    const none = await get(b, "?show=none");
    expect(none.total).toBe(5200);
    expect((await get(b, "?show=all")).total).toBe(5271);
    expect((await get(b, "?show=microsoft")).total).toBe(0);
    const pages = await walk(b, "?show=password");
    expect(pages.flat()).toHaveLength(71);
    expect(new Set(pages.flat()).size).toBe(71);
  }, 60_000);

  it("pages across equal names with no gaps or repeats, forwards and back", async () => {
    const { org, admin, b } = await orgWithAdmin();
    await bulk(org.id, 130, () => ({ name: "Sam Same" }));
    await bulk(org.id, 40, (i) => ({ name: `Sam Same ${i % 3}` }));
    const all = [...(await db.user.findMany({ where: { orgId: org.id }, select: { id: true, name: true } }))].sort(byNameThenId);
    const pages = await walk(b, "?show=all&q=");
    expect(pages.flat()).toEqual(all.map((u) => u.id));
    expect(pages.map((p) => p.length)).toEqual([50, 50, 50, 21]);
    // Back from the last page by Previous: the same pages in reverse.
    let page = await get(b, `?show=all&q=&after=${pages[2]!.at(-1)}`);
    const back = [page.users.map((u) => u.id)];
    while (page.previous) {
      page = await get(b, `?show=all&q=&before=${page.previous}`);
      back.push(page.users.map((u) => u.id));
    }
    expect(back.reverse()).toEqual(pages);
    // A user added while the admin pages is shown once, on the page it sorts into; nobody repeats or goes missing.
    const seen = (await get(b, "?show=all&q=")).users.map((u) => u.id);
    const late = await db.user.create({ data: { orgId: org.id, name: "Sam Same", id: "zzzz-late" } });
    for (let page = await get(b, `?show=all&q=&after=${seen.at(-1)}`); ; page = await get(b, `?show=all&q=&after=${page.next}`)) {
      seen.push(...page.users.map((u) => u.id));
      if (!page.next) break;
    }
    expect(seen.filter((id) => id === late.id)).toHaveLength(1);
    expect(new Set(seen).size).toBe(all.length + 1);
    expect(seen).toContain(admin.id);
  }, 60_000);

  it("never shows another org's users, not even through a cursor", async () => {
    const { org, b } = await orgWithAdmin();
    const other = await createOrg("Other");
    await bulk(org.id, 60, (i) => ({ name: `Mine ${i}` }));
    await bulk(other.id, 60, (i) => ({ name: `Mine ${i}`, passwordHash: null }));
    const theirs = await db.user.findMany({ where: { orgId: other.id }, select: { id: true } });
    const theirIds = new Set(theirs.map((u) => u.id));
    for (const show of ["all", "local", "synced", "microsoft", "password", "none"]) {
      const seen = (await walk(b, `?show=${show}&q=Mine`)).flat();
      expect(
        seen.filter((id) => theirIds.has(id)),
        show,
      ).toEqual([]);
    }
    // Their user as a cursor is no cursor: the first page of this org.
    const first = await get(b, "?show=all");
    for (const param of ["after", "before"]) {
      const page = await get(b, `?show=all&${param}=${theirs[30]!.id}`);
      expect(page.users.map((u) => u.id)).toEqual(first.users.map((u) => u.id));
    }
    expect((await get(b, "?show=all&q=Mine")).total).toBe(60);
  });

  it("ignores bad query input safely: made-up, stale or hostile cursors and searches", async () => {
    const { org, b } = await orgWithAdmin();
    await bulk(org.id, 80, (i) => ({ name: `User ${String(i).padStart(2, "0")}` }));
    await db.user.create({ data: { orgId: org.id, name: "Percent 100% Under_score", id: "odd-name" } });
    const first = (await get(b, "")).users.map((u) => u.id);
    const gone = await db.user.create({ data: { orgId: org.id, name: "User 40b" } });
    await db.user.delete({ where: { id: gone.id } });
    for (const query of [
      `?after=${gone.id}`,
      `?before=${gone.id}`,
      "?after=",
      "?after=%27%20OR%201%3D1--",
      `?after=${"x".repeat(5000)}`,
      "?after=a&after=b&before=c",
      "?show=%3Cscript%3E&page=-4",
      "?show=all&before=odd-name",
    ]) {
      expect(
        (await get(b, query)).users.map((u) => u.id),
        query,
      ).toEqual(first);
    }
    // LIKE's own characters match themselves.
    expect((await get(b, "?q=%25")).users.map((u) => u.id)).toEqual(["odd-name"]);
    expect((await get(b, "?q=_")).users.map((u) => u.id)).toEqual(["odd-name"]);
    expect((await get(b, `?q=${"%25".repeat(100)}`)).users).toEqual([]);
    // A search longer than the field allows is no search.
    expect((await get(b, `?q=${"%25".repeat(101)}`)).users.map((u) => u.id)).toEqual(first);
  });

  it("searches name case-insensitively, the same on both databases", async () => {
    const { org, b } = await orgWithAdmin();
    const { user } = await createUser({ orgId: org.id, email: "johanna.lidell@fabrikam.test" });
    await db.user.update({ where: { id: user.id }, data: { name: "Johanna Lidell", phone: "+15551234567" } });
    for (const q of ["johanna", "JOHANNA", "jOhAnNa lid", "JOHANNA.LIDELL@", "5551234"]) {
      expect(
        (await get(b, `?q=${encodeURIComponent(q)}`)).users.map((u) => u.id),
        q,
      ).toEqual([user.id]);
    }
  });
});
