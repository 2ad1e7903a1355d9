// Starts the portal: `tsx server/index.ts` serves the built app, `--dev` serves through Vite.
import { env as loadEnv } from "../app/lib/env.server.ts";
import { createApp } from "./app.ts";
import { startMailWorker } from "../app/lib/mail/worker.server.ts";
import { startSyncScheduler } from "../app/lib/sync/scheduler.server.ts";

let env;
try {
  env = loadEnv();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

if (env.NODE_ENV === "production" && !env.SMTP_URL && !env.demo) {
  console.warn(`SMTP_URL is not set: mail is written to ${env.OUTBOX_DIR} and not delivered to anyone.`);
}

const dev = process.argv.includes("--dev");
const vite = dev
  ? await import("vite").then((v) => v.createServer({ server: { middlewareMode: true } }))
  : undefined;
const app = await createApp(env, { vite });
const stopMail = startMailWorker();
const stopSync = startSyncScheduler();

const server = app.listen(env.PORT, () => {
  console.log(`Portal listening on ${env.APP_ORIGIN} (port ${env.PORT})`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    stopMail();
    stopSync();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  });
}
