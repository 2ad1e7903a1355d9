// Issue 13, finding 12: an authenticator secret opens only in the row it was sealed for (AES-GCM associated data),
// old unbound (v1) rows are re-sealed once by the migration, and nothing else ever reads v1 again.
import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it, type MockInstance } from "vitest";
import { db } from "~/lib/db.server.ts";
import { log } from "~/lib/log.server.ts";
import { resealTotpSecrets } from "~/lib/totp-reseal.server.ts";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import * as enrol from "~/routes/login.enrol.tsx";
import { Browser, createUser, PASSWORD, totpCode } from "./helpers.ts";
import { appEnv, cli, ensureBuild, freePort, Instance, Jar, signIn } from "./processes.ts";

const BINDING_MIGRATION = "20261203131500_totp_secret_binding";

async function codeStep(identifier: string, code: string) {
  const b = new Browser();
  const step = await b.post(login.action, "/login?index", { intent: "password", identifier, password: PASSWORD });
  expect(step.location).toBe("/login/totp");
  return b.post(totp.action, "/login/totp", { code });
}

async function startEnrolment(identifier: string) {
  const b = new Browser();
  const step = await b.post(login.action, "/login?index", { intent: "password", identifier, password: PASSWORD });
  expect(step.location).toBe("/login/enrol");
  const page = await b.get(enrol.loader, "/login/enrol");
  return { b, secret: new URL(page.data.setup.uri).searchParams.get("secret")! };
}

/** The format before the binding, written here on its own: v1.<iv>.<tag>.<ciphertext>, no associated data. */
function sealV1(secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", Buffer.from(process.env.TOTP_ENCRYPTION_KEY!, "hex"), iv);
  const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return ["v1", iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), body.toString("base64url")].join(".");
}

/** What the portal logged as errors (test/setup.ts fails a test on unexpected ones), then forgets it. */
function logged(): string[] {
  const spy = log.error as unknown as MockInstance;
  const lines = spy.mock.calls.map((call) => call.join(" "));
  spy.mockClear();
  return lines;
}

const silenceErrors = () => (log.error as unknown as MockInstance).mockImplementation(() => {});
const userRow = (id: string) => db.user.findUniqueOrThrow({ where: { id } });

describe("13.12 TOTP secrets bound to their user", () => {
  it("13.12 a ciphertext moved to another user's row does not verify a code for that user", async () => {
    silenceErrors();
    const mallory = await createUser();
    const victim = await createUser({ orgId: mallory.user.orgId });
    await db.user.update({ where: { id: victim.user.id }, data: { totpSecret: mallory.user.totpSecret } });

    const r = await codeStep(victim.user.email!, await totpCode(mallory.secret));
    expect(r.location).not.toBe("/");
    expect(r.status).toBe(400);
    expect(r.data.formError).toMatch(/code isn't valid/);
    expect(logged()).toEqual([
      expect.stringMatching(new RegExp(`^The authenticator secret of user ${victim.user.id} does not open: it was sealed for another user`)),
    ]);
    // Counted like any wrong code, and the owner's row still works for the owner.
    expect(await db.auditEvent.count({ where: { actorId: victim.user.id, action: "signin.code.failed" } })).toBe(1);
    expect((await codeStep(mallory.user.email!, await totpCode(mallory.secret))).location).toBe("/");
  });

  it("13.12 a pending enrolment secret is bound too: moved to another user's attempt, its codes do not enrol that user", async () => {
    silenceErrors();
    const mallory = await createUser({ totp: false });
    const victim = await createUser({ orgId: mallory.user.orgId, totp: false });
    const seen = await startEnrolment(mallory.user.email!);
    const attempt = await startEnrolment(victim.user.email!);
    const [from, to] = await Promise.all([mallory.user.id, victim.user.id].map((userId) => db.session.findFirstOrThrow({ where: { userId } })));
    await db.session.update({ where: { id: to.id }, data: { totpPendingSecret: from.totpPendingSecret } });

    const r = await attempt.b.post(enrol.action, "/login/enrol", { code: await totpCode(seen.secret) });
    expect(r.status).toBe(400);
    expect((await userRow(victim.user.id)).totpEnrolledAt).toBeNull();
    expect(logged()).toEqual([expect.stringContaining(`The pending authenticator secret of a session of user ${victim.user.id} does not open`)]);
    // The page then shows a new secret of the victim's own, which enrols.
    const page = await attempt.b.get(enrol.loader, "/login/enrol");
    const fresh = new URL(page.data.setup.uri).searchParams.get("secret")!;
    expect(fresh).not.toBe(seen.secret);
    expect(logged()).toHaveLength(1);
    expect((await attempt.b.post(enrol.action, "/login/enrol", { code: await totpCode(fresh) })).status).toBe(200);
    expect((await userRow(victim.user.id)).totpEnrolledAt).not.toBeNull();
  });

  it("13.12 a pending secret copied into the user's own row does not open there (purpose label)", async () => {
    silenceErrors();
    const { user } = await createUser();
    await db.user.update({ where: { id: user.id }, data: { totpSecret: null, totpEnrolledAt: null } });
    const attempt = await startEnrolment(user.email!);
    const session = await db.session.findFirstOrThrow({ where: { userId: user.id } });
    await db.user.update({ where: { id: user.id }, data: { totpSecret: session.totpPendingSecret, totpEnrolledAt: new Date() } });

    expect((await codeStep(user.email!, await totpCode(attempt.secret))).status).toBe(400);
    expect(logged()).toEqual([expect.stringContaining(`The authenticator secret of user ${user.id} does not open`)]);
  });

  it(
    "13.12 v1 rows migrate and still verify for their own user; a v1 value copied in after the migration is refused and never re-sealed",
    {
      timeout: 60_000,
    },
    async () => {
      silenceErrors();
      const ada = await createUser();
      const ben = await createUser({ orgId: ada.user.orgId });
      const cy = await createUser({ orgId: ada.user.orgId, totp: false });
      const enrolling = await startEnrolment(cy.user.email!);
      const cySession = await db.session.findFirstOrThrow({ where: { userId: cy.user.id } });
      const adaV1 = sealV1(ada.secret);
      await db.user.update({ where: { id: ada.user.id }, data: { totpSecret: adaV1 } });
      await db.user.update({ where: { id: ben.user.id }, data: { totpSecret: sealV1(ben.secret) } });
      await db.session.update({ where: { id: cySession.id }, data: { totpPendingSecret: sealV1(enrolling.secret) } });
      // As before this version: v1 rows, and the binding migration not applied yet.
      await db.$executeRawUnsafe(`DELETE FROM "_prisma_migrations" WHERE "migration_name" = '${BINDING_MIGRATION}'`);

      await db.$disconnect(); // SQLite's schema engine needs the file to itself; the client reconnects on its next query
      const deploy = await cli("db", ["deploy"]);
      expect(deploy).toEqual({ code: 0, stdout: `Applied ${BINDING_MIGRATION}\nRe-sealed 3 authenticator secrets, each bound to its owner.`, stderr: "" });

      for (const { user } of [ada, ben]) expect((await userRow(user.id)).totpSecret).toMatch(/^v2\./);
      expect((await codeStep(ada.user.email!, await totpCode(ada.secret))).location).toBe("/");
      expect((await codeStep(ben.user.email!, await totpCode(ben.secret))).location).toBe("/");
      // The pending enrolment survived, bound to its session: same secret on the page, and its code enrols.
      expect(new URL((await enrolling.b.get(enrol.loader, "/login/enrol")).data.setup.uri).searchParams.get("secret")).toBe(enrolling.secret);
      expect((await enrolling.b.post(enrol.action, "/login/enrol", { code: await totpCode(enrolling.secret) })).status).toBe(200);
      expect(logged()).toEqual([]);

      // Ada's old v1 value (an old backup) written into Ben's row: refused, logged, and no later run re-seals it.
      await db.user.update({ where: { id: ben.user.id }, data: { totpSecret: adaV1 } });
      expect((await codeStep(ben.user.email!, await totpCode(ada.secret, 1))).status).toBe(400);
      expect(logged()).toEqual([expect.stringContaining(`user ${ben.user.id} does not open: it is in the old format without its owner (v1)`)]);
      expect(await resealTotpSecrets()).toEqual({ resealed: 0, unreadable: [] });
      await db.$disconnect();
      expect(await cli("db", ["deploy"])).toEqual({ code: 0, stdout: "Database is up to date.", stderr: "" });
      expect((await userRow(ben.user.id)).totpSecret).toBe(adaV1);
      // Not even for its own user: after the migration no v1 value opens anywhere.
      await db.user.update({ where: { id: ada.user.id }, data: { totpSecret: adaV1 } });
      expect((await codeStep(ada.user.email!, await totpCode(ada.secret, 1))).status).toBe(400);
      expect(logged()).toHaveLength(1);
    },
  );

  it("13.12 a schema deployed without this app's code (Prisma's CLI) leaves tagged rows: the server's start re-seals them", { timeout: 90_000 }, async () => {
    const { user, secret } = await createUser();
    // What migration.sql alone leaves: the old value, tagged.
    await db.user.update({ where: { id: user.id }, data: { totpSecret: `reseal.${sealV1(secret)}` } });
    ensureBuild();
    const portal = new Instance(await freePort());
    portal.start(appEnv({ NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0" }));
    try {
      await portal.ready();
      expect(portal.server!.output).toContain("Re-sealed 1 authenticator secret, each bound to its owner.");
      expect((await userRow(user.id)).totpSecret).toMatch(/^v2\./);
      await signIn(portal, new Jar(), user.email!, secret);
    } finally {
      await portal.stop();
    }
  });

  it("13.12 a tampered version prefix is refused", async () => {
    silenceErrors();
    const { user, secret } = await createUser();
    const v2 = user.totpSecret!;
    const body = v2.slice(v2.indexOf("."));
    const tampered = [`v1${body}`, `v3${body}`, `V2${body}`, `${body.slice(1)}`, `reseal.v1${body}`, `reseal.${v2}`, `v2${sealV1(secret).slice(2)}`];
    for (const value of tampered) {
      await db.user.update({ where: { id: user.id }, data: { totpSecret: value, totpLastStep: null } });
      await db.signInAttempt.deleteMany(); // each value gets its own first attempt
      const r = await codeStep(user.email!, await totpCode(secret));
      expect(r.status, value).toBe(400);
      expect(logged(), value).toEqual([expect.stringContaining(`The authenticator secret of user ${user.id} does not open`)]);
      if (value.startsWith("reseal.")) {
        // The re-seal cannot open it either (a v2 body has associated data): left alone, named.
        expect(await resealTotpSecrets()).toEqual({ resealed: 0, unreadable: [`user ${user.id}`] });
        expect((await userRow(user.id)).totpSecret).toBe(value);
      }
    }
    await db.user.update({ where: { id: user.id }, data: { totpSecret: v2 } });
    expect((await codeStep(user.email!, await totpCode(secret))).location).toBe("/");
  });
});
