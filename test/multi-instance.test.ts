// Two app instances on one PostgreSQL database, as behind a load balancer: a session made on one is valid
// on the other, failed sign-ins count across both, and "Sync now" pressed on both at once gives one run.
// Runs only with TEST_DATABASE=postgres (scripts/test-all.sh's second vitest run; vite.config.ts leaves it
// out of the SQLite run, where several instances are not supported). Starts the built server (`npx remix vite:build`, run before
// vitest in scripts/test-all.sh; built here when build/ is missing).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { attemptKeys } from "~/lib/throttle.server.ts";
import { FABRIKAM } from "./entra/fixture.ts";
import { createOrg, createUser } from "./helpers.ts";
import { useStandin } from "./microsoft.ts";
import { usePostgres } from "./pg.ts";
import { appEnv, ensureBuild, freePort, Instance, Jar, signIn } from "./processes.ts";

describe("two instances on one PostgreSQL database", () => {
  if (!usePostgres) throw new Error("This file needs TEST_DATABASE=postgres: several instances share one PostgreSQL database.");
  useStandin();
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    ensureBuild();
    const env = appEnv({ NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0" });
    [a, b] = [new Instance(await freePort()), new Instance(await freePort())];
    a.start(env);
    b.start(env);
    await Promise.all([a.ready(), b.ready()]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("accepts on instance B a session signed in on instance A", async () => {
    const { user, secret } = await createUser();
    const jar = new Jar();
    await signIn(a, jar, user.email!, secret);
    expect((await b.request("GET", "/settings", undefined, jar.header)).status).toBe(200);
    expect((await b.request("GET", "/settings")).status).toBe(302);
  });

  it("counts failed sign-ins on both instances together", async () => {
    const { user } = await createUser();
    const attempt = (on: Instance) => on.request("POST", "/login?index", { intent: "password", identifier: user.email!, password: "wrong password" });
    // The fifth failure starts the wait; here it is the third on A, which alone would not have blocked.
    for (let i = 0; i < 4; i++) expect((await attempt(i % 2 ? b : a)).body).not.toContain("Too many failed attempts");
    expect((await attempt(a)).body).toContain("Too many failed attempts");
    expect((await db.signInAttempt.findUnique({ where: { key: attemptKeys(user.id, "127.0.0.1").account } }))?.attempts).toBe(5);
  });

  it("13.9 throttle race: a burst of 40 wrong passwords over both instances has at most 5 checked", async () => {
    const { user } = await createUser();
    const started = Date.now();
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? b : a).request("POST", "/login?index", { intent: "password", identifier: user.email!, password: `wrong ${i}` }),
      ),
    );
    const wrong = replies.filter((r) => r.body.includes("don&#x27;t match"));
    const waiting = replies.filter((r) => r.body.includes("Too many failed attempts. You can try again at"));
    expect([wrong.length + waiting.length, replies.every((r) => r.status === 400)]).toEqual([40, true]);
    // Five checked (four plain failures, then the fifth's answer is the wait it started), the rest refused
    // unchecked; on a slow machine a burst can outlast a wait (1 s, then 2 s more …), which lets one more in.
    const elapsed = Date.now() - started;
    const waitsOver = [1000, 3000, 7000, 15_000].filter((ms) => ms <= elapsed).length;
    const checked = (await db.signInAttempt.findFirst({ where: { key: { startsWith: `pair:${user.id}|` } } }))?.attempts;
    expect(checked).toBeGreaterThanOrEqual(5);
    expect(checked).toBeLessThanOrEqual(5 + waitsOver);
    expect(wrong.length).toBeLessThanOrEqual(4 + waitsOver);
  });

  it('gives exactly one run when "Sync now" is pressed on both instances at once', async () => {
    const org = await createOrg();
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: FABRIKAM.id, status: "active", displayName: "Fabrikam" } });
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, syncIntegrationId: integration.id } });
    const { user, secret } = await createUser({ orgId: org.id, role: "admin" });
    const jar = new Jar();
    await signIn(a, jar, user.email!, secret);

    const replies = await Promise.all([a, b].map((on) => on.request("POST", "/admin/sync", { intent: "sync" }, jar.header)));
    expect(replies.map((r) => r.status).sort()).toEqual([302, 409]);
    for (let i = 0; i < 300 && (await db.syncRun.count({ where: { status: "running" } })); i++) await new Promise((r) => setTimeout(r, 100));
    const runs = await db.syncRun.findMany({ where: { integrationId: integration.id } });
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status).toBe("succeeded");
    expect(runs[0]!.created).toBeGreaterThan(0);
    expect(await db.user.count({ where: { orgId: org.id, source: "synced" } })).toBe(runs[0]!.created);
  });
});
