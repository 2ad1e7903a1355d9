// Starts the portal: `tsx server/index.ts` serves the built app, `--dev` serves through Vite.
// With WEB_CONCURRENCY=N (N > 1) a primary process forks N server processes that share the port.
// First: a wrong environment stops the server here, in one sentence (boot-env.ts).
import { env } from "./boot-env.ts";
import cluster from "node:cluster";
import type { Env } from "../app/lib/env.server.ts";
import { createApp } from "./app.ts";
import { startMailWorker } from "../app/lib/mail/worker.server.ts";
import { startSyncScheduler } from "../app/lib/sync/scheduler.server.ts";
import { startRetentionScheduler } from "../app/lib/retention.server.ts";
import { describeReseal, resealTotpSecrets } from "../app/lib/totp-reseal.server.ts";
import { log } from "../app/lib/log.server.ts";
import { answerForWorkers, collectProcessMetrics } from "../app/lib/metrics.server.ts";

const dev = process.argv.includes("--dev");

if (cluster.isPrimary && env.WEB_CONCURRENCY > 1 && !dev) {
  superviseWorkers(env.WEB_CONCURRENCY);
} else {
  // The only process, or the first of several: it runs the background jobs (mail, sync schedule, retention; every
  // process would only add polling) and says what it serves.
  await serve(env, { first: cluster.isPrimary || process.env.PORTAL_WORKER === "1" });
}

async function serve(env: Env, options: { first: boolean }) {
  if (options.first && env.demo) log.warn("Demo mode: /dev/outbox shows every mail sent, including sign-in links; never use it for real users.");
  if (options.first && !env.SMTP_URL && !env.demo) log.warn("SMTP_URL is not set: mail is queued in the database and not delivered until SMTP_URL is set.");
  if (options.first) await resealOldSecrets();
  const vite = dev ? await import("vite").then((v) => v.createServer({ server: { middlewareMode: true } })) : undefined;
  collectProcessMetrics();
  const app = await createApp(env, { vite });
  const stops = options.first ? [startMailWorker(), startSyncScheduler(), startRetentionScheduler()] : [];

  const server = app.listen(env.PORT, () => {
    if (options.first) log.info(`Portal listening on ${env.APP_ORIGIN} (port ${env.PORT})`);
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      for (const stop of stops) stop();
      server.close(() => process.exit(0));
      setTimeout(() => process.exit(0), 3000).unref();
    });
  }
}

// Finishes the migration totp_secret_binding when the schema was deployed without this app's code (Prisma's own
// CLI): cheap when nothing is tagged. A failure is only a warning; the next start or db:deploy tries again.
async function resealOldSecrets() {
  try {
    const said = describeReseal(await resealTotpSecrets());
    if (said) log.warn(said);
  } catch (error) {
    log.warn(`Old authenticator secrets could not be re-sealed now (${(error as Error).message.trim().split("\n").at(-1)}); the next start tries again.`);
  }
}

/** Keeps `count` server processes running; one that dies is replaced (it keeps its number). */
function superviseWorkers(count: number) {
  let stopping = false;
  const fork = (n: number) => {
    const worker = cluster.fork({ PORTAL_WORKER: String(n) });
    worker.on("exit", (code, signal) => {
      if (stopping) return;
      log.error(`Server process ${n} stopped (${signal ?? `exit code ${code}`}); starting a new one.`);
      setTimeout(() => fork(n), 1000);
    });
  };
  answerForWorkers();
  for (let n = 1; n <= count; n++) fork(n);
  log.info(`Starting ${count} server processes.`);

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
      const check = setInterval(() => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0), 100);
      setTimeout(() => (clearInterval(check), process.exit(0)), 4000).unref();
    });
  }
}
