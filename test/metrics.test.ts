// /metrics of the built server (issue 15, decision 022): only for the bearer of METRICS_TOKEN; the sign-in,
// throttle and mail queue figures move with what happens.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portalRequest } from "../bench/common.ts";
import { db } from "~/lib/db.server.ts";
import { metricsText } from "~/lib/metrics.server.ts";
import { runSync } from "~/lib/sync/run.server.ts";
import { syntheticTenant } from "./entra/fixture.ts";
import { createOrg, createUser } from "./helpers.ts";
import { useStandin } from "./microsoft.ts";
import { LoggedPortal, METRICS_TOKEN, sample } from "./operations.ts";
import { ensureBuild, Jar, signIn } from "./processes.ts";

const standin = useStandin();

describe("/metrics of the built server", () => {
  let portal: LoggedPortal;
  beforeAll(async () => {
    ensureBuild();
    portal = await LoggedPortal.start();
  }, 180_000);
  afterAll(() => portal?.stop());

  it("answers 404 without the token or with a wrong one, and the Prometheus text with it", async () => {
    expect((await portal.fetch("/metrics")).status).toBe(404);
    expect((await portal.fetch("/metrics", { Authorization: `Bearer ${METRICS_TOKEN}x` })).status).toBe(404);
    expect((await portal.fetch("/metrics", { Authorization: METRICS_TOKEN })).status).toBe(404);
    const page = await portal.fetch("/metrics", { Authorization: "Bearer " });
    expect(page.status).toBe(404);
    expect(await page.text()).not.toContain("portal_");

    const text = await portal.metrics();
    expect(text).toContain("# TYPE portal_sign_ins_total counter");
    expect(text).toContain("# TYPE portal_mail_queue_depth gauge");
    expect(text).toContain("# TYPE portal_microsoft_request_duration_seconds histogram");
    // Node's own figures, for this process.
    expect(sample(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });

  it("counts a successful sign-in, a failed one and a throttle block", async () => {
    const before = await portal.metrics();
    const { user, secret } = await createUser({ email: "ada@example.test" });
    await signIn(portal.instance, new Jar(), user.email!, secret);

    const wrong = await portal.instance.request("POST", "/login?index", { intent: "password", identifier: user.email!, password: "wrong password" });
    expect(wrong.status).toBe(400);

    // Wrong passwords for one account from one address: after 5 free ones each sets a doubling wait, so one of
    // the next attempts arrives while the account waits and is refused unchecked.
    const target = await createUser({ email: "grace@example.test" });
    let waits = 0;
    for (let i = 0; i < 10; i++) {
      const reply = await portal.instance.request("POST", "/login?index", { intent: "password", identifier: target.user.email!, password: `guess ${i}` });
      if (/Too many failed attempts/.test(reply.body)) waits++;
    }
    expect(waits).toBeGreaterThan(1);

    const after = await portal.metrics();
    const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(moved("portal_sign_ins_total", { method: "password", outcome: "success" })).toBe(1);
    expect(moved("portal_sign_ins_total", { method: "totp", outcome: "success" })).toBe(1);
    expect(moved("portal_sign_ins_total", { method: "password", outcome: "failure" })).toBeGreaterThanOrEqual(6);
    expect(moved("portal_sign_ins_total", { method: "password", outcome: "blocked" })).toBeGreaterThanOrEqual(1);
    expect(moved("portal_throttle_blocks_total", { reason: "wait" })).toBe(moved("portal_sign_ins_total", { method: "password", outcome: "blocked" }));
    expect(moved("portal_sign_ins_total", { method: "totp", outcome: "failure" })).toBe(0);
  });

  it("shows the mail queue as the database holds it, at each scrape", async () => {
    const pending = () => db.outgoingMail.count({ where: { status: "pending" } });
    expect(sample(await portal.metrics(), "portal_mail_queue_depth")).toBe(await pending());
    const old = new Date(Date.now() - 10 * 60_000);
    for (const to of ["a@example.test", "b@example.test", "c@example.test"]) {
      await db.outgoingMail.create({ data: { to, template: "invitation", subject: "Hello", html: "<p>Hello</p>", text: "Hello", createdAt: old } });
    }
    await db.outgoingMail.create({ data: { to: "d@example.test", template: "invitation", subject: "Sent", html: "", text: "", status: "sent" } });
    const text = await portal.metrics();
    expect(sample(text, "portal_mail_queue_depth")).toBe(await pending());
    expect(await pending()).toBeGreaterThanOrEqual(3);
    expect(sample(text, "portal_mail_queue_oldest_seconds")).toBeGreaterThanOrEqual(600);
  });
});

describe("/metrics with WEB_CONCURRENCY=2", () => {
  let portal: LoggedPortal;
  beforeAll(async () => {
    ensureBuild();
    portal = await LoggedPortal.start({ WEB_CONCURRENCY: "2" });
  }, 180_000);
  afterAll(() => portal?.stop());

  it("answers for both server processes, whichever one the scrape reaches", async () => {
    // Each request on a new connection: the primary hands connections to the two processes in turn.
    const agent = new http.Agent({ keepAlive: false });
    const request = (path: string, options: { method: "GET" | "POST"; form?: Record<string, string> }) =>
      portalRequest({ port: portal.port, origin: process.env.APP_ORIGIN!, path, agent, userAgent: "test/metrics.test.ts", ...options });
    for (let i = 0; i < 4; i++) {
      const reply = await request("/login?index", { method: "POST", form: { intent: "password", identifier: "nobody@example.test", password: `guess ${i}` } });
      expect(reply.status).toBe(400);
    }
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`http://127.0.0.1:${portal.port}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}`, Connection: "close" } });
      const text = await response.text();
      expect(sample(text, "portal_sign_ins_total", { method: "password", outcome: "failure" })).toBe(4);
      expect(sample(text, "portal_mail_queue_depth")).toBe(await db.outgoingMail.count({ where: { status: "pending" } }));
    }
  });
});

describe("the sync and Microsoft figures (in this process, against the stand-in)", () => {
  const tenant = syntheticTenant({ id: "5e7c0000-0000-4000-8000-0000000005e7", displayName: "Metrics Ltd", domain: "metrics.example", users: 25 });
  const figures = async () => (await metricsText()).body;

  it("count a run's pages, users and Microsoft requests, and a failed run with Microsoft's 503s", async () => {
    standin.current.directory.addTenant(tenant);
    const org = await createOrg();
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: tenant.id, status: "active", displayName: tenant.displayName } });
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, syncIntegrationId: integration.id } });

    const before = await figures();
    const run = await runSync(integration.id, "manual", { pageSize: 10 });
    expect(run).toMatchObject({ kind: "succeeded", counts: { created: 25 } });
    const after = await figures();
    const moved = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
    expect(moved("portal_sync_runs_total", { outcome: "succeeded" })).toBe(1);
    expect(moved("portal_sync_pages_total")).toBe(3);
    expect(moved("portal_sync_users_total", { change: "created" })).toBe(25);
    expect(moved("portal_sync_run_duration_seconds_count")).toBe(1);
    expect(moved("portal_microsoft_requests_total", { endpoint: "graph_users_delta", outcome: "ok" })).toBe(3);
    expect(moved("portal_microsoft_requests_total", { endpoint: "token", outcome: "ok" })).toBeGreaterThanOrEqual(1);
    expect(moved("portal_microsoft_request_duration_seconds_count", { endpoint: "graph_users_delta" })).toBe(3);

    standin.current.faults.set({ status5xx: { paths: ["graph"] } });
    const failed = await runSync(integration.id, "manual", { pageSize: 10, retries: 1, backoffMs: 1 });
    expect(failed.kind).toBe("failed");
    const last = await figures();
    expect(sample(last, "portal_sync_runs_total", { outcome: "failed" }) - sample(after, "portal_sync_runs_total", { outcome: "failed" })).toBe(1);
    expect(
      sample(last, "portal_microsoft_requests_total", { endpoint: "graph_users_delta", outcome: "server_error" }) -
        sample(after, "portal_microsoft_requests_total", { endpoint: "graph_users_delta", outcome: "server_error" }),
    ).toBe(2);
  });
});
