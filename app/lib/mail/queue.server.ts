// What the mail pipeline's two queues share: the kick that wakes the worker (queueEmail and the forgot-password
// form call it), and the retry delays. The worker itself (worker.server.ts) registers what a run does.

const FIRST_RETRY_MS = 10_000;
const MAX_RETRY_MS = 60 * 60_000;

/** The wait after the nth failed attempt: 10 s, 20 s, 40 s … up to one hour. */
export function retryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(attempts - 1, 0), MAX_RETRY_MS);
}

// Kept on globalThis: in development Vite loads a second copy of this module for the routes,
// and a kick there must reach the worker that server/index.ts started.
type WorkerState = { started: number; running: Promise<void> | null; again: boolean; run?: () => Promise<void> };
export const workerState = ((globalThis as unknown as { portalMailWorker?: WorkerState }).portalMailWorker ??= {
  started: 0,
  running: null,
  again: false,
});

async function drain(run: () => Promise<void>) {
  do {
    workerState.again = false;
    await run();
  } while (workerState.again && workerState.started > 0);
}

/** Runs the worker soon, once at a time; resolves when that run ends and never rejects. Does nothing while no worker runs. */
export function kickMailWorker(): Promise<void> {
  const run = workerState.run;
  if (workerState.started === 0 || !run) return Promise.resolve();
  if (workerState.running) {
    // Work queued during a run may have missed its query: run once more afterwards.
    workerState.again = true;
    return workerState.running;
  }
  workerState.running = drain(run).finally(() => {
    workerState.running = null;
  });
  return workerState.running;
}
