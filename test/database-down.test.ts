// The database unavailable, for real: SQLite locked by another connection (the default run), PostgreSQL cut
// off behind a TCP proxy (TEST_DATABASE=postgres). The built server answers the 503 page with Retry-After, with
// and without JavaScript; /healthz answers 503; nothing in the database changes; mail delivery fails and
// retries later; once the database is back the same server process answers normally, without a restart.
// Starts the built server (test/processes.ts; scripts/test-all.sh builds before Vitest).
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Prisma } from "~/generated/prisma/client.ts";
import { checkDatabase, db } from "~/lib/db.server.ts";
import { databaseUnavailableResponse, isDatabaseUnavailable } from "~/lib/db-errors.server.ts";
import { env } from "~/lib/env.server.ts";
import { outboxTransport } from "~/lib/mail/transport.server.ts";
import { kickMailWorker, startMailWorker } from "~/lib/mail/worker.server.ts";
import { createUser, PASSWORD, signedInAs, totpCode } from "./helpers.ts";
import { log } from "~/lib/log.server.ts";
import { METRICS_TOKEN, sample } from "./operations.ts";
import { usePostgres } from "./pg.ts";
import { appEnv, ensureBuild, freePort, Instance, Jar, send as sendRequest, type Reply } from "./processes.ts";

// Before the database is first opened: SQLite gives up on a lock after 300 ms instead of 5 s, and on
// PostgreSQL this process reaches the database through the proxy too, so that the outage reaches its queries.
const proxy = await vi.hoisted(async () => {
  process.env.SQLITE_BUSY_TIMEOUT_MS = "300";
  if (process.env.TEST_DATABASE !== "postgres") return null;
  const { TcpProxy } = await import("./tcp-proxy.ts");
  const url = new URL(process.env.DATABASE_URL!);
  const tcp = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  await tcp.listen();
  url.host = `127.0.0.1:${tcp.port}`;
  process.env.DATABASE_URL = url.toString();
  return tcp;
});

type Outage = { name: string; readsFail: boolean; start(): Promise<void>; end(): Promise<void> };

/** Another connection takes the write lock and keeps it. In WAL mode reads go on; every write waits, then fails. */
function lockedSqlite(): Outage {
  let holder: Database.Database | undefined;
  return {
    name: "SQLite locked by another connection",
    readsFail: false,
    async start() {
      holder = new Database(process.env.DATABASE_URL!.replace(/^file:/, ""));
      holder.exec("BEGIN EXCLUSIVE");
    },
    async end() {
      holder?.exec("ROLLBACK");
      holder?.close();
      holder = undefined;
    },
  };
}

/** Every connection to PostgreSQL dropped, and new ones refused. */
function cutPostgres(tcp: NonNullable<typeof proxy>): Outage {
  return { name: "PostgreSQL cut off", readsFail: true, start: () => tcp.cut(), end: () => tcp.listen() };
}

const outage = proxy ? cutPostgres(proxy) : lockedSqlite();
afterEach(() => outage.end());
afterAll(() => proxy?.cut());

/** A request as a browser sends it, asking for a page. */
const send = (port: number, method: "GET" | "POST", path: string, options: { form?: Record<string, string>; cookie?: string } = {}) =>
  sendRequest(port, method, path, { ...options, accept: "text/html" });

const NOT_SAVED = "The portal cannot reach its database right now, so the form you sent was not saved.";
const NOT_SHOWN = "The portal cannot reach its database right now, so it cannot show this page.";

function expectUnavailable(reply: Reply, sentence: string, page = true) {
  expect(reply.status, reply.body.slice(0, 500)).toBe(503);
  expect(reply.headers["retry-after"]).toBe("60");
  expect(reply.body).toContain(sentence);
  if (page) expect(reply.body).toContain("<h1>The portal cannot reach its database</h1>");
}

/** Every row of every table, to show that nothing changed. */
async function snapshot(): Promise<string> {
  const tables = usePostgres
    ? await db.$queryRaw<{ name: string }[]>`SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`
    : await db.$queryRaw<{ name: string }[]>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1`;
  const dump: Record<string, string[]> = {};
  for (const { name } of tables) {
    const rows = await db.$queryRawUnsafe<unknown[]>(`SELECT * FROM "${name}"`);
    dump[name] = rows.map((row) => JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).sort();
  }
  return JSON.stringify(dump);
}

describe("recognising an unavailable database", () => {
  const known = (code: string, cause?: Record<string, unknown>) =>
    new Prisma.PrismaClientKnownRequestError("\nInvalid `db.user.create()` invocation:\n\nthe cause", {
      code,
      clientVersion: "7",
      meta: cause ? { driverAdapterError: { name: "DriverAdapterError", cause } } : {},
    });

  // The shapes Prisma 7 threw in scratch runs against real SQLite and PostgreSQL servers.
  it.each([
    ["SQLite locked past the busy timeout", known("P1008", { originalCode: "SQLITE_BUSY", originalMessage: "database is locked", kind: "SocketTimeout" })],
    ["same, from a raw query", known("P2010", { originalCode: "SQLITE_BUSY", originalMessage: "database is locked", kind: "SocketTimeout" })],
    ["SQLite locked while opening the connection", known("SQLITE_BUSY")],
    ["SQLite file that cannot be opened", known("SQLITE_CANTOPEN")],
    ["SQLite folder missing", new TypeError("Cannot open database because the directory does not exist")],
    ["SQLite disk full", known("P2039", { originalCode: "SQLITE_FULL", kind: "sqlite", extendedCode: 1, message: "database or disk is full" })],
    ["SQLite I/O error", known("P2039", { originalCode: "SQLITE_IOERR_WRITE", kind: "sqlite", extendedCode: 1, message: "disk I/O error" })],
    ["PostgreSQL refusing connections", known("P1001", { kind: "DatabaseNotReachable", host: "127.0.0.1", port: 5432 })],
    ["PostgreSQL connection reset", known("P1017", { kind: "ConnectionClosed" })],
    ["PostgreSQL connection dropped", new Error("Connection terminated unexpectedly")],
    ["PostgreSQL not answering within the connection timeout", new Error("Connection terminated due to connection timeout")],
    ["no free pool client within the connection timeout", new Error("timeout exceeded when trying to connect")],
    [
      "PostgreSQL shutting down or the backend terminated",
      known("P2039", { kind: "postgres", code: "57P01", severity: "FATAL", message: "terminating connection due to administrator command" }),
    ],
    ["PostgreSQL out of connections", known("P2037", { kind: "TooManyConnections", cause: "sorry, too many clients already" })],
    ["Prisma's pool timeout", known("P2024")],
  ])("%s", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ["a unique constraint", known("P2002", { kind: "UniqueConstraintViolation", constraint: { fields: ["email"] } })],
    ["a record not found", known("P2025")],
    ["a database that does not exist (configuration)", known("P1003", { kind: "DatabaseDoesNotExist", db: "portal" })],
    ["another PostgreSQL error", known("P2039", { kind: "postgres", code: "22P02", severity: "ERROR", message: "invalid input syntax" })],
    ["another SQLite error", known("P2039", { originalCode: "SQLITE_CONSTRAINT_CHECK", kind: "sqlite", extendedCode: 1, message: "CHECK constraint failed" })],
    ["an ordinary error", new Error("Cannot read properties of undefined")],
    ["a thrown Response", new Response("Not found", { status: 404 })],
    ["nothing", undefined],
  ])("not %s", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });

  it("answers 503 with Retry-After, and says whether a sent form was saved", async () => {
    const page = databaseUnavailableResponse(new Request("http://x/settings"));
    expect([page.status, page.headers.get("Retry-After")]).toEqual([503, "60"]);
    expect(await page.text()).toContain(NOT_SHOWN);
    expect(await databaseUnavailableResponse(new Request("http://x/login", { method: "POST" })).text()).toContain(NOT_SAVED);
  });
});

describe(outage.name, () => {
  it("raises errors that are recognised as the database being unavailable", async () => {
    const { user } = await createUser();
    await outage.start();
    const attempts: (() => Promise<unknown>)[] = [
      () => db.user.update({ where: { id: user.id }, data: { name: "Changed" } }),
      () => db.$transaction(async (tx) => tx.user.update({ where: { id: user.id }, data: { name: "Changed" } })),
      () => checkDatabase(),
    ];
    if (outage.readsFail) attempts.push(() => db.user.findMany());
    else expect(await db.user.count()).toBe(1);
    for (const attempt of attempts) await expect(attempt()).rejects.toSatisfy(isDatabaseUnavailable);
    await outage.end();
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).name).toBe(user.name);
  });

  it("mail delivery fails without throwing, keeps the mail pending, and delivers it once the database is back", async () => {
    const mail = await db.outgoingMail.create({
      data: { to: "someone@example.test", template: "invitation", subject: "Hello", html: "<p>Hello</p>", text: "Hello" },
    });
    const warn = vi.spyOn(log, "warn").mockImplementation(() => {});
    await outage.start();
    const stop = startMailWorker(60 * 60_000, outboxTransport(env().OUTBOX_DIR));
    try {
      await kickMailWorker();
      expect(warn.mock.calls.map((c) => String(c[1]))).toContainEqual(
        expect.stringMatching(/^A mail delivery run stopped early; pending mail is retried on the next run/),
      );
      await outage.end();
      expect(await db.outgoingMail.findUniqueOrThrow({ where: { id: mail.id } })).toMatchObject({ status: "pending", attempts: 0 });
      await kickMailWorker();
      expect(await db.outgoingMail.findUniqueOrThrow({ where: { id: mail.id } })).toMatchObject({ status: "sent" });
    } finally {
      stop();
      warn.mockRestore();
    }
  });

  describe("the built server", () => {
    let server: Instance;
    let pid: number;
    beforeAll(async () => {
      ensureBuild();
      server = new Instance(await freePort());
      server.start(appEnv({ NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0", METRICS_TOKEN }));
      await server.ready();
      pid = server.server!.pid;
    }, 180_000);
    afterAll(() => server?.stop());

    const signInForm = (email: string) => ({ intent: "password", identifier: email, password: PASSWORD });

    it("answers a sign-in form with the 503 page, with and without JavaScript; the same form works once the database is back", async () => {
      const { user, secret } = await createUser();
      const before = await snapshot();
      await outage.start();
      expectUnavailable(await send(server.port, "POST", "/login?index", { form: signInForm(user.email!) }), NOT_SAVED);
      // With JavaScript, the form goes to the route's data URL; the browser renders the same ErrorBoundary.
      expectUnavailable(await send(server.port, "POST", "/login.data?index", { form: signInForm(user.email!) }), NOT_SAVED, false);
      await outage.end();
      expect(await snapshot()).toBe(before);
      // Both answers are counted for the operator (decision 022).
      const metrics = await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(sample(await metrics.text(), "portal_database_unavailable_total")).toBe(2);

      const jar = new Jar();
      const password = jar.store(await send(server.port, "POST", "/login?index", { form: signInForm(user.email!) }));
      expect(password.location, password.body.slice(0, 500)).toBe("/login/totp");
      const code = jar.store(await send(server.port, "POST", "/login/totp", { form: { code: await totpCode(secret) }, cookie: jar.header }));
      expect(code.location).toBe("/");
      expect(server.server!.pid).toBe(pid);
    });

    it("answers a page that needs the database with the 503 page and /healthz with 503; both recover by themselves", async () => {
      const { user } = await createUser();
      // Last seen five minutes ago: showing a page records the visit, a write, which fails even where reads go on.
      const cookie = (await signedInAs(user)).cookieHeader();
      await db.session.updateMany({ where: { userId: user.id }, data: { lastSeenAt: new Date(Date.now() - 5 * 60_000) } });
      const before = await snapshot();
      await outage.start();
      expectUnavailable(await send(server.port, "GET", "/", { cookie }), NOT_SHOWN);
      expectUnavailable(await send(server.port, "GET", "/_root.data", { cookie }), NOT_SHOWN, false);
      const health = await send(server.port, "GET", "/healthz");
      expect([health.status, health.body]).toEqual([503, "database unavailable"]);
      // Pages that need no database still show.
      expect((await send(server.port, "GET", "/login")).status).toBe(200);
      await outage.end();
      expect(await snapshot()).toBe(before);

      const home = await send(server.port, "GET", "/", { cookie });
      expect(home.status, home.body.slice(0, 500)).toBe(200);
      expect(home.body).toContain(user.name);
      expect((await send(server.port, "GET", "/healthz")).status).toBe(200);
      expect(server.server!.pid).toBe(pid);
      expect(server.server!.running).toBe(true);
    });
  });
});
