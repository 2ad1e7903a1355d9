// Picking a sync group by name (issue 15): Graph's group search in the stand-in (ConsistencyLevel, the $search
// grammar), the portal's escaping of the term, the page's search round trip (works without JavaScript: the
// action answers the matches and keeps what was typed), Graph's refusals beside the field, and other orgs' IDs.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { appToken } from "~/lib/microsoft/consent.server.ts";
import { groupSearchUrl, searchClause, searchGroups } from "~/lib/sync/groups.server.ts";
import * as page from "~/routes/admin.sync.tsx";
import { parseSearch } from "./entra/graph.ts";
import { CONTOSO, FABRIKAM } from "./entra/fixture.ts";
import { createOrg, createUser, signedInAs, type Browser } from "./helpers.ts";
import { useStandin } from "./microsoft.ts";
import { textOf, usePages } from "./admin-render.ts";

const standin = useStandin();
const PORTAL_USERS = FABRIKAM.groups![0]!;
const PORTAL_ADMINS = FABRIKAM.groups![1]!;
const ODD = FABRIKAM.groups![2]!;

async function admin(tenant = FABRIKAM) {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true } });
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: tenant.id, status: "active", displayName: tenant.displayName } });
  const { user } = await createUser({ orgId: org.id, role: "admin" });
  return { org, integration, b: await signedInAs(user) };
}
const post = (b: Browser, form: Record<string, string>) => b.post(page.action, "/admin/sync", form);

async function graphGet(url: string, headers: Record<string, string> = {}) {
  const token = await appToken(FABRIKAM.id);
  if (token.kind !== "ok") throw new Error("no app token from the stand-in");
  return fetch(url, { headers: { Authorization: `Bearer ${token.accessToken}`, ...headers } });
}

describe("the stand-in's group search", () => {
  it("answers 400 without ConsistencyLevel: eventual, as Graph does, and matches by name with it", async () => {
    const url = groupSearchUrl("portal");
    const without = await graphGet(url);
    expect(without.status).toBe(400);
    expect(((await without.json()) as { error: { message: string } }).error.message).toMatch(/ConsistencyLevel: eventual/);
    const withHeader = await graphGet(url, { ConsistencyLevel: "eventual" });
    expect(withHeader.status).toBe(200);
    const body = (await withHeader.json()) as { value: { id: string; displayName: string; mail: string | null }[] };
    expect(body.value).toEqual([
      { id: PORTAL_ADMINS.id, displayName: "Portal admins", mail: "portal-admins@fabrikam.com" },
      { id: PORTAL_USERS.id, displayName: "Portal users", mail: null },
    ]);
  });

  it("reads $search as Graph's grammar: escaped quotes, OR between clauses, syntax errors", () => {
    expect(parseSearch('"displayName:a \\"b\\" \\\\ c"')).toEqual([{ property: "displayName", term: 'a "b" \\ c' }]);
    expect(parseSearch('"displayName:x" OR "displayName:portal"')).toEqual([
      { property: "displayName", term: "x" },
      { property: "displayName", term: "portal" },
    ]);
    expect(parseSearch('"displayName:a"b"')).toBeNull();
    expect(parseSearch('"displayName:a\\')).toBeNull();
  });
});

describe("the term is one escaped clause", () => {
  it("escapes quotes and backslashes and drops control characters", () => {
    expect(searchClause('Sales "West" \\ R&D')).toBe('"displayName:Sales \\"West\\" \\\\ R&D"');
    expect(searchClause("a\u0000b\nc")).toBe('"displayName:a b c"');
    expect(parseSearch(searchClause('x" OR "displayName:Portal'))).toEqual([{ property: "displayName", term: 'x" OR "displayName:Portal' }]);
  });

  it("finds a name with quotes, a backslash and an ampersand, and a term that tries to add a clause finds nothing", async () => {
    expect(await searchGroups(FABRIKAM.id, 'Sales "West" \\ R&D')).toEqual({ kind: "ok", groups: [{ id: ODD.id, displayName: ODD.displayName, mail: null }] });
    // Unescaped, this would be two clauses and list both Portal groups (the stand-in reads OR).
    const injected = 'nothing" OR "displayName:Portal';
    const raw = await graphGet(`${standin.current.url}/v1.0/groups?$search=${encodeURIComponent(`"displayName:${injected}"`)}`, {
      ConsistencyLevel: "eventual",
    });
    expect(((await raw.json()) as { value: unknown[] }).value).toHaveLength(2);
    expect(await searchGroups(FABRIKAM.id, injected)).toEqual({ kind: "ok", groups: [] });
    // URL syntax in the term stays in the term.
    expect(await searchGroups(FABRIKAM.id, "portal&$top=1#")).toEqual({ kind: "ok", groups: [] });
  });
});

describe("picking a group on the Entra ID Sync page", () => {
  it("lists the matches as radio buttons, keeps what was typed, and connects with the picked group's name", async () => {
    const { org, integration, b } = await admin();
    const found = await post(b, { intent: "search", integrationId: integration.id, scope: "tenant", groupSearch: "  Portal " });
    expect(found.status).toBe(200);
    expect(found.data.values).toMatchObject({ integrationId: integration.id, scope: "group", groupSearch: "  Portal " });
    expect(found.data.matches.map((g: { displayName: string }) => g.displayName)).toEqual(["Portal admins", "Portal users"]);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ syncScope: "tenant", syncGroupId: null });

    // The radio button's value is the group's ID; the advanced field, left as it was, does not win over it.
    const set = await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupId: PORTAL_USERS.id, groupObjectId: "" });
    expect(set.status, JSON.stringify(set.data)).toBe(302);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({
      syncScope: "group",
      syncGroupId: PORTAL_USERS.id,
      syncGroupName: "Portal users",
    });
    expect((await db.organization.findUniqueOrThrow({ where: { id: org.id } })).syncIntegrationId).toBe(integration.id);
    const shown = (await b.get(page.loader, "/admin/sync")).data;
    expect(shown.connection).toMatchObject({ groupId: PORTAL_USERS.id, groupName: "Portal users" });
  });

  it("still takes the object ID in the advanced field, and refuses one the tenant does not know", async () => {
    const { integration, b } = await admin();
    const unknown = "0f0f0f0f-1111-4222-8333-444455556666";
    const refused = await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupObjectId: unknown });
    expect(refused.status).toBe(400);
    expect(refused.data.errors.groupId).toMatch(/Fabrikam has no group with the object ID 0f0f0f0f-1111-4222-8333-444455556666/);
    expect(refused.data.values.groupId).toBe(unknown);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ syncScope: "tenant", syncGroupId: null });
    const set = await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupObjectId: PORTAL_ADMINS.id.toUpperCase() });
    expect(set.status).toBe(302);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({
      syncGroupId: PORTAL_ADMINS.id,
      syncGroupName: "Portal admins",
    });
  });

  it("Enter in the object-ID field (which presses Find groups) with no name typed saves the ID", async () => {
    const { integration, b } = await admin();
    const set = await post(b, { intent: "search", integrationId: integration.id, scope: "group", groupSearch: "", groupObjectId: PORTAL_USERS.id });
    expect(set.status).toBe(302);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ syncGroupId: PORTAL_USERS.id });
  });

  it("says beside the field when nothing matches or nothing was typed, keeping the text", async () => {
    const { integration, b } = await admin();
    const none = await post(b, { intent: "search", integrationId: integration.id, groupSearch: 'Zzz "quoted"' });
    expect(none.status).toBe(404);
    expect(none.data.errors.groupSearch).toBe('No group of this tenant has "Zzz "quoted"" in its name. Check the spelling, or type less of it.');
    expect(none.data.values.groupSearch).toBe('Zzz "quoted"');
    const empty = await post(b, { intent: "search", integrationId: integration.id, groupSearch: "   " });
    expect(empty.status).toBe(400);
    expect(empty.data.errors.groupSearch).toMatch(/Type part of the group's name/);
    const long = await post(b, { intent: "search", integrationId: integration.id, groupSearch: "x".repeat(101) });
    expect(long.data.errors.groupSearch).toMatch(/up to 100 characters/);
  });

  it("names the missing permission when the tenant did not grant one that lists groups", async () => {
    const { integration, b } = await admin();
    standin.current.faults.set({ grantedRoles: { [FABRIKAM.id]: ["User.Read.All"] } });
    const refused = await post(b, { intent: "search", integrationId: integration.id, groupSearch: "Portal" });
    expect(refused.status).toBe(409);
    expect(refused.data.errors.groupSearch).toMatch(/lacks the Microsoft Graph application permission GroupMember\.Read\.All/);
    expect(refused.data.values.groupSearch).toBe("Portal");
  });

  it("says so plainly when Graph does not answer in time", async () => {
    const { integration, b } = await admin();
    await appToken(FABRIKAM.id); // the token is cached: only Graph is slow
    standin.current.faults.set({ slowMs: { ms: 2500, paths: ["/v1.0/groups"] } });
    const slow = await post(b, { intent: "search", integrationId: integration.id, groupSearch: "Portal" });
    expect(slow.status).toBe(503);
    expect(slow.data.errors.groupSearch).toBe("Microsoft Graph did not answer in time. Try again in a moment, or enter the group's object ID.");
    expect(slow.data.values.groupSearch).toBe("Portal");
  });

  it("refuses another org's integration, and searches only the admin's own tenant", async () => {
    const other = await admin(FABRIKAM);
    const { b, integration: own } = await admin(CONTOSO);
    const foreign = await post(b, { intent: "search", integrationId: other.integration.id, groupSearch: "Portal" });
    expect(foreign.status).toBe(400);
    expect(foreign.data.errors.integrationId).toMatch(/active integrations/);
    expect(foreign.data.matches).toBeUndefined();
    const mine = await post(b, { intent: "search", integrationId: own.id, groupSearch: "Portal" });
    expect(mine.data.matches ?? []).toEqual([]);
    // Nor can a foreign group be connected through the admin's own integration: Contoso does not know it.
    const take = await post(b, { intent: "connect", integrationId: own.id, scope: "group", groupId: PORTAL_USERS.id });
    expect(take.status).toBe(400);
    expect(await db.integration.findUniqueOrThrow({ where: { id: own.id } })).toMatchObject({ syncScope: "tenant", syncGroupId: null });
  });
});

describe("the page without JavaScript", () => {
  const pages = usePages();
  /** A form POST as a browser sends it: Remix's CSRF check compares Origin with Host. */
  const render = (b: Browser, path: string, form?: Record<string, string>) => {
    const request = b.request.bind(b);
    b.request = (p, init) => {
      const r = request(p, init);
      const headers = new Headers(r.headers);
      headers.set("Host", new URL(r.url).host);
      return new Request(r, { headers });
    };
    return pages(b, path, form);
  };

  it("a search is a form round trip: the HTML lists the matches as radio buttons and keeps the typed text", async () => {
    const { integration, b } = await admin();
    const typed = 'Sales "West"';
    const shown = await render(b, "/admin/sync", { intent: "search", integrationId: integration.id, scope: "tenant", groupSearch: typed });
    expect(shown.status).toBe(200);
    expect(shown.html).toMatch(/<input[^>]*name="groupSearch"[^>]*value="Sales &quot;West&quot;"/);
    const radios = shown.html.match(/<input[^>]*type="radio"[^>]*>/g) ?? [];
    expect(radios).toContainEqual(expect.stringMatching(new RegExp(`name="groupId" checked="" value="${ODD.id}"`)));
    expect(radios).toContainEqual(expect.stringMatching(/name="scope" checked="" value="group"/));
    expect(textOf(shown.html)).toContain('Sales "West" \\ R&D');

    const failed = await render(b, "/admin/sync", { intent: "search", integrationId: integration.id, scope: "group", groupSearch: "Nothing like it" });
    expect(failed.status).toBe(404);
    expect(failed.html).toMatch(/<input[^>]*name="groupSearch"[^>]*value="Nothing like it"/);
    expect(textOf(failed.html)).toContain('No group of this tenant has "Nothing like it" in its name.');
  });

  it("the connection summary names the group, not only its ID", async () => {
    const { integration, b } = await admin();
    await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupId: PORTAL_USERS.id });
    const shown = await render(b, "/admin/sync");
    expect(textOf(shown.html)).toContain(`Users are read from Fabrikam (members of Portal users (${PORTAL_USERS.id}))`);
  });
});
