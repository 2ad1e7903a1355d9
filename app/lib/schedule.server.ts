// A job the server runs on its own, again and again (the sync schedule, retention): never two runs at once, and a
// database outage is a warning for the log, not a crash; the next run tries again.
import { isDatabaseUnavailable } from "./db-errors.server.ts";
import { log } from "./log.server.ts";

export type Repeating = {
  /** Names the job in the log. */
  label: string;
  firstMs: number;
  everyMs: number;
  /** When an outage is retried, for the log line: "at the next tick", "at the next run". */
  retry: string;
};

/** Starts the job; returns a function that stops it (a run in progress ends with the process). */
export function startRepeating(job: () => Promise<void>, { label, firstMs, everyMs, retry }: Repeating): () => void {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await job();
    } catch (error) {
      if (isDatabaseUnavailable(error))
        log.warn({ job: label, reason: (error as Error).message.trim().split("\n").at(-1) }, `${label}: the database is unavailable; trying again ${retry}`);
      else log.error({ job: label, err: error }, `${label} stopped on an unexpected error`);
    } finally {
      busy = false;
    }
  };
  const first = setTimeout(tick, firstMs);
  const timer = setInterval(tick, everyMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
