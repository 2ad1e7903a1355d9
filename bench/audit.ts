// The audit log at size: the first page with and without filters, and the streamed export of 100k and of all
// events, with the server's resident memory sampled while it streams. The export should take memory for one
// batch, not for the whole log: the peak above idle should not grow with the number of events exported.
// Usage: npx tsx bench/audit.ts [--events 1000000] [--database sqlite|postgres] [--heap-mb 256] [--build]
// Not imitated: real events vary in size and type more than these; the client reads as fast as the server writes
// (a slow client is held back by the stream's back-pressure, which does not raise memory either).
import http from "node:http";
import os from "node:os";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  benchDatabase,
  benchEnv,
  benchFolder,
  databaseKind,
  databaseLabel,
  runBench,
  signIn,
  timeGets,
  ensureBuild,
  freePort,
  machine,
  median,
  migrate,
  pct,
  Portal,
  positive,
} from "./common.ts";

const { values: opts } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    database: { type: "string", default: "sqlite" },
    build: { type: "boolean", default: false },
    // The server's V8 heap limit (--max-old-space-size), as the README recommends for production; 0: Node's default.
    "heap-mb": { type: "string", default: "256" },
  },
});
const HEAP_MB = Number(opts["heap-mb"]);
const EVENTS = positive("events", opts.events);
const DATABASE = databaseKind(opts.database);
const PASSWORD = "bench-password-123";
const USERS = 2000;
const START_MS = Date.UTC(2026, 0, 1);
// One event a minute or so: a million events span about two years.
const STEP_S = 60;
const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36";

const server = new Portal();
const tmp = benchFolder("audit-bench-", () => server.kill());

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** An org, an admin who can sign in, USERS members, and EVENTS events among them, written by the database itself. */
async function seed() {
  const { db } = await import("../app/lib/db.server.ts");
  const { hashPassword } = await import("../app/lib/passwords.server.ts");
  const { newTotpSecret, sealTotpSecret } = await import("../app/lib/totp.server.ts");
  const org = await db.organization.create({ data: { name: "Bench Company", slug: "bench" } });
  const secret = newTotpSecret();
  const admin = await db.user.create({
    data: {
      id: "bench-admin",
      orgId: org.id,
      email: "admin@bench.test",
      name: "Bench Admin",
      role: "admin",
      passwordHash: await hashPassword(PASSWORD),
      totpSecret: sealTotpSecret(secret, { kind: "user", userId: "bench-admin" }),
      totpEnrolledAt: new Date(),
    },
  });
  for (let i = 0; i < USERS; i += 500) {
    await db.user.createMany({
      data: Array.from({ length: Math.min(500, USERS - i) }, (_, j) => ({
        orgId: org.id,
        id: `u${i + j}`,
        email: `user${i + j}@bench.test`,
        name: `Bench User ${i + j}`,
      })),
    });
  }
  const started = Date.now();
  // Sign-ins, failures and admin changes in the proportions a busy org has, each event naming one of the users.
  if (DATABASE === "sqlite") {
    await db.$executeRawUnsafe(`
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${EVENTS - 1})
      INSERT INTO "AuditEvent" ("id", "orgId", "actorId", "action", "targetType", "targetId", "result", "detail", "ipAddress", "device", "createdAt")
      SELECT 'e' || i, '${org.id}', CASE WHEN i % 10 = 9 THEN '${admin.id}' ELSE 'u' || (i % ${USERS}) END,
        CASE WHEN i % 10 < 7 THEN 'signin.succeeded' WHEN i % 10 < 9 THEN 'signin.password.failed' ELSE 'link.revoked' END,
        CASE WHEN i % 10 = 9 THEN 'user' END, CASE WHEN i % 10 = 9 THEN 'u' || (i % ${USERS}) END,
        CASE WHEN i % 10 IN (7, 8) THEN 'failure' ELSE 'success' END,
        CASE WHEN i % 10 < 7 THEN '{"method":"password_totp"}' WHEN i % 10 < 9 THEN '{"failures":1}' END,
        '203.0.113.' || (i % 250), 'Chrome on Windows',
        strftime('%Y-%m-%dT%H:%M:%f', ${START_MS / 1000} + i * ${STEP_S}, 'unixepoch') || '+00:00'
      FROM n`);
  } else {
    await db.$executeRawUnsafe(`
      INSERT INTO "AuditEvent" ("id", "orgId", "actorId", "action", "targetType", "targetId", "result", "detail", "ipAddress", "device", "createdAt")
      SELECT 'e' || i, '${org.id}', CASE WHEN i % 10 = 9 THEN '${admin.id}' ELSE 'u' || (i % ${USERS}) END,
        CASE WHEN i % 10 < 7 THEN 'signin.succeeded' WHEN i % 10 < 9 THEN 'signin.password.failed' ELSE 'link.revoked' END,
        CASE WHEN i % 10 = 9 THEN 'user' END, CASE WHEN i % 10 = 9 THEN 'u' || (i % ${USERS}) END,
        CASE WHEN i % 10 IN (7, 8) THEN 'failure' ELSE 'success' END,
        CASE WHEN i % 10 < 7 THEN '{"method":"password_totp"}' WHEN i % 10 < 9 THEN '{"failures":1}' END,
        '203.0.113.' || (i % 250), 'Chrome on Windows',
        to_timestamp(${START_MS / 1000} + i * ${STEP_S})
      FROM generate_series(0, ${EVENTS - 1}) AS i`);
  }
  console.log(`Seeded ${EVENTS.toLocaleString("en")} events for ${USERS} users in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  await db.$disconnect();
  return { secret };
}

/** Reads an export to its end, counting lines and bytes, and samples the server's memory meanwhile. */
function download(port: number, path: string, cookie: string, pid: number) {
  return new Promise<{ lines: number; bytes: number; seconds: number; peakMiB: number }>((resolve, reject) => {
    const started = Date.now();
    let peakMiB = rssMiB(pid);
    const sampler = setInterval(() => (peakMiB = Math.max(peakMiB, rssMiB(pid))), 50);
    http
      .get({ host: "127.0.0.1", port, path, headers: { Cookie: cookie, "User-Agent": USER_AGENT, Host: `localhost:${port}` } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode}`));
        let lines = 0;
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
        });
        res.on("end", () => {
          clearInterval(sampler);
          resolve({ lines, bytes, seconds: (Date.now() - started) / 1000, peakMiB });
        });
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

async function pageTimes(port: number, origin: string, cookie: string, path: string) {
  const ms = await timeGets({ port, origin, cookie, path, userAgent: USER_AGENT }, 15);
  return `median ${median(ms).toFixed(0)} ms, p95 ${pct(ms, 95).toFixed(0)} ms`;
}

async function main() {
  console.log(`Machine: ${machine()}`);
  console.log(
    `Load average before the run: ${os
      .loadavg()
      .map((n) => n.toFixed(1))
      .join(" ")}`,
  );
  ensureBuild(Boolean(opts.build));
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const env = benchEnv(tmp, port, await benchDatabase(DATABASE, tmp, "audit"));
  Object.assign(process.env, env);
  migrate(env);
  const serverEnv = HEAP_MB ? { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ""} --max-old-space-size=${HEAP_MB}`.trim() } : env;
  console.log(`Server heap limit: ${HEAP_MB ? `${HEAP_MB} MiB` : "Node's default"}`);
  console.log(`Database: ${await databaseLabel(env.DATABASE_URL!)}`);
  const { secret } = await seed();
  await server.start(serverEnv, port);
  const pid = server.pid!;
  const cookie = await signIn({ port, origin, userAgent: USER_AGENT }, "admin@bench.test", PASSWORD, secret);

  console.log(`First page of the audit log (${EVENTS.toLocaleString("en")} events, 15 requests each):`);
  for (const [label, query] of [
    ["no filter", ""],
    ["one event type", "?type=link.revoked"],
    ["one actor", "?actor=user1234%40bench.test"],
    ["one affected user", "?user=user77%40bench.test"],
    ["one day", "?from=2026-06-01&to=2026-06-01"],
  ] as const) {
    console.log(`  ${label.padEnd(18)} ${await pageTimes(port, origin, cookie, `/admin/audit${query}`)}`);
  }

  const idle = rssMiB(pid);
  const tenth = Math.max(1, Math.floor(EVENTS / 10));
  // The first tenth of the events by date: `to` is the day of event number `tenth`.
  const tenthDay = new Date(START_MS + (tenth - 1) * STEP_S * 1000).toISOString().slice(0, 10);
  const small = await download(port, `/admin/audit/export?format=csv&to=${tenthDay}`, cookie, pid);
  const all = await download(port, "/admin/audit/export?format=csv", cookie, pid);
  const jsonl = await download(port, `/admin/audit/export?format=jsonl&to=${tenthDay}`, cookie, pid);
  const row = (label: string, r: typeof small) =>
    `  ${label.padEnd(22)} ${(r.lines - (label.includes("JSON") ? 0 : 1)).toLocaleString("en").padStart(10)} events, ${(r.bytes / 2 ** 20).toFixed(0).padStart(4)} MiB in ${r.seconds.toFixed(1)} s ` +
    `(${Math.round((r.lines - 1) / r.seconds).toLocaleString("en")} events/s), server RSS peak ${r.peakMiB.toFixed(0)} MiB (+${(r.peakMiB - idle).toFixed(0)} over idle)`;
  console.log(`Export (server RSS idle after the page requests: ${idle.toFixed(0)} MiB):`);
  console.log(row(`CSV, until ${tenthDay}`, small));
  console.log(row("CSV, all events", all));
  console.log(row(`JSON Lines, until ${tenthDay}`, jsonl));
  console.log(
    `Peak above idle, all events vs the first tenth: ${((all.peakMiB - idle) / Math.max(1, small.peakMiB - idle)).toFixed(2)}× for ${(all.lines / Math.max(1, small.lines)).toFixed(1)}× the events.`,
  );
}

runBench(main, server);
