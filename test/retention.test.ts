// 13.10 Growth without bound: the retention job (app/lib/retention.server.ts) deletes what is past its time, in
// batches, on a schedule and from the CLI; and a loop of Microsoft sign-in starts keeps a bounded number of flow states.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { sha256 } from "~/lib/crypto.server.ts";
import { parseEnv } from "~/lib/env.server.ts";
import { FLOW_STATES_PER_ADDRESS, FLOW_STATES_PER_USER } from "~/lib/microsoft/signin.server.ts";
import { runRetention, startRetentionScheduler } from "~/lib/retention.server.ts";
import * as login from "~/routes/login._index.tsx";
import * as callback from "~/routes/auth.microsoft_.callback.tsx";
import * as microsoftButton from "~/routes/auth.microsoft.tsx";
import { CONTOSO } from "./entra/fixture.ts";
import { Browser, createOrg, createUser } from "./helpers.ts";
import { appPath, signInAtMicrosoft, useStandin } from "./microsoft.ts";
import { usePostgres } from "./pg.ts";
import { cli } from "./processes.ts";

useStandin();

const DAY = 24 * 3600_000;
const ago = (ms: number) => new Date(Date.now() - ms);
const later = (ms: number) => new Date(Date.now() + ms);
let serial = 0;

async function session(userId: string, fields: { expiresAt: Date; lastSeenAt?: Date }) {
  serial++;
  return db.session.create({
    data: { id: sha256(`session-${serial}-${Math.random()}`), userId, stage: "active", authMethod: "password_totp", lastSeenAt: new Date(), ...fields },
  });
}

async function token(type: string, fields: { expiresAt: Date; usedAt?: Date | null; createdAt?: Date }) {
  serial++;
  return db.oneTimeToken.create({ data: { type, target: "someone", tokenHash: sha256(`token-${serial}-${Math.random()}`), ...fields } });
}

async function mail(fields: { status: string; sentAt?: Date | null; createdAt?: Date }) {
  return db.outgoingMail.create({ data: { to: "a@example.test", subject: "s", html: "<p>h</p>", text: "t", template: "password-reset", ...fields } });
}

const ids = async <T extends { id: string }>(rows: Promise<T[]>) => new Set((await rows).map((r) => r.id));

describe("13.10 retention job", () => {
  it("13.10 retention: rows past their time go; a live session, an unexpired token, an undelivered mail stay", async () => {
    const { user } = await createUser();
    const keep = [(await session(user.id, { expiresAt: later(DAY) })).id, (await session(user.id, { expiresAt: later(DAY), lastSeenAt: ago(10 * 60_000) })).id];
    const gone = [
      (await session(user.id, { expiresAt: ago(60_000) })).id,
      (await session(user.id, { expiresAt: later(DAY), lastSeenAt: ago(31 * 60_000) })).id,
    ];

    const keepTokens = [
      (await token("password_reset", { expiresAt: later(30 * 60_000) })).id,
      (await token("invitation", { expiresAt: later(7 * DAY) })).id,
      // Used or expired, but within the grace period (TOKEN_RETENTION_DAYS, 30 by default).
      (await token("invitation", { expiresAt: later(6 * DAY), usedAt: ago(DAY) })).id,
      (await token("set_password", { expiresAt: ago(DAY) })).id,
      // A Microsoft flow that has not expired, used or not.
      (await token("oauth_state", { expiresAt: later(5 * 60_000) })).id,
      (await token("consent_state", { expiresAt: later(5 * 60_000) })).id,
    ];
    const goneTokens = [
      (await token("password_reset", { expiresAt: ago(31 * DAY), createdAt: ago(32 * DAY) })).id,
      (await token("invitation", { expiresAt: later(DAY), usedAt: ago(31 * DAY) })).id,
      (await token("oauth_state", { expiresAt: ago(60_000) })).id,
      (await token("consent_state", { expiresAt: ago(60_000) })).id,
    ];

    const keepMail = [
      (await mail({ status: "pending", createdAt: ago(100 * DAY) })).id,
      (await mail({ status: "sent", sentAt: ago(DAY) })).id,
      (await mail({ status: "failed", createdAt: ago(100 * DAY) })).id,
    ];
    const goneMail = [(await mail({ status: "sent", sentAt: ago(8 * DAY), createdAt: ago(8 * DAY) })).id];

    const org = await createOrg();
    const oldEvent = await db.auditEvent.create({ data: { orgId: org.id, action: "signin.succeeded", createdAt: ago(400 * DAY) } });
    const newEvent = await db.auditEvent.create({ data: { orgId: org.id, action: "signin.succeeded" } });

    const result = await runRetention();
    expect(result).toMatchObject({ sessions: 2, flowStates: 2, tokens: 2, mail: 1, auditEvents: 0 });
    expect(await ids(db.session.findMany())).toEqual(new Set(keep));
    expect(await ids(db.oneTimeToken.findMany())).toEqual(new Set(keepTokens));
    expect(await ids(db.outgoingMail.findMany())).toEqual(new Set(keepMail));
    for (const id of [...gone, ...goneTokens, ...goneMail]) expect([...keep, ...keepTokens, ...keepMail]).not.toContain(id);
    // Audit events are kept unless AUDIT_RETENTION_DAYS says otherwise.
    expect(await ids(db.auditEvent.findMany())).toEqual(new Set([oldEvent.id, newEvent.id]));

    const withAudit = await runRetention({ policy: { auditDays: 365 } });
    expect(withAudit).toMatchObject({ sessions: 0, flowStates: 0, tokens: 0, mail: 0, auditEvents: 1 });
    expect(await ids(db.auditEvent.findMany())).toEqual(new Set([newEvent.id]));
  });

  it("the OpenID Provider's expired rows go, live and never-expiring ones stay, a used live refresh token too", async () => {
    const row = (kind: string, id: string, expiresAt: Date | null, consumedAt: Date | null = null) =>
      db.oidcPayload.create({ data: { kind, id, payload: "{}", grantId: "g-1", expiresAt, consumedAt } });
    await row("RefreshToken", "expired", ago(1000));
    await row("AuthorizationCode", "expired", ago(60_000), ago(120_000));
    await row("Grant", "expired-grant", ago(1));
    await row("RefreshToken", "live", later(DAY));
    await row("RefreshToken", "used-live", later(DAY), ago(1000));
    await row("Session", "forever", null);
    expect(await runRetention({ batchSize: 2 })).toMatchObject({ appTokens: 3 });
    const left = await db.oidcPayload.findMany({ select: { kind: true, id: true }, orderBy: { id: "asc" } });
    expect(left).toEqual([
      { kind: "Session", id: "forever" },
      { kind: "RefreshToken", id: "live" },
      { kind: "RefreshToken", id: "used-live" },
    ]);
  });

  it("13.10 retention: deletes in batches, and a second run finds nothing", async () => {
    const { user } = await createUser();
    for (let i = 0; i < 250; i++) await session(user.id, { expiresAt: ago(60_000) });
    const live = await session(user.id, { expiresAt: later(DAY) });
    const first = await runRetention({ batchSize: 100 });
    expect(first.sessions).toBe(250);
    expect(first.batches).toBeGreaterThanOrEqual(3);
    expect(await ids(db.session.findMany())).toEqual(new Set([live.id]));
    expect(await runRetention({ batchSize: 100 })).toMatchObject({ sessions: 0, flowStates: 0, tokens: 0, mail: 0, auditEvents: 0 });
  });

  it(`13.10 retention: concurrent runs (${usePostgres ? "PostgreSQL" : "SQLite"}) do not fail and delete each row once`, async () => {
    const { user } = await createUser();
    for (let i = 0; i < 300; i++) await session(user.id, { expiresAt: ago(60_000) });
    for (let i = 0; i < 200; i++) await token("oauth_state", { expiresAt: ago(60_000) });
    const live = await session(user.id, { expiresAt: later(DAY) });
    const runs = await Promise.all(Array.from({ length: 6 }, () => runRetention({ batchSize: 50 })));
    expect(runs.reduce((n, r) => n + r.sessions, 0)).toBe(300);
    expect(runs.reduce((n, r) => n + r.flowStates, 0)).toBe(200);
    expect(await ids(db.session.findMany())).toEqual(new Set([live.id]));
    expect(await db.oneTimeToken.count()).toBe(0);
  });

  it("13.10 retention: the server's schedule runs it", async () => {
    const { user } = await createUser();
    await session(user.id, { expiresAt: ago(60_000) });
    const stop = startRetentionScheduler(60, { firstTickMs: 10 });
    try {
      for (let i = 0; i < 200 && (await db.session.count()); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await db.session.count()).toBe(0);
    } finally {
      stop();
    }
  });

  it("13.10 retention: `npm run portal -- retention:run` deletes and says what it deleted", { timeout: 60_000 }, async () => {
    const { user } = await createUser();
    await session(user.id, { expiresAt: ago(60_000) });
    await token("oauth_state", { expiresAt: ago(60_000) });
    const run = await cli("portal", ["retention:run"]);
    expect(run, JSON.stringify(run)).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toBe(
      "Deleted 1 expired session, 1 Microsoft flow state, 0 used or expired tokens, 0 delivered mails, 0 sign-in attempt counters, 0 expired app tokens and 0 audit events (audit events are kept).",
    );
    expect(await db.session.count()).toBe(0);
  });

  it("13.10 retention variables are validated at boot with a sentence naming the variable", () => {
    expect(() => parseEnv({ MAIL_RETENTION_DAYS: "-1" })).toThrow(/^The environment variable MAIL_RETENTION_DAYS is invalid/);
    expect(() => parseEnv({ TOKEN_RETENTION_DAYS: "soon" })).toThrow(/^The environment variable TOKEN_RETENTION_DAYS is invalid/);
    expect(() => parseEnv({ AUDIT_RETENTION_DAYS: "0" })).toThrow(/^The environment variable AUDIT_RETENTION_DAYS is invalid/);
    expect(() => parseEnv({ RETENTION_INTERVAL_MINUTES: "1.5" })).toThrow(/^The environment variable RETENTION_INTERVAL_MINUTES is invalid/);
    const env = parseEnv({ SESSION_SECRET: "x".repeat(32), TOTP_ENCRYPTION_KEY: "0".repeat(64) });
    expect(env).toMatchObject({ MAIL_RETENTION_DAYS: 7, TOKEN_RETENTION_DAYS: 30, RETENTION_INTERVAL_MINUTES: 60 });
    expect(env.AUDIT_RETENTION_DAYS).toBeUndefined();
  });
});

describe("13.10 Microsoft flow states are bounded", () => {
  async function linkedUser(email?: string) {
    const org = await createOrg();
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: CONTOSO.id, status: "active", tenantDomain: "contoso.com" } });
    const alex = CONTOSO.users.find((u) => u.userPrincipalName === "alex@contoso.com")!;
    const { user } = await createUser({ orgId: org.id, email });
    await db.microsoftLink.create({
      data: { userId: user.id, integrationId: integration.id, tenantId: CONTOSO.id, objectId: alex.oid, upn: alex.userPrincipalName },
    });
    return { user, alex };
  }

  it(
    "13.10 flow-state limit: 1000 identifier POSTs for one Microsoft user leave a bounded number of rows, and the user still signs in",
    { timeout: 120_000 },
    async () => {
      const { user, alex } = await linkedUser();
      const attacker = new Browser("198.51.100.9");
      for (let i = 0; i < 100; i++) {
        // Ten at a time, without keeping cookies: each POST is a new browser.
        const replies = await Promise.all(
          Array.from({ length: 10 }, () => new Browser(attacker.address).post(login.action, "/login?index", { intent: "identifier", identifier: user.email! })),
        );
        for (const r of replies) expect(r.status).toBe(302);
      }
      const rows = await db.oneTimeToken.count({ where: { type: "oauth_state" } });
      expect(rows).toBeLessThanOrEqual(FLOW_STATES_PER_USER + 10);

      const b = new Browser();
      const go = await b.post(login.action, "/login?index", { intent: "identifier", identifier: user.email! });
      const done = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, alex.userPrincipalName)));
      expect(done.location, JSON.stringify(done.data)).toBe("/");
      expect(await db.session.findFirst({ where: { userId: user.id } })).toMatchObject({ stage: "active", authMethod: "microsoft" });
    },
  );

  it(
    "13.10 flow-state limit: 1000 presses of 'Sign in with Microsoft' from one address leave a bounded number of rows; another address still signs in",
    { timeout: 120_000 },
    async () => {
      const { user, alex } = await linkedUser();
      for (let i = 0; i < 100; i++) {
        const replies = await Promise.all(
          Array.from({ length: 10 }, () => new Browser("198.51.100.10").post(microsoftButton.action, "/auth/microsoft", { redirectTo: "/" })),
        );
        for (const r of replies) expect(r.status).toBe(302);
      }
      expect(await db.oneTimeToken.count({ where: { type: "oauth_state" } })).toBeLessThanOrEqual(FLOW_STATES_PER_ADDRESS + 10);

      const b = new Browser("192.0.2.44");
      const go = await b.post(microsoftButton.action, "/auth/microsoft", { redirectTo: "/" });
      const done = await b.get(callback.loader, appPath(await signInAtMicrosoft(go.location!, alex.userPrincipalName)));
      expect(done.location, JSON.stringify(done.data)).toBe("/");
      expect(await db.session.count({ where: { userId: user.id, stage: "active" } })).toBe(1);
    },
  );
});
