// The app's sync in a process of its own, for test/crash.test.ts to kill and restart (`node --import tsx`):
//   sync <integrationId> <pageSize> <leaseMs>   one run, as "Sync now" starts it; prints the outcome
//   schedule <tickMs>                           the schedule's tick (default interval), every tickMs, until killed
import { runSync } from "../app/lib/sync/run.server.ts";
import { runDueSyncs } from "../app/lib/sync/scheduler.server.ts";

const [mode, ...args] = process.argv.slice(2);

if (mode === "sync") {
  const [integrationId, pageSize, leaseMs] = args;
  const outcome = await runSync(integrationId!, "manual", { pageSize: Number(pageSize), leaseMs: Number(leaseMs) });
  console.log(JSON.stringify(outcome));
  process.exit(0);
} else if (mode === "schedule") {
  const tickMs = Number(args[0]);
  for (;;) {
    await runDueSyncs(30);
    await new Promise((r) => setTimeout(r, tickMs));
  }
} else {
  console.error(`usage: crash-child.ts sync <integrationId> <pageSize> <leaseMs> | schedule <tickMs> (got ${mode})`);
  process.exit(2);
}
