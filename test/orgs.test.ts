import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import path from "node:path";
import argon2 from "argon2";
import Database from "better-sqlite3";
import { beforeEach, describe, expect, test } from "vitest";
import { db } from "~/lib/db.server.ts";
import { createOrganization, createUser, findOrganization, InputError, setSsoLicence } from "~/lib/orgs.server.ts";
import { openTotpSecret } from "~/lib/totp.server.ts";
import { DEMO_PASSWORD, seedDemo } from "../scripts/demo-seed.ts";

const huge = "x".repeat(10_000);

async function counts() {
  return { orgs: await db.organization.count(), users: await db.user.count(), audit: await db.auditEvent.count() };
}

/** The call fails with an InputError of one short sentence, and the database is unchanged. */
async function expectRejected(call: () => Promise<unknown>, message?: RegExp) {
  const before = await counts();
  const error = await call().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  const text = (error as Error).message;
  expect(text).toMatch(/^[A-Z][^\n]*\.$/);
  expect(text.length).toBeLessThan(200);
  if (message) expect(text).toMatch(message);
  expect(await counts()).toEqual(before);
}

describe("createOrganization", () => {
  test.each([
    ["an empty name", { name: "", slug: "acme" }, /name is required/],
    ["a blank name", { name: "   \t ", slug: "acme" }, /name is required/],
    ["a 10 kB name", { name: huge, slug: "acme" }, /at most 100/],
    ["a name with a newline", { name: "Acme\nInc", slug: "acme" }, /control characters/],
    ["a name with a bidi override", { name: "Acme \u202Egnp.exe", slug: "acme" }, /control characters/],
    ["a name with a lone surrogate", { name: "Acme \uD800", slug: "acme" }, /control characters/],
    ["a missing name", { slug: "acme" }, /name is required/],
    ["an empty slug", { name: "Acme", slug: "" }, /slug must be/],
    ["an upper-case slug", { name: "Acme", slug: "Acme" }, /slug must be/],
    ["a unicode slug", { name: "Acme", slug: "acmé" }, /slug must be/],
    ["a one-character slug", { name: "Acme", slug: "a" }, /slug must be/],
    ["a slug starting with a hyphen", { name: "Acme", slug: "-acme" }, /slug must be/],
    ["an SQL slug", { name: "Acme", slug: `acme'; DROP TABLE "Organization";--` }, /slug must be/],
    ["an HTML slug", { name: "Acme", slug: "<script>alert(1)</script>" }, /slug must be/],
    ["a 10 kB slug", { name: "Acme", slug: huge }, /slug must be/],
    ["a slug that is not a string", { name: "Acme", slug: 42 }, /slug is required/],
  ])("rejects %s", async (_, input, message) => {
    await expectRejected(() => createOrganization(input as never), message);
  });

  test("rejects a duplicate slug", async () => {
    await createOrganization({ name: "Acme", slug: "acme" });
    await expectRejected(() => createOrganization({ name: "Other", slug: "acme" }), /slug "acme" already exists/);
  });

  test("stores SQL, HTML and unicode names as plain text, NFC-normalized", async () => {
    const sql = await createOrganization({ name: `Robert'); DROP TABLE "User";--`, slug: "sql" });
    const html = await createOrganization({ name: "<b>Acme</b> & Co", slug: "html" });
    const unicode = await createOrganization({ name: "  Zu\u0308rich 株式会社 🚀 ", slug: "zurich" });
    expect(sql.name).toBe(`Robert'); DROP TABLE "User";--`);
    expect(html.name).toBe("<b>Acme</b> & Co");
    expect(unicode.name).toBe("Zürich 株式会社 🚀");
    expect(await db.user.count()).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "org.created" } })).toBe(3);
  });

  test("findOrganization finds by slug or id, and returns null otherwise", async () => {
    const org = await createOrganization({ name: "Acme", slug: "acme" });
    expect((await findOrganization("acme"))?.id).toBe(org.id);
    expect((await findOrganization(org.id))?.slug).toBe("acme");
    expect(await findOrganization("nope")).toBeNull();
    expect(await findOrganization("")).toBeNull();
    expect(await findOrganization(huge)).toBeNull();
  });
});

describe("createUser", () => {
  let orgId: string;
  beforeEach(async () => {
    orgId = (await createOrganization({ name: "Acme", slug: `acme-${randomUUID().slice(0, 8)}` })).id;
  });
  const base = () => ({ orgId, name: "Ada Lovelace", role: "member" as const, password: "correct horse" });

  test.each([
    ["no email and no phone", {}, /email address or a phone number/],
    ["an invalid email", { email: "not-an-email" }, /email address is not valid/],
    ["a unicode email", { email: "ädä@exämple.com" }, /email address is not valid/],
    ["a 10 kB email", { email: `${huge}@example.com` }, /email address is not valid/],
    ["an SQL email", { email: "a@example.com' OR 1=1--" }, /email address is not valid/],
    ["an HTML email", { email: "<script>@example.com" }, /email address is not valid/],
    ["a phone in the email field", { email: "+14155552671" }, /email address is not valid/],
    ["a short phone", { phone: "12" }, /phone number is not valid/],
    ["a phone with letters", { phone: "+1 415 CALL NOW" }, /phone number is not valid/],
    ["a 10 kB phone", { phone: "1".repeat(10_000) }, /phone number is not valid/],
    ["an empty name", { email: "a@example.com", name: "" }, /name is required/],
    ["a 10 kB name", { email: "a@example.com", name: huge }, /at most 100/],
    ["a 7-character password", { email: "a@example.com", password: "1234567" }, /at least 8/],
    ["a 257-character password", { email: "a@example.com", password: "p".repeat(257) }, /at most 256/],
    ["an unknown role", { email: "a@example.com", role: "owner" }, /role must be/],
    ["an unknown organization", { email: "a@example.com", orgId: "nope" }, /No organization/],
  ])("rejects %s", async (_, patch, message) => {
    await expectRejected(() => createUser({ ...base(), ...patch } as never), message);
  });

  test("accepts passwords of 8 and 256 characters, with unicode", async () => {
    await createUser({ ...base(), email: "eight@example.com", password: "pässwörd" });
    await createUser({ ...base(), email: "max@example.com", password: "p".repeat(256) });
    expect(await db.user.count({ where: { orgId } })).toBe(2);
  });

  test("rejects a duplicate email, whatever its case", async () => {
    await createUser({ ...base(), email: "ada@example.com" });
    await expectRejected(() => createUser({ ...base(), email: " ADA@Example.COM " }), /email address ada@example.com already exists/);
  });

  test("rejects a duplicate phone written differently", async () => {
    await createUser({ ...base(), phone: "+1 415 555 2671" });
    await expectRejected(() => createUser({ ...base(), email: "b@example.com", phone: "(415) 555-2671" }), /phone number \+14155552671 already exists/);
  });

  test.each([
    ["(415) 555-2671", "+14155552671"],
    ["+44 20 7946 0958", "+442079460958"],
    ["0044 20 7946 0958", "+442079460958"],
    ["＋４４ ２０ ７９４６ ０９５８", "+442079460958"],
  ])("normalizes the phone %s to %s", async (raw, e164) => {
    const user = await createUser({ ...base(), phone: raw });
    expect(user.phone).toBe(e164);
    expect(user.email).toBeNull();
  });

  test("creates a local active user with a lower-cased email, an argon2 hash and an audit event", async () => {
    const user = await createUser({ ...base(), email: "Ada@Example.com", role: "admin" });
    expect(user).toMatchObject({ email: "ada@example.com", role: "admin", source: "local", status: "active", name: "Ada Lovelace" });
    expect(user.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await argon2.verify(user.passwordHash!, "correct horse")).toBe(true);
    expect(user.passwordChangedAt).toBeInstanceOf(Date);
    const event = await db.auditEvent.findFirstOrThrow({ where: { action: "user.created", targetId: user.id } });
    expect(event.orgId).toBe(orgId);
  });

  test("creates a user without a password", async () => {
    const user = await createUser({ ...base(), email: "nopass@example.com", password: undefined });
    expect(user.passwordHash).toBeNull();
    expect(user.passwordChangedAt).toBeNull();
  });
});

describe("setSsoLicence", () => {
  test("flips the licence and audits each change", async () => {
    const org = await createOrganization({ name: "Acme", slug: "acme" });
    expect(org.ssoLicensed).toBe(false);
    expect((await setSsoLicence(org.id, true)).ssoLicensed).toBe(true);
    expect((await setSsoLicence(org.id, true)).ssoLicensed).toBe(true);
    expect((await setSsoLicence(org.id, false)).ssoLicensed).toBe(false);
    const events = await db.auditEvent.findMany({ where: { action: "org.licence.changed" }, orderBy: { createdAt: "asc" } });
    expect(events.map((e) => JSON.parse(e.detail!).ssoLicensed)).toEqual([true, false]);
    expect(JSON.parse(events[0]!.detail!)).toMatchObject({ toMicrosoft: 0, toPassword: 0, toNone: 0, sessionsEnded: 0, passwordsRemoved: 0 });
  });

  test("rejects an unknown organization", async () => {
    await expectRejected(() => setSsoLicence("nope", true), /No organization/);
  });
});

describe("seedDemo", () => {
  test("seeds once, and reports the same accounts and secrets on every run", async () => {
    const first = await seedDemo();
    const second = await seedDemo();
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.accounts).toEqual(first.accounts);
    expect(first.accounts.map((a) => a.email)).toEqual(["admin@demo.test", "ada@demo.test", "grace@demo.test", "new@demo.test"]);

    const org = await db.organization.findUniqueOrThrow({ where: { slug: "demo" }, include: { users: true } });
    expect(org).toMatchObject({ name: "Demo Company", ssoLicensed: true });
    expect(org.users).toHaveLength(4);
    for (const user of org.users) {
      expect(await argon2.verify(user.passwordHash!, DEMO_PASSWORD)).toBe(true);
      const account = first.accounts.find((a) => a.email === user.email)!;
      if (user.email === "new@demo.test") {
        expect(user.totpSecret).toBeNull();
        expect(account.totp).toBe("not enrolled");
      } else {
        expect(user.totpEnrolledAt).toBeInstanceOf(Date);
        const secret = openTotpSecret(user.totpSecret!, { kind: "user", userId: user.id });
        expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
        expect(account.totp).toEqual({ secret, uri: expect.stringContaining(`secret=${secret}`) });
      }
    }
    expect(org.users.find((u) => u.email === "admin@demo.test")?.role).toBe("admin");
    expect(org.users.find((u) => u.email === "ada@demo.test")?.phone).toBe("+14155552671");
  });

  test("reports a changed password as changed", async () => {
    await seedDemo();
    await db.user.update({ where: { email: "grace@demo.test" }, data: { passwordHash: await argon2.hash("something-else") } });
    const { accounts } = await seedDemo();
    expect(accounts.find((a) => a.email === "grace@demo.test")?.password).toBeNull();
    expect(accounts.find((a) => a.email === "ada@demo.test")?.password).toBe(DEMO_PASSWORD);
  });
});

describe("scripts/portal.ts", () => {
  const file = path.resolve(`.tmp/test/cli-${randomUUID()}.db`);

  function portal(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn("npx", ["tsx", "scripts/portal.ts", ...args], { env: { ...process.env, DATABASE_URL: `file:${file}` } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => {
        // npm's own configuration warnings are not the script's output.
        const own = stderr
          .split("\n")
          .filter((line) => !/^npm (warn|notice)/i.test(line))
          .join("\n");
        resolve({ code, stdout, stderr: own.trim() });
      });
      child.stdin.end(input ?? "");
    });
  }

  function expectOneSentence(text: string) {
    expect(text.split("\n")).toHaveLength(1);
    expect(text).toMatch(/^\S.*\.$/);
    expect(text).not.toMatch(/Error:|\bat .*:\d+/);
  }

  function query<T>(sql: string): T {
    const sqlite = new Database(file, { readonly: true });
    try {
      return sqlite.prepare(sql).get() as T;
    } finally {
      sqlite.close();
    }
  }

  test("org:create on a new database says it needs db:deploy; after db:deploy it creates the organization", { timeout: 60_000 }, async () => {
    const fresh = await portal(["org:create", "--name", "Acme Ltd", "--slug", "acme"]);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/^The database needs `npm run db:deploy` \(\d+ migrations pending\)\.$/);
    expect(existsSync(file)).toBe(false);
    const deploy = spawnSync(process.execPath, ["--import", "tsx", "scripts/db.ts", "deploy"], {
      env: { ...process.env, DATABASE_URL: `file:${file}` },
      encoding: "utf8",
    });
    expect(deploy.stdout).toMatch(/^Applied /);

    const result = await portal(["org:create", "--name", "Acme Ltd", "--slug", "acme"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Created organization "Acme Ltd" \(slug acme/);
    expect(query<{ name: string }>(`SELECT name FROM Organization WHERE slug = 'acme'`).name).toBe("Acme Ltd");

    const again = await portal(["org:create", "--name", "Acme Ltd", "--slug", "acme"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`An organization with the slug "acme" already exists; choose another slug.`);
  });

  test("user:create --admin --password-stdin creates an admin whose password verifies", { timeout: 60_000 }, async () => {
    const args = ["user:create", "--org", "acme", "--email", "Ada@Example.com", "--phone", "+44 20 7946 0958", "--name", "Ada", "--admin", "--password-stdin"];
    const result = await portal(args, "a stdin password\n");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Created admin Ada <ada@example.com> in acme/);
    expect(result.stdout).not.toMatch(/reset-password/);
    const user = query<{ role: string; phone: string; passwordHash: string }>(`SELECT role, phone, passwordHash FROM User WHERE email = 'ada@example.com'`);
    expect(user).toMatchObject({ role: "admin", phone: "+442079460958" });
    expect(await argon2.verify(user.passwordHash, "a stdin password")).toBe(true);
  });

  test("user:create without a password prints a set-password link", { timeout: 60_000 }, async () => {
    const result = await portal(["user:create", "--org", "acme", "--email", "bob@example.com", "--name", "Bob"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/http:\/\/localhost:3000\/reset-password\?token=[\w-]{20,}/);
    expect(query<{ n: number }>(`SELECT count(*) n FROM OneTimeToken WHERE type = 'set_password'`).n).toBe(1);
  });

  test("org:licence on turns the licence on", { timeout: 60_000 }, async () => {
    const result = await portal(["org:licence", "--org", "acme", "on"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe("The SSO licence of acme is on.");
    expect(query<{ ssoLicensed: number }>(`SELECT ssoLicensed FROM Organization WHERE slug = 'acme'`).ssoLicensed).toBe(1);
  });

  test.each([
    [["frobnicate"], /^Unknown command "frobnicate"/],
    [["org:create", "--nmae", "Acme"], /^org:create has no option --nmae/],
    [["user:create", "--org", "acme", "--email", "c@example.com", "--name", "C", "--password", "secret-in-argv"], /has no option --password;/],
    [["org:create", "--name"], /^The option --name needs a value\.$/],
    [["org:licence", "--org", "acme", "maybe"], /"on" or "off"/],
  ])("%j fails with exit 1 and one sentence", { timeout: 60_000 }, async (args, message) => {
    const result = await portal(args);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expectOneSentence(result.stderr);
    expect(result.stderr).toMatch(message);
  });
});
