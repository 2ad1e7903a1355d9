// The operator CLI (scripts/portal.ts, scripts/db.ts) beside a running portal: the built server serves
// sign-ins from the test file's database (SQLite, or PostgreSQL with TEST_DATABASE=postgres) while operator
// commands run as their own processes, as an operator would run them on the same machine.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { migrationsDirs } from "~/lib/migrate.server.ts";
import { readdirSync } from "node:fs";
import { createUser, PASSWORD } from "./helpers.ts";
import { usePostgres } from "./pg.ts";
import { appEnv, cli, ensureBuild, freePort, Instance, send } from "./processes.ts";

/** What an operator reads: one line, one sentence, no stack trace. */
function expectOneSentence(text: string) {
  expect(text.split("\n"), text).toHaveLength(1);
  expect(text).toMatch(/^\S.*[.)]$/);
  expect(text).not.toMatch(/Error:|\bat .*:\d+|SchemaConnectorError|SocketTimeout/);
}

/** Password steps in a loop (the costly part of a sign-in, a write per request), counting what did not work. */
function signInLoop(port: number, email: string) {
  let running = true;
  const stats = { ok: 0, failed: [] as string[] };
  const done = (async () => {
    while (running) {
      const reply = await send(port, "POST", "/login?index", { form: { intent: "password", identifier: email, password: PASSWORD } }).catch((error: Error) => ({
        status: 0,
        location: "",
        body: error.message,
      }));
      if (reply.status === 302 && reply.location === "/login/totp") stats.ok++;
      else stats.failed.push(`${reply.status} ${reply.body.slice(0, 200)}`);
    }
  })();
  return {
    stats,
    async stop() {
      running = false;
      await done;
      return stats;
    },
  };
}

const migrationNames = () =>
  readdirSync(migrationsDirs[usePostgres ? "postgresql" : "sqlite"], { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

describe(`the operator CLI beside a running portal (${usePostgres ? "PostgreSQL" : "SQLite"})`, () => {
  let portal: Instance;

  beforeAll(async () => {
    ensureBuild();
    portal = new Instance(await freePort());
    portal.start(appEnv({ NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0" }));
    await portal.ready();
  }, 120_000);

  afterAll(async () => {
    await portal?.stop();
  });

  it(
    "13.ops CLI beside the portal: org:list, org:create, user:create, org:licence, retention:run and db:deploy work while it serves sign-ins",
    { timeout: 120_000 },
    async () => {
      const { user } = await createUser();
      const loop = signInLoop(portal.port, user.email!);
      try {
        const list = await cli("portal", ["org:list"]);
        expect(list, JSON.stringify(list)).toMatchObject({ code: 0, stderr: "" });
        expect(list.stdout).toMatch(/^SLUG\s+NAME\s+LICENCE\s+SSO\s+USERS\n/);

        const created = await cli("portal", ["org:create", "--name", "Beside Ltd", "--slug", "beside"]);
        expect(created, JSON.stringify(created)).toMatchObject({ code: 0, stderr: "" });
        expect(created.stdout).toMatch(/^Created organization "Beside Ltd" \(slug beside, id \w+\)\.$/);

        const admin = await cli(
          "portal",
          ["user:create", "--org", "beside", "--email", "ida@beside.test", "--name", "Ida", "--admin", "--password-stdin"],
          "a long enough password\n",
        );
        expect(admin, JSON.stringify(admin)).toMatchObject({ code: 0, stderr: "" });
        expect(admin.stdout).toMatch(/^Created admin Ida <ida@beside.test> in beside/);

        const licence = await cli("portal", ["org:licence", "--org", "beside", "on"]);
        expect(licence, JSON.stringify(licence)).toEqual({ code: 0, stdout: "The SSO licence of beside is on.", stderr: "" });

        const deploy = await cli("db", ["deploy"]);
        expect(deploy, JSON.stringify(deploy)).toEqual({ code: 0, stdout: "Database is up to date.", stderr: "" });

        const retention = await cli("portal", ["retention:run"]);
        expect(retention, JSON.stringify(retention)).toMatchObject({ code: 0, stderr: "" });
        expect(retention.stdout).toMatch(/^Deleted \d+ expired sessions?, .* audit events \(audit events are kept\)\.$/);

        const after = await cli("portal", ["org:list"]);
        expect(after.code).toBe(0);
        expect(after.stdout).toMatch(/\nbeside\s+Beside Ltd\s+on\s+off\s+1$/m);
      } finally {
        await loop.stop();
      }
      expect(loop.stats.failed).toEqual([]);
      expect(loop.stats.ok).toBeGreaterThan(0);
      const org = await db.organization.findUnique({ where: { slug: "beside" }, include: { users: true } });
      expect(org).toMatchObject({ ssoLicensed: true, users: [{ email: "ida@beside.test", role: "admin" }] });
      expect((await portal.request("GET", "/healthz")).body).toBe("ok");
    },
  );

  it(
    "13.ops pending migrations: an ordinary command says in one sentence that the database needs db:deploy, and changes nothing",
    { timeout: 120_000 },
    async () => {
      const last = migrationNames().at(-1)!;
      const rows = await db.$queryRawUnsafe<Record<string, unknown>[]>(`SELECT * FROM "_prisma_migrations" WHERE "migration_name" = '${last}'`);
      expect(rows).toHaveLength(1);
      await db.$executeRawUnsafe(`DELETE FROM "_prisma_migrations" WHERE "migration_name" = '${last}'`);
      const loop = signInLoop(portal.port, (await createUser()).user.email!);
      try {
        for (const args of [["org:list"], ["org:create", "--name", "Pending Ltd", "--slug", "pending"]]) {
          const run = await cli("portal", args);
          expect(run, JSON.stringify(run)).toEqual({ code: 1, stdout: "", stderr: "The database needs `npm run db:deploy` (1 migration pending)." });
        }
        expect(await db.organization.count({ where: { slug: "pending" } })).toBe(0);

        if (!usePostgres) {
          // SQLite's migrations need the file to themselves: said in one sentence, and the portal keeps serving.
          const deploy = await cli("db", ["deploy"]);
          expect(deploy.code, JSON.stringify(deploy)).toBe(1);
          expectOneSentence(deploy.stderr);
          expect(deploy.stderr).toMatch(/stop the portal/i);
          expect(await db.$queryRawUnsafe(`SELECT "migration_name" FROM "_prisma_migrations" WHERE "migration_name" = '${last}'`)).toEqual([]);
        }
      } finally {
        await loop.stop();
        const row = rows[0]!;
        const columns = Object.keys(row);
        await db.$executeRawUnsafe(
          `INSERT INTO "_prisma_migrations" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES (${columns.map((_, i) => (usePostgres ? `$${i + 1}` : "?")).join(", ")})`,
          ...columns.map((c) => row[c]),
        );
      }
      expect(loop.stats.failed).toEqual([]);
      const list = await cli("portal", ["org:list"]);
      expect(list.code, JSON.stringify(list)).toBe(0);
    },
  );

  it("13.ops CLI errors are one sentence: an unreachable database, an unknown organization", { timeout: 60_000 }, async () => {
    const unreachable = await cli("portal", ["org:list"], "", { DATABASE_URL: "postgresql://portal@127.0.0.1:9/portal" });
    expect(unreachable.code).toBe(1);
    expectOneSentence(unreachable.stderr);
    expect(unreachable.stderr).toMatch(/cannot reach the database/i);

    const deploy = await cli("db", ["deploy"], "", { DATABASE_URL: "postgresql://portal@127.0.0.1:9/portal" });
    expect(deploy.code).toBe(1);
    expectOneSentence(deploy.stderr);

    const unknown = await cli("portal", ["org:licence", "--org", "nobody-here", "on"]);
    expect(unknown.code).toBe(1);
    expectOneSentence(unknown.stderr);
  });
});
