// Entra ID Sync against the stand-in: full and incremental rounds, deactivation and reactivation, group
// scope, conflicts and their resolution, Graph faults (429, 5xx, 410), crashes and the lock, the schedule,
// and the admin page (org isolation, bad input).
import { afterEach, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { backgroundSyncsSettled, INTERRUPTED, runSync, type SyncOptions } from "~/lib/sync/run.server.ts";
import { dueIntegrations, runDueSyncs } from "~/lib/sync/scheduler.server.ts";
import * as page from "~/routes/admin.sync.tsx";
import { CONTOSO, FABRIKAM } from "./entra/fixture.ts";
import { createOrg, createUser, signedInAs, type Browser } from "./helpers.ts";
import { useStandin } from "./microsoft.ts";

const standin = useStandin();
const directory = () => standin.current.directory;

const oid = (upn: string) => FABRIKAM.users.find((u) => u.userPrincipalName === upn)!.oid;
const NESTOR = oid("nestor@fabrikam.com");
const PATTI = oid("patti@fabrikam.com");
const JOHANNA = oid("johanna@fabrikam.com");
const PRADEEP = oid("pradeep@fabrikam.com");
const LIDIA = oid("lidia@fabrikam.com");
const GROUP = FABRIKAM.groups![0]!.id;

/** Small pages so that every round has several; short waits so that faults cost little time. */
const FAST: SyncOptions = { pageSize: 2, backoffMs: 5, retries: 2 };

afterEach(async () => {
  await backgroundSyncsSettled();
});

async function syncedOrg(options: { scope?: "tenant" | "group"; groupId?: string } = {}) {
  const org = await createOrg();
  const integration = await db.integration.create({
    data: {
      orgId: org.id,
      tenantId: FABRIKAM.id,
      status: "active",
      displayName: "Fabrikam",
      syncScope: options.scope ?? "tenant",
      syncGroupId: options.scope === "group" ? (options.groupId ?? GROUP) : null,
    },
  });
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, syncIntegrationId: integration.id } });
  return { org, integration };
}

const sync = (integrationId: string, options: SyncOptions = {}) => runSync(integrationId, "manual", { ...FAST, ...options });
const user = (objectId: string) => db.user.findFirst({ where: { entraTenantId: FABRIKAM.id, entraObjectId: objectId } });
const syncedNames = async (orgId: string, status = "active") =>
  (await db.user.findMany({ where: { orgId, source: "synced", status }, orderBy: { name: "asc" } })).map((u) => u.name);
const sessionsOf = (userId: string) => db.session.count({ where: { userId } });

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

async function until(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("tenant scope", () => {
  it("creates every user with their details on the first run and stores the delta link", async () => {
    const { org, integration } = await syncedOrg();
    const outcome = await sync(integration.id);
    expect(outcome).toMatchObject({ kind: "succeeded", counts: { created: 5, updated: 0, deactivated: 0, conflicts: 0, errors: 0 }, error: null });
    expect(await syncedNames(org.id)).toEqual(["Johanna Lorenz", "Lidia Holloway", "Nestor Wilke", "Patti Fernandez", "Pradeep Gupta"]);
    expect(await user(PATTI)).toMatchObject({
      orgId: org.id,
      name: "Patti Fernandez",
      email: "patti@fabrikam.com",
      phone: "+12065550111",
      jobTitle: "President",
      entraUpn: "patti@fabrikam.com",
      source: "synced",
      status: "active",
      passwordHash: null,
      syncIntegrationId: integration.id,
    });
    // No mailbox: no email, but the mobile number is kept.
    expect(await user(LIDIA)).toMatchObject({ email: null, phone: "+12065550114" });
    const stored = await db.integration.findUniqueOrThrow({ where: { id: integration.id } });
    expect(stored.usersDeltaLink).toMatch(/\/v1\.0\/users\/delta\?\$deltatoken=/);
    expect(stored.syncLockedBy).toBeNull();
    const run = await db.syncRun.findFirstOrThrow({ where: { integrationId: integration.id } });
    expect(run).toMatchObject({ status: "succeeded", pagesDone: 3, created: 5, resumeLink: null, trigger: "manual" });
    const actions = (await db.auditEvent.findMany({ where: { orgId: org.id }, orderBy: { createdAt: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(["sync.run.started", "sync.run.succeeded"]);
  });

  it("reads only what changed on the next run", async () => {
    const { org, integration } = await syncedOrg();
    await sync(integration.id);
    const before = await user(JOHANNA);
    directory().updateUser(FABRIKAM.id, PATTI, { jobTitle: "Chief Executive", mobilePhone: null, displayName: "Patti F." });
    const added = directory().addUser(FABRIKAM.id, {
      displayName: "Alan Steiner",
      userPrincipalName: "alan@fabrikam.com",
      mail: "Alan@Fabrikam.com",
      jobTitle: "Designer",
    });
    const outcome = await sync(integration.id);
    expect(outcome).toMatchObject({ kind: "succeeded", counts: { created: 1, updated: 1, deactivated: 0 } });
    expect(await user(PATTI)).toMatchObject({ name: "Patti F.", jobTitle: "Chief Executive", phone: null, email: "patti@fabrikam.com" });
    expect(await user(added.oid)).toMatchObject({ name: "Alan Steiner", email: "alan@fabrikam.com", jobTitle: "Designer", status: "active" });
    expect((await user(JOHANNA))!.updatedAt).toEqual(before!.updatedAt);
    expect(await db.syncRun.findFirst({ where: { integrationId: integration.id }, orderBy: { startedAt: "desc" } })).toMatchObject({ pagesDone: 1 });
    expect(await db.user.count({ where: { orgId: org.id } })).toBe(6);
    // Nothing changed: nothing written.
    expect(await sync(integration.id)).toMatchObject({ counts: { created: 0, updated: 0, deactivated: 0 } });
  });

  it("deactivates disabled, soft-deleted and permanently deleted users and ends their sessions; brings them back when Entra does", async () => {
    const { integration } = await syncedOrg();
    await sync(integration.id);
    const [patti, johanna, pradeep, nestor] = await Promise.all([PATTI, JOHANNA, PRADEEP, NESTOR].map(async (o) => (await user(o))!));
    for (const u of [patti, johanna, pradeep, nestor]) await signedInAs(u);
    directory().disableUser(FABRIKAM.id, PATTI);
    directory().deleteUser(FABRIKAM.id, JOHANNA);
    directory().deleteUser(FABRIKAM.id, PRADEEP, { permanent: true });
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { deactivated: 3, updated: 0, created: 0 } });
    for (const u of [patti, johanna, pradeep]) {
      expect(await db.user.findUnique({ where: { id: u.id } })).toMatchObject({ status: "deactivated" });
      expect(await sessionsOf(u.id)).toBe(0);
    }
    expect(await sessionsOf(nestor.id)).toBe(1);
    // Permanently deleted: out of scope for good; soft-deleted: may come back.
    expect(await user(PRADEEP)).toMatchObject({ syncIntegrationId: null });
    expect(await user(JOHANNA)).toMatchObject({ syncIntegrationId: integration.id });

    directory().enableUser(FABRIKAM.id, PATTI);
    directory().restoreUser(FABRIKAM.id, JOHANNA);
    expect(await sync(integration.id)).toMatchObject({ counts: { updated: 2, deactivated: 0 } });
    expect(await user(PATTI)).toMatchObject({ status: "active" });
    expect(await user(JOHANNA)).toMatchObject({ status: "active" });
  });

  it("keeps no password beside SSO for a user the directory brings back while all synced users sign in with Microsoft", async () => {
    const { org, integration } = await syncedOrg();
    await sync(integration.id);
    const patti = (await user(PATTI))!;
    // Patti had a password while she was away; SSO for all synced users started meanwhile (she had no method then).
    directory().disableUser(FABRIKAM.id, PATTI);
    await sync(integration.id);
    await db.user.update({ where: { id: patti.id }, data: { passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$ZmFrZWhhc2g" } });
    await db.organization.update({ where: { id: org.id }, data: { ssoEnabled: true, ssoForAllSynced: true } });
    directory().enableUser(FABRIKAM.id, PATTI);
    expect(await sync(integration.id)).toMatchObject({ counts: { updated: 1 } });
    expect(await db.user.findUniqueOrThrow({ where: { id: patti.id } })).toMatchObject({ status: "active", passwordHash: null });
  });

  it("never re-enables a user an admin disabled, but keeps their details up to date", async () => {
    const { integration } = await syncedOrg();
    await sync(integration.id);
    await db.user.update({ where: { id: (await user(NESTOR))!.id }, data: { status: "disabled" } });
    directory().updateUser(FABRIKAM.id, NESTOR, { jobTitle: "CIO", accountEnabled: false });
    await sync(integration.id);
    directory().enableUser(FABRIKAM.id, NESTOR);
    await sync(integration.id);
    expect(await user(NESTOR)).toMatchObject({ status: "disabled", jobTitle: "CIO" });
  });

  it("creates a user who is disabled in Entra as deactivated, and activates them when enabled", async () => {
    const { integration } = await syncedOrg();
    directory().disableUser(FABRIKAM.id, LIDIA);
    expect(await sync(integration.id)).toMatchObject({ counts: { created: 5 } });
    expect(await user(LIDIA)).toMatchObject({ status: "deactivated" });
    directory().enableUser(FABRIKAM.id, LIDIA);
    await sync(integration.id);
    expect(await user(LIDIA)).toMatchObject({ status: "active" });
  });
});

describe("group scope", () => {
  it("syncs the group's members only, follows membership, and notices deletions on the users side", async () => {
    const { org, integration } = await syncedOrg({ scope: "group" });
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 3 } });
    expect(await syncedNames(org.id)).toEqual(["Johanna Lorenz", "Lidia Holloway", "Patti Fernandez"]);
    const stored = await db.integration.findUniqueOrThrow({ where: { id: integration.id } });
    expect(stored.groupsDeltaLink).toMatch(/\/v1\.0\/groups\/delta\?\$deltatoken=/);
    expect(stored.usersDeltaLink).toMatch(/\/v1\.0\/users\/delta\?\$deltatoken=/);

    // Added to the group: created with the details of the directory.
    directory().addGroupMember(FABRIKAM.id, GROUP, NESTOR);
    // Not a member: a change to them is none of the portal's business.
    directory().updateUser(FABRIKAM.id, PRADEEP, { jobTitle: "Controller" });
    expect(await sync(integration.id)).toMatchObject({ counts: { created: 1, updated: 0 } });
    expect(await user(NESTOR)).toMatchObject({ name: "Nestor Wilke", jobTitle: "Global Administrator", status: "active" });
    expect(await user(PRADEEP)).toBeNull();

    // Removed from the group: deactivated, signed out, out of scope.
    const patti = (await user(PATTI))!;
    await signedInAs(patti);
    directory().removeGroupMember(FABRIKAM.id, GROUP, PATTI);
    expect(await sync(integration.id)).toMatchObject({ counts: { deactivated: 1 } });
    expect(await user(PATTI)).toMatchObject({ status: "deactivated", syncIntegrationId: null });
    expect(await sessionsOf(patti.id)).toBe(0);
    // Out of scope: enabling or changing them in Entra does not bring them back.
    directory().updateUser(FABRIKAM.id, PATTI, { jobTitle: "Chair" });
    await sync(integration.id);
    expect(await user(PATTI)).toMatchObject({ status: "deactivated", jobTitle: "President" });

    // Soft-deleted, still a member: deactivated from the users side; restored: back.
    directory().deleteUser(FABRIKAM.id, JOHANNA);
    expect(await sync(integration.id)).toMatchObject({ counts: { deactivated: 1 } });
    expect(await user(JOHANNA)).toMatchObject({ status: "deactivated", syncIntegrationId: integration.id });
    directory().restoreUser(FABRIKAM.id, JOHANNA);
    await sync(integration.id);
    expect(await user(JOHANNA)).toMatchObject({ status: "active" });

    // Member again: reactivated with what the directory says now.
    directory().addGroupMember(FABRIKAM.id, GROUP, PATTI);
    expect(await sync(integration.id)).toMatchObject({ counts: { updated: 1, created: 0 } });
    expect(await user(PATTI)).toMatchObject({ status: "active", jobTitle: "Chair", syncIntegrationId: integration.id });

    // A disabled member: deactivated; permanently deleted: deactivated and out of scope.
    directory().disableUser(FABRIKAM.id, NESTOR);
    directory().deleteUser(FABRIKAM.id, LIDIA, { permanent: true });
    expect(await sync(integration.id)).toMatchObject({ counts: { deactivated: 2 } });
    expect(await user(LIDIA)).toMatchObject({ status: "deactivated", syncIntegrationId: null });
    expect(await syncedNames(org.id)).toEqual(["Johanna Lorenz", "Patti Fernandez"]);
  });

  it("fails without deactivating anyone when the group does not exist", async () => {
    const { org, integration } = await syncedOrg();
    await sync(integration.id);
    await db.integration.update({
      where: { id: integration.id },
      data: { syncScope: "group", syncGroupId: "00000000-0000-4000-8000-000000000000", usersDeltaLink: null },
    });
    const outcome = await sync(integration.id);
    expect(outcome).toMatchObject({ kind: "failed" });
    expect(outcome.kind === "failed" && outcome.error).toMatch(/group 00000000-0000-4000-8000-000000000000 was not found.*Nobody was deactivated/);
    expect(await syncedNames(org.id)).toHaveLength(5);
  });
});

describe("conflicts", () => {
  it("never merges a local user with the same email: a conflict the admin resolves by attaching", async () => {
    const { org, integration } = await syncedOrg();
    const { user: local } = await createUser({ orgId: org.id, email: "patti@fabrikam.com", role: "member" });
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    expect(await sync(integration.id)).toMatchObject({ counts: { created: 4, conflicts: 1 } });
    expect(await user(PATTI)).toBeNull();
    expect(await db.user.findUniqueOrThrow({ where: { id: local.id } })).toMatchObject({ source: "local", entraObjectId: null, name: local.name });
    // Seen again: still one conflict, not counted twice.
    expect(await sync(integration.id)).toMatchObject({ counts: { conflicts: 0 } });

    const b = await signedInAs(admin);
    const shown = await b.get(page.loader, "/admin/sync");
    expect(shown.data.conflicts).toEqual([
      expect.objectContaining({
        directory: expect.objectContaining({ name: "Patti Fernandez", upn: "patti@fabrikam.com" }),
        local: expect.objectContaining({ email: "patti@fabrikam.com" }),
      }),
    ]);
    const r = await b.post(page.action, "/admin/sync", { intent: "resolve", conflictId: shown.data.conflicts[0].id, resolution: "attach" });
    expect(r.status, JSON.stringify(r.data)).toBe(302);
    const attached = await db.user.findUniqueOrThrow({ where: { id: local.id } });
    // Sync only writes data: the password stays; the strategy decides how this user signs in.
    expect(attached).toMatchObject({
      source: "synced",
      entraTenantId: FABRIKAM.id,
      entraObjectId: PATTI,
      name: "Patti Fernandez",
      jobTitle: "President",
      syncIntegrationId: integration.id,
      status: "active",
    });
    expect(attached.passwordHash).not.toBeNull();
    expect(await db.syncConflict.findFirstOrThrow({ where: { entraObjectId: PATTI } })).toMatchObject({ status: "resolved", resolution: "attached" });
    expect((await db.auditEvent.findFirstOrThrow({ where: { action: "sync.conflict.resolved" } })).actorId).toBe(admin.id);

    directory().updateUser(FABRIKAM.id, PATTI, { jobTitle: "Chair" });
    expect(await sync(integration.id)).toMatchObject({ counts: { created: 0, updated: 1, conflicts: 0 } });
    expect(await db.user.count({ where: { entraObjectId: PATTI } })).toBe(1);
    expect(await db.user.findUniqueOrThrow({ where: { id: local.id } })).toMatchObject({ jobTitle: "Chair" });
  });

  it("keeps them separate when the admin says so, and does not ask again", async () => {
    const { org, integration } = await syncedOrg();
    await createUser({ orgId: org.id, email: "patti@fabrikam.com" });
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    await sync(integration.id);
    const b = await signedInAs(admin);
    const conflict = await db.syncConflict.findFirstOrThrow({});
    expect((await b.post(page.action, "/admin/sync", { intent: "resolve", conflictId: conflict.id, resolution: "separate" })).status).toBe(302);
    directory().expireDeltaTokens(FABRIKAM.id);
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { conflicts: 0, created: 0 } });
    expect(await db.syncConflict.findUniqueOrThrow({ where: { id: conflict.id } })).toMatchObject({ status: "resolved", resolution: "kept_separate" });
    expect(await user(PATTI)).toBeNull();
    expect((await b.get(page.loader, "/admin/sync")).data.conflicts).toEqual([]);
  });

  it("treats a local user linked to the same Microsoft identity as a conflict, and moves the identity on attach", async () => {
    const { org, integration } = await syncedOrg();
    const { user: local } = await createUser({ orgId: org.id, email: "p.fernandez@example.test" });
    await db.microsoftLink.create({
      data: { userId: local.id, integrationId: integration.id, tenantId: FABRIKAM.id, objectId: PATTI, upn: "patti@fabrikam.com" },
    });
    expect(await sync(integration.id)).toMatchObject({ counts: { created: 4, conflicts: 1 } });
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const conflict = await db.syncConflict.findFirstOrThrow({});
    expect(conflict.localUserId).toBe(local.id);
    await (await signedInAs(admin)).post(page.action, "/admin/sync", { intent: "resolve", conflictId: conflict.id, resolution: "attach" });
    expect(await db.microsoftLink.count({ where: { objectId: PATTI } })).toBe(0);
    expect(await user(PATTI)).toMatchObject({ id: local.id, email: "patti@fabrikam.com" });
  });

  it("does not create a user whose email belongs to another organization, and tells neither org about the other", async () => {
    const { org, integration } = await syncedOrg();
    const other = await createOrg("Other");
    await createUser({ orgId: other.id, email: "patti@fabrikam.com" });
    expect(await sync(integration.id)).toMatchObject({ counts: { created: 4, conflicts: 0, errors: 1 } });
    expect(await user(PATTI)).toBeNull();
    expect(await db.syncConflict.count()).toBe(0);
    expect(await db.user.count({ where: { orgId: org.id } })).toBe(4);
  });
});

describe("faults", () => {
  it("waits out a 429 for as long as Retry-After says and goes on", async () => {
    const { integration } = await syncedOrg();
    standin.current.faults.set({ rateLimit: { paths: ["graph"], retryAfterSeconds: 1, times: 1 } });
    const started = Date.now();
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 5 } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("retries an outage, then fails the run; the next run resumes from the saved page and duplicates nothing", async () => {
    const { org, integration } = await syncedOrg();
    // Page 1 is written; page 2 meets a Graph that answers 503 to every try (page 2 is asked for while page 1 is written).
    standin.current.faults.set({ status5xx: { paths: ["graph"], status: 503, after: 1 } });
    const failed = await sync(integration.id);
    expect(failed).toMatchObject({ kind: "failed", counts: { created: 2 } });
    expect(failed.kind === "failed" && failed.error).toMatch(/could not be reached \(HTTP 503\) after 3 attempts.*continues from the last saved page/);
    const first = await db.syncRun.findFirstOrThrow({ where: { integrationId: integration.id } });
    expect(first).toMatchObject({ status: "failed", pagesDone: 1, created: 2 });
    expect(first.resumeLink).toMatch(/\$skiptoken=/);
    expect((await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).syncLockedBy).toBeNull();

    standin.current.faults.clear();
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 3 } });
    const second = await db.syncRun.findFirstOrThrow({ where: { integrationId: integration.id, status: "succeeded" } });
    expect(second.pagesDone).toBe(2);
    expect(await db.user.count({ where: { orgId: org.id } })).toBe(5);
    expect(await db.auditEvent.findFirst({ where: { action: "sync.run.started", targetId: second.id } })).toMatchObject({
      detail: expect.stringContaining('"resumed":true'),
    });
  });

  it("keeps its lock for as long as it lives, however long a page takes", async () => {
    const { integration } = await syncedOrg();
    const reached = deferred();
    const gate = deferred();
    const slow = sync(integration.id, { leaseMs: 300, onPage: (n) => (n === 1 ? (reached.release(), gate.promise) : undefined) });
    await reached.promise;
    // Several leases long: the heartbeat renews it; a dead process's would have expired.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await sync(integration.id)).toEqual({ kind: "busy" });
    gate.release();
    expect(await slow).toMatchObject({ kind: "succeeded", counts: { created: 5 } });
  });

  it("resumes consistently after a run died midway (its lease expired), and the dead run can no longer write", async () => {
    const { org, integration } = await syncedOrg();
    const gate = deferred();
    const dying = sync(integration.id, { onPage: (n) => (n === 2 ? gate.promise : undefined) });
    await until(async () => (await db.syncRun.findFirst({ where: { integrationId: integration.id } }))?.pagesDone === 1, "the first page");

    // One run at a time: the second one is turned away while the lease holds, and the schedule waits.
    expect(await sync(integration.id)).toEqual({ kind: "busy" });
    expect(await dueIntegrations(30)).toEqual([]);
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const busy = await (await signedInAs(admin)).post(page.action, "/admin/sync", { intent: "sync" });
    expect(busy.status).toBe(409);
    expect(busy.data.errors.form).toMatch(/already running/);
    expect((await (await signedInAs(admin)).get(page.loader, "/admin/sync")).data).toMatchObject({
      running: true,
      runs: [expect.objectContaining({ status: "running", pagesDone: 1, created: 2 })],
    });

    // The process "dies": nobody renews its lease, which expires.
    await db.integration.update({ where: { id: integration.id }, data: { syncLockedUntil: new Date(Date.now() - 1000) } });
    expect((await (await signedInAs(admin)).get(page.loader, "/admin/sync")).data.runs[0].status).toBe("interrupted");
    // The schedule continues it at its next tick, not an interval later.
    expect(await dueIntegrations(30)).toEqual([integration.id]);
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 3 } });
    const runs = await db.syncRun.findMany({ where: { integrationId: integration.id }, orderBy: { startedAt: "asc" } });
    expect(runs.map((r) => [r.status, r.errorMessage])).toEqual([
      ["failed", INTERRUPTED],
      ["succeeded", null],
    ]);

    gate.release();
    expect(await dying).toMatchObject({ kind: "failed", error: expect.stringMatching(/lost its lock/) });
    expect(await db.user.count({ where: { orgId: org.id, source: "synced" } })).toBe(5);
    expect(await db.syncRun.findUniqueOrThrow({ where: { id: runs[0]!.id } })).toMatchObject({ created: 2, errorMessage: INTERRUPTED });
  });

  it("reads everything again when the delta token has expired (410) and deactivates who is gone", async () => {
    const { integration } = await syncedOrg();
    await sync(integration.id);
    const oldLink = (await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).usersDeltaLink;
    // A full round does not list removed users: the sweep after it must notice Johanna is gone.
    directory().deleteUser(FABRIKAM.id, JOHANNA);
    const added = directory().addUser(FABRIKAM.id, { displayName: "Alan Steiner", userPrincipalName: "alan@fabrikam.com", mail: "alan@fabrikam.com" });
    directory().expireDeltaTokens(FABRIKAM.id);
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 1, deactivated: 1, updated: 0 } });
    expect(await user(JOHANNA)).toMatchObject({ status: "deactivated", syncIntegrationId: null });
    expect(await user(added.oid)).toMatchObject({ status: "active" });
    const stored = await db.integration.findUniqueOrThrow({ where: { id: integration.id } });
    expect(stored.usersDeltaLink).not.toBe(oldLink);
    expect(await db.auditEvent.findFirst({ where: { action: "sync.run.succeeded" }, orderBy: { createdAt: "desc" } })).toMatchObject({
      detail: expect.stringContaining('"fullResync":true'),
    });
    // Restored later: incremental again, and back in scope.
    directory().restoreUser(FABRIKAM.id, JOHANNA);
    await sync(integration.id);
    expect(await user(JOHANNA)).toMatchObject({ status: "active", syncIntegrationId: integration.id });
  });
});

describe("the schedule", () => {
  it("runs each sync connection once per interval", async () => {
    const { integration } = await syncedOrg();
    await db.integration.create({ data: { orgId: (await createOrg()).id, tenantId: "c7c05269-6432-4cd1-a144-a3cfdb272279", status: "active" } });
    expect(await dueIntegrations(30)).toEqual([integration.id]);
    await runDueSyncs(30);
    expect(await db.syncRun.findMany({ where: {} })).toEqual([
      expect.objectContaining({ integrationId: integration.id, trigger: "schedule", status: "succeeded" }),
    ]);
    expect(await dueIntegrations(30)).toEqual([]);
    expect(await dueIntegrations(30, new Date(Date.now() + 31 * 60_000))).toEqual([integration.id]);
  });
});

describe("the Entra ID Sync page", () => {
  async function admin(options: { licensed?: boolean; tenant?: { id: string; displayName: string } } = {}) {
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: options.licensed ?? true } });
    const tenant = options.tenant ?? FABRIKAM;
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: tenant.id, status: "active", displayName: tenant.displayName } });
    const { user } = await createUser({ orgId: org.id, role: "admin" });
    return { org, integration, b: await signedInAs(user) };
  }
  const post = (b: Browser, form: Record<string, string>) => b.post(page.action, "/admin/sync", form);

  it("chooses the connection, runs it in the background on Sync now, and shows the history", async () => {
    const { org, integration, b } = await admin();
    expect((await b.get(page.loader, "/admin/sync")).data).toMatchObject({
      licensed: true,
      connection: null,
      integrations: [{ id: integration.id, name: "Fabrikam", tenantId: FABRIKAM.id }],
      runs: [],
    });
    const set = await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant", groupId: "" });
    expect(set.status, JSON.stringify(set.data)).toBe(302);
    expect((await db.organization.findUniqueOrThrow({ where: { id: org.id } })).syncIntegrationId).toBe(integration.id);

    const started = await post(b, { intent: "sync" });
    expect(started).toMatchObject({ status: 302, location: "/admin/sync" });
    await backgroundSyncsSettled();
    const shown = (await b.get(page.loader, "/admin/sync")).data;
    expect(shown).toMatchObject({
      running: false,
      connection: { id: integration.id, scope: "tenant" },
      runs: [expect.objectContaining({ status: "succeeded", trigger: "manual", created: 5, tenant: "Fabrikam" })],
    });
    const actions = (await db.auditEvent.findMany({ where: { orgId: org.id }, orderBy: { createdAt: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(["sync.connection.changed", "sync.run.started", "sync.run.succeeded"]);
  });

  it("asks before changing an existing connection or its scope, then reads the new scope from the start", async () => {
    const { org, integration, b } = await admin();
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    await runSync(integration.id, "manual", FAST);
    const asked = await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupId: ` ${GROUP.toUpperCase()} ` });
    expect(asked.status).toBe(200);
    expect(asked.data.confirm).toMatchObject({ scopeChanges: true, scope: "group", groupId: GROUP });
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ syncScope: "tenant" });

    const confirmed = await post(b, { intent: "connect", integrationId: integration.id, scope: "group", groupId: GROUP, confirmed: "yes" });
    expect(confirmed.status).toBe(302);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({
      syncScope: "group",
      syncGroupId: GROUP,
      usersDeltaLink: null,
      groupsDeltaLink: null,
    });
    await runSync(integration.id, "manual", FAST);
    expect(await syncedNames(org.id)).toEqual(["Johanna Lorenz", "Lidia Holloway", "Patti Fernandez"]);
    expect(await syncedNames(org.id, "deactivated")).toEqual(["Nestor Wilke", "Pradeep Gupta"]);
  });

  it("asks before replacing the connection with another integration, and stops syncing on request", async () => {
    const { org, integration, b } = await admin();
    const other = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active", displayName: "Contoso" } });
    await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    const asked = await post(b, { intent: "connect", integrationId: other.id, scope: "tenant" });
    expect(asked.data.confirm).toMatchObject({ from: "Fabrikam", to: "Contoso", scopeChanges: false });
    expect((await post(b, { intent: "connect", integrationId: other.id, scope: "tenant", confirmed: "yes" })).status).toBe(302);
    expect((await db.organization.findUniqueOrThrow({ where: { id: org.id } })).syncIntegrationId).toBe(other.id);
    expect((await post(b, { intent: "stop" })).status).toBe(302);
    expect((await db.organization.findUniqueOrThrow({ where: { id: org.id } })).syncIntegrationId).toBeNull();
    expect((await post(b, { intent: "sync" })).data.errors.form).toMatch(/Choose a sync connection first/);
  });

  it("shows an admin nothing of another org and lets them change nothing there; plain users get a 404", async () => {
    const a = await syncedOrg();
    await createUser({ orgId: a.org.id, email: "patti@fabrikam.com" });
    await runSync(a.integration.id, "manual", FAST);
    const conflict = await db.syncConflict.findFirstOrThrow({});
    const { b, integration: own } = await admin({ tenant: CONTOSO });

    const shown = (await b.get(page.loader, "/admin/sync")).data;
    expect(shown).toMatchObject({ connection: null, integrations: [{ id: own.id, name: "Contoso", tenantId: CONTOSO.id }], runs: [], conflicts: [] });
    const resolve = await post(b, { intent: "resolve", conflictId: conflict.id, resolution: "attach" });
    expect(resolve.status).toBe(409);
    expect(resolve.data.errors.form).toMatch(/already resolved, or it does not exist/);
    expect(await db.syncConflict.findUniqueOrThrow({ where: { id: conflict.id } })).toMatchObject({ status: "open" });
    const take = await post(b, { intent: "connect", integrationId: a.integration.id, scope: "tenant" });
    expect(take.status).toBe(400);
    expect(take.data.errors.integrationId).toMatch(/active integrations/);
    expect(await db.organization.count({ where: { syncIntegrationId: a.integration.id } })).toBe(1);

    const { user: member } = await createUser({ orgId: a.org.id });
    const plain = await signedInAs(member);
    expect((await plain.get(page.loader, "/admin/sync")).status).toBe(404);
    expect((await plain.post(page.action, "/admin/sync", { intent: "sync" })).status).toBe(404);
    expect(await db.syncRun.count()).toBe(1);
  });

  it("shows the licence gate to an org without SSO and changes nothing", async () => {
    const { org, integration, b } = await admin({ licensed: false });
    expect((await b.get(page.loader, "/admin/sync")).data).toMatchObject({ licensed: false, integrations: [] });
    const r = await post(b, { intent: "connect", integrationId: integration.id, scope: "tenant" });
    expect(r.status).toBe(403);
    expect((await db.organization.findUniqueOrThrow({ where: { id: org.id } })).syncIntegrationId).toBeNull();
  });

  it("answers bad, oversized or malicious input on every form with a sentence and changes nothing", async () => {
    const { org, integration, b } = await admin();
    const cases: [Record<string, string> | URLSearchParams, string][] = [
      [{}, "intent"],
      [{ intent: "delete-everything" }, "intent"],
      [{ intent: "connect", scope: "tenant" }, "integrationId"],
      [{ intent: "connect", integrationId: "x".repeat(5000), scope: "tenant" }, "integrationId"],
      [{ intent: "connect", integrationId: integration.id, scope: "everyone" }, "scope"],
      [{ intent: "connect", integrationId: integration.id, scope: "group" }, "groupId"],
      [{ intent: "connect", integrationId: integration.id, scope: "group", groupId: "x' or id ne '" }, "groupId"],
      [{ intent: "connect", integrationId: integration.id, scope: "group", groupId: `${GROUP}&$filter=` }, "groupId"],
      [{ intent: "connect", integrationId: integration.id, scope: "group", groupId: "9".repeat(300) }, "groupId"],
      [{ intent: "connect", integrationId: integration.id, scope: "tenant", confirmed: "sure" }, "confirmed"],
      [
        new URLSearchParams([
          ["intent", "connect"],
          ["integrationId", integration.id],
          ["integrationId", "other"],
          ["scope", "tenant"],
        ]),
        "integrationId",
      ],
      [{ intent: "resolve", resolution: "attach" }, "conflictId"],
      [{ intent: "resolve", conflictId: "c1", resolution: "merge" }, "resolution"],
      [{ intent: "resolve", conflictId: "<script>alert(1)</script>".repeat(10), resolution: "attach" }, "conflictId"],
    ];
    for (const [form, field] of cases) {
      const r = await post(b, form as Record<string, string>);
      expect(r.status, JSON.stringify(form).slice(0, 200)).toBe(400);
      expect(r.data.errors[field], `${field} for ${JSON.stringify(form).slice(0, 200)}`).toMatch(/^[A-Z].*\.\)?$/);
    }
    expect(await db.organization.findUniqueOrThrow({ where: { id: org.id } })).toMatchObject({ syncIntegrationId: null });
    expect(await db.auditEvent.count({ where: { orgId: org.id } })).toBe(0);
    expect(await db.syncRun.count()).toBe(0);
  });
});
