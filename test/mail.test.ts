import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { simpleParser, type ParsedMail } from "mailparser";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EmailProps, TemplateName } from "#emails/index.ts";
import { db } from "~/lib/db.server.ts";
import { env, parseEnv, reloadEnv } from "~/lib/env.server.ts";
import { queueEmail, renderEmail } from "~/lib/mail/outbox.server.ts";
import { outboxPageEnabled, outboxTransport, smtpTransport, type MailTransport } from "~/lib/mail/transport.server.ts";
import { deliverDueMail, kickMailWorker, retryDelayMs, startMailWorker } from "~/lib/mail/worker.server.ts";
import { loader as outboxListLoader } from "~/routes/dev.outbox.tsx";
import { loader as outboxMessageLoader } from "~/routes/dev.outbox_.$id.tsx";
import { startSmtp } from "./smtp.ts";
import { log } from "~/lib/log.server.ts";
import { ADDRESS, createOrg, createUser } from "./helpers.ts";

const samples: EmailProps = {
  "password-reset": { name: "Ada Lovelace", resetUrl: "http://localhost:3000/reset-password?token=reset-abc&x=1", expiresMinutes: 30 },
  "set-password": { name: "Ada Lovelace", orgName: "Contoso", setPasswordUrl: "http://localhost:3000/set-password?token=set-abc", expiresMinutes: 60 },
  invitation: {
    name: "Ada Lovelace",
    orgName: "Contoso",
    inviterName: "Grace Hopper",
    acceptUrl: "http://localhost:3000/invitation?token=inv-abc",
    expiresDays: 7,
  },
  "sso-invitation": { name: "Ada Lovelace", orgName: "Contoso", inviterName: "Grace Hopper", signInUrl: "http://localhost:3000/login/microsoft?org=contoso" },
  "microsoft-sign-in": { name: "Ada Lovelace", signInUrl: "http://localhost:3000/login?x=1" },
};
const linkOf: { [N in TemplateName]: (props: EmailProps[N]) => string } = {
  "password-reset": (p) => p.resetUrl,
  "set-password": (p) => p.setPasswordUrl,
  invitation: (p) => p.acceptUrl,
  "sso-invitation": (p) => p.signInUrl,
  "microsoft-sign-in": (p) => p.signInUrl,
};
const templates = Object.keys(samples) as TemplateName[];

async function outboxFiles() {
  try {
    return (await readdir(env().OUTBOX_DIR)).sort();
  } catch {
    return [];
  }
}

async function queueReset(to = "ada@example.com") {
  return queueEmail(to, "password-reset", samples["password-reset"]);
}

const later = (ms: number) => new Date(Date.now() + ms);

beforeEach(async () => {
  await db.outgoingMail.deleteMany();
  await rm(env().OUTBOX_DIR, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("templates", () => {
  it.each(templates)("%s renders its link in HTML and plain text", async (template) => {
    const props = samples[template];
    const link = (linkOf[template] as (p: typeof props) => string)(props);
    const email = await renderEmail(template, props);
    expect(email.subject.length).toBeGreaterThan(0);
    expect(email.html).toContain(link.replace(/&/g, "&amp;"));
    expect(email.text).toContain(link);
    expect(email.text).toContain("Ada Lovelace");
    for (const part of [email.subject, email.html, email.text]) {
      expect(part).not.toMatch(/undefined|NaN|\[object Object\]/);
    }
  });

  it("has the subjects the product uses", async () => {
    expect((await renderEmail("password-reset", samples["password-reset"])).subject).toBe("Reset your password");
    expect((await renderEmail("set-password", samples["set-password"])).subject).toBe("Set a password for your account");
    expect((await renderEmail("invitation", samples.invitation)).subject).toBe("You're invited to Contoso");
    const sso = await renderEmail("sso-invitation", samples["sso-invitation"]);
    expect(sso.subject).toBe("You're invited to Contoso");
    expect(sso.text).toContain("Sign in with Microsoft");
  });

  it("tells the reader of a reset email they can ignore it", async () => {
    const { text } = await renderEmail("password-reset", samples["password-reset"]);
    expect(text).toMatch(/did not ask for this, you can ignore this email/);
  });
});

describe("queueEmail", () => {
  it("stores a pending message and nothing else happens until the worker runs", async () => {
    const id = await queueReset();
    const mail = await db.outgoingMail.findUniqueOrThrow({ where: { id } });
    expect(mail).toMatchObject({ to: "ada@example.com", template: "password-reset", status: "pending", attempts: 0, subject: "Reset your password" });
    expect(mail.text).toContain(samples["password-reset"].resetUrl);
    expect(await outboxFiles()).toEqual([]);
  });

  it("rejects an address that is too long or not an address, and stores nothing", async () => {
    await expect(queueEmail(`${"a".repeat(310)}@example.com`, "password-reset", samples["password-reset"])).rejects.toThrow(/320/);
    await expect(queueEmail("ada@example.com\r\nBcc: eve@example.com", "password-reset", samples["password-reset"])).rejects.toThrow();
    await expect(queueEmail("", "password-reset", samples["password-reset"])).rejects.toThrow();
    expect(await db.outgoingMail.count()).toBe(0);
  });
});

describe("delivery to the outbox folder (demo mode)", () => {
  beforeEach(() => {
    process.env.DEMO_MODE = "true";
    reloadEnv();
  });
  afterEach(() => {
    delete process.env.DEMO_MODE;
    reloadEnv();
  });

  it("writes a JSON file and an .eml per message, and the dev outbox shows them", async () => {
    const id = await queueReset();
    expect(await deliverDueMail()).toEqual({ sent: 1, failed: 0 });

    const files = await outboxFiles();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}T[\\d-]+Z-${id}\\.eml$`));
    expect(files[1]).toBe(files[0].replace(/\.eml$/, ".json"));
    const json = JSON.parse(await readFile(path.join(env().OUTBOX_DIR, files[1]), "utf8"));
    expect(json).toMatchObject({ id, from: env().MAIL_FROM, to: "ada@example.com", subject: "Reset your password" });
    expect(Number.isNaN(Date.parse(json.date))).toBe(false);
    const eml = await simpleParser(await readFile(path.join(env().OUTBOX_DIR, files[0])));
    expect(eml.subject).toBe("Reset your password");
    expect(eml.text).toContain(samples["password-reset"].resetUrl);

    const mail = await db.outgoingMail.findUniqueOrThrow({ where: { id } });
    expect(mail.status).toBe("sent");
    expect(mail.sentAt).toBeInstanceOf(Date);
    expect(await deliverDueMail(later(60 * 60_000))).toEqual({ sent: 0, failed: 0 });

    const list = await outboxListLoader();
    expect(list.messages).toEqual([expect.objectContaining({ id, to: "ada@example.com", subject: "Reset your password" })]);
    const page = await outboxMessageLoader({
      params: { id },
      request: new Request(`http://localhost/dev/outbox/${id}`),
      context: { clientAddress: "127.0.0.1" },
    });
    expect(page.message.text).toContain(samples["password-reset"].resetUrl);
    expect(page.links).toContain(samples["password-reset"].resetUrl);
  });

  it("lists nothing when the folder does not exist", async () => {
    expect(await outboxListLoader()).toEqual({ messages: [] });
  });

  it.each(["../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "a/../../b", "x.json", "", "a".repeat(200)])("answers 404 for the message id %j", async (id) => {
    const args = { params: { id }, request: new Request("http://localhost/dev/outbox/x"), context: { clientAddress: "127.0.0.1" } };
    const error = await outboxMessageLoader(args).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(Response);
    expect((error as Response).status).toBe(404);
  });

  it("is only available in demo mode, which production refuses (decision 013)", () => {
    const secrets = { SESSION_SECRET: "x".repeat(32), TOTP_ENCRYPTION_KEY: "0".repeat(64), OIDC_JWKS: process.env.OIDC_JWKS };
    expect(outboxPageEnabled(parseEnv({ NODE_ENV: "development" }))).toBe(false);
    expect(outboxPageEnabled(parseEnv({ NODE_ENV: "development", DEMO_MODE: "true" }))).toBe(true);
    expect(outboxPageEnabled(parseEnv({ NODE_ENV: "development", DEMO_MODE: "true", SMTP_URL: "smtp://mail.example.com:587" }))).toBe(true);
    expect(outboxPageEnabled(parseEnv({ NODE_ENV: "production", ...secrets }))).toBe(false);
    expect(() => parseEnv({ NODE_ENV: "production", DEMO_MODE: "true", ...secrets })).toThrow(/DEMO_MODE/);
  });
});

describe("delivery over SMTP", () => {
  it("sends the message to the server", async () => {
    const smtp = await startSmtp();
    try {
      const id = await queueReset();
      expect(await deliverDueMail(new Date(), smtpTransport(`smtp://127.0.0.1:${smtp.port}`))).toEqual({ sent: 1, failed: 0 });
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0].subject).toBe("Reset your password");
      expect(smtp.received[0].text).toContain(samples["password-reset"].resetUrl);
      expect(smtp.received[0].html).toContain("Choose a new password");
      expect(await db.outgoingMail.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "sent", attempts: 0 });
    } finally {
      await smtp.close();
    }
  });

  it("keeps the message when the server is down and delivers it once when it is back", async () => {
    const warn = vi.spyOn(log, "warn").mockImplementation(() => {});
    const first = await startSmtp();
    const port = first.port;
    await first.close();
    const transport = smtpTransport(`smtp://127.0.0.1:${port}`);

    const id = await queueReset();
    const now = new Date();
    expect(await deliverDueMail(now, transport)).toEqual({ sent: 0, failed: 1 });
    const failed = await db.outgoingMail.findUniqueOrThrow({ where: { id } });
    expect(failed.status).toBe("pending");
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toMatch(/ECONNREFUSED/);
    expect(failed.nextAttemptAt.getTime()).toBe(now.getTime() + retryDelayMs(1));
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ mailId: id }), expect.any(String));

    // Not due again before the retry time.
    expect(await deliverDueMail(now, transport)).toEqual({ sent: 0, failed: 0 });

    const smtp = await startSmtp(port);
    try {
      const retryAt = new Date(failed.nextAttemptAt.getTime() + 1000);
      expect(await deliverDueMail(retryAt, transport)).toEqual({ sent: 1, failed: 0 });
      expect(await deliverDueMail(new Date(retryAt.getTime() + 24 * 60 * 60_000), transport)).toEqual({ sent: 0, failed: 0 });
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0].subject).toBe("Reset your password");
      expect(await db.outgoingMail.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "sent", attempts: 1, lastError: null });
    } finally {
      await smtp.close();
    }
  });

  it("keeps every invitation and reset sent while the server is down, and delivers each once when it is back", async () => {
    vi.spyOn(log, "warn").mockImplementation(() => {});
    const { requestPasswordReset } = await import("~/lib/password-reset.server.ts");
    const { inviteNewUser } = await import("~/lib/invitations.server.ts");
    const down = await startSmtp();
    const port = down.port;
    await down.close();
    const transport = smtpTransport(`smtp://127.0.0.1:${port}`);

    const org = await createOrg("Contoso");
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    for (const i of [1, 2, 3]) {
      const { user } = await createUser({ orgId: org.id, email: `reset${i}@example.test` });
      await requestPasswordReset(user.email!, ADDRESS);
    }
    for (const i of [1, 2]) {
      const invited = await inviteNewUser({ userId: admin.id, user: admin }, { email: `new${i}@example.test`, name: `New User ${i}`, role: "member" }, ADDRESS);
      expect(invited.ok).toBe(true);
    }
    const now = new Date();
    expect(await deliverDueMail(now, transport)).toEqual({ sent: 0, failed: 5 });
    expect(await db.outgoingMail.count({ where: { status: "pending", attempts: 1 } })).toBe(5);

    const received: ParsedMail[] = [];
    const up = await startSmtp(port, received);
    try {
      const later = new Date(now.getTime() + retryDelayMs(1) + 1000);
      expect(await deliverDueMail(later, transport)).toEqual({ sent: 5, failed: 0 });
      expect(await deliverDueMail(new Date(later.getTime() + 24 * 60 * 60_000), transport)).toEqual({ sent: 0, failed: 0 });
      const got = received.map((m) => `${m.subject} → ${(Array.isArray(m.to) ? m.to[0] : m.to)?.text}`).sort();
      expect(got).toEqual([
        "Reset your password → reset1@example.test",
        "Reset your password → reset2@example.test",
        "Reset your password → reset3@example.test",
        "You're invited to Contoso → new1@example.test",
        "You're invited to Contoso → new2@example.test",
      ]);
      expect(await db.outgoingMail.count({ where: { status: "sent" } })).toBe(5);
    } finally {
      await up.close();
    }
  });

  it("backs off exponentially up to an hour", () => {
    expect([1, 2, 3, 4].map(retryDelayMs)).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(retryDelayMs(20)).toBe(60 * 60_000);
  });

  it("delivers each message once when two workers run at the same time", async () => {
    const smtp = await startSmtp();
    try {
      const ids = [];
      for (let i = 0; i < 6; i++) ids.push(await queueReset(`user${i}@example.com`));
      const inner = smtpTransport(`smtp://127.0.0.1:${smtp.port}`);
      const delivered: string[] = [];
      const recording: MailTransport = {
        async send(message) {
          await inner.send(message);
          delivered.push(message.id);
        },
      };
      const now = new Date();
      const results = await Promise.all([deliverDueMail(now, recording), deliverDueMail(now, recording)]);
      expect(results[0].sent + results[1].sent).toBe(6);
      expect(delivered.sort()).toEqual([...ids].sort());
      expect(smtp.received.map((mail) => (mail.to && !Array.isArray(mail.to) ? mail.to.text : "")).sort()).toEqual(
        ids.map((_, i) => `user${i}@example.com`).sort(),
      );
      expect(await db.outgoingMail.count({ where: { status: "sent" } })).toBe(6);
    } finally {
      await smtp.close();
    }
  });
});

describe("the background worker", () => {
  it("delivers mail soon after it is queued while it runs", async () => {
    const stop = startMailWorker(60_000, outboxTransport(env().OUTBOX_DIR));
    try {
      const id = await queueReset();
      await kickMailWorker();
      expect(await db.outgoingMail.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "sent" });
      expect((await outboxFiles()).some((name) => name.endsWith(`-${id}.json`))).toBe(true);
    } finally {
      stop();
    }
  });

  it("does nothing in the background when it is not running", async () => {
    const id = await queueReset();
    await kickMailWorker();
    expect(await db.outgoingMail.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "pending" });
  });
});
