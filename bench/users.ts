// The admin's users list at size: the first page, searches, each filter and a page deep into the list by cursor,
// against the built app over HTTP, sequential requests. Target: p95 < 200 ms at 100k users (issue 15).
// Usage: npx tsx bench/users.ts [--users 100000] [--requests 30] [--database sqlite|postgres] [--build]
// Not imitated: other orgs' users in the same tables (the queries start at the org), concurrent admins.
import os from "node:os";
import { parseArgs } from "node:util";
import {
  benchDatabase,
  benchEnv,
  benchFolder,
  databaseKind,
  databaseLabel,
  ensureBuild,
  freePort,
  machine,
  migrate,
  pct,
  Portal,
  portalRequest,
  positive,
  runBench,
  signIn,
  timeGets,
} from "./common.ts";

const { values: opts } = parseArgs({
  options: {
    users: { type: "string", default: "100000" },
    requests: { type: "string", default: "30" },
    database: { type: "string", default: "sqlite" },
    build: { type: "boolean", default: false },
  },
});
const USERS = positive("users", opts.users);
const REQUESTS = positive("requests", opts.requests);
const DATABASE = databaseKind(opts.database);
const PASSWORD = "bench-password-123";
const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36";

const server = new Portal();
const tmp = benchFolder("users-bench-", () => server.kill());

const FIRST = [
  "Ana",
  "Ben",
  "Chloé",
  "David",
  "Emma",
  "Farid",
  "Grace",
  "Hiro",
  "Ines",
  "Jonas",
  "Kofi",
  "Lena",
  "Mateo",
  "Nora",
  "Omar",
  "Priya",
  "Quinn",
  "Rosa",
  "Sven",
  "Tara",
];
const LAST = [
  "Andersen",
  "Bauer",
  "Costa",
  "Dubois",
  "Evans",
  "Fischer",
  "García",
  "Hughes",
  "Ivanova",
  "Jensen",
  "Kim",
  "López",
  "Müller",
  "Nakamura",
  "Olsen",
  "Patel",
  "Rossi",
  "Schmidt",
  "Tanaka",
  "Weber",
];

/**
 * One licensed org with SSO on: 60% synced (a third with their SSO switch on, most without a password), 40% local
 * (one in four linked, through an active or a removed integration; one in ten without a password). Names repeat
 * (400 first × last pairs, numbered), as in a big directory.
 */
async function seed() {
  const { db } = await import("../app/lib/db.server.ts");
  const { hashPassword } = await import("../app/lib/passwords.server.ts");
  const { newTotpSecret, sealTotpSecret } = await import("../app/lib/totp.server.ts");
  const started = Date.now();
  const org = await db.organization.create({ data: { name: "Bench Company", slug: "bench", ssoLicensed: true, ssoEnabled: true } });
  const [sync, other, removed] = await Promise.all(
    ["active", "active", "removed"].map((status, i) => db.integration.create({ data: { orgId: org.id, tenantId: `tenant-${i}`, status } })),
  );
  await db.organization.update({ where: { id: org.id }, data: { syncIntegrationId: sync!.id } });
  const secret = newTotpSecret();
  await db.user.create({
    data: {
      id: "bench-admin",
      orgId: org.id,
      email: "admin@bench.test",
      name: "Bench Admin",
      role: "admin",
      // Declined the Microsoft link, so that signing in ends on the portal.
      linkPrompt: "declined",
      passwordHash: await hashPassword(PASSWORD),
      totpSecret: sealTotpSecret(secret, { kind: "user", userId: "bench-admin" }),
      totpEnrolledAt: new Date(),
    },
  });
  const hash = await hashPassword("a-member-password");
  const BATCH = 1000;
  for (let start = 0; start < USERS; start += BATCH) {
    const users = [];
    const links = [];
    for (let i = start; i < Math.min(USERS, start + BATCH); i++) {
      // Facts drawn by a hash of i, so that none lines up with the names' order.
      const h = Math.imul(i + 1, 2654435761) >>> 0;
      const synced = h % 10 < 6;
      const name = `${FIRST[i % FIRST.length]} ${LAST[Math.floor(i / FIRST.length) % LAST.length]} ${Math.floor(i / 400)}`;
      const id = `u${i}`;
      users.push({
        id,
        orgId: org.id,
        email: `${name.toLowerCase().replace(/\s+/g, ".")}.${i}@bench.test`,
        name,
        source: synced ? "synced" : "local",
        ssoEnabled: synced && (h >>> 4) % 3 === 0,
        passwordHash: synced ? ((h >>> 8) % 5 === 0 ? hash : null) : (h >>> 8) % 10 === 9 ? null : hash,
        syncIntegrationId: synced ? sync!.id : null,
        entraTenantId: synced ? sync!.tenantId : null,
        entraObjectId: synced ? `oid-${i}` : null,
      });
      if (!synced && (h >>> 12) % 4 === 0) {
        const through = (h >>> 16) % 2 === 0 ? other! : removed!;
        links.push({ userId: id, integrationId: through.id, tenantId: through.tenantId, objectId: `link-${i}`, upn: `${id}@tenant.test` });
      }
    }
    await db.user.createMany({ data: users });
    await db.microsoftLink.createMany({ data: links });
  }
  // Fresh statistics, as a database that has lived a while has (PostgreSQL's autovacuum, SQLite's optimize).
  await db.$executeRawUnsafe(DATABASE === "sqlite" ? "ANALYZE" : 'ANALYZE "User"');
  if (DATABASE === "postgres") await db.$executeRawUnsafe('ANALYZE "MicrosoftLink"');
  // A user 90% of the way down the list by (name, id): the deep page continues after them.
  const [deep] = await db.$queryRaw<
    { id: string }[]
  >`SELECT "id" FROM "User" WHERE "orgId" = ${org.id} ORDER BY "name", "id" LIMIT 1 OFFSET ${Math.floor(USERS * 0.9)}`;
  console.log(`Seeded ${USERS.toLocaleString("en")} users in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  await db.$disconnect();
  return { secret, deep: deep!.id };
}

const load = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(" ");

async function main() {
  console.log(`Machine: ${machine()}`);
  ensureBuild(Boolean(opts.build));
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const env = benchEnv(tmp, port, await benchDatabase(DATABASE, tmp, "users"));
  Object.assign(process.env, env);
  migrate(env);
  console.log(`Database: ${await databaseLabel(env.DATABASE_URL!)}`);
  const { secret, deep } = await seed();
  await server.start(env, port);
  const base = { port, origin, userAgent: USER_AGENT };
  const cookie = await signIn(base, "admin@bench.test", PASSWORD, secret);
  const cases: [string, string][] = [
    ["first page", ""],
    ["search: name fragment", "?q=ander"],
    ["search: email fragment", "?q=4242%40"],
    ["filter: synced", "?show=synced"],
    ["filter: local", "?show=local"],
    ["filter: microsoft", "?show=microsoft"],
    ["filter: password", "?show=password"],
    ["filter: none", "?show=none"],
    ["deep page (cursor, 90%)", `?after=${deep}`],
  ];
  console.log(`Load average before the requests: ${load()}`);
  console.log(`Users list, ${USERS.toLocaleString("en")} users, ${REQUESTS} sequential requests per case:`);
  console.log(`  ${"case".padEnd(26)} ${"p50".padStart(7)} ${"p95".padStart(7)} ${"max".padStart(7)}  matching`);
  let worst = 0;
  for (const [label, query] of cases) {
    const path = `/admin/users${query}`;
    // One request first: its answer says how many users match, and it warms the route.
    const first = await portalRequest({ ...base, method: "GET", path, cookie });
    if (first.status !== 200) throw new Error(`GET ${path}: ${first.status}`);
    const total = /data-testid="users-total">([^<]*)</.exec(first.body)?.[1] ?? "none";
    const ms = await timeGets({ ...base, cookie, path }, REQUESTS);
    worst = Math.max(worst, pct(ms, 95));
    console.log(
      `  ${label.padEnd(26)} ${`${pct(ms, 50).toFixed(0)} ms`.padStart(7)} ${`${pct(ms, 95).toFixed(0)} ms`.padStart(7)} ${`${ms.at(-1)!.toFixed(0)} ms`.padStart(7)}  ${total}`,
    );
  }
  console.log(`Load average after: ${load()}. Worst p95 ${worst.toFixed(0)} ms (target < 200 ms).`);
}

runBench(main, server);
