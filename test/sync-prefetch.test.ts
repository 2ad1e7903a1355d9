// Entra ID Sync at Graph's real page size: the stand-in serves at most its page limit whatever the app asks
// for, and the run fetches the next page while it writes the current one (one page ahead, no more), keeping
// what a sequential run guarantees: whole pages only, resume at the first unwritten page, one run at a time.
import diagnostics_channel from "node:diagnostics_channel";
import { afterEach, describe, expect, it, vi } from "vitest";
import { db } from "~/lib/db.server.ts";
import { log } from "~/lib/log.server.ts";
import { backgroundSyncsSettled, runSync, startSync, type SyncOptions } from "~/lib/sync/run.server.ts";
import { GRAPH_PAGE_LIMITS } from "./entra/context.ts";
import { FABRIKAM } from "./entra/fixture.ts";
import { createOrg } from "./helpers.ts";
import { useStandin } from "./microsoft.ts";

const standin = useStandin();
const postgres = () => process.env.DATABASE_URL!.startsWith("postgres");

/** The app asks for its usual 999 a page; the stand-in serves 2, so that Fabrikam's 5 users take 3 pages. */
const PAGE = 2;
const FAST: SyncOptions = { backoffMs: 5, retries: 1 };
const sync = (integrationId: string, options: SyncOptions = {}) => runSync(integrationId, "manual", { ...FAST, ...options });

afterEach(async () => {
  await backgroundSyncsSettled();
  standin.current.requests.removeAllListeners();
  Object.assign(standin.current.pageLimits, GRAPH_PAGE_LIMITS);
  await db.$executeRawUnsafe(postgres() ? `DROP TRIGGER IF EXISTS sync_write_fails ON "User"` : `DROP TRIGGER IF EXISTS sync_write_fails`);
});

async function syncedOrg() {
  standin.current.pageLimits.users = PAGE;
  const org = await createOrg();
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: FABRIKAM.id, status: "active", displayName: "Fabrikam" } });
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, syncIntegrationId: integration.id } });
  return { org, integration };
}

/** The users/delta requests the stand-in receives, in order, and a way to wait for the n-th. */
function usersDeltaRequests() {
  const seen: URL[] = [];
  const waiting: { n: number; resolve: () => void }[] = [];
  standin.current.requests.on("request", (url) => {
    if (!url.pathname.endsWith("/users/delta")) return;
    seen.push(url);
    for (const w of waiting.filter((w) => seen.length >= w.n)) w.resolve();
  });
  const reached = (n: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (seen.length >= n) return resolve();
      const timer = setTimeout(() => reject(new Error(`${what}: Graph was never asked for page ${n}`)), 5000);
      waiting.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  return { seen, reached };
}

const syncedUsers = (orgId: string) => db.user.findMany({ where: { orgId, source: "synced" }, select: { entraObjectId: true } });
const runsOf = (integrationId: string) => db.syncRun.findMany({ where: { integrationId }, orderBy: { startedAt: "asc" } });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the stand-in serves Graph's page size", () => {
  it("serves at most its page limit (100 users by default, as Graph's users/delta), whatever the app asks for", async () => {
    expect(GRAPH_PAGE_LIMITS).toEqual({ users: 100, members: 500 });
    const { integration } = await syncedOrg();
    // The app asks for 999 a page; at the test's limit of 2, Fabrikam's 5 users take three pages.
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 5 } });
    expect((await runsOf(integration.id))[0]).toMatchObject({ pagesDone: 3 });
  });
});

describe("fetching the next page while writing this one", () => {
  it("asks Graph for page n+1 before page n is written, and for no page beyond n+1", async () => {
    const { org, integration } = await syncedOrg();
    standin.current.faults.set({ slowMs: { paths: ["graph"], ms: 50 } });
    const requests = usersDeltaRequests();
    const events: string[] = [];
    const outcome = await sync(integration.id, {
      // Runs before page n's transaction: page n is not written until this returns.
      onPage: async (n) => {
        if (n < 3) await requests.reached(n + 1, `while page ${n} was being written`);
        // Whatever time it is given, the reader stays one page ahead.
        await pause(150);
        const written = (await runsOf(integration.id))[0]!.pagesDone;
        events.push(`page ${n} not yet written (${written} written), ${requests.seen.length} pages asked for`);
      },
    });
    expect(outcome).toMatchObject({ kind: "succeeded", counts: { created: 5, errors: 0 } });
    expect(events).toEqual([
      "page 1 not yet written (0 written), 2 pages asked for",
      "page 2 not yet written (1 written), 3 pages asked for",
      "page 3 not yet written (2 written), 3 pages asked for",
    ]);
    expect((await runsOf(integration.id))[0]).toMatchObject({ status: "succeeded", pagesDone: 3, created: 5, resumeLink: null });
    expect(await syncedUsers(org.id)).toHaveLength(5);
  });

  it("has page n+1's request on the wire before page n's write starts (a write holds the event loop: better-sqlite3 is synchronous)", async () => {
    const { integration } = await syncedOrg();
    standin.current.faults.set({ slowMs: { paths: ["graph"], ms: 50 } });
    // What left this process, as the HTTP client reports it when a request's headers are written to the socket.
    const sent: string[] = [];
    const onSent = (message: unknown) => {
      const { request } = message as { request: { path: string } };
      if (request.path.includes("/users/delta")) sent.push(request.path);
    };
    diagnostics_channel.subscribe("undici:client:sendHeaders", onSent);
    const atWrite: number[] = [];
    try {
      const outcome = await sync(integration.id, {
        // Synchronous at its start, as a write is: whatever is not sent yet waits until the write ends.
        onPage: async () => void atWrite.push(sent.length),
      });
      expect(outcome).toMatchObject({ kind: "succeeded", counts: { created: 5 } });
    } finally {
      diagnostics_channel.unsubscribe("undici:client:sendHeaders", onSent);
    }
    // Page 1's write starts with pages 1 and 2 sent; page 2's with 3; the last page has no next one.
    expect(atWrite).toEqual([2, 3, 3]);
  });

  it("reports a failure of page k+1 after page k is written; the next run starts at page k+1", async () => {
    const { org, integration } = await syncedOrg();
    const requests = usersDeltaRequests();
    // Pages 1 and 2 are served; page 3 meets a Graph that answers 503 to every try.
    standin.current.faults.set({ status5xx: { paths: ["/v1.0/users/delta"], status: 503, after: 2 } });
    const failed = await sync(integration.id);
    expect(failed).toMatchObject({ kind: "failed", counts: { created: 4 } });
    expect(failed.kind === "failed" && failed.error).toMatch(/could not be reached \(HTTP 503\) after 2 attempts.*continues from the last saved page/);
    const [first] = await runsOf(integration.id);
    expect(first).toMatchObject({ status: "failed", pagesDone: 2, created: 4 });
    expect(first!.resumeLink).toMatch(/\$skiptoken=/);
    expect(await syncedUsers(org.id)).toHaveLength(4);
    // Page 3 was asked for twice (the try and the retry), and nothing beyond it.
    expect(requests.seen).toHaveLength(4);
    expect(requests.seen[3]!.href).toBe(requests.seen[2]!.href);

    standin.current.faults.clear();
    const asked = requests.seen.length;
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 1, errors: 0 } });
    expect(requests.seen[asked]!.href).toBe(first!.resumeLink);
    expect((await runsOf(integration.id))[1]).toMatchObject({ status: "succeeded", pagesDone: 1, created: 1 });
    const users = await syncedUsers(org.id);
    expect(new Set(users.map((u) => u.entraObjectId)).size).toBe(5);
    expect(users).toHaveLength(5);
  });

  it("loses and duplicates nothing when a page's write fails midway; the next run writes that page again", async () => {
    const { org, integration } = await syncedOrg();
    // The first user of page 2 cannot be inserted: the page's transaction fails after its statements began.
    const victim = FABRIKAM.users[PAGE]!.oid;
    const failing = postgres()
      ? [
          `CREATE OR REPLACE FUNCTION sync_write_fails() RETURNS trigger AS $$ BEGIN IF NEW."entraObjectId" = '${victim}' THEN RAISE EXCEPTION 'the disk is full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
          `CREATE TRIGGER sync_write_fails BEFORE INSERT ON "User" FOR EACH ROW EXECUTE FUNCTION sync_write_fails()`,
        ]
      : [`CREATE TRIGGER sync_write_fails BEFORE INSERT ON "User" WHEN NEW."entraObjectId" = '${victim}' BEGIN SELECT RAISE(ABORT, 'the disk is full'); END`];
    for (const statement of failing) await db.$executeRawUnsafe(statement);

    const failed = await sync(integration.id);
    expect(failed).toMatchObject({ kind: "failed", counts: { created: 2 } });
    expect(failed.kind === "failed" && failed.error).toMatch(/unexpected error[\s\S]*continues from the last saved page/);
    expect(log.error).toHaveBeenCalledWith(expect.objectContaining({ err: expect.anything() }), "Entra ID Sync stopped on an unexpected error");
    vi.mocked(log.error).mockClear();
    const [first] = await runsOf(integration.id);
    expect(first).toMatchObject({ status: "failed", pagesDone: 1, created: 2 });
    expect((await syncedUsers(org.id)).map((u) => u.entraObjectId).sort()).toEqual(
      FABRIKAM.users
        .slice(0, PAGE)
        .map((u) => u.oid)
        .sort(),
    );
    // The prefetched page 3 was read but never written, not even after the run ended.
    await pause(200);
    expect(await syncedUsers(org.id)).toHaveLength(2);

    await db.$executeRawUnsafe(postgres() ? `DROP TRIGGER sync_write_fails ON "User"` : `DROP TRIGGER sync_write_fails`);
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 3, errors: 0 } });
    expect((await runsOf(integration.id))[1]).toMatchObject({ pagesDone: 2, created: 3 });
    const users = await syncedUsers(org.id);
    expect(users).toHaveLength(5);
    expect(new Set(users.map((u) => u.entraObjectId))).toEqual(new Set(FABRIKAM.users.map((u) => u.oid)));
  });

  it("leaves no request behind that retries or renews the lock once a write failed", async () => {
    const { org, integration } = await syncedOrg();
    const requests = usersDeltaRequests();
    // Page 2, fetched while page 1 is written, is throttled: a live reader would renew the lock and ask again after 1 s.
    standin.current.faults.set({ rateLimit: { paths: ["/v1.0/users/delta"], retryAfterSeconds: 1, after: 1, times: 1 } });
    const failed = await sync(integration.id, {
      // Another run took the lock (this one's lease had expired): page 1's write fails.
      onPage: async (n) => {
        if (n !== 1) return;
        await requests.reached(2, "while page 1 was being written");
        await db.integration.update({ where: { id: integration.id }, data: { syncLockedBy: "another-run", syncLockedUntil: new Date(Date.now() + 60_000) } });
      },
    });
    expect(failed).toMatchObject({ kind: "failed", counts: { created: 0 }, error: expect.stringMatching(/lost its lock/) });
    await pause(1500);
    expect(requests.seen).toHaveLength(2);
    expect(await db.integration.findUniqueOrThrow({ where: { id: integration.id } })).toMatchObject({ syncLockedBy: "another-run" });
    expect(await syncedUsers(org.id)).toHaveLength(0);
  });

  it("still runs one sync at a time: a second run is turned away while the first fetches and writes", async () => {
    const { org, integration } = await syncedOrg();
    const requests = usersDeltaRequests();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = sync(integration.id, { onPage: (n) => (n === 2 ? gate : undefined) });
    await requests.reached(3, "while page 2 was being written");
    expect(await sync(integration.id)).toEqual({ kind: "busy" });
    expect(await startSync(integration.id, "manual", FAST)).toEqual({ kind: "busy" });
    release();
    expect(await first).toMatchObject({ kind: "succeeded", counts: { created: 5 } });
    expect((await runsOf(integration.id)).map((r) => [r.status, r.pagesDone, r.created])).toEqual([["succeeded", 3, 5]]);
    expect(await syncedUsers(org.id)).toHaveLength(5);
    // The lock is free again: the next run is incremental and finds nothing.
    expect(await sync(integration.id)).toMatchObject({ kind: "succeeded", counts: { created: 0, updated: 0 } });
  });
});
