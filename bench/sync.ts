// Entra ID Sync at scale. The stand-in (in this process) serves a synthetic tenant of --users users in
// Graph-sized pages (--page-size, 100 as Graph's users/delta does, whatever the app asks for), each Graph
// answer --latency-ms late; a child process runs the app's own sync against it on a fresh database (SQLite, or PostgreSQL with --database postgres), so
// the child's peak RSS is the sync's alone. Measures the first full sync, then incremental runs of
// --changes changes each (updates, disables, soft deletes, new users).
//
// Peak RSS depends on the V8 heap limit, which V8 sets to a quarter of the machine's memory: with a limit
// of gigabytes it lets garbage grow to about four times the live heap before collecting. The syncing
// process therefore runs with the limit V8 picks on a machine with 1 GB of memory (--heap-mb 256), and one
// more full round runs with this machine's default, for comparison.
// Usage: npx tsx bench/sync.ts [--users 100000] [--rounds 1] [--changes 1000] [--incremental-rounds 3]
//                              [--page-size 100] [--latency-ms 0] [--heap-mb 256] [--database sqlite|postgres] [--cpu-prof DIR]
// Targets: full sync of 100k users ≤ 60 s with peak RSS ≤ 300 MB; incremental 1k changes ≤ 3 s (issue 8);
// at 100 per page ≤ 20 s without latency, and with latency ≤ 1.1 × the fetch floor (pages × latency) (issue 15).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import { benchDatabase, benchFolder, databaseKind, databaseLabel, dropBenchDatabases, machine, positive } from "./common.ts";
import { newSigningKeySet } from "../app/lib/env.server.ts";

const root = path.resolve(import.meta.dirname, "..");
const TENANT = { id: "b3c4d5e6-0000-4000-8000-00000000be4c", displayName: "Bench Tenant", domain: "bench.example" };
const { values: opts } = parseArgs({
  options: {
    users: { type: "string", default: "100000" },
    rounds: { type: "string", default: "1" },
    changes: { type: "string", default: "1000" },
    "incremental-rounds": { type: "string", default: "3" },
    // The most users the stand-in serves per users/delta page (Graph: about 100–200).
    "page-size": { type: "string", default: "100" },
    // Added to every Graph answer of the stand-in (Graph's own time per page is of the order of 100–300 ms).
    "latency-ms": { type: "string", default: "0" },
    // The syncing process's V8 heap limit (--max-old-space-size); 0: Node's default for this machine.
    "heap-mb": { type: "string", default: "256" },
    // Writes a V8 CPU profile of each syncing process to this folder (open it in Chrome DevTools).
    "cpu-prof": { type: "string" },
    // postgres: fresh databases on the server BENCH_PG_URL names (npm run bench:pg starts one).
    database: { type: "string", default: "sqlite" },
    // Internal: what a child process does ("seed" or "sync").
    child: { type: "string" },
    integration: { type: "string" },
  },
});

const RESULT = "RESULT ";
const report = (value: unknown) => process.stdout.write(`${RESULT}${JSON.stringify(value)}\n`);

// ---- the child: the app, as it runs in production ----

async function child(mode: string) {
  const { db } = await import("../app/lib/db.server.ts");
  if (mode === "seed") {
    const org = await db.organization.create({ data: { name: "Bench Company", slug: `bench-${Date.now()}`, ssoLicensed: true } });
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: TENANT.id, status: "active", displayName: TENANT.displayName } });
    await db.organization.update({ where: { id: org.id }, data: { syncIntegrationId: integration.id } });
    report({ integrationId: integration.id });
    return;
  }
  if (mode === "fetch") {
    // The same pages, fetched one after another and thrown away: what fetching alone costs.
    const { deltaPages, usersDeltaStart } = await import("../app/lib/sync/graph.server.ts");
    const { SYNC_DEFAULTS } = await import("../app/lib/sync/run.server.ts");
    const began = performance.now();
    let pages = 0;
    for await (const _page of deltaPages(usersDeltaStart(), TENANT.id, SYNC_DEFAULTS)) pages++;
    report({ seconds: (performance.now() - began) / 1000, pages });
    return;
  }
  const { runSync } = await import("../app/lib/sync/run.server.ts");
  const started = performance.now();
  const outcome = await runSync(opts.integration!, "manual");
  const seconds = (performance.now() - started) / 1000;
  const run = outcome.kind === "succeeded" || outcome.kind === "failed" ? await db.syncRun.findUnique({ where: { id: outcome.runId } }) : null;
  // resourceUsage().maxRSS is the process's peak in KiB, imports included.
  report({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024, outcome, pages: run?.pagesDone ?? 0 });
  await db.$disconnect();
}

// ---- the parent: the stand-in, the database, the measurements ----

type SyncResult = { seconds: number; peakRssMb: number; pages: number; outcome: { kind: string; counts?: Record<string, number>; error?: string | null } };

const tmp = benchFolder("sync-bench-");

function runChild(env: NodeJS.ProcessEnv, args: string[], heapMb = 0): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const profile = opts["cpu-prof"] && args.includes("sync") ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(opts["cpu-prof"])}`] : [];
    const heap = heapMb ? [`--max-old-space-size=${heapMb}`] : [];
    const proc = spawn(process.execPath, [...heap, ...profile, "--import", "tsx", "bench/sync.ts", ...args], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
    proc.stderr.on("data", (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    proc.on("error", reject);
    proc.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith(RESULT));
      if (code !== 0 || !line) return reject(new Error(`The ${args.join(" ")} child failed (exit ${code}):\n${out.slice(-2000)}${err}`));
      resolve(JSON.parse(line.slice(RESULT.length)));
    });
  });
}

const defaultHeapMb = () => Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

async function main() {
  const users = positive("users", opts.users);
  const rounds = positive("rounds", opts.rounds);
  const changes = positive("changes", opts.changes);
  const incrementalRounds = positive("incremental-rounds", opts["incremental-rounds"]);
  const heapMb = opts["heap-mb"] === "0" ? 0 : positive("heap-mb", opts["heap-mb"]);
  const pageSize = positive("page-size", opts["page-size"]);
  const latencyMs = opts["latency-ms"] === "0" ? 0 : positive("latency-ms", opts["latency-ms"]);
  const heapLabel = (mb: number) => (mb ? `heap limit ${mb} MB` : `Node's default heap limit here, ${defaultHeapMb()} MB`);
  console.log(`Machine: ${machine()}`);
  console.log(`Load average before the run: ${os.loadavg().map(f1).join(" ")}`);

  const { deployMigrations } = await import("../app/lib/migrate.server.ts");
  const { startStandin } = await import("../test/entra/server.ts");
  const { STANDIN_APP, syntheticTenant } = await import("../test/entra/fixture.ts");
  const standin = await startStandin({
    certDir: path.join(tmp, "cert"),
    fixture: { app: STANDIN_APP, tenants: [syntheticTenant({ ...TENANT, users })] },
    pageLimits: { users: pageSize },
  });
  const latency = () => latencyMs && standin.faults.set({ slowMs: { ms: latencyMs, paths: ["graph"] } });
  /** The sequential fetch floor: every page's latency, one after another. */
  const floor = (pages: number) => (pages * latencyMs) / 1000;
  const overFloor = (r: SyncResult) => (latencyMs ? `, fetch floor ${f2(floor(r.pages))} s, ratio ${f2(r.seconds / floor(r.pages))}` : "");
  const kind = databaseKind(opts.database);
  const env = (databaseUrl: string): NodeJS.ProcessEnv => ({
    ...process.env,
    NODE_ENV: "production",
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: randomBytes(32).toString("base64url"),
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
    OIDC_JWKS: newSigningKeySet(),
    OUTBOX_DIR: path.join(tmp, "outbox"),
    NODE_EXTRA_CA_CERTS: standin.certPath,
    ENTRA_CLIENT_ID: standin.app.clientId,
    ENTRA_CLIENT_SECRET: standin.app.clientSecret,
    ENTRA_AUTHORITY_HOST: standin.url,
    GRAPH_BASE_URL: standin.url,
    SMTP_URL: "",
    DEMO_MODE: "false",
  });
  const sync = async (e: NodeJS.ProcessEnv, integrationId: string, expect: Record<string, number>, heap: number) => {
    const result = (await runChild(e, ["--child", "sync", "--integration", integrationId], heap)) as SyncResult;
    const counts = result.outcome.counts ?? {};
    const wrong = Object.entries(expect).filter(([k, v]) => counts[k] !== v);
    if (result.outcome.kind !== "succeeded" || wrong.length)
      throw new Error(`The sync did not do what was expected: ${JSON.stringify(result.outcome)} (expected ${JSON.stringify(expect)})`);
    return result;
  };
  let database = "";
  /** A fresh database and directory, and the first full sync of the tenant. */
  const fullRound = async (label: string, heap: number) => {
    standin.reset();
    latency();
    const url = await benchDatabase(kind, tmp, `sync-${label}`);
    await deployMigrations(url);
    if (!database) console.log(`Database: ${(database = await databaseLabel(url))}`);
    const e = env(url);
    const { integrationId } = (await runChild(e, ["--child", "seed"])) as { integrationId: string };
    const result = await sync(e, integrationId, { created: users, errors: 0 }, heap);
    console.log(
      `full round ${label} (${heapLabel(heap)}): ${f2(result.seconds)} s, peak RSS ${f1(result.peakRssMb)} MB, ${result.pages} pages${overFloor(result)}, ${JSON.stringify(result.outcome.counts)}`,
    );
    return { result, env: e, integrationId };
  };

  console.log(
    `Tenant: ${users} users served by the stand-in at ${standin.url}, at most ${pageSize} per page${latencyMs ? `, ${latencyMs} ms per Graph request` : ""}. ${rounds} full round(s), ${incrementalRounds} incremental round(s) of ${changes} changes.\n`,
  );
  const comparison = heapMb ? (await fullRound("for comparison", 0)).result : null;
  const full: SyncResult[] = [];
  let last: Awaited<ReturnType<typeof fullRound>> | null = null;
  for (let r = 1; r <= rounds; r++) {
    last = await fullRound(String(r), heapMb);
    full.push(last.result);
  }

  // The same pages fetched alone, one after another (no writes): the floor with the stand-in's and TLS's own time
  // in it, so the ratio to it shows how much of the writing the fetching hides.
  const fetchAlone = latencyMs ? ((await runChild(last!.env, ["--child", "fetch"])) as { seconds: number; pages: number }) : null;

  const tenant = standin.directory.requireTenant(TENANT.id);
  const share = { update: Math.round(changes * 0.7), disable: Math.round(changes * 0.1), remove: Math.round(changes * 0.1) };
  const adds = changes - share.update - share.disable - share.remove;
  const incremental: SyncResult[] = [];
  for (let r = 1; r <= incrementalRounds; r++) {
    // Users no earlier round touched, spread over the tenant.
    let ordinal = 1 + (r - 1) * (changes - adds) * 7;
    const next = () => tenant.userAt((ordinal += 7) % (users - 1))!.oid;
    for (let i = 0; i < share.update; i++) tenant.update(next(), { jobTitle: `Bench title ${r}.${i}` });
    for (let i = 0; i < share.disable; i++) tenant.update(next(), { accountEnabled: false });
    for (let i = 0; i < share.remove; i++) tenant.remove(next(), false);
    for (let i = 0; i < adds; i++)
      tenant.add({ displayName: `New User ${r}.${i}`, userPrincipalName: `new${r}.${i}@${TENANT.domain}`, mail: `new${r}.${i}@${TENANT.domain}` });
    const result = await sync(
      last!.env,
      last!.integrationId,
      { created: adds, updated: share.update, deactivated: share.disable + share.remove, errors: 0 },
      heapMb,
    );
    incremental.push(result);
    console.log(
      `incremental round ${r}: ${f2(result.seconds)} s, peak RSS ${f1(result.peakRssMb)} MB, ${result.pages} pages, ${JSON.stringify(result.outcome.counts)}`,
    );
  }
  await standin.close();

  const fullSeconds = median(full.map((r) => r.seconds));
  const fullRss = Math.max(...full.map((r) => r.peakRssMb));
  const fullPages = full[0]!.pages;
  const ratio = latencyMs ? fullSeconds / floor(fullPages) : null;
  // Issue 15's targets hold at Graph's page size; other sizes are reported, not judged.
  const fastTarget = pageSize === 100 && !latencyMs ? fullSeconds <= 20 : true;
  const floorTarget = ratio === null || ratio <= 1.1;
  const incSeconds = median(incremental.map((r) => r.seconds));
  // Issue 8's time targets are for Graph without added latency; with it, the floor is the target.
  const timeTarget = latencyMs ? true : fullSeconds <= 60 && incSeconds <= 3;
  const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");
  console.log(`
Machine: ${machine()}
Load average after the run: ${os.loadavg().map(f1).join(" ")}
Database: ${database}
The syncing process: ${heapLabel(heapMb)}${heapMb === 256 ? " (what V8 picks on a machine with 1 GB of memory)" : ""}
Graph pages: at most ${pageSize} users, ${latencyMs} ms added per request; ${fullPages} pages in a full sync
Full sync of ${users} users (median of ${rounds})     ${f2(fullSeconds)} s   (${latencyMs ? "judged by the floor below" : `target ≤ 60 s: ${verdict(fullSeconds <= 60)}`}${
    pageSize === 100 && !latencyMs ? `; at 100 per page ≤ 20 s: ${verdict(fastTarget)}` : ""
  })${
    ratio === null
      ? ""
      : `\nSequential fetch floor (${fullPages} pages × ${latencyMs} ms)   ${f2(floor(fullPages))} s; run time / floor ${f2(ratio)} (target ≤ 1.1: ${verdict(floorTarget)})` +
        `\nThe same ${fetchAlone!.pages} pages fetched alone, no writes     ${f2(fetchAlone!.seconds)} s; run time / that ${f2(fullSeconds / fetchAlone!.seconds)}`
  }
Peak RSS of the syncing process (max)       ${f1(fullRss)} MB (target ≤ 300 MB: ${verdict(fullRss <= 300)})
Incremental, ${changes} changes (median of ${incrementalRounds})     ${f2(incSeconds)} s   (${latencyMs ? "with latency: not judged" : `target ≤ 3 s: ${verdict(incSeconds <= 3)}`})${
    comparison
      ? `\nFor comparison, ${heapLabel(0)}: full sync ${f2(comparison.seconds)} s, peak RSS ${f1(comparison.peakRssMb)} MB (the same live data; V8 collects later)`
      : ""
  }`);
  process.exitCode = timeTarget && fullRss <= 300 && fastTarget && floorTarget ? 0 : 1;
}

if (opts.child) {
  await child(opts.child);
} else {
  await main()
    .catch((error) => {
      console.error((error as Error).message);
      process.exitCode = 1;
    })
    .finally(async () => {
      await dropBenchDatabases();
      process.exit();
    });
}
