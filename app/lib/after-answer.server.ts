// Work that must not be part of an answer's time: forgot-password's per-account work (issue 13, finding 6) ran in
// the same event loop as the answer, and better-sqlite3 blocks it, so a known account's answer took about twice as
// long as an unknown one's (bench/forgot.ts). The server (server/app.ts) runs such jobs once the answer is written;
// outside a request (tests calling an action, the CLI) they run at once, and the caller may wait for them.
import { AsyncLocalStorage } from "node:async_hooks";
import { log } from "./log.server.ts";

type Job = () => Promise<void>;

// One store for the server's copy of this module and the Remix build's (as the mail worker's state is).
const pending = ((globalThis as unknown as { portalAfterAnswer?: AsyncLocalStorage<Job[]> }).portalAfterAnswer ??= new AsyncLocalStorage<Job[]>());

/** Runs `job` after the current request's answer has been written; with no request, now (the promise is the job's). */
export function afterAnswer(job: Job): Promise<void> {
  const jobs = pending.getStore();
  if (!jobs) return job();
  jobs.push(job);
  return Promise.resolve();
}

/** Runs `answer` (one request, up to its last byte written), then the jobs it left with afterAnswer. */
export async function answering<T>(answer: () => Promise<T>): Promise<T> {
  const jobs: Job[] = [];
  try {
    return await pending.run(jobs, answer);
  } finally {
    // In a later turn of the event loop, outside the store: Node flushes a written answer in a process.nextTick,
    // which a job's promise chain (better-sqlite3 answers synchronously) would otherwise hold back.
    if (jobs.length)
      setImmediate(() => jobs.forEach((job) => void job().catch((error: unknown) => log.error({ err: error }, "A job after an answer failed."))));
  }
}
