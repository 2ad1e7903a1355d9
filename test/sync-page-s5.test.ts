// The Entra ID Sync page at scale (issue 15): the run history (full or changes only, resumed, duration, pages,
// newest first with a cursor), the schedule sentence, users left from an earlier connection, the wording of
// "now sign in with Microsoft", and how many users a scope change deactivates (counted from the group's members).
import { afterEach, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { reloadEnv } from "~/lib/env.server.ts";
import { movedSentence, setOrgSwitch } from "~/lib/sso.server.ts";
import { groupMemberIds } from "~/lib/sync/groups.server.ts";
import { backgroundSyncsSettled, runSync, type SyncOptions } from "~/lib/sync/run.server.ts";
import { HISTORY } from "~/lib/sync/settings.server.ts";
import { impactSentence, leftoverSentences, runDuration, runRound, scheduleSentence } from "~/lib/sync/sentences.ts";
import * as page from "~/routes/admin.sync.tsx";
import * as preview from "~/routes/admin.sync_.preview.tsx";
import * as sso from "~/routes/admin.sso.tsx";
import { CONTOSO, FABRIKAM } from "./entra/fixture.ts";
import { ADDRESS, createOrg, createUser, signedInAs, type Browser } from "./helpers.ts";
import { useStandin } from "./microsoft.ts";
import { textOf, usePages } from "./admin-render.ts";

const standin = useStandin();
const GROUP = FABRIKAM.groups![0]!;
const FAST: SyncOptions = { pageSize: 2, backoffMs: 5, retries: 1 };

afterEach(async () => {
  await backgroundSyncsSettled();
  delete process.env.SYNC_INTERVAL_MINUTES;
  reloadEnv();
});

async function admin(tenant = FABRIKAM) {
  const org = await createOrg();
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true } });
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: tenant.id, status: "active", displayName: tenant.displayName } });
  const { user } = await createUser({ orgId: org.id, role: "admin" });
  return { org, integration, user, b: await signedInAs(user) };
}
const post = (b: Browser, form: Record<string, string>) => b.post(page.action, "/admin/sync", form);
const sync = (integrationId: string, options: SyncOptions = {}) => runSync(integrationId, "manual", { ...FAST, ...options });

describe("history", () => {
  it("says whether each run read everything or only changes, and when a run resumed a failed one", async () => {
    const { integration, b } = await admin();
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    await sync(integration.id);
    await sync(integration.id);
    // A run that fails midway, and the one that continues it.
    standin.current.faults.set({ status5xx: { paths: ["/v1.0/users"], times: 10 } });
    standin.current.directory.updateUser(FABRIKAM.id, FABRIKAM.users[0]!.oid, { jobTitle: "CEO" });
    expect((await sync(integration.id)).kind).toBe("failed");
    standin.current.faults.clear();
    await sync(integration.id);
    const runs = (await b.get(page.loader, "/admin/sync")).data.runs;
    expect(runs.map((r: { mode: string; resumed: boolean; status: string }) => [r.mode, r.resumed, r.status])).toEqual([
      ["delta", false, "succeeded"],
      ["delta", false, "failed"],
      ["delta", false, "succeeded"],
      ["full", false, "succeeded"],
    ]);
    expect(runs[3].pagesDone).toBeGreaterThan(1);
    expect(runRound(runs[3])).toBe("Full");
    expect(runRound({ mode: "delta", resumed: true })).toBe("Changes only, resumed after a failed run");
  });

  it("marks a run resumed from a failed full round, and a run whose delta token expired as full", async () => {
    const { integration, b } = await admin();
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    // Graph goes away after the first page: the run fails with its next link saved.
    const failed = await sync(integration.id, {
      onPage: (n) => void (n === 1 && standin.current.faults.set({ status5xx: { paths: ["graph"], status: 503 } })),
    });
    standin.current.faults.clear();
    expect(failed.kind).toBe("failed");
    await sync(integration.id);
    standin.current.directory.expireDeltaTokens(FABRIKAM.id);
    await sync(integration.id);
    const runs = (await b.get(page.loader, "/admin/sync")).data.runs;
    expect(runs.map((r: { mode: string; resumed: boolean }) => [r.mode, r.resumed])).toEqual([
      ["full", false],
      ["full", true],
      ["full", false],
    ]);
  });

  it("pages newest first with a cursor that works as a plain link; another org's run ID reads from the newest", async () => {
    const { org, integration, b } = await admin();
    const other = await admin();
    const base = Date.parse("2026-01-01T00:00:00Z");
    const total = HISTORY * 2 + 5;
    // Two runs share each start time, so that the cursor must also order by ID.
    await db.syncRun.createMany({
      data: Array.from({ length: total }, (_, i) => ({
        integrationId: integration.id,
        trigger: "schedule",
        status: "succeeded",
        mode: "delta",
        startedAt: new Date(base + Math.floor(i / 2) * 60_000),
        finishedAt: new Date(base + Math.floor(i / 2) * 60_000 + 95_000),
      })),
    });
    const foreign = await db.syncRun.create({ data: { integrationId: other.integration.id, trigger: "manual", startedAt: new Date(base - 1) } });
    const seen: string[] = [];
    let url = "/admin/sync";
    for (let i = 0; i < 5; i++) {
      const shown = (await b.get(page.loader, url)).data;
      seen.push(...shown.runs.map((r: { id: string }) => r.id));
      expect(shown.paged).toBe(i > 0);
      if (!shown.older) break;
      url = `/admin/sync?before=${shown.older}`;
    }
    const expected = (await db.syncRun.findMany({ where: { integration: { orgId: org.id } }, orderBy: [{ startedAt: "desc" }, { id: "desc" }] })).map(
      (r) => r.id,
    );
    expect(seen).toEqual(expected);
    expect(seen).toHaveLength(total);
    expect(seen).not.toContain(foreign.id);
    // Another org's run, or garbage, as the cursor: the first page, nothing of the other org.
    for (const before of [foreign.id, "x'; drop", "0".repeat(200)]) {
      const shown = (await b.get(page.loader, `/admin/sync?before=${encodeURIComponent(before)}`)).data;
      expect(shown.runs[0].id).toBe(expected[0]);
      expect(shown.paged).toBe(false);
    }
    const first = (await b.get(page.loader, "/admin/sync")).data.runs[0];
    expect(runDuration(first)).toBe("2 minutes");
    expect(runDuration({ startedAt: first.startedAt, finishedAt: null })).toBe("—");
    expect(runDuration({ startedAt: "2026-01-01T00:00:00.000Z", finishedAt: "2026-01-01T00:00:00.400Z" })).toBe("under 1 second");
    expect(runDuration({ startedAt: "2026-01-01T00:00:00.000Z", finishedAt: "2026-01-01T00:00:01.000Z" })).toBe("1 second");
  });
});

describe("the schedule sentence", () => {
  it("says automatic sync is off and how to turn it on when SYNC_INTERVAL_MINUTES is 0, and how often otherwise", async () => {
    expect(scheduleSentence(0)).toMatch(
      /^Automatic sync is off on this server \(SYNC_INTERVAL_MINUTES is 0\).*set SYNC_INTERVAL_MINUTES to a number of minutes/,
    );
    expect(scheduleSentence(0)).not.toMatch(/on its own/);
    expect(scheduleSentence(60)).toBe("The portal also syncs on its own every 1 hour (SYNC_INTERVAL_MINUTES).");
    expect(scheduleSentence(30)).toMatch(/every 30 minutes/);
    expect(scheduleSentence(1)).toMatch(/every 1 minute /);
    const { b } = await admin();
    process.env.SYNC_INTERVAL_MINUTES = "0";
    reloadEnv();
    expect((await b.get(page.loader, "/admin/sync")).data.intervalMinutes).toBe(0);
    process.env.SYNC_INTERVAL_MINUTES = "120";
    reloadEnv();
    expect((await b.get(page.loader, "/admin/sync")).data.intervalMinutes).toBe(120);
  });
});

describe("users left from an earlier connection", () => {
  it("counts them apart from the current connection's users and says how each of them signs in now", async () => {
    const { org, integration, b, user } = await admin();
    const contoso = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active", displayName: "Contoso" } });
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    await sync(integration.id);
    await post(b, { intent: "connect", integrationId: contoso.id, scope: "tenant", confirmed: "yes" });
    await sync(contoso.id);
    const fabrikamUsers = await db.user.findMany({ where: { orgId: org.id, syncIntegrationId: integration.id }, orderBy: { name: "asc" } });
    expect(fabrikamUsers).toHaveLength(FABRIKAM.users.length);
    // Two of the leftovers have a password (they were given one before SSO, say); the rest have none.
    await db.user.updateMany({ where: { id: { in: fabrikamUsers.slice(0, 2).map((u) => u.id) } }, data: { passwordHash: "(set)" } });
    const contosoCount = await db.user.count({ where: { orgId: org.id, syncIntegrationId: contoso.id, status: "active" } });

    const shown = (await b.get(page.loader, "/admin/sync")).data;
    const left = { total: FABRIKAM.users.length, password: 2, none: FABRIKAM.users.length - 2, microsoft: 0 };
    expect(shown.standing).toEqual({ byConnection: contosoCount, left });
    // A leftover with the per-user SSO switch on is not one of the current connection's "switched on one by one".
    await db.user.update({ where: { id: fabrikamUsers[2]!.id }, data: { ssoEnabled: true } });
    const ssoPage = (await b.get(sso.loader, "/admin/sso")).data;
    expect(ssoPage).toMatchObject({ synced: contosoCount, leftovers: left, syncedWithFlag: 0 });
    expect(leftoverSentences(left)).toEqual([
      `${FABRIKAM.users.length} synced users are left from an earlier connection: sync no longer updates or deactivates them.`,
      "2 of them sign in with their password and authenticator app.",
      `${FABRIKAM.users.length - 2} have no password and cannot sign in until they get a set-password link (on each user's page).`,
    ]);
    expect(leftoverSentences({ total: 1, password: 0, none: 1, microsoft: 0 })).toEqual([
      "1 synced user is left from an earlier connection: sync no longer updates or deactivates them.",
      "1 has no password and cannot sign in until they get a set-password link (on each user's page).",
    ]);
    expect(leftoverSentences({ total: 0, password: 0, none: 0, microsoft: 0 })).toEqual([]);

    // The rule decides, not a copy of it: with SSO for all synced users, the leftovers still do not use Microsoft.
    await setOrgSwitch({ userId: user.id, user: { orgId: org.id } } as Parameters<typeof setOrgSwitch>[0], "ssoEnabled", true, ADDRESS);
    expect((await b.get(page.loader, "/admin/sync")).data.standing.left).toEqual(left);
  });
});

describe("'now sign in with Microsoft'", () => {
  it("mentions passwords only as far as some were removed", () => {
    expect(movedSentence(4, 0)).toBe(" 4 users now sign in with Microsoft.");
    expect(movedSentence(1, 0)).toBe(" 1 user now signs in with Microsoft.");
    expect(movedSentence(4, 4)).toBe(" 4 users now sign in with Microsoft; their passwords were removed.");
    expect(movedSentence(1, 1)).toBe(" 1 user now signs in with Microsoft; their password was removed.");
    expect(movedSentence(4, 2)).toBe(" 4 users now sign in with Microsoft; 2 of them had passwords, which were removed.");
    expect(movedSentence(4, 1)).toBe(" 4 users now sign in with Microsoft; 1 of them had a password, which was removed.");
    expect(movedSentence(0, 0)).toBe("");
  });

  it("says nothing about passwords when synced users who had none start signing in with Microsoft", async () => {
    const { org, integration, b, user } = await admin();
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    await sync(integration.id);
    await db.organization.update({ where: { id: org.id }, data: { ssoEnabled: true } });
    const session = { userId: user.id, user: { orgId: org.id } } as Parameters<typeof setOrgSwitch>[0];
    const result = await setOrgSwitch(session, "ssoForAllSynced", true, ADDRESS);
    expect(result).toEqual({ kind: "done", message: `SSO for all synced users is on. ${FABRIKAM.users.length} users now sign in with Microsoft.` });
  });
});

describe("a scope change says how many users it deactivates", () => {
  it("counts the synced users outside the new group, names the first, and the next sync deactivates exactly them", async () => {
    const { org, integration, b } = await admin();
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    await sync(integration.id);
    const asked = await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupId: GROUP.id });
    expect(asked.status).toBe(200);
    const outside = FABRIKAM.users
      .filter((u) => !GROUP.members.includes(u.oid))
      .map((u) => u.displayName)
      .sort();
    expect(asked.data.confirm.impact).toMatchObject({
      kind: "counted",
      group: "the group Portal users",
      syncedNow: FABRIKAM.users.length,
      leaving: outside.length,
    });
    expect(asked.data.confirm.impact.first.map((u: { name: string }) => u.name)).toEqual(outside);
    expect(impactSentence(asked.data.confirm.impact, "Fabrikam")).toBe(
      `${outside.length} of the ${FABRIKAM.users.length} users synced now from Fabrikam are not in the group Portal users and will be deactivated at the next sync (and signed out).`,
    );
    const csv = await b.get(preview.loader, `/admin/sync/preview?integrationId=${integration.id}&scope=group&groupId=${GROUP.id}`);
    expect(csv.status).toBe(200);
    const text = csv.data as string;
    expect(
      text
        .trim()
        .split(/\r?\n/)
        .slice(1)
        .map((l) => l.split(",")[0]),
    ).toEqual(outside);

    expect((await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupId: GROUP.id, confirmed: "yes" })).status).toBe(302);
    await sync(integration.id);
    const deactivated = await db.user.findMany({ where: { orgId: org.id, status: "deactivated" }, orderBy: { name: "asc" } });
    expect(deactivated.map((u) => u.name)).toEqual(outside);

    // Back to the whole tenant: nobody is deactivated because of the scope.
    const back = await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    expect(back.data.confirm.impact).toEqual({ kind: "tenant" });
    expect(impactSentence(back.data.confirm.impact, "Fabrikam")).toMatch(/nobody is deactivated because of the scope/);
  });

  it("pages through the group's member IDs", async () => {
    const ids = await groupMemberIds(FABRIKAM.id, GROUP.id, new Date(Date.now() + 10_000), 1);
    expect(ids).toEqual({ kind: "ok", ids: new Set(GROUP.members) });
    expect((await groupMemberIds(FABRIKAM.id, GROUP.id, new Date(Date.now() - 1))).kind).toBe("failed");
  });

  it("says the count is unknown when Graph fails, and still lets the admin confirm", async () => {
    const { integration, b } = await admin();
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    await sync(integration.id);
    standin.current.faults.set({ status5xx: { paths: ["/v1.0/groups"], status: 503 } });
    const asked = await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupId: GROUP.id });
    expect(asked.status).toBe(200);
    expect(asked.data.confirm.impact).toMatchObject({ kind: "unknown", syncedNow: FABRIKAM.users.length });
    expect(impactSentence(asked.data.confirm.impact, "Fabrikam")).toMatch(
      /^How many users would be deactivated is unknown: Microsoft Graph did not answer in time\./,
    );
    const confirmed = await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupId: GROUP.id, confirmed: "yes" });
    expect(confirmed.status).toBe(302);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({
      syncScope: "group",
      syncGroupId: GROUP.id,
      syncGroupName: null,
    });
  });

  it("refuses the full list for another org's integration", async () => {
    const other = await admin();
    const { b } = await admin();
    const res = await b.get(preview.loader, `/admin/sync/preview?integrationId=${other.integration.id}&scope=group&groupId=${GROUP.id}`);
    expect(res.status).toBe(404);
  });
});

describe("the pages as the browser gets them", () => {
  const render = usePages();

  it("says automatic sync is off, pages the history with plain links, and tells where earlier users stand", async () => {
    process.env.SYNC_INTERVAL_MINUTES = "0";
    reloadEnv();
    const { org, integration, b } = await admin();
    const contoso = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active", displayName: "Contoso" } });
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    await sync(integration.id);
    await post(b, { intent: "connect", integrationId: contoso.id, scope: "tenant", confirmed: "yes" });
    await db.syncRun.createMany({
      data: Array.from({ length: HISTORY }, (_, i) => ({
        integrationId: contoso.id,
        trigger: "schedule",
        status: "succeeded",
        startedAt: new Date(Date.now() - (i + 1) * 1000),
      })),
    });
    const shown = await render(b, "/admin/sync");
    const text = textOf(shown.html);
    expect(text).toContain("Automatic sync is off on this server (SYNC_INTERVAL_MINUTES is 0)");
    expect(text).not.toContain("on its own");
    expect(text).toContain("0 users are synced through this connection.");
    expect(text).toContain(`${FABRIKAM.users.length} synced users are left from an earlier connection`);
    expect(shown.html).toContain('href="/admin/users?show=none"');
    expect(text).not.toMatch(/\w\(s\)/);
    const older = /href="(\/admin\/sync\?before=[a-z0-9]+)"/.exec(shown.html)?.[1];
    expect(older).toBeDefined();
    expect(text).toMatch(/Fabrikam · Sync now .* Full \d+ pages Succeeded 5 0 0 0 0/);
    const next = await render(b, older!);
    expect(textOf(next.html)).toMatch(/History .* Contoso · schedule — — — 0 pages Succeeded 0 0 0 0 0 Newest runs$/);
    expect(next.html).toContain('href="/admin/sync"');

    const ssoPage = textOf((await render(b, "/admin/sso")).html);
    expect(ssoPage).toContain("0 users are synced by the current connection, Contoso");
    expect(ssoPage).toContain(`${FABRIKAM.users.length} synced users are left from an earlier connection`);
  });
});
