// The portal's memory as a newcomer sees it: `npm start` (node --import tsx server/index.ts, NODE_ENV=production,
// no heap flag) on a fresh SQLite database with one org synced from a --users tenant of the stand-in (this
// process, Graph's 100 users a page). Samples the server's RSS from /proc every 100 ms (its process and its
// children): idle after start, peak during the first full sync (started by the schedule, as in production),
// and after it.
// Usage: npx tsx bench/memory.ts [--users 20000] [--idle-seconds 10]
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { benchEnv, benchFolder, ensureBuild, freePort, machine, Portal, positive, runBench } from "./common.ts";

const TENANT = { id: "d4e5f6a7-0000-4000-8000-0000000e3e3e", displayName: "Memory Bench Tenant", domain: "memory.example" };
const { values: opts } = parseArgs({
  options: { users: { type: "string", default: "20000" }, "idle-seconds": { type: "string", default: "10" }, rebuild: { type: "boolean", default: false } },
});

/** RSS in MiB of a process and its descendants (from /proc), and of the process alone. */
function rss(pid: number): { own: number; tree: number } {
  const of = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) / 1024;
  const children = (p: number): number[] => {
    try {
      const kids = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number);
      return kids.flatMap((k) => [k, ...children(k)]);
    } catch {
      return [];
    }
  };
  try {
    const own = of(pid);
    return { own, tree: own + children(pid).reduce((sum, p) => sum + of(p), 0) };
  } catch {
    return { own: NaN, tree: NaN };
  }
}

const server = new Portal();
const f0 = (n: number) => n.toFixed(0);

async function main() {
  const users = positive("users", opts.users);
  const idleSeconds = positive("idle-seconds", opts["idle-seconds"]);
  const tmp = benchFolder("memory-bench-", () => server.kill());
  ensureBuild(opts.rebuild);
  console.log(`Machine: ${machine()}`);
  console.log(
    `Load average before the run: ${os
      .loadavg()
      .map((n) => n.toFixed(1))
      .join(" ")}`,
  );

  const { startStandin } = await import("../test/entra/server.ts");
  const { STANDIN_APP, syntheticTenant } = await import("../test/entra/fixture.ts");
  const standin = await startStandin({ certDir: path.join(tmp, "cert"), fixture: { app: STANDIN_APP, tenants: [syntheticTenant({ ...TENANT, users })] } });
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...benchEnv(tmp, port),
    NODE_EXTRA_CA_CERTS: standin.certPath,
    ENTRA_CLIENT_ID: standin.app.clientId,
    ENTRA_CLIENT_SECRET: standin.app.clientSecret,
    ENTRA_AUTHORITY_HOST: standin.url,
    GRAPH_BASE_URL: standin.url,
    // The schedule's first tick (15 s after start) runs the org's first sync: the same code path as "Sync now".
    SYNC_INTERVAL_MINUTES: "60",
    SESSION_SECRET: randomBytes(32).toString("base64url"),
  };
  // This process reads the same database to see the run end.
  Object.assign(process.env, env);
  const { deployMigrations } = await import("../app/lib/migrate.server.ts");
  await deployMigrations(env.DATABASE_URL!);
  const { db } = await import("../app/lib/db.server.ts");
  const org = await db.organization.create({ data: { name: "Memory Bench Company", slug: "memory-bench", ssoLicensed: true } });
  const integration = await db.integration.create({ data: { orgId: org.id, tenantId: TENANT.id, status: "active", displayName: TENANT.displayName } });
  await db.organization.update({ where: { id: org.id }, data: { syncIntegrationId: integration.id } });

  const started = performance.now();
  await server.start(env, port);
  const pid = server.pid!;
  const samples: { at: number; own: number; tree: number; phase: "idle" | "sync" | "after" }[] = [];
  let phase: "idle" | "sync" | "after" = "idle";
  const timer = setInterval(() => samples.push({ at: performance.now() - started, phase, ...rss(pid) }), 100);
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await wait(idleSeconds * 1000);
  const idle = samples.filter((s) => s.phase === "idle").at(-1)!;
  phase = "sync";
  let run = null;
  for (let i = 0; i < 3000 && !(run && run.status !== "running"); i++) {
    await wait(100);
    run = await db.syncRun.findFirst({ where: { integrationId: integration.id }, orderBy: { startedAt: "desc" } });
  }
  if (!run || run.status !== "succeeded") throw new Error(`The sync did not succeed: ${JSON.stringify(run)}`);
  phase = "after";
  await wait(5000);
  clearInterval(timer);
  await server.stop();
  await standin.close();
  await db.$disconnect();

  const peak = (key: "own" | "tree") => Math.max(...samples.filter((s) => s.phase !== "idle").map((s) => s[key]));
  const after = samples.at(-1)!;
  console.log(`
Machine: ${machine()}
Load average after the run: ${os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(" ")}
npm start (node --import tsx server/index.ts, NODE_ENV=production, no heap flag), SQLite; sync of ${users} users at 100 a page: ${run.pagesDone} pages, ${run.created} created
                                server process   with its children (tsx's esbuild)
Idle, ${idleSeconds} s after start            ${f0(idle.own).padStart(6)} MiB   ${f0(idle.tree).padStart(6)} MiB
Peak during the sync            ${f0(peak("own")).padStart(6)} MiB   ${f0(peak("tree")).padStart(6)} MiB
5 s after the sync              ${f0(after.own).padStart(6)} MiB   ${f0(after.tree).padStart(6)} MiB`);
}

runBench(main, server);
