// The app process killed (SIGKILL) in the middle of a sync run and of a consent flow, with real processes on
// the test file's database (SQLite, or PostgreSQL with TEST_DATABASE=postgres): what the dead process left is
// consistent, and a new process on the same database continues where it stopped. The sync runs in
// test/crash-child.ts; the consent flow goes through the built server (scripts/test-all.sh builds before
// Vitest; built here when build/ is missing).
import { afterEach, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { MAX_PAGE_SIZE } from "~/lib/sync/graph.server.ts";
import { INTERRUPTED } from "~/lib/sync/run.server.ts";
import { NORTHWIND, syntheticTenant } from "./entra/fixture.ts";
import { createOrg, createUser } from "./helpers.ts";
import { appPath, consentAtMicrosoft, signInAtMicrosoft, useStandin } from "./microsoft.ts";
import { appEnv, ensureBuild, freePort, Instance, Jar, NodeProcess, signIn, waitFor } from "./processes.ts";

const standin = useStandin();
const started: NodeProcess[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill()));
});

function child(...args: string[]) {
  const p = new NodeProcess(["test/crash-child.ts", ...args], appEnv());
  started.push(p);
  return p;
}

describe("the app process killed in the middle of a sync run", () => {
  const USERS = 3000;
  const PAGE = 100;
  // Short, so that the test need not wait the default minute for the dead run's lock to expire.
  const LEASE_MS = 3000;
  const tenant = syntheticTenant({ id: "c4a5e000-0000-4000-8000-00000000c4a5", displayName: "Crash Test", domain: "crash.example", users: USERS });

  it("leaves whole pages only; a new process continues the run from the last page and finishes it", async () => {
    standin.current.directory.addTenant(tenant);
    const org = await createOrg();
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: tenant.id, status: "active", displayName: tenant.displayName } });
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, syncIntegrationId: integration.id } });
    const runs = () => db.syncRun.findMany({ where: { integrationId: integration.id }, orderBy: { startedAt: "asc" } });
    const lock = async () => (await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).syncLockedBy;
    const synced = () =>
      db.user.findMany({ where: { orgId: org.id, source: "synced" }, select: { entraObjectId: true, status: true, syncIntegrationId: true } });

    // Slow pages (30 of them), so that the run is still going when it is killed.
    standin.current.faults.set({ slowMs: { paths: ["graph"], ms: 150 } });
    const first = child("sync", integration.id, String(PAGE), String(LEASE_MS));
    await waitFor("two pages written", async () => ((await runs())[0]?.pagesDone ?? 0) >= 2, 30_000, first);
    await first.kill();

    // What the dead process left: its run "running" with the link to its first unwritten page, the users of
    // the pages it wrote and not one more (a page is one transaction), and its lease.
    const [left, ...none] = await runs();
    expect(none).toEqual([]);
    expect(left).toMatchObject({ status: "running", finishedAt: null, created: left!.pagesDone * PAGE, errors: 0 });
    expect(left!.pagesDone).toBeLessThan(USERS / PAGE);
    expect(left!.resumeLink).toMatch(/\/users\/delta\?.*\$skiptoken=/);
    expect(await synced()).toHaveLength(left!.pagesDone * PAGE);
    expect(await lock()).toContain(`:${first.pid}:`);

    // A restarted instance: its schedule picks the run up once the dead one's lease has expired.
    standin.current.faults.clear();
    const second = child("schedule", "200");
    const finished = async () => (await runs()).some((r) => r.status !== "running" && r.id !== left!.id) && (await lock()) === null;
    await waitFor("the run to be continued and finished, and the lock released", finished, 30_000, second);
    await second.stop();

    const [interrupted, resumed, ...more] = await runs();
    expect(more).toEqual([]);
    expect(interrupted).toMatchObject({ id: left!.id, status: "failed", errorMessage: INTERRUPTED, pagesDone: left!.pagesDone, created: left!.created });
    // It read only the pages the dead run had not written (the schedule asks for MAX_PAGE_SIZE users a page;
    // the stand-in, like Graph, serves at most its page limit).
    const remaining = USERS - left!.created;
    const served = Math.min(MAX_PAGE_SIZE, standin.current.pageLimits.users);
    expect(resumed).toMatchObject({
      status: "succeeded",
      trigger: "schedule",
      resumeLink: null,
      pagesDone: Math.ceil(remaining / served),
      created: remaining,
      updated: 0,
      deactivated: 0,
      errors: 0,
    });
    const opened = await db.auditEvent.findFirstOrThrow({ where: { action: "sync.run.started", targetId: resumed!.id } });
    expect(JSON.parse(opened.detail!)).toMatchObject({ trigger: "schedule", resumed: true });

    // Every user of the tenant once, active and in scope; the lock free; the next run is incremental.
    const users = await synced();
    expect(users).toHaveLength(USERS);
    expect(new Set(users.map((u) => u.entraObjectId)).size).toBe(USERS);
    expect(users.every((u) => u.status === "active" && u.syncIntegrationId === integration.id)).toBe(true);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({
      syncLockedBy: null,
      syncLockedUntil: null,
      usersDeltaLink: expect.stringContaining("$deltatoken="),
    });
  }, 60_000);
});

describe("the app process killed in the middle of a consent flow", () => {
  it("keeps the flow in the database and the browser: a restarted server completes the callback", async () => {
    ensureBuild();
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true } });
    const { user: admin, secret } = await createUser({ orgId: org.id, role: "admin" });
    const server = new Instance(await freePort());
    const env = appEnv({ NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0" });
    server.start(env);
    started.push(server.server!);
    await server.ready();

    // The admin adds the tenant and is sent to Microsoft; the process dies while they are there.
    const jar = new Jar();
    await signIn(server, jar, admin.email!, secret);
    const added = await server.request("POST", "/admin/integrations", { intent: "add", tenant: "northwindtraders.com" }, jar.header);
    expect(added.status, added.body.slice(0, 500)).toBe(302);
    expect(added.location).toContain("/adminconsent?");
    const pending = await db.integration.findFirstOrThrow({ where: { orgId: org.id } });
    expect(pending).toMatchObject({ tenantId: NORTHWIND.id, status: "pending_consent" });
    await server.kill();

    const { location } = await consentAtMicrosoft(added.location, "nancy@northwindtraders.com");
    expect(location).toMatch(new RegExp(`^${process.env.APP_ORIGIN}/admin/integrations/callback\\?`));

    // The same address, a new process: nothing of the first one's memory.
    server.start(env);
    started.push(server.server!);
    await server.ready();
    const back = await server.request("GET", appPath(location!), undefined, jar.header);
    expect(back.status, back.body.slice(0, 500)).toBe(302);
    // The consent was recorded by the second process; the sign-in by an admin of the tenant comes next (issue 13.2).
    expect(back.location).toContain(`/${NORTHWIND.id}/oauth2/v2.0/authorize`);
    jar.store(back);
    const signedIn = await server.request("GET", appPath(await signInAtMicrosoft(back.location!, "nancy@northwindtraders.com")), undefined, jar.header);
    expect(signedIn.status, signedIn.body.slice(0, 500)).toBe(302);
    expect(signedIn.location).toBe(`/admin/integrations/${pending.id}`);
    jar.store(signedIn);
    expect((await server.request("GET", signedIn.location!, undefined, jar.header)).body).toContain("Ownership proven");
    expect(await db.integration.findMany({ where: { orgId: org.id } })).toEqual([
      expect.objectContaining({ id: pending.id, status: "active", displayName: "Northwind Traders" }),
    ]);
    // The state was used once, by the second process.
    expect(await db.oneTimeToken.findMany({ where: { type: "consent_state" } })).toEqual([
      expect.objectContaining({ target: expect.any(String), usedAt: expect.any(Date) }),
    ]);
  }, 90_000);
});
