// Issue 13, findings 6–8: "forgot password" answers before any per-account work, no live one-time link stays in
// the database after delivery, and the development outbox exists only in demo mode (never in production).
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { db } from "~/lib/db.server.ts";
import { env, parseEnv, reloadEnv } from "~/lib/env.server.ts";
import { smtpTransport } from "~/lib/mail/transport.server.ts";
import { deliverDueMail } from "~/lib/mail/worker.server.ts";
import { inviteNewUser } from "~/lib/invitations.server.ts";
import * as forgot from "~/routes/forgot-password.tsx";
import * as reset from "~/routes/reset-password.tsx";
import * as invite from "~/routes/invite.tsx";
import * as outboxList from "~/routes/dev.outbox.tsx";
import * as outboxMessage from "~/routes/dev.outbox_.$id.tsx";
import { startSmtp } from "./smtp.ts";
import { log } from "~/lib/log.server.ts";
import { ADDRESS, Browser, createOrg, createUser } from "./helpers.ts";
import { usePostgres } from "./pg.ts";
import { appEnv, ensureBuild, freePort, Instance, NodeProcess, send, waitFor } from "./processes.ts";

// Every database operation of this file's app code is recorded while `recording` is set: model and operation,
// so that two requests can be compared by the work they did.
// `failOnce` makes the next such operation fail, as a database error would.
const recorder = vi.hoisted(() => ({ recording: null as string[] | null, failOnce: null as string | null }));
vi.mock("~/lib/db.server.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("~/lib/db.server.ts")>();
  const db = original.db.$extends({
    query: {
      async $allOperations({ model, operation, args, query }) {
        const name = `${model ?? "$raw"}.${operation}`;
        recorder.recording?.push(name);
        if (recorder.failOnce === name) {
          recorder.failOnce = null;
          throw new Error("disk I/O error");
        }
        return query(args);
      },
    },
  });
  return { ...original, db };
});

async function recorded<T>(work: () => Promise<T>): Promise<{ result: T; operations: string[] }> {
  const operations: string[] = [];
  recorder.recording = operations;
  try {
    return { result: await work(), operations };
  } finally {
    recorder.recording = null;
  }
}

/** The worker's first step: what the forgot-password form recorded becomes mail (or nothing). */
async function handleRequests() {
  const { handlePasswordResetRequests } = await import("~/lib/password-reset.server.ts");
  return handlePasswordResetRequests();
}

/** A user whose sign-in method is Microsoft (a link to an active integration of a licensed org with SSO on). */
async function ssoUser(email: string) {
  const org = await createOrg(`SSO ${randomUUID().slice(0, 8)}`);
  await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, ssoEnabled: true } });
  const tenantId = randomUUID();
  const integration = await db.integration.create({
    data: { orgId: org.id, tenantId, tenantDomain: `${tenantId.slice(0, 8)}.example.com`, status: "active", displayName: "Tenant" },
  });
  const { user } = await createUser({ orgId: org.id, email, password: null });
  await db.microsoftLink.create({ data: { userId: user.id, integrationId: integration.id, tenantId, objectId: randomUUID() } });
  return user;
}

/** Every row of every table of this file's database, as text. */
async function everyRow(): Promise<string> {
  const tables = usePostgres
    ? await db.$queryRaw<{ name: string }[]>`SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema()`
    : await db.$queryRaw<{ name: string }[]>`SELECT name FROM sqlite_master WHERE type = 'table'`;
  expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(["OutgoingMail", "OneTimeToken", "AuditEvent", "User"]));
  const dumps: string[] = [];
  for (const { name } of tables) {
    const rows = await db.$queryRawUnsafe<unknown[]>(`SELECT * FROM "${name}"`);
    dumps.push(`${name}: ${JSON.stringify(rows, (_key, value) => (typeof value === "bigint" ? String(value) : value))}`);
  }
  return dumps.join("\n");
}

const linkIn = (text: string, path: string) => text.match(new RegExp(`https?://[^\\s"<>]+/${path}\\?token=([A-Za-z0-9_-]+)`));

function withEnv(extra: Record<string, string | undefined>) {
  const saved = Object.fromEntries(Object.keys(extra).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  reloadEnv();
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    reloadEnv();
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("13.6 forgot password", () => {
  it("13.6 forgot-password timing: the answer does the same database work for a password user, an SSO user and an unknown identifier, none of it about the account", async () => {
    const { user: passwordUser } = await createUser({ email: "pat@example.test" });
    const microsoftUser = await ssoUser("sam@example.test");
    const runs = [];
    for (const identifier of [passwordUser.email!, microsoftUser.email!, "nobody@example.test", "+1 415 555 2671"]) {
      runs.push(await recorded(() => new Browser().post(forgot.action, "/forgot-password", { identifier })));
    }
    for (const run of runs) {
      expect(run.result.status).toBe(200);
      expect(run.result.data.sent).toBe(true);
      // Nothing that depends on who the identifier names: no user, token, mail or audit row read or written.
      expect(run.operations.filter((op) => /^(User|OneTimeToken|OutgoingMail|AuditEvent|MicrosoftLink|Integration|Organization)\./.test(op))).toEqual([]);
      expect(run.operations).toEqual(runs[0]!.operations);
    }
    expect(runs[0]!.operations.length).toBeGreaterThan(0);
    // Answered, and nothing per account happened yet: no token, no mail.
    expect(await db.oneTimeToken.count()).toBe(0);
    expect(await db.outgoingMail.count()).toBe(0);
  });

  it("13.6 forgot-password queue: the request is stored before the answer; the worker then mails what the sign-in rule says (reset link, Microsoft mail, nothing)", async () => {
    const { user: passwordUser } = await createUser({ email: "pat@example.test" });
    const microsoftUser = await ssoUser("sam@example.test");
    for (const identifier of [" PAT@example.test ", "sam@example.test", "nobody@example.test", "pat@example.test"]) {
      expect((await new Browser().post(forgot.action, "/forgot-password", { identifier })).data.sent).toBe(true);
    }
    // Persisted before answering (a restart now loses nothing); one entry per identifier, however often it is sent.
    expect((await db.passwordResetRequest.findMany({ orderBy: { identifier: "asc" } })).map((r) => [r.identifier, r.ipAddress])).toEqual([
      ["nobody@example.test", ADDRESS],
      ["pat@example.test", ADDRESS],
      ["sam@example.test", ADDRESS],
    ]);

    expect(await handleRequests()).toEqual({ handled: 3, failed: 0 });
    expect(await db.passwordResetRequest.count()).toBe(0);
    const mail = await db.outgoingMail.findMany({ orderBy: { to: "asc" } });
    expect(mail.map((m) => [m.to, m.template])).toEqual([
      [passwordUser.email, "password-reset"],
      [microsoftUser.email, "microsoft-sign-in"],
    ]);
    // Issue 12 stays: the SSO user gets no link that could set a password.
    expect(mail[1]!.text).not.toMatch(/token=/);
    expect(await db.oneTimeToken.count({ where: { target: microsoftUser.id, type: { in: ["password_reset", "set_password"] } } })).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "password.reset.requested", ipAddress: ADDRESS } })).toBe(2);

    // The one-a-minute limit per account still holds when the requests come one after another.
    await new Browser().post(forgot.action, "/forgot-password", { identifier: "pat@example.test" });
    expect(await handleRequests()).toEqual({ handled: 1, failed: 0 });
    expect(await db.outgoingMail.count({ where: { to: passwordUser.email! } })).toBe(1);
  });

  it("13.6 forgot-password queue: a request whose handling fails is kept and retried, and bad input records nothing", async () => {
    const { user } = await createUser({ email: "pat@example.test" });
    for (const identifier of ["", "not an address", "x".repeat(300)]) {
      expect((await new Browser().post(forgot.action, "/forgot-password", { identifier })).status).toBe(400);
    }
    expect(await db.passwordResetRequest.count()).toBe(0);

    await new Browser().post(forgot.action, "/forgot-password", { identifier: user.email! });
    const warn = vi.spyOn(log, "warn").mockImplementation(() => {});
    // The database fails mid-way: the request stays for a later run.
    recorder.failOnce = "OneTimeToken.findFirst";
    expect(await handleRequests()).toEqual({ handled: 0, failed: 1 });
    expect(recorder.failOnce).toBeNull();
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ attempts: 1, reason: expect.stringMatching(/disk I\/O error/) }),
      expect.stringMatching(/forgot-password request was not handled/),
    );
    const kept = await db.passwordResetRequest.findFirstOrThrow();
    expect(kept.attempts).toBe(1);
    expect(await handleRequests()).toEqual({ handled: 0, failed: 0 });
    const { handlePasswordResetRequests } = await import("~/lib/password-reset.server.ts");
    expect(await handlePasswordResetRequests(new Date(kept.nextAttemptAt.getTime() + 1000))).toEqual({ handled: 1, failed: 0 });
    expect(await db.outgoingMail.count({ where: { to: user.email!, template: "password-reset" } })).toBe(1);
  });
});

describe("13.7 mail at rest", () => {
  it("13.7 mail at rest: after SMTP delivery no table holds a reset or invitation link or its token, and both links still work", async () => {
    const smtp = await startSmtp();
    try {
      const org = await createOrg("Contoso");
      const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
      const { user } = await createUser({ orgId: org.id, email: "pat@example.test" });
      await new Browser().post(forgot.action, "/forgot-password", { identifier: user.email! });
      await handleRequests();
      const invited = await inviteNewUser({ userId: admin.id, user: admin }, { email: "new@example.test", name: "New User", role: "member" }, ADDRESS);
      expect(invited.ok).toBe(true);

      // Before delivery the pending rows hold the links: they are the only copy until the SMTP server has them.
      const pending = await db.outgoingMail.findMany({ orderBy: { to: "asc" } });
      expect(pending.map((m) => [m.to, m.status])).toEqual([
        ["new@example.test", "pending"],
        ["pat@example.test", "pending"],
      ]);
      const tokens = [linkIn(pending[0]!.text, "invite")![1]!, linkIn(pending[1]!.text, "reset-password")![1]!];

      expect(await deliverDueMail(new Date(), smtpTransport(`smtp://127.0.0.1:${smtp.port}`))).toEqual({ sent: 2, failed: 0 });
      expect(smtp.received).toHaveLength(2);

      const atRest = await everyRow();
      for (const token of tokens) expect(atRest).not.toContain(token);
      expect(atRest).not.toMatch(/token=/);
      // Over SMTP nothing is written to the outbox folder.
      expect(existsSync(env().OUTBOX_DIR) ? readdirSync(env().OUTBOX_DIR) : []).toEqual([]);
      // The delivered rows stay as a record of what was sent to whom, without the message.
      expect((await db.outgoingMail.findMany({ orderBy: { to: "asc" } })).map((m) => [m.to, m.template, m.subject, m.status, m.html, m.text])).toEqual([
        ["new@example.test", "invitation", "You're invited to Contoso", "sent", "", ""],
        ["pat@example.test", "password-reset", "Reset your password", "sent", "", ""],
      ]);

      // The recipients' links work: the invitation opens, the reset sets the password.
      const byRecipient = (to: string) => smtp.received.find((m) => !Array.isArray(m.to) && m.to?.text === to)!;
      const inviteLink = new URL(linkIn(byRecipient("new@example.test").text!, "invite")![0]);
      expect((await new Browser().get(invite.loader, inviteLink.pathname + inviteLink.search)).data.state).toBe("password");
      const resetToken = linkIn(byRecipient("pat@example.test").text!, "reset-password")![1]!;
      expect(resetToken).toBe(tokens[1]);
      const done = await new Browser().post(reset.action, "/reset-password", {
        token: resetToken,
        newPassword: "a brand new passphrase",
        confirmPassword: "a brand new passphrase",
      });
      expect(done.location).toBe("/login");
    } finally {
      await smtp.close();
    }
  });

  it("13.7 mail at rest: a delivery that fails keeps the whole message for the retry", async () => {
    vi.spyOn(log, "warn").mockImplementation(() => {});
    const down = await startSmtp();
    const port = down.port;
    await down.close();
    const { user } = await createUser({ email: "pat@example.test" });
    await new Browser().post(forgot.action, "/forgot-password", { identifier: user.email! });
    await handleRequests();
    expect(await deliverDueMail(new Date(), smtpTransport(`smtp://127.0.0.1:${port}`))).toEqual({ sent: 0, failed: 1 });
    const mail = await db.outgoingMail.findFirstOrThrow();
    expect(mail.status).toBe("pending");
    expect(linkIn(mail.text, "reset-password")).toBeTruthy();
    expect(mail.html).toContain("reset-password?token=");
  });

  it("13.7 mail at rest: without SMTP_URL outside demo mode mail stays queued, whole, and nothing is written to a folder", async () => {
    expect(env().demo).toBe(false);
    await createUser({ email: "pat@example.test" });
    await new Browser().post(forgot.action, "/forgot-password", { identifier: "pat@example.test" });
    await handleRequests();
    expect(await deliverDueMail()).toEqual({ sent: 0, failed: 0 });
    expect(await db.outgoingMail.findFirstOrThrow()).toMatchObject({ status: "pending", attempts: 0 });
    expect(existsSync(env().OUTBOX_DIR) ? readdirSync(env().OUTBOX_DIR) : []).toEqual([]);
  });

  it("13.7 mail at rest: in demo mode the outbox folder is the mailbox (it keeps the link) and the database row is emptied", async () => {
    const restore = withEnv({ DEMO_MODE: "true" });
    try {
      await createUser({ email: "pat@example.test" });
      await new Browser().post(forgot.action, "/forgot-password", { identifier: "pat@example.test" });
      await handleRequests();
      const token = linkIn((await db.outgoingMail.findFirstOrThrow()).text, "reset-password")![1]!;
      expect(await deliverDueMail()).toEqual({ sent: 1, failed: 0 });
      expect(await everyRow()).not.toContain(token);
      const list = await outboxList.loader();
      expect(list.messages).toHaveLength(1);
      const page = await outboxMessage.loader({
        params: { id: list.messages[0]!.id },
        request: new Request("http://localhost/dev/outbox/x"),
        context: { clientAddress: ADDRESS },
      });
      expect(page.links.some((link) => link.includes(`token=${token}`))).toBe(true);
    } finally {
      restore();
    }
  });
});

describe("13.8 the development outbox", () => {
  it("13.8 dev outbox: without DEMO_MODE (development, no SMTP_URL) both outbox pages answer 404", async () => {
    const restore = withEnv({ NODE_ENV: "development", DEMO_MODE: undefined, SMTP_URL: undefined });
    try {
      for (const run of [
        () => outboxList.loader(),
        () =>
          outboxMessage.loader({ params: { id: "abc123" }, request: new Request("http://localhost/dev/outbox/abc123"), context: { clientAddress: ADDRESS } }),
      ]) {
        const thrown = await run().then(
          () => null,
          (error: unknown) => error,
        );
        expect(thrown).toBeInstanceOf(Response);
        expect((thrown as Response).status).toBe(404);
      }
    } finally {
      restore();
    }
  });

  it("13.8 dev outbox: DEMO_MODE=true with NODE_ENV=production is refused with a sentence naming DEMO_MODE", () => {
    const secrets = { SESSION_SECRET: "x".repeat(32), TOTP_ENCRYPTION_KEY: "0".repeat(64), OIDC_JWKS: process.env.OIDC_JWKS };
    expect(() => parseEnv({ NODE_ENV: "production", DEMO_MODE: "true", ...secrets })).toThrow(
      /^The environment variable DEMO_MODE must not be true with NODE_ENV=production: demo mode shows every mail sent, including sign-in links, at \/dev\/outbox\.$/,
    );
    expect(parseEnv({ NODE_ENV: "production", DEMO_MODE: "false", ...secrets }).demo).toBe(false);
    expect(parseEnv({ NODE_ENV: "development", DEMO_MODE: "true" }).demo).toBe(true);
  });
});

describe("13.7 and 13.8 with the built server", () => {
  // Each test's servers stop at its end: they share this file's database, and their mail workers would take
  // the next test's mail.
  const started: (Instance | NodeProcess)[] = [];
  beforeAll(ensureBuild, 180_000);
  afterEach(() => Promise.all(started.splice(0).map((s) => s.stop())));

  async function start(extra: Record<string, string>) {
    const server = new Instance(await freePort());
    started.push(server);
    server.start(appEnv({ SYNC_INTERVAL_MINUTES: "0", TRUST_PROXY: "false", SMTP_URL: "", DEMO_MODE: "false", ...extra }));
    await server.ready();
    return server;
  }

  it("13.8 dev outbox: served only in demo mode, which says so on start; outside it the styled 404 and a start line that mail is not delivered", async () => {
    const [plain, demo] = await Promise.all([start({ NODE_ENV: "development" }), start({ NODE_ENV: "development", DEMO_MODE: "true" })]);
    for (const path of ["/dev/outbox", "/dev/outbox/abc123"]) {
      const reply = await send(plain.port, "GET", path);
      expect(reply.status).toBe(404);
      expect(reply.body).toContain("Page not found");
    }
    expect(plain.server!.output).toContain("SMTP_URL is not set: mail is queued in the database and not delivered until SMTP_URL is set.");
    expect(plain.server!.output).not.toContain("Demo mode");
    const reply = await send(demo.port, "GET", "/dev/outbox");
    expect(reply.status).toBe(200);
    expect(reply.body).toContain("Outbox");
    expect(demo.server!.output).toContain("Demo mode: /dev/outbox shows every mail sent, including sign-in links; never use it for real users.");
  }, 60_000);

  it("13.8 dev outbox: the server refuses to start with DEMO_MODE=true and NODE_ENV=production", async () => {
    const server = new NodeProcess(["server/index.ts"], appEnv({ NODE_ENV: "production", DEMO_MODE: "true", PORT: String(await freePort()) }));
    started.push(server);
    await server.exited;
    expect(server.child.exitCode).toBe(1);
    expect(server.output).toContain("The environment variable DEMO_MODE must not be true with NODE_ENV=production");
  }, 30_000);

  it("13.7 crash before delivery: a server killed while SMTP is down loses no mail; after the restart the link arrives, works, and is no longer at rest", async () => {
    const down = await startSmtp();
    const smtpPort = down.port;
    await down.close();
    const { user } = await createUser({ email: `pat-${randomUUID().slice(0, 8)}@example.test` });
    const production = { NODE_ENV: "production", SMTP_URL: `smtp://127.0.0.1:${smtpPort}` };
    const first = await start(production);
    const asked = await send(first.port, "POST", "/forgot-password", { form: { identifier: user.email! } });
    expect(asked.status).toBe(200);
    // The request became a mail, and its delivery failed: SMTP is down.
    await waitFor("a failed delivery", () => db.outgoingMail.findFirst({ where: { to: user.email!, attempts: { gte: 1 } } }), 30_000, first.server);
    await first.kill();
    expect(await db.outgoingMail.findFirstOrThrow({ where: { to: user.email! } })).toMatchObject({ status: "pending" });

    const smtp = await startSmtp(smtpPort);
    try {
      const second = await start(production);
      const mail = await waitFor(
        "the reset mail over SMTP",
        async () => smtp.received.find((m) => !Array.isArray(m.to) && m.to?.text === user.email),
        60_000,
        second.server,
      );
      expect(smtp.received).toHaveLength(1);
      const token = linkIn(mail.text!, "reset-password")![1]!;
      await waitFor("the sent record", () => db.outgoingMail.findFirst({ where: { to: user.email!, status: "sent" } }), 10_000);
      expect(await everyRow()).not.toContain(token);
      const done = await send(second.port, "POST", "/reset-password", {
        form: { token, newPassword: "a brand new passphrase", confirmPassword: "a brand new passphrase" },
      });
      expect(done.status).toBe(302);
      expect(done.headers.location).toBe("/login");
    } finally {
      await smtp.close();
    }
  }, 120_000);
});
