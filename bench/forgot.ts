// Does "Forgot password" tell, by its answer time, whether an account exists (issue 13, finding 6)? POSTs the form
// of the built portal for known password users, known Microsoft (SSO) users and unknown identifiers, interleaved in
// a shuffled order, one request at a time, and prints each kind's median and p90 and their ratios, from one run.
// Usage: npx tsx bench/forgot.ts [--rounds 20] [--per-round 30] [--database sqlite|postgres] [--build]
import { randomUUID } from "node:crypto";
import http from "node:http";
import os from "node:os";
import { parseArgs } from "node:util";
import {
  benchDatabase,
  benchEnv,
  benchFolder,
  databaseKind,
  databaseLabel,
  runBench,
  ensureBuild,
  freePort,
  machine,
  median,
  migrate,
  pct,
  Portal,
  portalRequest,
  positive,
} from "./common.ts";

const { values: opts } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    "per-round": { type: "string", default: "30" },
    database: { type: "string", default: "sqlite" },
    build: { type: "boolean", default: false },
  },
});
const ROUNDS = positive("rounds", opts.rounds);
const PER_ROUND = positive("per-round", opts["per-round"]);
const DATABASE = databaseKind(opts.database);
const WARMUP = 30;

const KINDS = ["password", "sso", "unknown"] as const;
type Kind = (typeof KINDS)[number];
const LABEL: Record<Kind, string> = { password: "known password user", sso: "known Microsoft (SSO) user", unknown: "unknown identifier" };

const server = new Portal();
const tmp = benchFolder("forgot-bench-", () => server.kill());

// Each identifier is asked for once: a repeat while its request waits would take another path (the unique key).
// All have the same length, so that the answers have the same size too.
const identifier = (kind: Kind, i: number) => `${kind[0]}${String(i).padStart(6, "0")}@bench.test`;

/** One org of password users, one SSO org whose users sign in with Microsoft (linked, no password). */
async function seed(count: number) {
  const { db } = await import("../app/lib/db.server.ts");
  const { hashPassword } = await import("../app/lib/passwords.server.ts");
  const hash = await hashPassword("bench-password-123");
  const org = await db.organization.create({ data: { name: "Bench Company", slug: "bench" } });
  const sso = await db.organization.create({ data: { name: "Contoso Bench", slug: "contoso-bench", ssoLicensed: true, ssoEnabled: true } });
  const tenantId = randomUUID();
  const integration = await db.integration.create({
    data: { orgId: sso.id, tenantId, claimedTenantId: tenantId, displayName: "Contoso", status: "active", consentedAt: new Date() },
  });
  const all = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < count; i += 500) {
    const slice = all.slice(i, i + 500);
    await db.user.createMany({ data: slice.map((n) => ({ orgId: org.id, email: identifier("password", n), name: `Bench User ${n}`, passwordHash: hash })) });
    const ssoUsers = slice.map((n) => ({ id: randomUUID(), orgId: sso.id, email: identifier("sso", n), name: `Contoso User ${n}` }));
    await db.user.createMany({ data: ssoUsers });
    await db.microsoftLink.createMany({
      data: ssoUsers.map((u) => ({ userId: u.id, integrationId: integration.id, tenantId, objectId: randomUUID(), upn: u.email })),
    });
  }
  // The rule must say what the bench claims: password for the first org, Microsoft for the second.
  const { signInStrategyFor } = await import("../app/lib/signin/methods.server.ts");
  for (const email of [identifier("password", 0), identifier("sso", 0)]) {
    const user = await db.user.findUniqueOrThrow({ where: { email } });
    const method = (await signInStrategyFor(user)).method;
    if (method !== (email.startsWith("p") ? "password" : "microsoft")) throw new Error(`The seeded user ${email} signs in with ${method}.`);
  }
  await db.$disconnect();
}

/** A shuffled round: PER_ROUND requests of each kind, so that nothing on the machine lines up with one kind. */
function roundOrder(): Kind[] {
  const order = KINDS.flatMap((kind) => Array<Kind>(PER_ROUND).fill(kind));
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

async function main() {
  const started = performance.now();
  console.log(`Machine: ${machine()}`);
  console.log(`Load average before the run: ${os.loadavg().map(f1).join(" ")}`);
  ensureBuild(Boolean(opts.build));

  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const env = benchEnv(tmp, port, await benchDatabase(DATABASE, tmp, "forgot"));
  Object.assign(process.env, env); // the seeding imports app modules, which read the same variables
  migrate(env);
  console.log(`Database: ${await databaseLabel(env.DATABASE_URL!)}`);
  const perKind = ROUNDS * PER_ROUND + WARMUP;
  await seed(perKind);
  await server.start(env, port);

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const next: Record<Kind, number> = { password: 0, sso: 0, unknown: 0 };
  const sizes: Record<Kind, Set<number>> = { password: new Set(), sso: new Set(), unknown: new Set() };
  const ask = async (kind: Kind) => {
    const start = performance.now();
    const reply = await portalRequest({
      port,
      origin,
      method: "POST",
      path: "/forgot-password",
      form: { identifier: identifier(kind, next[kind]++) },
      agent,
      userAgent: "bench/forgot.ts",
    });
    const ms = performance.now() - start;
    if (reply.status !== 200 || !reply.body.includes("If an account exists"))
      throw new Error(`POST /forgot-password (${kind}): ${reply.status} ${reply.body.slice(0, 200)}`);
    sizes[kind].add(reply.body.length);
    return ms;
  };

  for (let i = 0; i < WARMUP; i++) for (const kind of KINDS) await ask(kind); // JIT, caches, the first rows
  console.log(`Seeded ${perKind} password users and ${perKind} SSO users; ${ROUNDS} rounds of ${PER_ROUND} requests of each kind, shuffled, one at a time.\n`);

  const times: Record<Kind, number[]> = { password: [], sso: [], unknown: [] };
  // The request after each one, by the kind before it: the worker's per-account work runs right after an answer.
  const after: Record<Kind, number[]> = { password: [], sso: [], unknown: [] };
  const roundRatios: Record<"password" | "sso", number[]> = { password: [], sso: [] };
  for (let r = 1; r <= ROUNDS; r++) {
    const round: Record<Kind, number[]> = { password: [], sso: [], unknown: [] };
    let previous: Kind | null = null;
    for (const kind of roundOrder()) {
      const ms = await ask(kind);
      round[kind].push(ms);
      if (previous) after[previous].push(ms);
      previous = kind;
    }
    for (const kind of KINDS) times[kind].push(...round[kind]);
    roundRatios.password.push(median(round.password) / median(round.unknown));
    roundRatios.sso.push(median(round.sso) / median(round.unknown));
  }
  await server.stop();

  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: pct(sorted, 50), p90: pct(sorted, 90) };
  };
  const s = Object.fromEntries(KINDS.map((k) => [k, stats(times[k])])) as Record<Kind, { p50: number; p90: number }>;
  const row = (kind: Kind) =>
    `  ${LABEL[kind].padEnd(28)} ${f2(s[kind].p50).padStart(8)} ${f2(s[kind].p90).padStart(8)} ${f2(median(after[kind])).padStart(12)}`;
  const ratio = (kind: "password" | "sso") =>
    `  ${LABEL[kind].padEnd(28)} ${f2(s[kind].p50 / s.unknown.p50).padStart(8)} ${f2(s[kind].p90 / s.unknown.p90).padStart(8)} ${f2(median(roundRatios[kind])).padStart(12)}`;
  const sizeNote = KINDS.map((k) => `${k} ${[...sizes[k]].join("/")}`).join(", ");
  console.log(`Machine: ${machine()}
Database: ${await databaseLabel(env.DATABASE_URL!)}
POST /forgot-password, ${ROUNDS * PER_ROUND} requests of each kind (ms)     p50      p90   next request p50
${KINDS.map(row).join("\n")}
Known / unknown                                     p50      p90   median of ${ROUNDS} rounds
${ratio("password")}
${ratio("sso")}
Answer sizes (bytes): ${sizeNote}
Load average after: ${os.loadavg().map(f1).join(" ")}; the whole run took ${f1((performance.now() - started) / 1000)} s.

What this does not imitate: the network (one client on the same machine over one keep-alive connection: less
noise than an attacker has, so a difference shows here first); SMTP (SMTP_URL is unset: the worker queues mail in
the database and delivers nothing); TLS and proxies; other users' traffic. The mail worker looks accounts up and
writes tokens and mail right after each answer, in the same process: that work is not in the answer times, and
"next request p50" is the answer after a request of that kind, which is where it would show.`);
}

runBench(main, server);
